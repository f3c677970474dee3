"""Intervals for the figures an evaluation reports, all from the block bootstrap by trading day.

Log loss, Brier and a paired log-loss difference are means of per-row values (fast path); AUC is resampled
whole (fewer resamples: it costs a sort each). A trade statistic resamples the days of the trades taken. A
reliability bin's observed rate resamples the days of the bin's rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from train.evaluation.bootstrap import block_bootstrap, mean_interval, trading_days
from train.evaluation.trades import TradeRows
from train.fitting.metrics import EPS

AUC_RESAMPLES = 200


def row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row binary log loss, clipped as `train.fitting.metrics.binary_metrics` clips."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _auc(y: np.ndarray, p: np.ndarray, idx: np.ndarray) -> float:
    return float(roc_auc_score(y[idx], p[idx])) if len(np.unique(y[idx])) == 2 else float("nan")


def binary_intervals(y: np.ndarray, p: np.ndarray, ts: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """95% intervals of log loss, Brier and AUC on these rows (n and the number of days included)."""
    days = trading_days(ts)
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    return {
        "log_loss": mean_interval(row_log_loss(y, p), days, seed=seed).to_dict(),
        "brier": mean_interval((p - y) ** 2, days, seed=seed).to_dict(),
        "auc": block_bootstrap(
            lambda idx: _auc(y, p, idx), days, n_resamples=AUC_RESAMPLES, seed=seed
        ).to_dict(),
    }


def paired_log_loss_interval(
    y: np.ndarray, p_model: np.ndarray, p_baseline: np.ndarray, ts: np.ndarray, seed: int = 0
) -> dict[str, Any]:
    """Log loss of the model minus the baseline on the same rows, resampling the same days for both."""
    diff = row_log_loss(y, p_model) - row_log_loss(y, p_baseline)
    return mean_interval(diff, trading_days(ts), seed=seed).to_dict()


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
