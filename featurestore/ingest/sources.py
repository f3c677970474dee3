"""Candle sources: detect the format and read a file into one raw polars frame, fields still as given.

Formats: ``mt5`` (MT5 "Export bars", TSV or CSV with ``<DATE> <TIME> <OPEN> ...``), ``csv`` (a header with
time or date + time, open/high/low/close and optional volume, spread, bid/ask columns), ``parquet`` (the
same column names) and ``oanda-json`` (an OANDA v20 candles response). Any of them may come
gzip-compressed (``bars.csv.gz``) or as the one CSV/TSV file of a ``.zip``: `read_source` unpacks those
first (`featurestore.ingest.archives`).

A pandas export keeps its index as the first column: ``DataFrame.to_csv()`` of an unnamed DatetimeIndex
writes a header that starts with an empty field (``,open,high,...``), ``to_parquet()`` a column named
``__index_level_0__``. When no column is named as a time column, that unnamed first column is the time
column if its values are timestamps (date strings in CSV, a datetime type in Parquet); a RangeIndex's
0, 1, 2 ... is not taken for epoch seconds. `RawSource.time_column` says which column was used.

Every reader returns a `RawSource` whose frame has ``line`` (1-based line in a text file, 1-based record
number in Parquet/JSON), ``raw`` (the source text of the row, where there is one), ``ts`` and the value
columns under canonical names (`VALUE_COLUMNS`), plus ``fault`` where the reader already knows a row is
bad (an incomplete OANDA candle). Values stay unparsed so that each row's fault can be named later.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from featurestore.errors import SourceError
from featurestore.ingest.archives import unpack

FORMATS = ("mt5", "csv", "parquet", "oanda-json")
DELIMITERS = (",", ";", "\t", "|")
PRICE_FIELDS = ("open", "high", "low", "close")
PRICE_SETS = ("", "bid_", "ask_", "mid_")
TS_NAMES = ("time", "timestamp", "datetime", "date_time", "ts", "gmt_time")
PANDAS_INDEX = "__index_level_0__"  # the column pandas' to_parquet writes for an unnamed index
UNNAMED_TIME = "the unnamed first column (a pandas index), parsed as timestamps"
_SAMPLE_ROWS = 20  # data rows looked at to decide whether an unnamed first column holds timestamps
_DATE_LIKE = re.compile(r"^\s*[\"']?\d{1,4}[-./]\d{1,2}[-./]\d{1,4}")
UTC_TS_NAMES = ("gmt_time",)

_ALIASES: dict[str, tuple[str, ...]] = {
    **{
        f"{side}{field}": (f"{side}{field}", f"{side}{field[0]}")
        for side in PRICE_SETS
        for field in PRICE_FIELDS
    },
    "bid_close": ("bid_close", "bid_c", "bid"),
    "ask_close": ("ask_close", "ask_c", "ask"),
    "tick_volume": ("tick_volume", "tickvol", "tick_vol", "ticks", "volume", "vol"),
    "spread": ("spread", "spread_points"),
    "spread_price": ("spread_price",),
}
VALUE_COLUMNS = tuple(_ALIASES)
_EXPECTED = (
    "a time column (time, timestamp, datetime, date_time, ts, Date/Time, Gmt time) or date + time, and "
    "open, high, low, close (or o/h/l/c, or full bid_/ask_/mid_ sets); optional: volume/tick_volume/ticks, "
    "spread (points) or spread_price, bid/ask"
)


@dataclass(frozen=True)
class RawSource:
    """What a reader found: the raw rows and what the file itself says about them."""

    path: Path
    format: str
    frame: pl.DataFrame
    record_word: str  # "line" (text files) or "record" (Parquet, JSON)
    default_basis: str  # price basis of plain OHLC columns: "bid" for MT5, "as-given" otherwise
    ts_is_utc: bool = False  # the time column's name says UTC ("Gmt time"); OANDA JSON is UTC too
    granularity: str | None = None
    instrument: str | None = None
    time_column: str = ""  # the column(s) the times came from, as the file names them
    container: str | None = None  # "gzip" or "zip member <name>" when the file was unpacked first


def detect_format(path: Path, data: bytes) -> str:
    """Pick the format from the content (Parquet magic, JSON object, MT5 header), then the extension."""
    if data[:4] == b"PAR1":
        return "parquet"
    head = _decode(path, data[:4096], partial=True).lstrip()
    if head.startswith(("{", "[")):
        return "oanda-json"
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".json":
        return "oanda-json"
    return "mt5" if head[:6].upper() == "<DATE>" else "csv"


def read_source(path: Path, data: bytes, fmt: str | None = None) -> RawSource:
    """Read `data` (the bytes of `path`) in format `fmt`, or the detected one.

    A gzip file or a zip archive is unpacked first; the format is then detected from the file inside,
    and errors name the archive (and the member of a zip) with the line inside the unpacked file.

    Raises:
        SourceError: file-level faults: empty, unreadable, not a valid archive, unknown delimiter,
            missing columns.
    """
    unpacked = unpack(path, data)
    source = _read_unpacked(unpacked.label, unpacked.inner_name, unpacked.data, fmt)
    if unpacked.container is None:
        return source
    return replace(source, container=unpacked.container)


def _read_unpacked(path: Path, inner_name: Path, data: bytes, fmt: str | None) -> RawSource:
    chosen = fmt or detect_format(inner_name, data)
    if chosen not in FORMATS:
        raise SourceError(path, f"unknown format {chosen!r}", fix=f"use one of {', '.join(FORMATS)}")
    if chosen == "parquet":
        return _read_parquet(path, data)
    if chosen == "oanda-json":
        return _read_oanda(path, data)
    if data[:4] == b"PAR1":
        raise SourceError(path, f"this is a Parquet file, not {chosen}", fix="pass --format parquet")
    return _read_delimited(path, data, chosen)


def normalize_name(name: str) -> str:
    """``<TICKVOL>`` -> ``tickvol``, ``Gmt time`` -> ``gmt_time``, ``Date/Time`` -> ``date_time``."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().strip("<>\"'").lower()).strip("_")


