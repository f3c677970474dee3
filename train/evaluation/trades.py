"""The trade table: long entries when p_long is high, one position at a time, against chance.

Usage::

    rows = TradeRows.from_arrays(ts, t1, p_long, realized_bps)          # one test block, eligible rows
    table = trade_table(rows, TradeConfig(), reference_p=p_long_val)    # thresholds, top-k%, baselines

What it measures (docs/evaluate.md):

- **Long only.** An entry is the long trade the label describes: enter at the next bar's open, exit at the
  barrier touched first or at the horizon's close. Its result is the snapshot's ``realized_bps`` (contract
  v2), which already includes the cost: the spread at the decision bar, plus the contract's commission if
  one is configured. Nothing else (slippage, swap, market impact) is included.
- **One position at a time.** After an entry at decision bar ``ts``, the next entry may only be decided on a
  bar whose ``ts'`` is at or after that trade's ``t1`` (the close time of the last bar its label reads), so
  the next trade's entry (the open after ``ts'``) comes after the previous exit and no move is counted
  twice.
- **Rules.** ``p_long >= tau`` for each tau of a grid (0.50..0.60 step 0.02), and the top 10% / 5% of
  p_long, whose cut points come from ``reference_p`` (the fold's validation predictions), never from the
  scored rows themselves.
- **Baselines at the same rate.** Always-enter (every row is a signal, same position rule), and random
  entry: the same number of signal rows drawn uniformly among the rows, same position rule, repeated
  ``random_draws`` times; its 2.5-97.5% band of each statistic. An edge is a mean realized_bps above the
  random band. The grid is several trials: read the whole curve, never only its best point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

TAU_GRID = (0.50, 0.52, 0.54, 0.56, 0.58, 0.60)
TOP_SHARES = (0.10, 0.05)
STATISTICS = ("trades", "trades_per_day", "hit_rate", "mean_bps", "total_bps")


@dataclass(frozen=True)
class TradeConfig:
    """The entry rules and the random baseline."""

    thresholds: tuple[float, ...] = TAU_GRID
    top_shares: tuple[float, ...] = TOP_SHARES
    random_draws: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if any(not 0.0 <= t <= 1.0 for t in self.thresholds):
            raise ValueError(f"thresholds must be probabilities, got {self.thresholds}")
        if any(not 0.0 < s < 1.0 for s in self.top_shares):
            raise ValueError(f"top shares must lie in (0, 1), got {self.top_shares}")
        if self.random_draws < 1:
            raise ValueError(f"random_draws must be >= 1, got {self.random_draws}")


@dataclass(frozen=True, eq=False)
class TradeRows:
    """The rows a rule may enter on (eligible, labelled, scored), in time order."""

    ts: np.ndarray  # [n] datetime64[us], decision bar open time, strictly increasing
    t1: np.ndarray  # [n] datetime64[us], when the trade's label resolves
    p: np.ndarray  # [n] float64 p_long
    realized_bps: np.ndarray  # [n] float64 net bps of the long trade, cost included

    @classmethod
    def from_arrays(cls, ts: Any, t1: Any, p: Any, realized_bps: Any) -> TradeRows:
        ts = np.asarray(ts).astype("datetime64[us]")
        t1 = np.asarray(t1).astype("datetime64[us]")
        p = np.asarray(p, dtype=np.float64)
        realized = np.asarray(realized_bps, dtype=np.float64)
        if not (len(ts) == len(t1) == len(p) == len(realized)):
            raise ValueError("ts, t1, p and realized_bps must have the same length")
        if len(ts) > 1 and not (np.diff(ts) > np.timedelta64(0, "us")).all():
            raise ValueError("ts must be strictly increasing (one row per bar, in time order)")
        if np.isnat(t1).any() or not np.isfinite(realized).all():
            row = int(np.flatnonzero(np.isnat(t1) | ~np.isfinite(realized))[0])
            raise ValueError(
                f"row {row} has no t1 or no realized_bps: trade rows must have an available label"
            )
        if (t1 <= ts).any():
            raise ValueError(f"row {int(np.flatnonzero(t1 <= ts)[0])} has t1 at or before its ts")
        if not np.isfinite(p).all():
            raise ValueError("p_long must be finite on every trade row")
        return cls(ts, t1, p, realized)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def n_days(self) -> int:
        return int(len(np.unique(self.ts.astype("datetime64[D]")))) if len(self) else 0


def one_position(rows: TradeRows, signal: np.ndarray) -> np.ndarray:
    """Indices of the trades taken from the boolean ``signal``: the earliest signal, then the earliest
    signal at or after that trade's ``t1``, and so on (module docstring)."""
    signal = np.asarray(signal, dtype=bool)
    if len(signal) != len(rows):
        raise ValueError(f"signal has {len(signal)} rows, the trade rows {len(rows)}")
    candidates = np.flatnonzero(signal)
    # the first row whose decision comes at or after row i's t1 (always after i, since t1 > ts)
    free_from = np.searchsorted(rows.ts, rows.t1, side="left")
    taken: list[int] = []
    j = 0
    while j < len(candidates):
        i = int(candidates[j])
        taken.append(i)
        j = int(np.searchsorted(candidates, free_from[i], side="left"))
    return np.asarray(taken, dtype=np.int64)


