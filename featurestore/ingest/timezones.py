"""Source time zones: parse timestamps, convert local wall-clock times to UTC, check the daily break.

Rules:
- The source zone is declared (``--source-tz``: an IANA name such as ``EET``, or a fixed offset such as
  ``+02:00``, ``-0530``, ``UTC+2``, ``GMT-3``; ``GMT-3`` means three hours behind UTC, not the POSIX sign).
- Timestamps that carry their own offset (``Z``, ``+02:00``, epoch numbers) use it only when no zone is
  declared; a declared zone wins, reading the wall-clock part in that zone, with a warning.
- DST-ambiguous (fall back) and nonexistent (spring forward) local times are row faults, never guessed.
- Gold's daily maintenance break is 17:00-18:00 New York time. After conversion the intraday gaps must
  sit there; when they do not, the declared zone is probably wrong and a warning names a better one.
  A "break-like" gap is a hole of 45 minutes to 6 hours of missing time starting on a weekday (New York):
  shorter holes are missing bars, longer ones weekends and holidays. A day passes when one of its gaps
  covers 17:00-18:00 New York within one bar; the zone passes when 80% of at least 5 such days do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from featurestore.errors import SourceError

NEW_YORK = "America/New_York"
CANDIDATE_ZONES = ("EET", "Europe/London", "UTC", "America/New_York", "Etc/GMT-2", "Etc/GMT-3", "Asia/Tokyo")
MIN_BREAK_DAYS = 5
MIN_BREAK_SHARE = 0.8
MIN_BREAK_GAP = timedelta(minutes=45)  # shorter holes are missing bars, not the daily break
MAX_BREAK_GAP = timedelta(hours=6)  # longer holes are weekends and holidays

_FIXED = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_TIME = r"(?:[T ]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
_ZONE = r"\s*(?P<tz>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
_YMD = r"^(?P<y>\d{4})[-./](?P<mo>\d{1,2})[-./](?P<d>\d{1,2})" + _TIME + _ZONE
_DMY = r"^(?P<d>\d{1,2})\.(?P<mo>\d{1,2})\.(?P<y>\d{4})" + _TIME + _ZONE
_EPOCH = r"^\d{9,13}(?:\.\d+)?$"
_FAST_FORMATS = ("%Y.%m.%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y-%m-%d %H:%M")
_EPOCH_MS_ABOVE = 1e11  # 1e11 seconds is the year 5138, so larger numbers are milliseconds


def format_expr(template: str, *args: pl.Expr | str) -> pl.Expr:
    """``pl.format`` built from ``concat_str``.

    polars 2.1's native ``pl.format`` panics (index out of bounds) on frames that were filtered.
    """
    pieces = template.split("{}")
    if len(pieces) != len(args) + 1:
        raise ValueError(f"template {template!r} needs {len(pieces) - 1} arguments, got {len(args)}")
    parts: list[pl.Expr] = [pl.lit(pieces[0])]
    for arg, piece in zip(args, pieces[1:], strict=True):
        parts += [(pl.col(arg) if isinstance(arg, str) else arg).cast(pl.String), pl.lit(piece)]
    return pl.concat_str(parts)


@dataclass(frozen=True)
class SourceZone:
    """A declared source zone: an IANA key, or a fixed offset from UTC."""

    name: str
    key: str | None = None
    offset: timedelta | None = None


def parse_source_tz(text: str) -> SourceZone:
    """Parse a ``--source-tz`` value.

    Raises:
        ValueError: neither a fixed offset nor a time zone the tz database knows.
    """
    cleaned = text.strip()
    match = _FIXED.match(cleaned)
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise ValueError(f"offset {text!r} is out of range (-14:00 .. +14:00)")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
        return SourceZone(name=f"UTC{sign}{hours:02d}:{minutes:02d}", offset=offset)
    try:
        ZoneInfo(cleaned)
        pl.Series([0], dtype=pl.Datetime("us")).dt.replace_time_zone(cleaned)
    except (ZoneInfoNotFoundError, ValueError, pl.exceptions.PolarsError):
        raise ValueError(
            f"unknown time zone {text!r}: use an IANA name (EET, Europe/Athens, UTC) "
            "or a fixed offset (+02:00, -0530, UTC+2, GMT-3)"
        ) from None
    return SourceZone(name=cleaned, key=cleaned)


def parse_timestamps(values: pl.Series) -> pl.DataFrame:
    """Parse a timestamp column into `local` (naive wall-clock Datetime) and `offset_s` (null = naive).

    Strings: ISO 8601 with or without an offset/``Z``, ``YYYY.MM.DD HH:MM[:SS]``, ``DD.MM.YYYY HH:MM:SS``
    (Dukascopy), epoch seconds or milliseconds. Numbers are epoch seconds or milliseconds (UTC).
    Datetime columns keep their zone as the offset. Unparsable values give a null `local`.
    """
    dtype = values.dtype
    if dtype == pl.String:
        return _parse_strings(values)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            local = values.dt.cast_time_unit("us")
            return pl.DataFrame({"local": local, "offset_s": pl.Series([None] * len(values), dtype=pl.Int32)})
        aware = values.dt.cast_time_unit("us")
        local = aware.dt.replace_time_zone(None)
        utc = aware.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        offset = (local - utc).dt.total_seconds().cast(pl.Int32)
        return pl.DataFrame({"local": local, "offset_s": offset})
    if dtype == pl.Date:
        return parse_timestamps(values.cast(pl.Datetime("us")))
    if dtype.is_numeric():
        return _from_epoch(values.cast(pl.Float64))
    return parse_timestamps(values.cast(pl.String))


def _parse_strings(values: pl.Series) -> pl.DataFrame:
    text = values.str.strip_chars().str.strip_chars("\"'")
    for fmt in _FAST_FORMATS:  # one native format for the whole column is the common case, and fast
        local = text.str.to_datetime(fmt, strict=False, time_unit="us")
        if local.null_count() == text.null_count():
            return pl.DataFrame({"local": local, "offset_s": pl.Series([None] * len(text), dtype=pl.Int32)})
    frame = pl.DataFrame({"text": text})
    ymd = frame.select(pl.col("text").str.extract_groups(_YMD)).to_series().struct.unnest()
    dmy = frame.select(pl.col("text").str.extract_groups(_DMY)).to_series().struct.unnest()
    parts = pl.DataFrame({name: ymd[name].fill_null(dmy[name]) for name in ymd.columns})
    normalized = parts.select(
        format_expr(
            "{}-{}-{} {}:{}:{}.{}",
            "y",
            pl.col("mo").str.zfill(2),
            pl.col("d").str.zfill(2),
            pl.col("h").fill_null("0").str.zfill(2),
            pl.col("mi").fill_null("00"),
            pl.col("s").fill_null("00"),
            pl.col("f").fill_null("0"),
        )
        .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
        .alias("local"),
        _offset_seconds(pl.col("tz")).alias("offset_s"),
    )
    is_epoch = text.str.contains(_EPOCH).fill_null(False)
    epoch = _from_epoch(text.cast(pl.Float64, strict=False))
    return pl.DataFrame(
        {
            "local": pl.select(
                pl.when(is_epoch).then(epoch["local"]).otherwise(normalized["local"])
            ).to_series(),
            "offset_s": pl.select(
                pl.when(is_epoch).then(epoch["offset_s"]).otherwise(normalized["offset_s"])
            ).to_series(),
        }
    )


def _offset_seconds(tz: pl.Expr) -> pl.Expr:
    """Seconds east of UTC for ``Z``/``UTC``/``GMT``/``+HH[:MM]``; null where no offset was written."""
    upper = tz.str.to_uppercase()
    digits = tz.str.replace(":", "", literal=True)
    hours = digits.str.slice(1, 2).cast(pl.Int32, strict=False)
    minutes = digits.str.slice(3, 2).cast(pl.Int32, strict=False).fill_null(0)
    sign = pl.when(tz.str.starts_with("-")).then(-1).otherwise(1)
    return (
        pl.when(upper.is_in(["Z", "UTC", "GMT"]))
        .then(pl.lit(0, pl.Int32))
        .otherwise(sign * (hours * 3600 + minutes * 60))
        .cast(pl.Int32)
    )


def _from_epoch(numbers: pl.Series) -> pl.DataFrame:
    seconds = pl.select(
        pl.when(numbers.abs() >= _EPOCH_MS_ABOVE).then(numbers / 1000).otherwise(numbers)
    ).to_series()
    micros = (seconds * 1_000_000).round(0).cast(pl.Int64, strict=False)
    local = pl.select(pl.from_epoch(micros, time_unit="us")).to_series()
    offset = pl.select(pl.when(local.is_not_null()).then(pl.lit(0, pl.Int32))).to_series()
    return pl.DataFrame({"local": local, "offset_s": offset.cast(pl.Int32)})


def localize(local: pl.Series, zone: SourceZone) -> tuple[pl.Series, pl.Series]:
    """Convert naive wall-clock times in `zone` to naive UTC.

    Returns:
        (utc, reason): `utc` is null where the local time is ambiguous or does not exist in the zone,
        and `reason` says which (null elsewhere).
    """
    if zone.offset is not None:
        return local - zone.offset, pl.Series([None] * len(local), dtype=pl.String)
    key = zone.key or zone.name
    strict = local.dt.replace_time_zone(key, ambiguous="null", non_existent="null")
    earliest = local.dt.replace_time_zone(key, ambiguous="earliest", non_existent="null")
    utc = strict.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    frame = pl.DataFrame({"local": local, "strict": strict, "earliest": earliest})
    stamp = pl.col("local").dt.to_string("%Y-%m-%d %H:%M:%S")
    reason = frame.select(
        pl.when(pl.col("local").is_null() | pl.col("strict").is_not_null())
        .then(pl.lit(None, pl.String))
        .when(pl.col("earliest").is_not_null())
        .then(
            format_expr(
                "ambiguous local time {} in {} (the clock falls back, it occurs twice)",
                stamp,
                pl.lit(zone.name),
            )
        )
        .otherwise(
            format_expr(
                "nonexistent local time {} in {} (the clock springs forward over it)",
                stamp,
                pl.lit(zone.name),
            )
        )
    ).to_series()
    return utc, reason


@dataclass(frozen=True)
class UtcTimes:
    """Converted bar times: `utc` (naive UTC, null on a row fault), the fault `reason`, the zone used."""

    utc: pl.Series
    reason: pl.Series
    zone_label: str
    warnings: tuple[str, ...]


def to_utc(parsed: pl.DataFrame, zone: SourceZone | None, lines: pl.Series, path: Path) -> UtcTimes:
    """Apply the zone rules to `parse_timestamps` output (see the module docstring).

    Raises:
        SourceError: some timestamps carry no offset and no zone was declared.
    """
    local, offset = parsed["local"], parsed["offset_s"]
    has_offset = offset.is_not_null() & local.is_not_null()
    if zone is not None:
        utc, reason = localize(local, zone)
        warnings: tuple[str, ...] = ()
        if has_offset.any():
            example = format_offset(int(offset.filter(has_offset)[0]))
            warnings = (
                f"the timestamps carry their own UTC offsets (e.g. {example}); --source-tz {zone.name} "
                f"overrides them: their wall-clock times were read as {zone.name}",
            )
        return UtcTimes(utc=utc, reason=reason, zone_label=zone.name, warnings=warnings)
    naive = local.is_not_null() & offset.is_null()
    if naive.any():
        raise SourceError(
            path,
            "timestamps carry no offset; declare the source time zone with --source-tz "
            "(e.g. EET for most MT5 brokers)",
            line=int(lines.filter(naive)[0]),
            fix="pass --source-tz ZONE (an IANA name such as EET or UTC, or an offset such as +02:00)",
        )
    utc = _shift(local, offset)
    offsets = sorted({int(v) for v in offset.drop_nulls().unique()})
    label = "UTC" if offsets in ([], [0]) else "embedded " + "/".join(format_offset(v) for v in offsets)
    return UtcTimes(
        utc=utc, reason=pl.Series([None] * len(local), dtype=pl.String), zone_label=label, warnings=()
    )


def _shift(local: pl.Series, offset_s: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"local": local, "offset": offset_s})
    return frame.select(pl.col("local") - pl.duration(seconds=pl.col("offset"), time_unit="us")).to_series()


def format_offset(seconds: int) -> str:
    """``7200`` -> ``+02:00``."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class FingerprintReport:
    """Where the daily break sits after conversion. `ok` is None when there are too few breaks to judge."""

    ok: bool | None
    share: float
    days_checked: int
    message: str


