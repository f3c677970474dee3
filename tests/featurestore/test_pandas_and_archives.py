"""Sources as Python tools write them: pandas exports (index as the time column), .gz and .zip files."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from featurestore.app.report import ingest_summary
from featurestore.errors import RejectThresholdError, SourceError
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.ingest.sources import UNNAMED_TIME, read_source
from featurestore.store.handle import Store

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"


def read(path: Path):
    return read_source(path, path.read_bytes())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(tmp_path / "store")


def summary_text(result) -> str:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(ingest_summary(result))
    return console.export_text()


# --- pandas exports ---------------------------------------------------------------------------


def test_to_csv_with_an_unnamed_datetime_index_uses_it_as_the_time_column(store: Store) -> None:
    raw = read(FIXTURES / "pandas_index.csv")
    assert raw.format == "csv" and raw.time_column == UNNAMED_TIME
    assert raw.frame["ts"][0] == "2025-01-02 01:00:00"
    result = ingest_file(
        store, FIXTURES / "pandas_index.csv", IngestOptions(symbol="XAUUSD", source_tz="EET")
    )
    assert (result.rows_accepted, result.rows_rejected) == (24, 0)
    assert result.first_ts == datetime(2025, 1, 1, 23, 0, tzinfo=UTC)  # 01:00 EET
    assert result.time_column == UNNAMED_TIME
    assert "time column" in summary_text(result) and "unnamed first column" in summary_text(result)


def test_a_range_index_is_not_taken_for_epoch_timestamps() -> None:
    with pytest.raises(SourceError) as caught:
        read(FIXTURES / "pandas_range_index.csv")
    message = str(caught.value)
    assert caught.value.line == 1 and "first column has no name" in message and "0, 1, 2" in message


def test_a_named_time_column_wins_over_an_unnamed_first_column(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(",time,open,high,low,close\n2025-01-01 00:00:00,2025-01-02 00:00:00,1,2,0.5,1.5\n")
    raw = read(path)
    assert raw.time_column == "time" and raw.frame["ts"][0] == "2025-01-02 00:00:00"


def test_to_parquet_keeps_its_tz_aware_index_as_the_time_column(store: Store) -> None:
    raw = read(FIXTURES / "pandas_index.parquet")
    assert raw.format == "parquet" and raw.time_column == UNNAMED_TIME
    result = ingest_file(store, FIXTURES / "pandas_index.parquet", IngestOptions(symbol="XAUUSD"))
    assert (result.rows_accepted, result.source_tz) == (24, "embedded +02:00")
    assert result.first_ts == datetime(2025, 1, 1, 23, 0, tzinfo=UTC)


def test_parquet_with_a_non_datetime_index_still_needs_a_time_column(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "bars.parquet"
    pd.DataFrame({"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5]}, index=[7]).to_parquet(path)
    with pytest.raises(SourceError, match=r"missing column\(s\) time"):
        read(path)


# --- gzip and zip -----------------------------------------------------------------------------


def test_gzip_rows_keep_the_line_numbers_of_the_unpacked_file(store: Store) -> None:
    options = IngestOptions(symbol="XAUUSD", max_reject_share=1.0)
    plain = ingest_file(Store.at(store.root / "plain"), FIXTURES / "bad_timestamp.csv", options)
    packed = ingest_file(store, FIXTURES / "bad_timestamp.csv.gz", options)
    assert packed.container == "gzip" and packed.format == "csv"
    assert (
        packed.rejected_examples
        == plain.rejected_examples
        == ((6, "unparsable timestamp '2025-13-45T25:00:00Z'"),)
    )
    assert (packed.rows_accepted, packed.first_ts, packed.last_ts) == (
        plain.rows_accepted,
        plain.first_ts,
        plain.last_ts,
    )
    assert "csv (gzip)" in summary_text(packed)


def test_gzip_file_faults_name_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "missing.csv.gz"
    path.write_bytes(gzip.compress((FIXTURES / "missing_column.csv").read_bytes()))
    with pytest.raises(SourceError) as caught:
        read(path)
    assert str(caught.value).startswith(f"{path}, line 1: missing column(s) low")


def test_a_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    path.write_bytes((FIXTURES / "bad_timestamp.csv.gz").read_bytes()[:-30])
    with pytest.raises(SourceError, match="not a readable gzip file") as caught:
        read(path)
    assert "how to fix" in str(caught.value)


def test_zip_with_one_csv_is_read_and_named_with_its_member(store: Store) -> None:
    raw = read(FIXTURES / "csv_utc.zip")
    assert raw.container == "zip member export/csv_utc.csv" and raw.frame.height == 20
    assert str(raw.path) == f"{FIXTURES / 'csv_utc.zip'}!export/csv_utc.csv"
    result = ingest_file(store, FIXTURES / "csv_utc.zip", IngestOptions(symbol="XAUUSD"))
    assert (result.rows_accepted, result.rows_rejected, result.source_tz) == (20, 0, "UTC")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("two_csvs.zip", ["exactly one CSV/TSV file", "2 CSV/TSV files (a.csv, b.csv)"]),
        ("no_csv.zip", ["exactly one CSV/TSV file", "no CSV/TSV file (README.md)"]),
    ],
)
def test_zip_without_exactly_one_csv_is_refused(store: Store, name: str, words: list[str]) -> None:
    with pytest.raises(SourceError) as caught:
        ingest_file(store, FIXTURES / name, IngestOptions(symbol="XAUUSD"))
    assert caught.value.exit_code == 2 and all(word in str(caught.value) for word in words)
    assert "how to fix" in str(caught.value)


def test_zip_row_faults_keep_their_lines(store: Store, tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bad.csv", (FIXTURES / "bad_timestamp.csv").read_bytes())
    with pytest.raises(RejectThresholdError) as caught:
        ingest_file(store, path, IngestOptions(symbol="XAUUSD"))
    assert caught.value.result.rejected_examples == ((6, "unparsable timestamp '2025-13-45T25:00:00Z'"),)


# --- the real MT5 export, compressed and re-exported by pandas --------------------------------

REAL_M5 = Path(__file__).parents[2].parent / "shared" / "data" / "xauusd_m5_2025_mt5.tsv"


def stored_bars(store: Store) -> list[tuple]:
    with store.connect(read_only=True) as con:
        return con.execute(
            "SELECT ts, open, high, low, close, tick_volume, spread FROM candles ORDER BY ts"
        ).fetchall()


@pytest.mark.slow
def test_real_m5_as_csv_gz_and_as_a_pandas_export_give_the_same_bars(tmp_path: Path) -> None:
    if not REAL_M5.exists():
        pytest.skip(f"real data not found at {REAL_M5}: the shared data folder sits beside the checkout")
    import pandas as pd

    gz = tmp_path / "xauusd_m5_2025_mt5.csv.gz"
    gz.write_bytes(gzip.compress(REAL_M5.read_bytes()))
    mt5 = pd.read_csv(REAL_M5, sep="\t")
    frame = pd.DataFrame(
        {
            "open": mt5["<OPEN>"],
            "high": mt5["<HIGH>"],
            "low": mt5["<LOW>"],
            "close": mt5["<CLOSE>"],
            "tick_volume": mt5["<TICKVOL>"],
            "spread": mt5["<SPREAD>"],
        }
    )
    frame.index = pd.to_datetime(mt5["<DATE>"] + " " + mt5["<TIME>"], format="%Y.%m.%d %H:%M:%S")
    frame.index.name = None
    exported = tmp_path / "xauusd_m5_2025_pandas.csv"
    frame.to_csv(exported)
    assert exported.read_text().startswith(",open,high,low,close")

    options = IngestOptions(symbol="XAUUSD", source_tz="EET")
    results, bars = {}, {}
    for name, path in (("mt5", REAL_M5), ("gz", gz), ("pandas", exported)):
        store = Store.at(tmp_path / name)
        results[name] = ingest_file(store, path, options)
        bars[name] = stored_bars(store)
    assert results["gz"].container == "gzip" and results["gz"].format == "mt5"
    assert results["pandas"].time_column == UNNAMED_TIME
    assert len(bars["mt5"]) == results["mt5"].rows_accepted == 58_230
    assert bars["gz"] == bars["mt5"]
    assert bars["pandas"] == bars["mt5"]
