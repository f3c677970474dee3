"""Intervals of the trade statistics, from the block bootstrap by trading day.

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
