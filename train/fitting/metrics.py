"""Held-out metrics of a fitted model, with 95% intervals, beside the baselines on the same rows.

`evaluate_predictions` is the one function `train run` (validation and test) and `train evaluate` (each
fold's test block) call. Everything here is out of sample: the model and every baseline were fitted on the
training split; validation chose the early-stopping epoch and the logistic baseline's C. Intervals are 95%
percentile intervals of a block bootstrap by UTC trading day (`train.fitting.intervals`). The result,
stored as the bundle's ``metadata["metrics"]`` (plus best_epoch, best_val_loss, stopped_early)::

    {
      "val" | "test": {                      # one entry per evaluated split
        "n": rows, "n_days": UTC days,
        "direction" | "early_move": M,       # the model
        "quality_mse": float,
        "calibration_direction": [{"bin", "n", "mean_p", "observed"}, ...],
      },
      "baselines": {
        "val" | "test": {
          "direction": {"prior": B, "logistic": B, "base_model": B},
          "early_move": {"prior": B, "logistic": B},
        },
      },
      "baseline_fit": {"prior": ..., "logistic": {head: {"C", "val_log_loss_by_C"}},
                       "base_model": {"fitted_on", "settings", "calibration", "selection"}},
      "intervals": "<how the intervals were computed>",
    }

    M = {"n", "positive_rate", "auc", "log_loss", "brier",
         "intervals": {"auc" | "log_loss" | "brier": Interval}}
    Interval = {"estimate", "low", "high", "n", "n_days", "confidence"}
    B = M + {"model_minus_baseline_log_loss": interval of the paired per-row difference (same days),
             "model_vs_baseline": "model better" | "model worse" | "inconclusive"}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import torch
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from torch import nn

from train.fitting.base_model import predict as base_predict
from train.fitting.baselines import HEADS, fit_baselines
from train.fitting.bootstrap import trading_days
from train.fitting.dataset import Tensors
from train.fitting.inference import infer
from train.fitting.intervals import AUC_RESAMPLES, EPS, binary_intervals, paired_log_loss_interval
from train.fitting.prepare import Prepared

INTERVALS = (
    "95% percentile intervals from a block bootstrap by UTC trading day (1000 resamples; AUC "
    f"{AUC_RESAMPLES}); baselines fitted on train, the logistic's C chosen on val"
)


def predict(
    model: nn.Module, tensors: Tensors, idx: torch.Tensor, variant: str, batch_size: int = 2048
) -> dict[str, np.ndarray]:
    """Probabilities of both binary heads and the quality score for rows `idx`."""
    parts: dict[str, list[np.ndarray]] = {"direction": [], "early_move": [], "quality": []}
    for _, out in infer(model, tensors, idx, variant, batch_size):
        parts["direction"].append(torch.sigmoid(out["direction_logit"]).squeeze(-1).cpu().numpy())
        parts["early_move"].append(torch.sigmoid(out["early_move_logit"]).squeeze(-1).cpu().numpy())
        parts["quality"].append(out["quality"].squeeze(-1).cpu().numpy())
    return {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    p = np.clip(p.astype(np.float64), EPS, 1 - EPS)
    both = len(np.unique(y)) == 2
    return {
        "n": int(len(y)),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
    }


def scored(y: np.ndarray, p: np.ndarray, ts: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """`binary_metrics` with the interval of each figure (M in the module docstring)."""
    return {**binary_metrics(y, p), "intervals": binary_intervals(y, p, ts, seed=seed)}


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Reliability table: per equal-width probability bin, mean prediction vs observed rate."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    return [
        {
            "bin": int(b),
            "n": int((which == b).sum()),
            "mean_p": float(p[which == b].mean()),
            "observed": float(y[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def versus(interval: dict[str, Any]) -> str:
    """The reading of a model-minus-baseline log loss interval: negative favours the model."""
    if interval["high"] < 0:
        return "model better"
    if interval["low"] > 0:
        return "model worse"
    return "inconclusive"


def split_metrics(
    pred: dict[str, np.ndarray], targets: np.ndarray, ts: np.ndarray, seed: int = 0
) -> dict[str, Any]:
    """The model's figures on one split (rows `ts`, targets [N, 3])."""
    return {
        "n": int(len(targets)),
        "n_days": int(len(np.unique(trading_days(ts)))),
        **{head: scored(targets[:, col], pred[head], ts, seed) for head, col in HEADS.items()},
        "quality_mse": float(np.mean((pred["quality"] - targets[:, 2]) ** 2)),
        "calibration_direction": calibration(targets[:, 0], pred["direction"]),
    }


def evaluate_predictions(
    prepared: Prepared, predictions: dict[str, dict[str, np.ndarray]], seed: int
) -> dict[str, Any]:
    """The model's predictions on each split of `predictions` ("val" and/or "test"), scored beside the
    baselines on the same rows (the shape is in the module docstring)."""
    features = prepared.inputs.snap_features
    idx = {split: prepared.idx[split] for split in ("train", "val", *predictions)}
    source = {s: prepared.train_tensors if s == "train" else prepared.eval_tensors for s in idx}
    x = {s: source[s].snap[i, : len(features)].numpy() for s, i in idx.items()}
    targets = {s: source[s].targets[i].numpy() for s, i in idx.items()}
    fitted = fit_baselines(x["train"], targets["train"], x["val"], targets["val"], seed)
    ts_all = prepared.frame["ts"].cast(pl.Datetime("us")).to_numpy()
    raw = prepared.frame.select(features).to_numpy().astype(np.float64)
    out: dict[str, Any] = {"baselines": {}}
    for split, pred in predictions.items():
        rows = idx[split].numpy()
        ts, y = ts_all[rows], targets[split]
        out[split] = split_metrics(pred, y, ts, seed)
        candidates = fitted.predict(x[split])
        candidates["direction"]["base_model"] = base_predict(
            prepared.base_model, raw[rows], feature_names=features
        )
        out["baselines"][split] = {
            head: {name: _against(y[:, HEADS[head]], pred[head], p, ts, seed) for name, p in by_name.items()}
            for head, by_name in candidates.items()
        }
    out["baseline_fit"] = {
        **fitted.describe(),
        "base_model": {
            "fitted_on": "the purged training span: settings, trees and calibration chosen on its most "
            "recent rows; p_long_xgb (calibrated), direction",
            **prepared.base_model.describe(),
        },
    }
    out["intervals"] = INTERVALS
    return out


def _against(y: np.ndarray, p_model: np.ndarray, p_base: np.ndarray, ts: np.ndarray, seed: int) -> dict:
    paired = paired_log_loss_interval(y, p_model, p_base, ts, seed=seed)
    return {
        **scored(y, p_base, ts, seed),
        "model_minus_baseline_log_loss": paired,
        "model_vs_baseline": versus(paired),
    }
