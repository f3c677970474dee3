"""Intervals of the trade statistics and of the reliability bins, from the block bootstrap by trading day.

The binary-head intervals (log loss, Brier, AUC, paired log-loss differences) live in
`train.fitting.intervals`, which `train run` uses too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from train.evaluation.trades import TradeRows
from train.fitting.bootstrap import mean_interval, trading_days


def trade_intervals(rows: TradeRows, signal: np.ndarray, taken: np.ndarray) -> dict[str, Any]:
    """Intervals of hit rate and mean realized_bps over the trades taken (resampling their days).

    The trades come from the one-position rule on the whole block; resampling the days of the trades taken
    treats that sequence as given (the rule is not rerun per resample).
    """
    if len(taken) == 0:
        return {}
    bps = rows.realized_bps[taken]
    days = trading_days(rows.ts[taken])
    return {
        "mean_bps": mean_interval(bps, days).to_dict(),
        "hit_rate": mean_interval((bps > 0).astype(np.float64), days).to_dict(),
    }


def reliability_intervals(
    y: np.ndarray, p: np.ndarray, ts: np.ndarray, bins: int = 10
) -> list[dict[str, Any]]:
    """The reliability table on equal-count bins of p (its deciles by default: a model's p sits in a narrow
    band, where equal-width bins would put nearly every row in one bin): per bin its p range, n, mean p,
    observed rate and that rate's 95% interval (block bootstrap by trading day over the bin's rows)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(p) == 0:
        return []
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    days = trading_days(ts)
    table = []
    for b in np.unique(which):
        rows = which == b
        interval = mean_interval(y[rows], days[rows])
        table.append(
            {
                "bin": int(b),
                "p_from": float(p[rows].min()),
                "p_to": float(p[rows].max()),
                "n": int(rows.sum()),
                "mean_p": float(p[rows].mean()),
                "observed": interval.estimate,
                "low": interval.low,
                "high": interval.high,
                "n_days": interval.n_days,
            }
        )
    return table
