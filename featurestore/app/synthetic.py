"""Deterministic synthetic XAUUSD-like M5 candles for the embedded demo.

The demo must run where the real MT5 exports (``../shared/data``) are absent, yet it should exercise
the same code paths as real data: the MT5 "Export bars" TSV format, broker server time (EET) that
has to be converted at ingest, the daily 17:00-18:00 New York maintenance break, weekends,
holiday closures and the odd missing bar. The statistics (ATR/close, spread in bps, session
volatility, tick volume) are calibrated to the real 2025 M5 file so that thresholds tuned on the
demo are in the right ballpark for real data.

Everything derives from one ``numpy.random.Generator`` seeded by the config, and the TSV writer is
pure string formatting, so the same config always yields a byte-identical file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

NEW_YORK = "America/New_York"
BAR_MINUTES = 5
SUBSTEPS = 20  # intrabar path resolution: 15 s steps give realistic high/low ranges
BPS = 1e-4

# UTC sessions (start hour inclusive, end hour exclusive) and their volatility multipliers.
SESSIONS: tuple[tuple[str, int, int, float], ...] = (
    ("ASIA", 22, 7, 0.80),
    ("EU", 7, 12, 1.00),
    ("OVERLAP", 12, 16, 1.50),
    ("US", 16, 22, 1.05),
)

BASE_SIGMA_BPS = 6.9  # per-bar diffusion vol before multipliers; sets ATR/close median ~7 bps
GARCH_ALPHA, GARCH_BETA = 0.06, 0.92  # volatility clustering with a half-life of ~3 hours
DAY_PHI, DAY_SIGMA = 0.8, 0.25  # persistent day-level vol regime (quiet weeks vs news weeks)
JUMP_PROB = 0.0015  # ~1 jump per 3 trading days, 3-8 bar sigmas
DRIFT_PER_BAR = math.log(3800.0 / 2625.0) / 60_000  # ~2600 -> ~3800 over 10 months (~60k bars)
# Spread: a floor in whole points per broker period (SPREAD_PERIOD_DAYS trading days), its bps drawn at the
# period's first close from SPREAD_FLOOR_BPS, a piecewise-uniform law ((lo, hi, weight) segments: the real
# 2025 floor sits at 0.53-0.55 bps for about half the year, which holds a quarter of all bars);
# WIDE_PROB of bars quote wider, NEWS_PERIOD_SHARE of periods are quoted wider throughout, SPIKE_PROB of
# bars spike; the thin UTC hours around the break are wider.
SPREAD_FLOOR_BPS = ((0.475, 0.53, 0.20), (0.53, 0.55, 0.66), (0.55, 0.60, 0.14))
SPREAD_PERIOD_DAYS = 10
WIDE_PROB, NEWS_PERIOD_SHARE, SPIKE_PROB = 0.15, 0.15, 0.002
THIN_HOURS = np.ones(24)
THIN_HOURS[[23, 0, 1, 2]] = (1.1, 1.28, 1.28, 1.17)
TICKVOL_SCALE = 180.0


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate: trading days ``start``..``end`` (inclusive) of one seeded price path.

    Trading day D runs from D-1 18:00 to D 17:00 New York time, so with the default ``start`` the
    first bar is the 2025-01-01 18:00 NY reopen (Jan 1 itself is a holiday), as in real data.
    """

    start: date = date(2025, 1, 1)
    end: date = date(2025, 10, 31)
    seed: int = 7
    start_price: float = 2625.0


def session_of_hour(hours: np.ndarray) -> np.ndarray:
    """Session name for each UTC hour (0-23); shared by generator and tests so they agree."""
    out = np.empty(len(hours), dtype=object)
    for name, lo, hi, _ in SESSIONS:
        out[((hours >= lo) & (hours < hi)) if lo < hi else ((hours >= lo) | (hours < hi))] = name
    return out


def _session_multiplier(hours: np.ndarray) -> np.ndarray:
    table = np.zeros(24)
    for _, lo, hi, mult in SESSIONS:
        table[[h % 24 for h in range(lo, hi if lo < hi else hi + 24)]] = mult
    return table[hours]


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm); Good Friday closes the gold market."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    lw = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * lw) // 451
    month = (h + lw - 7 * m + 114) // 31
    return date(year, month, (h + lw - 7 * m + 114) % 31 + 1)


