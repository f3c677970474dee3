"""Intervals of the binary-head figures (log loss, Brier, AUC), all from the block bootstrap by trading day.

Log loss, Brier and a paired log-loss difference are means of per-row values (the fast path of
`train.fitting.bootstrap.mean_interval`); AUC is resampled whole (fewer resamples: it costs a sort each).
Used by `train run` (validation and test metrics, bundle metadata) and `train evaluate` (per fold and
pooled); trade statistics have their own in `train.evaluation.metric_intervals`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from train.fitting.bootstrap import Interval, block_bootstrap, mean_interval, trading_days

EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] before a log loss
AUC_RESAMPLES = 200


def row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row binary log loss, clipped as `train.fitting.metrics.binary_metrics` clips."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _auc(y: np.ndarray, p: np.ndarray, idx: np.ndarray) -> float:
    return float(roc_auc_score(y[idx], p[idx])) if len(np.unique(y[idx])) == 2 else float("nan")


def binary_intervals(y: np.ndarray, p: np.ndarray, ts: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """95% intervals of log loss, Brier and AUC on these rows (n and the number of days included).

    A constant prediction (the class prior) ranks nothing: its AUC is 0.5 on every resample, so it is not
    resampled.
    """
    days = trading_days(ts)
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(p) and np.ptp(p) == 0.0:
        at = _auc(y, p, np.arange(len(y)))
        auc = Interval(at, at, at, len(y), len(np.unique(days))).to_dict()
    else:
        auc = block_bootstrap(
            lambda idx: _auc(y, p, idx), days, n_resamples=AUC_RESAMPLES, seed=seed
        ).to_dict()
    return {
        "log_loss": mean_interval(row_log_loss(y, p), days, seed=seed).to_dict(),
        "brier": mean_interval((p - y) ** 2, days, seed=seed).to_dict(),
        "auc": auc,
    }


def paired_log_loss_interval(
    y: np.ndarray, p_model: np.ndarray, p_baseline: np.ndarray, ts: np.ndarray, seed: int = 0
) -> dict[str, Any]:
    """Log loss of the model minus the baseline on the same rows, resampling the same days for both."""
    diff = row_log_loss(y, p_model) - row_log_loss(y, p_baseline)
    return mean_interval(diff, trading_days(ts), seed=seed).to_dict()
