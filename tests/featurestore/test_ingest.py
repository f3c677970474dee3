"""`fs ingest` library API: what lands in candles / candles_rejected / ingest_log for good and bad sources."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from featurestore.errors import ConflictError, RejectThresholdError, SourceError
from featurestore.ingest.ingest_file import IngestOptions, IngestResult, ingest_file
from featurestore.store.handle import Store

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"
REAL_M5 = Path(__file__).parents[2].parent / "shared" / "data" / "xauusd_m5_2025_mt5.tsv"


def ingest(store: Store, name: str, **options: Any) -> IngestResult:
    return ingest_file(
        store, FIXTURES / name, IngestOptions(symbol=options.pop("symbol", "XAUUSD"), **options)
    )


def query(store: Store, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with store.connect(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def count(store: Store, table: str) -> int:
    return int(query(store, f"SELECT count(*) FROM {table}")[0][0])  # table names are test constants


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(tmp_path / "store")


# --- good sources, one per format -------------------------------------------------------------


def test_mt5_tsv_crlf_in_eet(store: Store) -> None:
    result = ingest(store, "mt5_good.tsv", source_tz="EET")
    assert (result.format, result.timeframe, result.source_tz, result.price_basis) == (
        "mt5",
        "M5",
        "EET",
        "bid",
    )
    assert (result.rows_read, result.rows_accepted, result.rows_rejected, result.rows_new) == (30, 30, 0, 30)
    assert result.first_ts == datetime(2025, 1, 1, 23, 0, tzinfo=UTC)
    assert result.last_ts == datetime(2025, 1, 2, 1, 25, tzinfo=UTC)
    assert result.fingerprint.ok is None and "not enough daily breaks" in result.fingerprint.message
    first = query(
        store,
        "SELECT symbol, timeframe, ts, open, high, low, close, tick_volume, spread, ingest_id "
        "FROM candles ORDER BY ts LIMIT 1",
    )[0]
    assert first == (
        "XAUUSD",
        "M5",
        datetime(2025, 1, 1, 23, 0),
        2650.0,
        2650.69,
        2648.5,
        2649.12,
        125,
        0.32,
        1,
    )
    log = query(
        store, "SELECT source_tz, price_basis, point_size, rows_read, warnings, format FROM ingest_log"
    )
    assert log == [("EET", "bid", 0.01, 30, "[]", "mt5")]


def test_mt5_single_date_column(store: Store) -> None:
    result = ingest(store, "mt5_single_date.csv", source_tz="Europe/Athens")
    assert result.rows_accepted == 12 and result.first_ts == datetime(2025, 1, 1, 23, 0, tzinfo=UTC)


def test_csv_with_iso_offsets_needs_no_zone(store: Store) -> None:
    result = ingest(store, "csv_iso_offsets.csv")
    assert result.source_tz == "embedded +03:00" and result.price_basis == "as-given"
    assert result.first_ts == datetime(2025, 7, 1, 7, 0, tzinfo=UTC) and result.rows_new == 24
    assert result.warnings == ()


def test_declared_zone_overrides_embedded_offsets_with_a_warning(store: Store) -> None:
    result = ingest(store, "csv_iso_offsets.csv", source_tz="UTC")
    assert result.first_ts == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    assert any("--source-tz UTC overrides them" in warning for warning in result.warnings)


def test_csv_date_time_semicolons_decimal_commas(store: Store) -> None:
    result = ingest(store, "csv_date_time_semicolon.csv", source_tz="EET")
    assert result.rows_accepted == 20 and result.first_ts == datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
    assert query(store, "SELECT open, close, tick_volume, spread FROM candles ORDER BY ts LIMIT 1") == [
        (2650.0, 2649.37, 214, 0.55)
    ]


def test_parquet_with_tz_aware_timestamps_and_spread_in_price(store: Store) -> None:
    result = ingest(store, "bars.parquet")
    assert (result.format, result.timeframe, result.source_tz, result.rows_new) == (
        "parquet",
        "M15",
        "UTC",
        16,
    )
    assert result.first_ts == datetime(2025, 2, 3, 14, 0, tzinfo=UTC)
    spread = query(store, "SELECT spread FROM candles ORDER BY ts LIMIT 1")[0][0]
    assert 0.25 <= spread <= 0.60


def test_oanda_json_bid_ask_gives_mid_prices_and_spread(store: Store) -> None:
    result = ingest(store, "oanda_bid_ask.json", symbol="XAU_USD")
    assert (result.format, result.timeframe, result.source_tz, result.price_basis) == (
        "oanda-json",
        "M5",
        "UTC",
        "mid",
    )
    assert result.symbol == "XAUUSD" and result.rows_new == 20
    row = query(store, "SELECT ts, open, close, tick_volume, spread FROM candles ORDER BY ts LIMIT 1")[0]
    assert row[0] == datetime(2025, 1, 6, 0, 0) and row[3] == 226
    assert row[1] == pytest.approx((2649.71 + 2650.29) / 2) and row[2] == pytest.approx(
        (2650.0 + 2650.58) / 2
    )
    assert row[4] == pytest.approx(0.58)


def test_oanda_incomplete_candle_is_rejected(store: Store, tmp_path: Path) -> None:
    document = json.loads((FIXTURES / "oanda_bid_ask.json").read_text())
    document["candles"][-1]["complete"] = False
    path = tmp_path / "oanda.json"
    path.write_text(json.dumps(document))
    result = ingest_file(store, path, IngestOptions(symbol="XAUUSD", max_reject_share=0.1))
    assert result.rejected_examples == ((20, "incomplete candle"),) and result.rows_new == 19


def test_oanda_instrument_must_match_the_symbol(store: Store) -> None:
    with pytest.raises(SourceError, match="the file holds XAU_USD, not EURUSD"):
        ingest(store, "oanda_bid_ask.json", symbol="EURUSD")


# --- file-level faults: SourceError, nothing written --------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "line", "words"),
    [
        ("empty.csv", {}, None, ["the file is empty"]),
        ("header_only.csv", {}, 1, ["header but no data rows"]),
        (
            "missing_column.csv",
            {},
            1,
            ["missing column(s) low", "time, open, high, close, tick_volume, spread"],
        ),
        ("unknown_delimiter.csv", {}, 1, ["unknown delimiter"]),
        ("mixed_timeframes.csv", {}, 27, ["mixed timeframes", "5 minutes (M5) to 60 minutes (H1)"]),
        ("mt5_good.tsv", {}, 2, ["timestamps carry no offset", "--source-tz", "EET"]),
        ("no_spread.csv", {}, None, ["no spread", "--assume-spread POINTS"]),
        ("csv_utc.csv", {"timeframe": "H1"}, None, ["timeframe H1 does not match", "(M5)"]),
        ("csv_utc.csv", {"symbol": "BTCUSD"}, None, ["point size of BTCUSD is unknown", "--point-size"]),
        ("mt5_good.tsv", {"source_tz": "Mars/Base"}, None, ["--source-tz", "unknown time zone 'Mars/Base'"]),
    ],
)
def test_file_level_faults_write_nothing(
    store: Store, name: str, options: dict[str, Any], line: int | None, words: list[str]
) -> None:
    with pytest.raises(SourceError) as caught:
        ingest(store, name, **options)
    assert caught.value.line == line
    message = str(caught.value)
    assert name in message
    for word in words:
        assert word in message
    assert count(store, "candles") == count(store, "candles_rejected") == count(store, "ingest_log") == 0


def test_assumed_spread_for_a_source_without_one(store: Store) -> None:
    result = ingest(store, "no_spread.csv", assume_spread_points=30)
    assert result.rows_new == 20
    assert query(store, "SELECT DISTINCT spread FROM candles") == [(0.3,)]


def test_point_size_option_for_an_unknown_symbol(store: Store) -> None:
    ingest(store, "csv_utc.csv", symbol="BTCUSD", point_size=0.1)
    assert query(store, "SELECT spread, symbol FROM candles ORDER BY ts LIMIT 1") == [(2.7, "BTCUSD")]


# --- row faults: rejected with file, line and reason; good rows stored ---------------------------


ROW_FAULTS = [
    ("bad_timestamp.csv", {}, [(6, "unparsable timestamp '2025-13-45T25:00:00Z'")]),
    ("high_below_low.csv", {}, [(8, "high 2648.84 < low 2650.42")]),
    ("close_outside_range.csv", {}, [(10, "close 2700.0 outside [low 2649.95, high 2650.58]")]),
    (
        "nonpositive_price.csv",
        {},
        [(5, "open is zero or negative (0.0)"), (12, "low is zero or negative (-2648.1)")],
    ),
    ("nan_price.csv", {}, [(7, "close is NaN")]),
    (
        "off_grid.csv",
        {},
        [(11, "timestamp 2025-01-02 00:37:00 UTC is off the M5 grid (not a multiple of 5 minutes)")],
    ),
    (
        "duplicate_conflict.csv",
        {},
        [
            (5, "duplicate timestamp 2025-01-02 00:15:00 UTC with different values than line 12"),
            (12, "duplicate timestamp 2025-01-02 00:15:00 UTC with different values than line 5"),
        ],
    ),
    (
        "dst_ambiguous.tsv",
        {"source_tz": "EET"},
        [(14, "ambiguous local time 2025-10-26 03:30:00 in EET (the clock falls back, it occurs twice)")],
    ),
]


@pytest.mark.parametrize(("name", "options", "expected"), ROW_FAULTS)
def test_row_faults_are_kept_and_raise_over_the_threshold(
    store: Store, name: str, options: dict[str, Any], expected: list[tuple[int, str]]
) -> None:
    with pytest.raises(RejectThresholdError) as caught:
        ingest(store, name, **options)
    message = str(caught.value)
    line, reason = expected[0]
    assert name in message and f"line {line}: {reason}" in message
    assert "rows kept in candles_rejected (ingest #1); fix the source or raise --max-reject-share" in message
    result = caught.value.result
    assert isinstance(result, IngestResult) and result.rejected_examples == tuple(expected)
    rejected = query(store, "SELECT line, reason, raw, source_file FROM candles_rejected ORDER BY line")
    assert [(row[0], row[1]) for row in rejected] == expected
    raw_lines = (FIXTURES / name).read_text().splitlines()
    assert [row[2] for row in rejected] == [raw_lines[line - 1] for line, _ in expected]
    assert all(row[3].endswith(name) for row in rejected)
    assert count(store, "candles") == result.rows_accepted == result.rows_new
    assert result.rows_accepted + result.rows_rejected <= result.rows_read


def test_exact_duplicates_keep_one_copy(store: Store) -> None:
    result = ingest(store, "duplicate_conflict.csv", max_reject_share=0.5)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (22, 19, 2)
    assert any("1 exact duplicate row(s)" in warning for warning in result.warnings)
    assert count(store, "candles") == 19


def test_one_bad_row_of_fifty_raises_but_stores_everything(store: Store) -> None:
    with pytest.raises(RejectThresholdError) as caught:
        ingest(store, "reject_share.csv", max_reject_share=0.01)
    message = str(caught.value)
    assert "1 of 50 rows rejected (2.00%)" in message and "line 22: high" in message
    assert "fix the source or raise --max-reject-share" in message
    assert caught.value.result.ingest_id == 1
    assert count(store, "candles") == 49 and count(store, "candles_rejected") == 1
    assert query(store, "SELECT rows_read, rows_accepted, rows_rejected FROM ingest_log") == [(50, 49, 1)]


def test_rejected_rows_within_the_threshold_do_not_raise(store: Store) -> None:
    result = ingest(store, "reject_share.csv", max_reject_share=0.05)
    assert result.rows_rejected == 1 and result.rows_new == 49


# --- re-ingest and conflicts --------------------------------------------------------------------


def test_reingesting_the_same_file_adds_nothing(store: Store) -> None:
    first = ingest(store, "csv_utc.csv")
    again = ingest(store, "csv_utc.csv")
    assert not first.already_ingested and again.already_ingested
    assert (again.ingest_id, again.rows_new, again.rows_already_stored) == (1, 0, 20)
    assert "already ingested as #1" in again.warnings[0]
    assert count(store, "ingest_log") == 1 and count(store, "candles") == 20


def test_conflicting_file_is_refused_and_names_the_conflict(store: Store) -> None:
    ingest(store, "csv_utc.csv")
    with pytest.raises(ConflictError) as caught:
        ingest(store, "conflict_second.csv")
    message = str(caught.value)
    assert "conflict_second.csv: 1 bar(s) differ from bars already stored for XAUUSD M5" in message
    assert "2025-01-02 01:00 UTC: stored (ingest #1) o/h/l/c" in message and "vs new (line 4)" in message
    assert "--on-conflict keep-existing" in message
    assert count(store, "ingest_log") == 1 and count(store, "candles") == 20


def test_keep_existing_stores_only_new_timestamps(store: Store) -> None:
    ingest(store, "csv_utc.csv")
    before = query(store, "SELECT close FROM candles WHERE ts = '2025-01-02 01:00:00'")
    result = ingest(store, "conflict_second.csv", on_conflict="keep-existing")
    assert (result.rows_new, result.rows_already_stored, result.rows_accepted) == (0, 9, 10)
    assert any("kept 1 stored bar(s)" in warning for warning in result.warnings)
    assert query(store, "SELECT close FROM candles WHERE ts = '2025-01-02 01:00:00'") == before


def test_replace_overwrites_conflicting_bars(store: Store) -> None:
    ingest(store, "csv_utc.csv")
    new_close = float((FIXTURES / "conflict_second.csv").read_text().splitlines()[3].split(",")[4])
    result = ingest(store, "conflict_second.csv", on_conflict="replace")
    assert (result.rows_new, result.rows_already_stored) == (1, 9)
    assert any("replaced 1 stored bar(s)" in warning for warning in result.warnings)
    assert query(store, "SELECT close, ingest_id FROM candles WHERE ts = '2025-01-02 01:00:00'") == [
        (new_close, 2)
    ]
    assert json.loads(query(store, "SELECT warnings FROM ingest_log WHERE ingest_id = 2")[0][0]) == list(
        result.warnings
    )


def test_result_to_dict_is_json(store: Store) -> None:
    payload = json.loads(json.dumps(ingest(store, "csv_utc.csv").to_dict()))
    assert payload["first_ts"] == "2025-01-02T00:00:00+00:00"
    assert payload["fingerprint"]["ok"] is None and payload["rows_new"] == 20


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError, match="on_conflict"):
        IngestOptions(symbol="XAUUSD", on_conflict="merge")
    with pytest.raises(ValueError, match="timeframe"):
        IngestOptions(symbol="XAUUSD", timeframe="M7")


# --- the real MT5 export ----------------------------------------------------------------------


def real_m5() -> Path:
    if not REAL_M5.exists():
        pytest.skip(f"real data not found at {REAL_M5}: the shared data folder sits beside the checkout")
    return REAL_M5


@pytest.mark.slow
def test_real_m5_in_eet(store: Store) -> None:
    result = ingest_file(store, real_m5(), IngestOptions(symbol="XAUUSD", source_tz="EET"))
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (58_230, 58_230, 0)
    assert result.first_ts == datetime(2025, 1, 1, 23, 0, tzinfo=UTC)
    assert result.last_ts == datetime(2025, 10, 27, 20, 55, tzinfo=UTC)
    assert result.fingerprint.ok is True and result.warnings == ()
    assert count(store, "candles") == 58_230


@pytest.mark.slow
def test_real_m5_declared_utc_trips_the_fingerprint(store: Store) -> None:
    result = ingest_file(store, real_m5(), IngestOptions(symbol="XAUUSD", source_tz="UTC"))
    assert result.fingerprint.ok is False
    assert any(
        "daily-break fingerprint" in w and "'UTC' looks wrong" in w and w.endswith("EET")
        for w in result.warnings
    )


@pytest.mark.slow
def test_real_m5_reingest_is_a_noop(store: Store) -> None:
    path = real_m5()
    ingest_file(store, path, IngestOptions(symbol="XAUUSD", source_tz="EET"))
    again = ingest_file(store, path, IngestOptions(symbol="XAUUSD", source_tz="EET"))
    assert again.already_ingested and again.rows_new == 0
    assert count(store, "ingest_log") == 1 and count(store, "candles") == 58_230