class _MissingColumns(Exception):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


def _match_columns(names: list[str], unnamed_time: bool = False) -> dict[str, int]:
    """Map canonical column names (``ts`` or ``date`` + ``time``, prices, ...) to positions in `names`.

    `unnamed_time`: the first column has no name and holds timestamps; it is the time column when no
    other column is named as one.

    Raises:
        _MissingColumns: no time column, or no complete open/high/low/close set.
    """
    normalized = [normalize_name(name) for name in names]
    if unnamed_time and normalized[0] == "" and not _names_time(normalized):
        normalized[0] = "ts"
    found: dict[str, int] = {}
    for canonical, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in normalized:
                found[canonical] = normalized.index(alias)
                break
    missing: list[str] = []
    if "date" in normalized and "time" in normalized:
        found["date"], found["time"] = normalized.index("date"), normalized.index("time")
    else:
        ts_name = next((name for name in (*TS_NAMES, "date") if name in normalized), None)
        if ts_name is None:
            missing.append("time (or date + time)")
        else:
            found["ts"] = normalized.index(ts_name)
    if not any(all(f"{side}{field}" in found for field in PRICE_FIELDS) for side in PRICE_SETS):
        missing += [field for field in PRICE_FIELDS if field not in found]
    if missing:
        raise _MissingColumns(missing)
    return found


def _names_time(normalized: list[str]) -> bool:
    return ("date" in normalized and "time" in normalized) or any(
        name in normalized for name in (*TS_NAMES, "date")
    )


def _time_column(names: list[str], columns: dict[str, int]) -> str:
    """How the summary names the time column: the header's name(s), or the unnamed first column."""
    if "date" in columns:
        return f"{names[columns['date']].strip()} + {names[columns['time']].strip()}"
    name = names[columns["ts"]].strip()
    return UNNAMED_TIME if name in ("", PANDAS_INDEX) else name


