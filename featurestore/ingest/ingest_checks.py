"""Row checks of an ingest: turn raw fields into typed bars and give every bad row its reason.

A row is rejected (and kept, with its reason, in ``candles_rejected``) for: a missing or unparsable
timestamp, a DST-ambiguous or nonexistent local time, a missing/unparsable/NaN/infinite or non-positive
price, high < low, open or close outside [low, high], a negative spread or volume, a timestamp off the
timeframe grid, or a duplicate timestamp whose values differ from another row's. Of exact duplicates
one copy is kept and a warning gives their count. Everything is vectorized polars.

The timeframe comes from the most common spacing of the good rows. A file whose spacing switches
to another timeframe for a large part (e.g. an M5 part followed by an H1 part) is refused as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from featurestore.errors import SourceError
from featurestore.ingest.sources import PRICE_FIELDS, RawSource
from featurestore.ingest.timezones import UtcTimes, format_expr

TIMEFRAMES: dict[str, int] = {"M1": 1, "M5": 5, "M15": 15, "M30": 30, "H1": 60, "H4": 240, "D1": 1440}
MIXED_STEP_SHARE = 0.10  # a second timeframe's spacing this common is not explained by gaps
MIXED_GRID_SHARE = 0.90
_VALUE_COLUMNS = ("open", "high", "low", "close", "tick_volume", "spread")
SRC = "src_"  # prefix of the source's own fields inside the check frame


@dataclass(frozen=True)
class CheckedBars:
    """The outcome of the row checks.

    `bars`: good rows, one per timestamp, sorted: ts (naive UTC), open, high, low, close, tick_volume,
    spread (price units), local (wall-clock time as written), line. `rejected`: line, ts, reason, raw.
    """

    bars: pl.DataFrame
    rejected: pl.DataFrame
    timeframe: str
    price_basis: str
    warnings: tuple[str, ...]


def price_basis(columns: list[str], default_basis: str) -> tuple[str, tuple[str, ...]]:
    """The price basis and the column prefixes its OHLC is built from (mid of bid and ask if both exist)."""

    def has(side: str) -> bool:
        return all(f"{side}{field}" in columns for field in PRICE_FIELDS)

    if has("bid_") and has("ask_"):
        return "mid", ("bid_", "ask_")
    for side, basis in (("mid_", "mid"), ("", default_basis), ("bid_", "bid"), ("ask_", "ask")):
        if has(side):
            return basis, (side,)
    raise ValueError(f"no complete open/high/low/close set among {columns}")


def spread_source(columns: list[str]) -> str | None:
    """Where the spread comes from: "bid-ask", "price", "points", or None when the source has none."""
    if "bid_close" in columns and "ask_close" in columns:
        return "bid-ask"
    if "spread_price" in columns:
        return "price"
    return "points" if "spread" in columns else None


def check_bars(
    raw: RawSource,
    local: pl.Series,
    times: UtcTimes,
    *,
    timeframe: str | None,
    point_size: float | None,
    assume_spread: float | None,
) -> CheckedBars:
    """Run every row check; see the module docstring.

    Args:
        raw: the source rows. local: parsed wall-clock times (null = unparsable). times: the UTC times.
        timeframe: the declared timeframe (or the file's own granularity); None = infer.
        point_size: price of one point, to convert a spread in points. assume_spread: a spread in price
            units for a source that has none.

    Raises:
        SourceError: no good row at all, a timeframe that cannot be inferred or disagrees, mixed timeframes.
    """
    columns = raw.frame.columns
    basis, sides = price_basis(columns, raw.default_basis)
    frame = raw.frame.rename({c: f"{SRC}{c}" for c in columns if c not in ("line", "raw", "fault")})
    frame = frame.with_columns(local=local, ts=times.utc, ts_reason=times.reason)
    values, warnings = _values(frame, columns, sides, point_size, assume_spread)
    frame = frame.with_columns(values).with_columns(reason=_join_reasons("fault" in columns))
    good = frame.filter(pl.col("reason").is_null())
    if good.is_empty():
        first = frame.sort("line").row(0, named=True)
        raise SourceError(
            raw.path, f"no usable row: every row was rejected, e.g. {first['reason']}", line=first["line"]
        )
    chosen = choose_timeframe(good, timeframe, raw.path)
    frame = frame.with_columns(reason=pl.coalesce("reason", _grid_reason(chosen)))
    frame, exact = _resolve_duplicates(frame, raw.record_word)
    if exact:
        warnings.append(
            f"{exact} exact duplicate row(s) (same timestamp, same values) dropped; one copy kept"
        )
    bars = frame.filter(pl.col("reason").is_null()).unique("ts", keep="first", maintain_order=True).sort("ts")
    rejected = frame.filter(pl.col("reason").is_not_null()).sort("line").select("line", "ts", "reason", "raw")
    return CheckedBars(
        bars=bars.select("ts", *_VALUE_COLUMNS, "local", "line"),
        rejected=_fill_raw(rejected, frame),
        timeframe=chosen,
        price_basis=basis,
        warnings=tuple(warnings),
    )


def _number(name: str, label: str, *, required: bool, positive: bool) -> tuple[pl.Expr, pl.Expr]:
    """A Float64 value and its fault (missing, unparsable, NaN, infinite, non-positive or negative)."""
    source = pl.col(f"{SRC}{name}")
    value = source.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    out_of_range, range_text = (value <= 0, f"{label} is zero or negative ({{}})")
    if not positive:
        out_of_range, range_text = (value < 0, f"negative {label} ({{}})")
    reason = (
        pl.when(source.is_null())
        .then(pl.lit(f"missing {label}") if required else pl.lit(None, pl.String))
        .when(value.is_null())
        .then(format_expr(f"unparsable {label} '{{}}'", source.cast(pl.String)))
        .when(value.is_nan())
        .then(pl.lit(f"{label} is NaN"))
        .when(value.is_infinite())
        .then(pl.lit(f"{label} is infinite"))
        .when(out_of_range)
        .then(format_expr(range_text, value))
        .otherwise(pl.lit(None, pl.String))
    )
    return value, reason


def _values(
    frame: pl.DataFrame,
    columns: list[str],
    sides: tuple[str, ...],
    point_size: float | None,
    assume_spread: float | None,
) -> tuple[list[pl.Expr], list[str]]:
    """Expressions for open/high/low/close/tick_volume/spread and `<name>_reason`, plus warnings."""
    exprs: list[pl.Expr] = []
    warnings: list[str] = []
    for field in PRICE_FIELDS:
        parts = [
            _number(f"{side}{field}", f"{side.replace('_', ' ')}{field}", required=True, positive=True)
            for side in sides
        ]
        value = sum((v for v, _ in parts), pl.lit(0.0)) / len(parts)
        exprs += [value.alias(field), _concat_reasons([r for _, r in parts]).alias(f"{field}_reason")]
    exprs += _volume(frame, columns, warnings)
    exprs += _spread(columns, point_size, assume_spread)
    return exprs, warnings


def _volume(frame: pl.DataFrame, columns: list[str], warnings: list[str]) -> list[pl.Expr]:
    if "tick_volume" not in columns:
        return [
            pl.lit(None, pl.Int64).alias("tick_volume"),
            pl.lit(None, pl.String).alias("tick_volume_reason"),
        ]
    value, reason = _number("tick_volume", "tick volume", required=False, positive=False)
    fractional = frame.select((value.is_finite() & (value != value.round(0))).any()).item()
    if fractional:
        warnings.append(
            "the volume column holds fractional values (not tick counts); tick_volume stored as NULL"
        )
        return [
            pl.lit(None, pl.Int64).alias("tick_volume"),
            pl.lit(None, pl.String).alias("tick_volume_reason"),
        ]
    return [
        pl.when(value.is_finite()).then(value).cast(pl.Int64, strict=False).alias("tick_volume"),
        reason.alias("tick_volume_reason"),
    ]


def _spread(columns: list[str], point_size: float | None, assume_spread: float | None) -> list[pl.Expr]:
    """Spread in price units, rounded to 1e-10 so that the same spread from points compares equal."""
    kind = spread_source(columns)
    if kind == "bid-ask":
        bid, bid_reason = _number("bid_close", "bid close", required=True, positive=True)
        ask, ask_reason = _number("ask_close", "ask close", required=True, positive=True)
        value = ask - bid
        reason = pl.coalesce(
            bid_reason,
            ask_reason,
            pl.when(value < 0).then(format_expr("negative spread: ask close {} < bid close {}", ask, bid)),
        )
    elif kind is None:
        value, reason = pl.lit(assume_spread, pl.Float64), pl.lit(None, pl.String)
    else:
        name, scale = ("spread_price", 1.0) if kind == "price" else ("spread", point_size or 1.0)
        number, reason = _number(name, "spread", required=assume_spread is None, positive=False)
        value = number * scale if assume_spread is None else (number * scale).fill_null(assume_spread)
    return [value.round(10).alias("spread"), reason.alias("spread_reason")]


def _join_reasons(has_fault: bool) -> pl.Expr:
    """All faults of a row, '; '-joined; null for a good row."""
    ts_text = pl.col(f"{SRC}ts")
    ts_reason = (
        pl.when(ts_text.is_null())
        .then(pl.lit("missing timestamp"))
        .when(pl.col("local").is_null())
        .then(format_expr("unparsable timestamp '{}'", ts_text.cast(pl.String)))
        .otherwise(pl.col("ts_reason"))
    )
    parts = [pl.col("fault")] if has_fault else []
    parts += [ts_reason, *[pl.col(f"{name}_reason") for name in _VALUE_COLUMNS]]
    price_ok = pl.all_horizontal([pl.col(f"{field}_reason").is_null() for field in PRICE_FIELDS])
    h, lo, o, c = pl.col("high"), pl.col("low"), pl.col("open"), pl.col("close")
    parts += [
        pl.when(price_ok & (h < lo)).then(format_expr("high {} < low {}", h, lo)),
        pl.when(price_ok & (h >= lo) & ((o < lo) | (o > h))).then(
            format_expr("open {} outside [low {}, high {}]", o, lo, h)
        ),
        pl.when(price_ok & (h >= lo) & ((c < lo) | (c > h))).then(
            format_expr("close {} outside [low {}, high {}]", c, lo, h)
        ),
    ]
    return _concat_reasons(parts)


def _concat_reasons(parts: list[pl.Expr]) -> pl.Expr:
    """The non-null reasons, '; '-joined; null when there is none."""
    joined = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    return pl.when(joined == "").then(pl.lit(None, pl.String)).otherwise(joined)


def _grid_minutes(timeframe: str) -> int:
    """H4 and D1 bars open on the source's session hours, not on UTC multiples, so only whole hours count."""
    return min(TIMEFRAMES[timeframe], 60)


def _grid_reason(timeframe: str) -> pl.Expr:
    step_us = _grid_minutes(timeframe) * 60_000_000
    return pl.when(pl.col("ts").dt.epoch("us") % step_us != 0).then(
        format_expr(
            f"timestamp {{}} UTC is off the {timeframe} grid (not a multiple of {_grid_minutes(timeframe)} "
            "minutes)",
            pl.col("ts").dt.to_string("%Y-%m-%d %H:%M:%S"),
        )
    )


def choose_timeframe(good: pl.DataFrame, declared: str | None, path: Path) -> str:
    """The timeframe of the good rows: the declared one if the data agrees, else the most common spacing.

    Raises:
        SourceError: it cannot be inferred, it disagrees with `declared`, or the file mixes timeframes.
    """
    steps = (
        good.group_by("ts")
        .agg(pl.col("line").min())
        .sort("ts")
        .with_columns(step=(pl.col("ts").diff().dt.total_seconds() / 60))
        .slice(1)
    )
    if steps.is_empty():
        if declared is None:
            raise SourceError(path, "cannot infer the timeframe from a single bar", fix="pass --timeframe")
        return declared
    mode = float(steps["step"].value_counts(sort=True)["step"].item(0))
    inferred = next((name for name, minutes in TIMEFRAMES.items() if minutes == mode), None)
    if declared is not None:
        declared_share = _share(steps["step"] == TIMEFRAMES[declared])
        if inferred is not None and inferred != declared and declared_share < MIXED_STEP_SHARE:
            raise SourceError(
                path,
                f"the timeframe {declared} does not match the data: most bars are {mode:g} minutes apart "
                f"({inferred}), only {declared_share:.0%} of steps are {TIMEFRAMES[declared]} minutes",
                fix=f"pass --timeframe {inferred} (or leave it out to infer it)",
            )
        chosen = declared
    elif inferred is None:
        raise SourceError(
            path,
            f"the most common bar spacing is {mode:g} minutes, which is no supported timeframe "
            f"({', '.join(TIMEFRAMES)})",
            fix="export the bars in one of the supported timeframes",
        )
    else:
        chosen = inferred
    _refuse_mixed(steps, chosen, path)
    return chosen


def _refuse_mixed(steps: pl.DataFrame, timeframe: str, path: Path) -> None:
    """Refuse a file where another timeframe's spacing is common and on that timeframe's grid."""
    minutes = TIMEFRAMES[timeframe]
    for other, other_minutes in TIMEFRAMES.items():
        at_other = steps.filter(pl.col("step") == other_minutes)
        if other == timeframe or at_other.height <= MIXED_STEP_SHARE * steps.height:
            continue
        on_grid = _share(at_other["ts"].dt.epoch("us") % (_grid_minutes(other) * 60_000_000) == 0)
        if other_minutes > minutes and on_grid < MIXED_GRID_SHARE:
            continue
        kinds = steps.filter(pl.col("step").is_in([float(minutes), float(other_minutes)]))
        first_step = kinds["step"].item(0)
        changed = kinds.filter(pl.col("step") != first_step).row(0, named=True)
        names = {float(minutes): timeframe, float(other_minutes): other}
        raise SourceError(
            path,
            f"mixed timeframes: the bar spacing changes from {first_step:g} minutes ({names[first_step]}) to "
            f"{changed['step']:g} minutes ({names[changed['step']]}) here; {timeframe} spacing in "
            f"{_share(steps['step'] == minutes):.0%} of steps, "
            f"{other} in {_share(steps['step'] == other_minutes):.0%}",
            line=int(changed["line"]),
            fix="split the file into one file per timeframe and ingest each with its --timeframe",
        )


def _share(flags: pl.Series) -> float:
    """Share of true values (0.0 for an empty series)."""
    return float(flags.sum()) / len(flags) if len(flags) else 0.0


def _resolve_duplicates(frame: pl.DataFrame, record_word: str) -> tuple[pl.DataFrame, int]:
    """Reject every copy of a timestamp whose rows differ; count exact copies beyond the first."""
    good = pl.col("reason").is_null()
    ranked = frame.with_columns(
        copies=pl.len().over("ts", good),
        versions=pl.struct(*_VALUE_COLUMNS).n_unique().over("ts", good),
        first_line=pl.col("line").min().over("ts", good),
        second_line=pl.col("line").sort().get(1, null_on_oob=True).over("ts", good),
    )
    differs = good & (pl.col("versions") > 1)
    other = pl.when(pl.col("line") == pl.col("first_line")).then("second_line").otherwise("first_line")
    ranked = ranked.with_columns(
        reason=pl.when(differs)
        .then(
            format_expr(
                f"duplicate timestamp {{}} UTC with different values than {record_word} {{}}",
                pl.col("ts").dt.to_string("%Y-%m-%d %H:%M:%S"),
                other,
            )
        )
        .otherwise("reason")
    )
    exact = ranked.filter(good & (pl.col("versions") == 1) & (pl.col("copies") > 1))
    return ranked, exact.height - exact["ts"].n_unique()


def _fill_raw(rejected: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """Give rejected rows without source text (Parquet) a JSON rendering of their source fields."""
    missing = rejected.filter(pl.col("raw").is_null())
    if missing.is_empty():
        return rejected
    fields = [
        pl.col(c).cast(pl.String).alias(c.removeprefix(SRC)) for c in frame.columns if c.startswith(SRC)
    ]
    rendered = frame.filter(pl.col("line").is_in(missing["line"].implode())).select(
        "line", raw_filled=pl.struct(fields).struct.json_encode()
    )
    joined = rejected.join(rendered, on="line", how="left")
    return joined.with_columns(raw=pl.coalesce("raw", "raw_filled")).drop("raw_filled")