def trade_stats(rows: TradeRows, taken: np.ndarray) -> dict[str, float]:
    """Trades, trades per day (over all days of the rows), hit rate, mean and total realized_bps."""
    bps = rows.realized_bps[taken]
    n = len(bps)
    return {
        "trades": float(n),
        "trades_per_day": n / rows.n_days if rows.n_days else float("nan"),
        "hit_rate": float((bps > 0).mean()) if n else float("nan"),
        "mean_bps": float(bps.mean()) if n else float("nan"),
        "total_bps": float(bps.sum()),
    }


def random_band(
    rows: TradeRows, n_signals: int, draws: int, rng: np.random.Generator
) -> dict[str, list[float]]:
    """2.5-97.5% band of each statistic over ``draws`` random entries with ``n_signals`` signal rows."""
    samples: dict[str, list[float]] = {name: [] for name in STATISTICS}
    for _ in range(draws):
        signal = np.zeros(len(rows), dtype=bool)
        signal[rng.choice(len(rows), size=n_signals, replace=False)] = True
        for name, value in trade_stats(rows, one_position(rows, signal)).items():
            samples[name].append(value)
    return {
        name: [float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))]
        if np.isfinite(v).any()
        else [float("nan"), float("nan")]
        for name, v in samples.items()
    }


def entry_rules(
    p: np.ndarray, reference_p: np.ndarray, config: TradeConfig
) -> list[tuple[str, float, np.ndarray]]:
    """(rule name, p cut point, signal mask) for each tau and each top share (cut from ``reference_p``)."""
    rules = [(f"p_long >= {tau:.2f}", float(tau), p >= tau) for tau in config.thresholds]
    if len(reference_p) == 0:
        raise ValueError("top-k% rules need reference predictions (the validation block's p_long)")
    for share in config.top_shares:
        cut = float(np.quantile(np.asarray(reference_p, dtype=np.float64), 1.0 - share))
        rules.append((f"top {share:.0%} of p_long", cut, p >= cut))
    return rules


IntervalFn = Callable[[TradeRows, np.ndarray, np.ndarray], dict[str, Any]]


def trade_table(
    rows: TradeRows,
    config: TradeConfig,
    reference_p: np.ndarray,
    intervals: IntervalFn | None = None,
) -> dict[str, Any]:
    """One row per entry rule plus always-enter, each with its random-entry band.

    ``intervals(rows, signal, taken)``, when given, adds each statistic's interval (see
    :func:`train.evaluation.metric_intervals.trade_intervals`).
    """
    rng = np.random.default_rng(config.seed)
    always = np.ones(len(rows), dtype=bool)
    table = []
    for name, cut, signal in [*entry_rules(rows.p, reference_p, config), ("always enter", 0.0, always)]:
        taken = one_position(rows, signal)
        row: dict[str, Any] = {"rule": name, "cut": cut, "signals": int(signal.sum())}
        row.update(trade_stats(rows, taken))
        if signal.all():
            row["random_band"] = None  # random entry at the rate of always-enter is always-enter
        elif signal.any():
            row["random_band"] = random_band(rows, int(signal.sum()), config.random_draws, rng)
        else:
            row["random_band"] = None
        row["above_random"] = bool(
            row["random_band"] is not None and row["mean_bps"] > row["random_band"]["mean_bps"][1]
        )
        if intervals is not None:
            row["intervals"] = intervals(rows, signal, taken)
        table.append(row)
    return {
        "long_only": True,
        "cost": "realized_bps includes the spread at the decision bar and the contract's commission",
        "position_rule": "one position at a time; the next entry is decided at or after the open trade's t1",
        "rows": len(rows),
        "days": rows.n_days,
        "random_draws": config.random_draws,
        "table": table,
    }