def _looks_like_timestamps(values: list[str]) -> bool:
    """Whether sampled first fields are date strings that parse (not numbers such as a RangeIndex)."""
    from featurestore.ingest.timezones import parse_timestamps

    sample = [value.strip().strip("\"'") for value in values if value.strip()]
    if not sample or not all(_DATE_LIKE.match(value) for value in sample):
        return False
    parsed = parse_timestamps(pl.Series(sample, dtype=pl.String))
    return parsed["local"].null_count() == 0


def _missing_error(path: Path, names: list[str], missing: list[str], line: int | None) -> SourceError:
    where = "the header" if line is not None else "the file"
    return SourceError(
        path,
        f"missing column(s) {', '.join(missing)}: {where} has {', '.join(names)}; expected {_EXPECTED}",
        line=line,
        fix="rename the columns in the source, or export it again with a header",
    )


def _decode(path: Path, data: bytes, *, partial: bool = False) -> str:
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(encoding, errors="ignore" if partial else "strict")
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not a text file in UTF-8 or UTF-16 (byte {exc.start})") from None


def _read_delimited(path: Path, data: bytes, fmt: str) -> RawSource:
    lines = pl.DataFrame({"raw": _decode(path, data).splitlines()}, schema={"raw": pl.String}).with_row_index(
        "line", offset=1
    )
    lines = lines.with_columns(pl.col("line").cast(pl.Int64)).filter(pl.col("raw").str.strip_chars() != "")
    if lines.is_empty():
        raise SourceError(
            path, "the file is empty", fix="export the bars again; the file has no header and no rows"
        )
    header_line, header = int(lines["line"][0]), str(lines["raw"][0])
    body = lines.slice(1)
    sep, columns = _sniff(path, header, header_line, body["raw"].head(_SAMPLE_ROWS).to_list())
    if body.is_empty():
        raise SourceError(path, "the file has a header but no data rows", line=header_line)
    fields = pl.col("raw").str.split(sep)

    def field(index: int) -> pl.Expr:
        value = fields.list.get(index, null_on_oob=True).str.strip_chars(" \"'\r")
        return pl.when(value == "").then(None).otherwise(value)

    frame = body.select("line", "raw", *[field(index).alias(name) for name, index in columns.items()])
    if "date" in columns:
        frame = frame.with_columns(ts=pl.concat_str("date", "time", separator=" ")).drop("date", "time")
    if sep != ",":  # decimal commas, as European exports with ';' write them
        numeric = [name for name in columns if name in VALUE_COLUMNS]
        frame = frame.with_columns(pl.col(numeric).str.replace(",", ".", literal=True))
    names = header.split(sep)
    ts_index = columns.get("ts")
    utc_named = ts_index is not None and normalize_name(names[ts_index]) in UTC_TS_NAMES
    return RawSource(
        path=path,
        format=fmt,
        frame=frame,
        record_word="line",
        default_basis="bid" if fmt == "mt5" else "as-given",
        ts_is_utc=utc_named,
        time_column=_time_column(names, columns),
    )


def _sniff(path: Path, header: str, header_line: int, sample: list[str]) -> tuple[str, dict[str, int]]:
    """The first delimiter that splits the header into the needed columns.

    `sample`: the first data rows, to tell whether an unnamed first column holds timestamps.
    """
    widest: tuple[list[str], list[str], str] | None = None
    for sep in DELIMITERS:
        names = [name.strip() for name in header.split(sep)]
        if len(names) < 2:
            continue
        unnamed_time = names[0] == "" and _looks_like_timestamps([row.split(sep)[0] for row in sample])
        try:
            return sep, _match_columns(names, unnamed_time)
        except _MissingColumns as exc:
            if widest is None or len(names) > len(widest[0]):
                widest = (names, exc.missing, sep)
    if widest is not None and widest[0][0] == "" and widest[1] == ["time (or date + time)"]:
        raise SourceError(
            path,
            "no time column: the first column has no name and its values "
            f"({', '.join(row.split(widest[2])[0] for row in sample[:3])}, ...) are not timestamps",
            line=header_line,
            fix="export the DataFrame with its DatetimeIndex (df.set_index('time').to_csv()), "
            "or name the time column in the header",
        )
    if widest is None:
        raise SourceError(
            path,
            f"unknown delimiter: the header {header.strip()!r} cannot be split into columns with "
            "',' ';' TAB or '|'",
            line=header_line,
            fix="write the file with one of those delimiters",
        )
    raise _missing_error(path, widest[0], widest[1], header_line)


