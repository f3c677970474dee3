"""Evaluation: AUC, log loss and Brier of the binary heads, MSE of quality, calibration; and the baselines
(class prior, logistic regression on the snapshot features)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from torch import nn

from train.fitting.dataset import Tensors, gather

EPS = 1e-7


@torch.no_grad()
def predict(
    model: nn.Module, tensors: Tensors, idx: torch.Tensor, variant: str, batch_size: int = 2048
) -> dict[str, np.ndarray]:
    """Probabilities of both binary heads and the quality score for rows `idx`."""
    was_training = model.training
    model.eval()
    parts: dict[str, list[np.ndarray]] = {"direction": [], "early_move": [], "quality": []}
    for start in range(0, len(idx), batch_size):
        out = model(**gather(tensors, idx[start : start + batch_size]).model_inputs(variant))
        parts["direction"].append(torch.sigmoid(out["direction_logit"]).squeeze(-1).numpy())
        parts["early_move"].append(torch.sigmoid(out["early_move_logit"]).squeeze(-1).numpy())
        parts["quality"].append(out["quality"].squeeze(-1).numpy())
    model.train(was_training)
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


def split_metrics(pred: dict[str, np.ndarray], targets: np.ndarray) -> dict[str, Any]:
    return {
        "direction": binary_metrics(targets[:, 0], pred["direction"]),
        "early_move": binary_metrics(targets[:, 1], pred["early_move"]),
        "quality_mse": float(np.mean((pred["quality"] - targets[:, 2]) ** 2)),
        "calibration_direction": calibration(targets[:, 0], pred["direction"]),
    }


def baselines(
    snap_train: np.ndarray,
    targets_train: np.ndarray,
    evaluations: dict[str, tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> dict[str, Any]:
    """Class prior and logistic regression (on the normalized 85 snapshot features) per binary head."""
    out: dict[str, Any] = {}
    for head, column in (("direction", 0), ("early_move", 1)):
        prior = float(targets_train[:, column].mean())
        logistic = LogisticRegression(max_iter=500, C=1.0, random_state=seed).fit(
            snap_train, targets_train[:, column]
        )
        for split, (snap, targets) in evaluations.items():
            y = targets[:, column]
            out.setdefault(split, {}).setdefault(head, {})["prior"] = binary_metrics(
                y, np.full(len(y), prior)
            )
            out[split][head]["logistic"] = binary_metrics(y, logistic.predict_proba(snap)[:, 1])
    return out