@dataclass(frozen=True)
class _BreakStats:
    days: int
    ok_days: int
    modal_utc: str
    modal_days: int
    modal_new_york: str

    @property
    def share(self) -> float:
        return self.ok_days / self.days if self.days else 0.0


def daily_break_fingerprint(
    utc: pl.Series, local: pl.Series, bar_minutes: int, zone_name: str
) -> FingerprintReport:
    """Check that intraday gaps of the converted bars sit at 17:00-18:00 New York.

    Args:
        utc: naive UTC bar open times (the converted data).
        local: the same bars' wall-clock times as written in the source, to try other zones.
        bar_minutes: the timeframe in minutes.
        zone_name: the zone used for the conversion, for the message.
    """
    stats = _break_stats(utc, bar_minutes)
    if stats.days < MIN_BREAK_DAYS:
        return FingerprintReport(
            ok=None,
            share=stats.share,
            days_checked=stats.days,
            message=f"daily-break fingerprint: not enough daily breaks to check "
            f"({stats.days} weekdays with a break-like gap, need {MIN_BREAK_DAYS})",
        )
    if stats.share >= MIN_BREAK_SHARE:
        return FingerprintReport(
            ok=True,
            share=stats.share,
            days_checked=stats.days,
            message=f"daily-break fingerprint: the daily break sits at 17:00-18:00 New York on "
            f"{stats.ok_days} of {stats.days} days ({stats.share:.0%}); source zone '{zone_name}' fits",
        )
    message = (
        f"daily-break fingerprint: only {stats.ok_days} of {stats.days} days ({stats.share:.0%}) have the "
        f"daily break at 17:00-18:00 New York; it sits at {stats.modal_utc} UTC on {stats.modal_days} of "
        f"{stats.days} days, which is {stats.modal_new_york} New York, not 17:00; the declared source zone "
        f"'{zone_name}' looks wrong. "
    )
    best = _best_candidate(local, bar_minutes)
    if best is None:
        message += f"None of {', '.join(CANDIDATE_ZONES)} puts it at 17:00 New York; check the source's zone."
    else:
        message += f"A zone that puts it at 17:00 New York: {best}"
    return FingerprintReport(ok=False, share=stats.share, days_checked=stats.days, message=message)


