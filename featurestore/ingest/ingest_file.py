"""Ingest one candle file into the store: parse, convert to UTC, check rows, store in one transaction.

Usage::

    options = IngestOptions(symbol="XAUUSD", source_tz="EET")
    result = ingest_file(Store.at("./fsdata"), Path("xauusd_m5_2025_mt5.tsv"), options)
    print(result.rows_new, result.warnings)

Nothing is lost and nothing is guessed: bad rows go to ``candles_rejected`` with
their reason, re-ingesting the same file (same sha256 and symbol) is a no-op, bars that disagree with
stored ones are refused unless ``on_conflict`` says otherwise, and the whole write is one transaction.

Decisions:
- Symbols are stored canonical (``XAU_USD`` -> ``XAUUSD``); spreads are stored in price units.
- Counts: rows_read = rows_accepted + rows_rejected + exact duplicates dropped; rows_new counts the bars
  this ingest wrote (new timestamps, plus replaced ones with ``on_conflict="replace"``).
- ``price_basis``: "mid" (bid/ask averaged, or OANDA mid), "bid" (MT5), "as-given" (plain CSV/Parquet OHLC).
- OANDA times are UTC by definition: a ``--source-tz`` is ignored there, with a warning.
- ``source_tz`` records the declared zone, or "UTC" / "embedded +02:00/+03:00" for self-describing times.
- A ``.gz`` or ``.zip`` source is read unpacked (`ingest.archives`); its sha256 is the file's own.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from featurestore.errors import RejectThresholdError, SourceError
from featurestore.ingest.ingest_checks import TIMEFRAMES, CheckedBars, check_bars, spread_source
from featurestore.ingest.ingest_store import EXAMPLES, ON_CONFLICT, IngestBatch, previous_ingest, store_ingest
from featurestore.ingest.instruments import canonical_symbol, known_point_size, resolve_point_size
from featurestore.ingest.sources import FORMATS, RawSource, read_source
from featurestore.ingest.timezones import (
    FingerprintReport,
    SourceZone,
    daily_break_fingerprint,
    parse_source_tz,
    parse_timestamps,
    to_utc,
)
from featurestore.store.handle import Store
from schemas.hashing import sha256_hex

logger = logging.getLogger(__name__)

_OANDA_GRANULARITY = {"D": "D1"}


@dataclass(frozen=True)
class IngestOptions:
    """How to read one source. See `ingest_file`."""

    symbol: str
    fmt: str | None = None  # "mt5" | "csv" | "parquet" | "oanda-json"; None = autodetect
    source_tz: str | None = None
    point_size: float | None = None
    timeframe: str | None = None  # "M1","M5","M15","M30","H1","H4","D1"; None = inferred
    max_reject_share: float = 0.01
    on_conflict: str = "refuse"  # "refuse" | "keep-existing" | "replace"
    assume_spread_points: float | None = None  # explicit spread when the source has none

    def __post_init__(self) -> None:
        canonical_symbol(self.symbol)
        if self.fmt is not None and self.fmt not in FORMATS:
            raise ValueError(f"unknown format {self.fmt!r}: use one of {', '.join(FORMATS)}")
        if self.timeframe is not None and self.timeframe.upper() not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {self.timeframe!r}: use one of {', '.join(TIMEFRAMES)}")
        if self.on_conflict not in ON_CONFLICT:
            raise ValueError(f"unknown on_conflict {self.on_conflict!r}: use one of {', '.join(ON_CONFLICT)}")
        if not 0.0 <= self.max_reject_share <= 1.0:
            raise ValueError(f"max_reject_share must be within [0, 1], got {self.max_reject_share}")
        if self.assume_spread_points is not None and not self.assume_spread_points >= 0:
            raise ValueError(f"assume_spread_points must be >= 0, got {self.assume_spread_points}")


@dataclass(frozen=True)
class IngestResult:
    """What one ingest read, kept, rejected and stored."""

    ingest_id: int | None
    source_file: str
    symbol: str
    timeframe: str
    format: str
    source_tz: str
    price_basis: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rows_new: int
    rows_already_stored: int
    first_ts: datetime | None
    last_ts: datetime | None
    already_ingested: bool  # same file (sha256) + symbol ingested before: nothing added
    fingerprint: FingerprintReport
    warnings: tuple[str, ...]
    rejected_examples: tuple[tuple[int, str], ...]  # first few (line, reason)
    time_column: str = ""  # the column(s) the times came from; "" when nothing was read (already ingested)
    container: str | None = None  # "gzip" or "zip member <name>" when the file was unpacked first

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (datetimes as ISO 8601 UTC strings)."""
        out = asdict(self)
        for key in ("first_ts", "last_ts"):
            value = out[key]
            out[key] = None if value is None else value.isoformat()
        out["warnings"] = list(self.warnings)
        out["rejected_examples"] = [list(example) for example in self.rejected_examples]
        return out


