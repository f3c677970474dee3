"""The baselines of one fold, on its test block, with per-fold intervals.

Usage::

    base = fold_baselines(prepared, seed=config.seed)
    base["test"]["direction"]["logistic"]["log_loss"], base["intervals"]["logistic"]["direction"]["log_loss"]

The class prior and the logistic model are ``train.fitting.metrics.baselines`` (fitted on the fold's training
samples, as ``train run`` fits them); the base model alone is the fold's final XGBoost model. All are fitted
once per fold and shared by every variant and seed (none of them depends on either).

Intervals: the base model's from its per-row p (block bootstrap by trading day, AUC included). The prior and
the logistic model are scored by ``baselines`` on each test day's rows as well, so their log loss and Brier
get the same day-resampled interval from per-day sums (``day_mean_interval``); their AUC has no interval
(an AUC does not decompose by day).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from train.evaluation.bootstrap import day_mean_interval, trading_days
from train.evaluation.metric_intervals import binary_intervals
from train.fitting.base_model import predict as base_predict
from train.fitting.dataset import SNAP_FEATURES
from train.fitting.metrics import baselines, binary_metrics
from train.fitting.prepare import Prepared

BASELINES = ("prior", "logistic")
DAY_METRICS = ("log_loss", "brier")


def fold_baselines(prepared: Prepared, seed: int) -> dict[str, Any]:
    """Baseline metrics on the fold's validation and test blocks, and their test-block intervals."""
    n_snap = len(SNAP_FEATURES)
    train_idx, val_idx, test_idx = (prepared.idx[s] for s in ("train", "val", "test"))
    evaluation = prepared.eval_tensors
    snap_test = evaluation.snap[test_idx, :n_snap].numpy()
    y_test = evaluation.targets[test_idx].numpy()
    test_rows = test_idx.numpy()
    ts = prepared.frame["ts"].cast(pl.Datetime("us")).to_numpy()[test_rows]
    days = trading_days(ts)
    evaluations = {
        "val": (evaluation.snap[val_idx, :n_snap].numpy(), evaluation.targets[val_idx].numpy()),
        "test": (snap_test, y_test),
    }
    day_keys = [f"day {d}" for d in range(int(days.max()) + 1)] if len(days) else []
    for d, key in enumerate(day_keys):
        evaluations[key] = (snap_test[days == d], y_test[days == d])
    scored = baselines(
        prepared.train_tensors.snap[train_idx, :n_snap].numpy(),
        prepared.train_tensors.targets[train_idx].numpy(),
        evaluations,
        seed,
    )
    counts = np.bincount(days, minlength=len(day_keys))
    intervals: dict[str, Any] = {}
    for name in BASELINES:
        for head in ("direction", "early_move"):
            intervals.setdefault(name, {})[head] = {
                metric: day_mean_interval(
                    np.array([scored[key][head][name][metric] for key in day_keys]) * counts, counts
                ).to_dict()
                for metric in DAY_METRICS
            }
    x_test = prepared.frame.select(SNAP_FEATURES).to_numpy().astype(np.float64)[test_rows]
    base_p = base_predict(prepared.base_model, x_test, feature_names=SNAP_FEATURES)
    intervals["base_model"] = {"direction": binary_intervals(y_test[:, 0], base_p, ts)}
    return {
        "val": scored["val"],
        "test": scored["test"],
        "base_model_direction": binary_metrics(y_test[:, 0], base_p),
        "intervals": intervals,
    }