def _best_candidate(local: pl.Series, bar_minutes: int) -> str | None:
    best: tuple[float, str] | None = None
    for key in CANDIDATE_ZONES:
        utc, _ = localize(local, SourceZone(name=key, key=key))
        stats = _break_stats(utc.drop_nulls(), bar_minutes)
        if stats.days >= MIN_BREAK_DAYS and stats.share >= MIN_BREAK_SHARE:
            if best is None or stats.share > best[0]:
                best = (stats.share, key)
    return None if best is None else best[1]


def _break_stats(utc: pl.Series, bar_minutes: int) -> _BreakStats:
    """Break-like gaps (45 min .. 6 h of missing time) on weekdays, and how many cover 17:00-18:00 NY."""
    bar = timedelta(minutes=bar_minutes)

    def new_york(expr: pl.Expr) -> pl.Expr:
        return expr.dt.replace_time_zone("UTC").dt.convert_time_zone(NEW_YORK).dt.replace_time_zone(None)

    gaps = (
        pl.DataFrame({"ts": utc})
        .unique()
        .sort("ts")
        .with_columns(start=pl.col("ts").shift(1) + bar, end=pl.col("ts"))
        .filter(
            pl.col("end") - pl.col("start") >= MIN_BREAK_GAP,
            pl.col("end") - pl.col("start") + bar < MAX_BREAK_GAP,
        )
        .with_columns(ny_start=new_york(pl.col("start")), ny_end=new_york(pl.col("end")))
        .filter(pl.col("ny_start").dt.weekday() <= 5)
        .with_columns(day=pl.col("ny_start").dt.date())
        .with_columns(
            covers=(pl.col("ny_start") <= pl.col("day").dt.combine(pl.time(17)) + bar)
            & (pl.col("ny_end") >= pl.col("day").dt.combine(pl.time(18)) - bar),
            window=format_expr(
                "{}-{}", pl.col("start").dt.to_string("%H:%M"), pl.col("end").dt.to_string("%H:%M")
            ),
            ny_hhmm=pl.col("ny_start").dt.to_string("%H:%M"),
        )
    )
    if gaps.is_empty():
        return _BreakStats(days=0, ok_days=0, modal_utc="", modal_days=0, modal_new_york="")
    per_day = gaps.group_by("day").agg(pl.col("covers").any())
    modal = gaps["window"].mode().sort()[0]
    at_modal = gaps.filter(pl.col("window") == modal)
    return _BreakStats(
        days=per_day.height,
        ok_days=int(per_day["covers"].sum()),
        modal_utc=modal,
        modal_days=at_modal["day"].n_unique(),
        modal_new_york=at_modal["ny_hhmm"].mode().sort()[0],
    )