@dataclass(frozen=True)
class _Prepared:
    """A parsed and checked source, ready to store."""

    path: Path
    symbol: str
    raw: RawSource
    checked: CheckedBars
    zone_label: str
    point_size: float | None
    fingerprint: FingerprintReport
    warnings: tuple[str, ...]


def ingest_file(store: Store, path: Path, options: IngestOptions) -> IngestResult:
    """Ingest the candle file `path` into `store`.

    Returns:
        What was read, kept, rejected and stored; `already_ingested` when this file was stored before.

    Raises:
        SourceError: a file-level fault (unreadable, empty, missing columns, no time zone, no spread,
            mixed timeframes); nothing is written.
        ConflictError: bars differ from stored ones and `on_conflict` is "refuse"; nothing is written.
        RejectThresholdError: more than `max_reject_share` of the rows were rejected; the good and the
            rejected rows are stored all the same, and the error's `.result` holds the result.
        StoreBusyError: another process holds the store.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(path, f"cannot read the file: {exc.strerror or exc}") from None
    with store.connect() as con:
        result, record_word = ingest_data(con, path, data, options)
    if not result.already_ingested:
        _check_reject_share(result, record_word, options.max_reject_share)
    return result


def ingest_data(
    con: duckdb.DuckDBPyConnection, path: Path, data: bytes, options: IngestOptions, *, line_shift: int = 0
) -> tuple[IngestResult, str]:
    """Ingest `data` (the content of `path`, or a part of it) on an open store connection: the checks and
    the one write transaction of `ingest_file`, without the reject-share limit. `line_shift` is added to
    every line number (a part of a file read from further down: `train live` sends its header and new
    lines). Returns the result and the source's record word ("line" or "record")."""
    sha256 = sha256_hex(data)
    symbol = canonical_symbol(options.symbol)
    previous = previous_ingest(con, symbol, sha256)
    if previous is not None:
        logger.info("%s: already ingested as #%s; nothing added", path, previous["ingest_id"])
        return _already_ingested(path, symbol, previous), "line"
    prepared = _prepare(path, data, options, symbol, line_shift)
    result = _store(con, prepared, sha256, options.on_conflict)
    for warning in result.warnings:
        logger.warning("%s: %s", path, warning)
    logger.info(
        "ingest #%s %s %s: %d read, %d accepted, %d rejected, %d new",
        result.ingest_id,
        symbol,
        result.timeframe,
        result.rows_read,
        result.rows_accepted,
        result.rows_rejected,
        result.rows_new,
    )
    return result, prepared.raw.record_word


