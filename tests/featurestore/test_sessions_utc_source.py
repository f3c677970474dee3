"""Sessions come from the UTC hour: right on both sides of the 2025 clock changes for a UTC source.

The timestamps carry a Z offset, so no --source-tz is needed. (The EET source is covered on the real data
in test_real_data.py.) A UTC source has no clock change, so
06:55 UTC is ASIA and 07:00 UTC is EU on both sides of 2025-03-30 and 2025-10-26.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from featurestore.app.synthetic import SyntheticConfig, generate_candles
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from tests.conftest import stored


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2025, 2, 24), date(2025, 4, 4), (date(2025, 3, 28), date(2025, 3, 31))),
        (date(2025, 9, 22), date(2025, 10, 31), (date(2025, 10, 24), date(2025, 10, 27))),
    ],
)
def test_sessions_of_a_utc_source_across_clock_changes(tmp_path: Path, start: date, end: date, days) -> None:
    frame = generate_candles(SyntheticConfig(start=start, end=end, seed=3))
    path = tmp_path / "utc.csv"
    frame.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("time")).select(
        "time", "open", "high", "low", "close", "tick_volume", pl.col("spread_points").alias("spread")
    ).write_csv(path)
    store = Store.at(tmp_path / "store")
    ingest_file(store, path, IngestOptions(symbol="XAUUSD"))
    materialize(store, MaterializeConfig("XAUUSD", days[0], days[1]))
    with store.connect(read_only=True) as con:
        rows = dict(con.execute(stored("SELECT ts, session_id FROM context")).fetchall())
    for day in days:
        at = {
            hour_minute: rows[datetime(day.year, day.month, day.day, *hour_minute)]
            for hour_minute in [(6, 55), (7, 0), (11, 55), (12, 0), (15, 55), (16, 0), (20, 55)]
        }
        assert at == {(6, 55): 0, (7, 0): 1, (11, 55): 1, (12, 0): 3, (15, 55): 3, (16, 0): 2, (20, 55): 2}
