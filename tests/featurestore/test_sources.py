"""Readers of candle files, format detection and point sizes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from featurestore.errors import SourceError
from featurestore.ingest.instruments import canonical_symbol, known_point_size, resolve_point_size
from featurestore.ingest.sources import detect_format, normalize_name, read_source

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ingest"


def read(name: str, fmt: str | None = None):
    path = FIXTURES / name
    return read_source(path, path.read_bytes(), fmt)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mt5_good.tsv", "mt5"),
        ("mt5_single_date.csv", "mt5"),
        ("csv_iso_offsets.csv", "csv"),
        ("csv_date_time_semicolon.csv", "csv"),
        ("bars.parquet", "parquet"),
        ("oanda_bid_ask.json", "oanda-json"),
    ],
)
def test_detect_format_by_content(name: str, expected: str) -> None:
    path = FIXTURES / name
    assert detect_format(path, path.read_bytes()) == expected


def test_detect_format_sniffs_content_over_extension(tmp_path: Path) -> None:
    parquet_named_csv = tmp_path / "bars.csv"
    parquet_named_csv.write_bytes((FIXTURES / "bars.parquet").read_bytes())
    assert detect_format(parquet_named_csv, parquet_named_csv.read_bytes()) == "parquet"


def test_mt5_tsv_with_crlf_keeps_lines_and_raw_text() -> None:
    raw = read("mt5_good.tsv")
    frame = raw.frame
    assert raw.format == "mt5" and raw.default_basis == "bid" and raw.record_word == "line"
    assert frame.height == 30
    assert frame["line"].to_list()[:2] == [2, 3]
    first = frame.row(0, named=True)
    assert first["ts"] == "2025.01.02 01:00:00"
    assert (first["open"], first["high"], first["low"], first["close"]) == (
        "2650.00",
        "2650.69",
        "2648.50",
        "2649.12",
    )
    assert first["tick_volume"] == "125" and first["spread"] == "32"
    assert first["raw"] == "2025.01.02\t01:00:00\t2650.00\t2650.69\t2648.50\t2649.12\t125\t0\t32"


def test_mt5_single_date_column_variant() -> None:
    frame = read("mt5_single_date.csv").frame
    assert frame["ts"][0] == "2025.01.02 01:00"
    assert frame["tick_volume"][0] == "125"  # <TICKVOL>, not the all-zero <VOL>


def test_csv_semicolons_with_decimal_commas_and_date_time_columns() -> None:
    frame = read("csv_date_time_semicolon.csv").frame
    first = frame.row(0, named=True)
    assert first["ts"] == "2025-03-03 09:00"
    assert first["open"] == "2650.00" and first["close"] == "2649.37"
    assert first["tick_volume"] == "214" and first["spread"] == "55"


def test_parquet_keeps_typed_columns_and_record_numbers() -> None:
    raw = read("bars.parquet")
    assert raw.record_word == "record"
    assert raw.frame["line"].to_list()[:3] == [1, 2, 3]
    assert raw.frame.schema["ts"] == pl.Datetime("us", "UTC")
    assert "spread_price" in raw.frame.columns


def test_oanda_json_reads_bid_and_ask_and_granularity() -> None:
    raw = read("oanda_bid_ask.json")
    assert (raw.granularity, raw.instrument, raw.ts_is_utc) == ("M5", "XAU_USD", True)
    first = raw.frame.row(0, named=True)
    assert first["bid_open"] == "2649.710" and first["ask_close"] == "2650.580"
    assert first["ts"] == "2025-01-06T00:00:00.000000000Z"
    assert json.loads(first["raw"])["volume"] == 226
    assert "mid_open" not in raw.frame.columns


def test_oanda_incomplete_candle_is_marked(tmp_path: Path) -> None:
    candle = {
        "complete": False,
        "volume": 3,
        "time": "1736121600",
        "mid": {"o": "1", "h": "1", "l": "1", "c": "1"},
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"instrument": "XAU_USD", "granularity": "M5", "candles": [candle]}))
    raw = read_source(path, path.read_bytes())
    assert raw.frame["fault"].to_list() == ["incomplete candle"]
    assert raw.frame["mid_close"].to_list() == ["1"]


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("empty.csv", None, ["the file is empty"]),
        ("header_only.csv", 1, ["header but no data rows"]),
        ("unknown_delimiter.csv", 1, ["unknown delimiter", "time:open:high:low:close"]),
        (
            "missing_column.csv",
            1,
            ["missing column(s) low", "the header has time, open, high, close", "expected"],
        ),
    ],
)
def test_file_level_faults(name: str, line: int | None, words: list[str]) -> None:
    with pytest.raises(SourceError) as caught:
        read(name)
    assert caught.value.line == line
    assert caught.value.path.name == name
    for word in words:
        assert word in str(caught.value)


def test_oanda_json_without_candles_is_a_source_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"instrument": "XAU_USD"}')
    with pytest.raises(SourceError, match="not an OANDA candles response"):
        read_source(path, path.read_bytes())


def test_parquet_format_on_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read the Parquet file"):
        read("csv_utc.csv", "parquet")


@pytest.mark.parametrize(
    ("name", "normalized"),
    [("<TICKVOL>", "tickvol"), ("Gmt time", "gmt_time"), ("Date/Time", "date_time"), (" Close ", "close")],
)
def test_normalize_name(name: str, normalized: str) -> None:
    assert normalize_name(name) == normalized


def test_point_sizes_and_symbol_spellings() -> None:
    assert canonical_symbol("xau_usd") == canonical_symbol("XAUUSD") == "XAUUSD"
    assert known_point_size("XAU_USD") == 0.01
    assert known_point_size("eurusd") == 0.00001
    assert known_point_size("USDJPY") == 0.001
    assert resolve_point_size("BTCUSD", 0.5, Path("f.tsv")) == 0.5
    with pytest.raises(SourceError, match="--point-size"):
        resolve_point_size("BTCUSD", None, Path("f.tsv"))