def _read_parquet(path: Path, data: bytes) -> RawSource:
    try:
        table = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars and pyarrow raise many types for a damaged file
        raise SourceError(path, f"cannot read the Parquet file: {exc}") from None
    if PANDAS_INDEX in table.columns:  # pandas' unnamed index: first, as in a to_csv export
        index = table[PANDAS_INDEX].dtype
        table = table.select(PANDAS_INDEX, pl.exclude(PANDAS_INDEX))
        if isinstance(index, pl.Datetime | pl.Date):
            table = table.rename({PANDAS_INDEX: ""})
    try:
        columns = _match_columns(table.columns, unnamed_time=True)
    except _MissingColumns as exc:
        raise _missing_error(path, table.columns, exc.missing, None) from None
    if table.height == 0:
        raise SourceError(path, "the Parquet file has no rows")
    picked = table.select([pl.col(table.columns[index]).alias(name) for name, index in columns.items()])
    if "date" in columns:
        picked = picked.with_columns(
            ts=pl.concat_str(pl.col("date").cast(pl.String), pl.col("time").cast(pl.String), separator=" ")
        ).drop("date", "time")
    frame = picked.with_row_index("line", offset=1).with_columns(
        pl.col("line").cast(pl.Int64), raw=pl.lit(None, pl.String)
    )
    ts_name = table.columns[columns["ts"]] if "ts" in columns else ""
    return RawSource(
        path=path,
        format="parquet",
        frame=frame,
        record_word="record",
        default_basis="as-given",
        ts_is_utc=normalize_name(ts_name) in UTC_TS_NAMES,
        time_column=_time_column(table.columns, columns),
    )


def _read_oanda(path: Path, data: bytes) -> RawSource:
    try:
        document = json.loads(_decode(path, data))
    except json.JSONDecodeError as exc:
        raise SourceError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    candles = document.get("candles") if isinstance(document, dict) else None
    if not isinstance(candles, list):
        raise SourceError(
            path,
            "not an OANDA candles response: expected an object with a 'candles' list",
            fix='the file must look like {"instrument": "XAU_USD", "granularity": "M5", "candles": [...]}',
        )
    if not candles:
        raise SourceError(path, "the OANDA response holds no candles")
    sides = [
        side for side in ("mid", "bid", "ask") if any(isinstance(c, dict) and side in c for c in candles)
    ]
    if not sides:
        raise _missing_error(
            path,
            sorted({k for c in candles if isinstance(c, dict) for k in c}),
            ["mid, bid or ask prices"],
            None,
        )
    columns: dict[str, list[Any]] = {
        "raw": [json.dumps(candle, separators=(",", ":")) for candle in candles],
        "ts": [_text(candle, "time") for candle in candles],
        "tick_volume": [_text(candle, "volume") for candle in candles],
        "fault": [_candle_fault(candle) for candle in candles],
    }
    for side in sides:
        for field in PRICE_FIELDS:
            columns[f"{side}_{field}"] = [_text(candle, side, field[0]) for candle in candles]
    frame = pl.DataFrame(columns, schema={name: pl.String for name in columns})
    frame = frame.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))
    return RawSource(
        path=path,
        format="oanda-json",
        frame=frame,
        record_word="record",
        default_basis="mid",
        ts_is_utc=True,
        granularity=_optional_str(document.get("granularity")),
        time_column="time",
        instrument=_optional_str(document.get("instrument")),
    )


def _text(candle: object, *keys: str) -> str | None:
    value: object = candle
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else str(value)


def _candle_fault(candle: object) -> str | None:
    if not isinstance(candle, dict):
        return "not a candle object"
    return "incomplete candle" if candle.get("complete") is False else None


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