def _prepare(path: Path, data: bytes, options: IngestOptions, symbol: str, line_shift: int = 0) -> _Prepared:
    """Parse, convert to UTC and check the rows; everything that can fail before writing."""
    raw = read_source(path, data, options.fmt)
    if line_shift:
        raw = replace(raw, frame=raw.frame.with_columns(pl.col("line") + line_shift))
    if raw.instrument is not None and not _same_symbol(raw.instrument, symbol):
        raise SourceError(
            path, f"the file holds {raw.instrument}, not {symbol}", fix="pass the right --symbol"
        )
    warnings: list[str] = []
    parsed = parse_timestamps(raw.frame["ts"])
    if raw.ts_is_utc:
        parsed = parsed.with_columns(
            offset_s=pl.when(pl.col("local").is_not_null()).then(pl.col("offset_s").fill_null(0))
        )
    times = to_utc(parsed, _zone(raw, options, warnings), raw.frame["line"], path)
    point_size = _point_size(raw, options, symbol)
    assume = None
    if options.assume_spread_points is not None and point_size is not None:
        assume = options.assume_spread_points * point_size
    checked = check_bars(
        raw,
        parsed["local"],
        times,
        timeframe=_declared_timeframe(raw, options),
        point_size=point_size,
        assume_spread=assume,
    )
    bars = checked.bars
    fingerprint = daily_break_fingerprint(
        bars["ts"], bars["local"], TIMEFRAMES[checked.timeframe], times.zone_label
    )
    warnings += [*times.warnings, *checked.warnings]
    if fingerprint.ok is False:
        warnings.append(fingerprint.message)
    return _Prepared(
        path=path,
        symbol=symbol,
        raw=raw,
        checked=checked,
        zone_label=times.zone_label,
        point_size=point_size,
        fingerprint=fingerprint,
        warnings=tuple(warnings),
    )


def _same_symbol(named: str, symbol: str) -> bool:
    try:
        return canonical_symbol(named) == symbol
    except ValueError:
        return False


def _zone(raw: RawSource, options: IngestOptions, warnings: list[str]) -> SourceZone | None:
    """The declared zone; OANDA times are UTC by definition, so a declared zone is ignored there."""
    if options.source_tz is None:
        return None
    try:
        zone = parse_source_tz(options.source_tz)
    except ValueError as exc:
        raise SourceError(raw.path, f"--source-tz: {exc}") from None
    if raw.format == "oanda-json":
        warnings.append(f"--source-tz {zone.name} ignored: OANDA candle times are UTC by definition")
        return None
    return zone


def _point_size(raw: RawSource, options: IngestOptions, symbol: str) -> float | None:
    """The point size when a spread in points must be converted; else the known one (for the log)."""
    kind = spread_source(raw.frame.columns)
    if kind is None and options.assume_spread_points is None:
        raise SourceError(
            raw.path,
            "the source has no spread (no spread column, no bid and ask prices), and the features need one",
            fix="pass --assume-spread POINTS (e.g. --assume-spread 30 for XAUUSD), "
            "or ingest a source with a spread",
        )
    if kind in ("points", None) or options.assume_spread_points is not None:
        return resolve_point_size(symbol, options.point_size, raw.path)
    return options.point_size or known_point_size(symbol)


def _declared_timeframe(raw: RawSource, options: IngestOptions) -> str | None:
    """`--timeframe`, checked against the file's own granularity (OANDA)."""
    declared = options.timeframe.upper() if options.timeframe else None
    if raw.granularity is None:
        return declared
    granularity = _OANDA_GRANULARITY.get(raw.granularity, raw.granularity)
    if granularity not in TIMEFRAMES:
        raise SourceError(
            raw.path, f"granularity {raw.granularity} is not supported ({', '.join(TIMEFRAMES)})"
        )
    if declared is not None and declared != granularity:
        raise SourceError(raw.path, f"--timeframe {declared} but the file's granularity is {granularity}")
    return granularity