def _holidays(start: date, end: date) -> set[date]:
    """Whole trading days closed: Jan 1, Good Friday and Dec 25 (reopen 18:00 NY that evening)."""
    days: set[date] = set()
    for year in range(start.year, end.year + 1):
        days |= {date(year, 1, 1), _easter(year) - timedelta(days=2), date(year, 12, 25)}
    return days


def _trading_calendar(config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """UTC bar open times (datetime64[us]) of all trading days, built in New York time.

    Working in NY time makes the daily break land at 22:00 UTC in winter and 21:00 UTC in summer
    for free, which is the DST fingerprint real MT5 exports carry.
    """
    ny = ZoneInfo(NEW_YORK)
    first = datetime.combine(config.start - timedelta(days=1), time(18), ny).astimezone(ZoneInfo("UTC"))
    last = datetime.combine(config.end, time(17), ny).astimezone(ZoneInfo("UTC"))
    grid = np.arange(
        np.datetime64(first.replace(tzinfo=None), "us"),
        np.datetime64(last.replace(tzinfo=None), "us"),
        np.timedelta64(BAR_MINUTES, "m"),
    )
    ny_wall = pl.Series("ts", grid).dt.replace_time_zone("UTC").dt.convert_time_zone(NEW_YORK)
    shifted = ny_wall.dt.replace_time_zone(None) + timedelta(hours=6)  # trading day D: [D 00:00, D 23:00)
    trading_day = shifted.dt.date()
    keep = (
        (shifted.dt.hour() < 23)
        & (trading_day.dt.weekday() <= 5)
        & ~trading_day.is_in(sorted(_holidays(config.start, config.end)))
    ).to_numpy()
    ts = grid[keep]
    # Two isolated missing bars (feed outages), as in the real file; never next to a break.
    gaps = np.diff(ts) != np.timedelta64(BAR_MINUTES, "m")
    inner = np.flatnonzero(~gaps[:-1] & ~gaps[1:]) + 1
    drop = rng.choice(inner, size=min(2, len(inner)), replace=False) if len(inner) else inner
    return np.delete(ts, drop)


def _garch_factor(z: np.ndarray, day_index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit-mean volatility factor: GARCH(1,1) on the standardised shocks times a day regime.

    The recursion is a plain loop over Python floats (~60k steps, a few tens of ms).
    """
    h = np.empty(len(z))
    prev, omega = 1.0, 1.0 - GARCH_ALPHA - GARCH_BETA
    for i, zi in enumerate(z.tolist()):
        h[i] = prev
        prev = omega + (GARCH_ALPHA * zi * zi + GARCH_BETA) * prev
    n_days = int(day_index[-1]) + 1
    log_day = np.zeros(n_days)
    eps = rng.standard_normal(n_days) * DAY_SIGMA
    for d in range(1, n_days):
        log_day[d] = DAY_PHI * log_day[d - 1] + eps[d]
    return np.sqrt(h) * np.exp(log_day - DAY_SIGMA**2 / (1 - DAY_PHI**2) / 2)[day_index]


def _bar_sigma(ts: np.ndarray, gap_before: np.ndarray, gap_after: np.ndarray) -> np.ndarray:
    """Deterministic per-bar volatility (bps): session level, busy reopen, quiet run-in to a break."""
    hours = ts.astype("datetime64[h]").astype(np.int64) % 24
    sigma = BASE_SIGMA_BPS * _session_multiplier(hours)
    after = np.flatnonzero(gap_before > BAR_MINUTES * 2)
    before = np.flatnonzero(gap_after > BAR_MINUTES * 2)
    for k, boost in enumerate((1.7, 1.4, 1.2)):
        sigma[np.minimum(after + k, len(ts) - 1)] *= boost
    for k in range(6):
        sigma[np.maximum(before - k, 0)] *= 0.6
    return sigma


def _log_path(
    sigma: np.ndarray, gap_before: np.ndarray, day_index: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Log-price path, shape (n, SUBSTEPS + 1) in log units: column 0 is the open, -1 the close."""
    n = len(sigma)
    steps = rng.standard_normal((n, SUBSTEPS))
    z = steps.sum(axis=1) / math.sqrt(SUBSTEPS)
    sig = sigma * _garch_factor(z, day_index, rng) * BPS
    inc = steps * (sig / math.sqrt(SUBSTEPS))[:, None]
    jumps = rng.random(n) < JUMP_PROB
    jump_size = rng.choice([-1.0, 1.0], n) * rng.uniform(3.0, 8.0, n) * sig
    inc[np.flatnonzero(jumps), rng.integers(0, SUBSTEPS, n)[jumps]] += jump_size[jumps]
    # Gap between the previous close and this open: none inside a session, some after breaks.
    gap_sigma = np.where(gap_before > BAR_MINUTES, 1.6 * np.sqrt(np.minimum(gap_before, 720) / 5), 0.0)
    gap = rng.standard_normal(n) * gap_sigma * BPS
    gap[0] = 0.0
    # Bridge: spread the residual evenly so the path ends at exactly DRIFT_PER_BAR * n (a slow,
    # seed-independent trend, ~2600 -> ~3800 over 10 months); the shift per step is ~1e-7.
    inc += (DRIFT_PER_BAR * n - inc.sum() - gap.sum()) / inc.size
    opens = np.cumsum(gap + np.concatenate([[0.0], inc[:-1].sum(axis=1)]))
    return opens[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(inc, axis=1)], axis=1)


def _piecewise_uniform(u: np.ndarray) -> np.ndarray:
    """The SPREAD_FLOOR_BPS law's quantiles at `u` in [0, 1) (its inverse CDF)."""
    lo, hi, weight = (np.array(x, dtype=np.float64) for x in zip(*SPREAD_FLOOR_BPS, strict=True))
    cum = np.concatenate([[0.0], np.cumsum(weight / weight.sum())])
    k = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, len(lo) - 1)
    return lo[k] + (hi[k] - lo[k]) * (u - cum[k]) / (cum[k + 1] - cum[k])


def _spread_points(
    ts: np.ndarray,
    close: np.ndarray,
    gap_before: np.ndarray,
    gap_after: np.ndarray,
    day_index: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Spread in points (0.01 USD) as an MT5 broker quotes it: a floor in whole points, re-set now and then.

    The real 2025 file shows a floor of 15, then 18, then 20-22 points that the broker moves every few
    weeks, so in bps the floor drifts with the price (0.45-0.6 bps) and some stretches sit below 0.5 bps.
    On top of the floor: wider quotes in about one bar in seven, news stretches of days quoted wider
    throughout (Jul-Sep in the real file), the thin hours around the daily break (UTC 23-02), the bars
    either side of the break, the Sunday reopen several bps wide, and rare spikes.
    """
    n = len(close)
    n_days = int(day_index[-1]) + 1
    period_of_day = np.arange(n_days) // SPREAD_PERIOD_DAYS
    n_periods = int(period_of_day[-1]) + 1
    # Stratified draws (one per equal slice of the range, in random order) keep the share of tight and of
    # news periods the same for every seed, so no seed can leave a spread bucket empty.
    floor_bps = _piecewise_uniform((rng.permutation(n_periods) + rng.random(n_periods)) / n_periods)
    news = np.ones(n_periods)
    is_news = rng.permutation(n_periods)[: round(NEWS_PERIOD_SHARE * n_periods)]
    news[is_news] = rng.uniform(1.3, 1.7, len(is_news))
    period = period_of_day[day_index]
    first_bar = np.searchsorted(period, np.arange(n_periods))
    floor_points = np.rint(floor_bps * close[np.minimum(first_bar, n - 1)] / 100)  # held fixed in points
    points = floor_points[period] * news[period]
    points *= np.where(rng.random(n) < WIDE_PROB, rng.uniform(1.1, 2.1, n), 1.0)
    hours = ts.astype("datetime64[h]").astype(np.int64) % 24
    points *= THIN_HOURS[hours]
    points[gap_after > BAR_MINUTES * 2] *= 1.75
    points[gap_before > BAR_MINUTES * 2] *= 1.3
    points *= np.where(rng.random(n) < SPIKE_PROB, rng.uniform(2.5, 5.0, n), 1.0)
    weekly = np.flatnonzero(gap_before > 24 * 60)
    base = floor_points[period]
    points[weekly] = base[weekly] * rng.uniform(6.0, 10.0, len(weekly))
    nxt = np.minimum(weekly + 1, n - 1)
    points[nxt] = base[nxt] * rng.uniform(2.5, 4.0, len(weekly))
    return np.maximum(np.rint(points), 1).astype(np.int64)


def _tick_volume(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Tick counts that rise with the bar's range: more price updates when the market moves."""
    range_bps = (high - low) / close / BPS
    tv = TICKVOL_SCALE * (range_bps + 0.5) ** 0.7 * np.exp(0.3 * rng.standard_normal(len(close)))
    return np.maximum(np.rint(tv), 1).astype(np.int64)


def generate_candles(config: SyntheticConfig) -> pl.DataFrame:
    """Synthetic M5 bars: ts (naive UTC, bar open), open, high, low, close, tick_volume, spread_points.

    Prices are rounded to cents with low <= min(open, close) <= max(open, close) <= high kept,
    and open equals the previous close inside a session (it gaps only across breaks).
    """
    if config.start > config.end or config.start_price <= 0:
        raise ValueError(f"invalid synthetic config: {config}")
    rng = np.random.default_rng(config.seed)
    ts = _trading_calendar(config, rng)
    if len(ts) == 0:
        raise ValueError(f"no trading days between {config.start} and {config.end}")
    minutes = np.diff(ts).astype("timedelta64[m]").astype(np.int64)
    gap_before = np.concatenate([[7 * 24 * 60], minutes])  # the first bar is a (weekly) reopen
    gap_after = np.concatenate([minutes, [7 * 24 * 60]])
    day_index = np.cumsum(gap_before > BAR_MINUTES * 2) - 1
    sigma = _bar_sigma(ts, gap_before, gap_after)
    path = config.start_price * np.exp(_log_path(sigma, gap_before, day_index, rng))
    close = np.round(path[:, -1], 2)
    open_ = np.round(path[:, 0], 2)
    within = np.flatnonzero(gap_before == BAR_MINUTES)  # never index 0 (its gap is a week)
    open_[within] = close[within - 1]  # exact equality, immune to float round-off in the path
    high = np.maximum(np.round(path.max(axis=1), 2), np.maximum(open_, close))
    low = np.minimum(np.round(path.min(axis=1), 2), np.minimum(open_, close))
    return pl.DataFrame(
        {
            "ts": pl.Series(ts, dtype=pl.Datetime("us")),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "tick_volume": _tick_volume(high, low, close, rng),
            "spread_points": _spread_points(ts, close, gap_before, gap_after, day_index, rng),
        }
    )


def _price_text(col: str) -> pl.Expr:
    """Exact 2-decimal text via integer cents, so no float repr can leak into the file."""
    cents = (pl.col(col) * 100).round(0).cast(pl.Int64)
    return pl.concat_str(
        [(cents // 100).cast(pl.String), pl.lit("."), (cents % 100).cast(pl.String).str.zfill(2)]
    ).alias(f"<{col.upper()}>")


def write_mt5_tsv(frame: pl.DataFrame, path: Path, server_tz: str = "EET") -> Path:
    """Write ``frame`` as an MT5 "Export bars" TSV with timestamps in broker server time.

    The demo then goes through the same ingest path (zone conversion, CRLF, `<...>` header) as a
    real export, so the embedded demo is a faithful rehearsal rather than a shortcut.
    """
    server = pl.col("ts").dt.replace_time_zone("UTC").dt.convert_time_zone(server_tz)
    out = frame.select(
        server.dt.strftime("%Y.%m.%d").alias("<DATE>"),
        server.dt.strftime("%H:%M:%S").alias("<TIME>"),
        _price_text("open"),
        _price_text("high"),
        _price_text("low"),
        _price_text("close"),
        pl.col("tick_volume").cast(pl.Int64).alias("<TICKVOL>"),
        pl.lit(0, dtype=pl.Int64).alias("<VOL>"),
        pl.col("spread_points").cast(pl.Int64).alias("<SPREAD>"),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.write_csv(path, separator="\t", line_terminator="\r\n", quote_style="never")
    return path