def _already_ingested(path: Path, symbol: str, log: dict[str, Any]) -> IngestResult:
    """An earlier ingest of the same file and symbol, reported as a no-op."""
    return IngestResult(
        ingest_id=log["ingest_id"],
        source_file=str(path.resolve()),
        symbol=symbol,
        timeframe=log["timeframe"],
        format=log["format"],
        source_tz=log["source_tz"],
        price_basis=log["price_basis"],
        rows_read=log["rows_read"],
        rows_accepted=log["rows_accepted"],
        rows_rejected=log["rows_rejected"],
        rows_new=0,
        rows_already_stored=log["rows_accepted"],
        first_ts=_aware(log["first_ts"]),
        last_ts=_aware(log["last_ts"]),
        already_ingested=True,
        fingerprint=FingerprintReport(
            ok=None, share=0.0, days_checked=0, message="not checked: ingested before"
        ),
        warnings=(
            f"already ingested as #{log['ingest_id']} on {log['created_at']:%Y-%m-%d %H:%M} UTC "
            "(same sha256); nothing added",
        ),
        rejected_examples=tuple((int(line), str(reason)) for line, reason in log["examples"]),
    )


def _store(con: duckdb.DuckDBPyConnection, prep: _Prepared, sha256: str, on_conflict: str) -> IngestResult:
    """Store the checked rows (one transaction) and describe what happened."""
    checked = prep.checked
    bars, rejected = checked.bars, checked.rejected
    source_file = str(prep.path.resolve())
    first_ts, last_ts = bars.select(pl.col("ts").min()).item(), bars.select(pl.col("ts").max()).item()
    log = {
        "source_file": source_file,
        "source_sha256": sha256,
        "format": prep.raw.format,
        "source_tz": prep.zone_label,
        "price_basis": checked.price_basis,
        "point_size": prep.point_size,
        "rows_read": prep.raw.frame.height,
        "rows_accepted": bars.height,
        "rows_rejected": rejected.height,
        "first_ts": first_ts,
        "last_ts": last_ts,
    }
    batch = IngestBatch(
        path=prep.path,
        symbol=prep.symbol,
        timeframe=checked.timeframe,
        bars=bars,
        rejected=rejected,
        record_word=prep.raw.record_word,
        on_conflict=on_conflict,
        log=log,
        warnings=prep.warnings,
    )
    stored = store_ingest(con, batch)
    return IngestResult(
        ingest_id=stored.ingest_id,
        source_file=source_file,
        symbol=prep.symbol,
        timeframe=checked.timeframe,
        format=prep.raw.format,
        source_tz=prep.zone_label,
        price_basis=checked.price_basis,
        rows_read=prep.raw.frame.height,
        rows_accepted=bars.height,
        rows_rejected=rejected.height,
        rows_new=stored.rows_new,
        rows_already_stored=stored.rows_already_stored,
        first_ts=_aware(first_ts),
        last_ts=_aware(last_ts),
        already_ingested=False,
        fingerprint=prep.fingerprint,
        warnings=stored.warnings,
        rejected_examples=tuple(
            (int(line), str(reason))
            for line, reason in rejected.head(EXAMPLES).select("line", "reason").rows()
        ),
        time_column=prep.raw.time_column,
        container=prep.raw.container,
    )


def _check_reject_share(result: IngestResult, record_word: str, limit: float) -> None:
    """Raise `RejectThresholdError` (after storing) when too many rows were rejected."""
    if result.rows_read == 0 or result.rows_rejected / result.rows_read <= limit:
        return
    share = result.rows_rejected / result.rows_read
    reasons = "; ".join(f"{record_word} {line}: {reason}" for line, reason in result.rejected_examples)
    error = RejectThresholdError(
        f"{result.source_file}: {result.rows_rejected} of {result.rows_read} rows rejected ({share:.2%}), "
        f"above --max-reject-share {limit:g} ({limit:.2%}). First reasons: {reasons}. "
        f"The good rows were stored; rows kept in candles_rejected (ingest #{result.ingest_id}); "
        "fix the source or raise --max-reject-share"
    )
    error.result = result
    raise error


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)
