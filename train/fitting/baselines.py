"""The baselines every model metric is compared with, fitted on the training split only.

- Class prior: the training split's positive rate, predicted for every row.
- Logistic: L2-regularized logistic regression on the 85 snapshot features, standardized with statistics
  of the training split; its strength ``C`` is chosen from ``C_GRID`` by validation log loss (the test
  split never chooses anything). The grid reaches strong enough regularization that the model can fall
  back to about the prior: with C = 1 alone it overfitted the training months (train AUC 0.61) and lost to
  the prior on validation and test. A baseline worse than the prior on validation is a bug, not a result.
- Base model alone (direction only): the XGBoost base model's ``p_long_xgb`` on the rows, i.e. the
  probability the transformer receives as an input; on validation and test it comes from the final base
  model, fitted on the purged training span only. Computed by the caller (`train.fitting.metrics`), since
  it needs the snapshot rows, not only the feature matrix.

Usage::

    fitted = fit_baselines(x_train, targets_train, x_val, targets_val, seed=7)
    fitted.predict(x_test)["direction"]["logistic"], fitted.describe()
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from train.fitting.intervals import row_log_loss

logger = logging.getLogger(__name__)

C_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # inverse L2 strength on standardized inputs
HEADS = {"direction": 0, "early_move": 1}  # binary heads and their target column


@dataclass(frozen=True)
class LogisticBaseline:
    """A fitted pipeline (standardize on train, then logistic regression) and how its C was chosen."""

    pipeline: Pipeline
    c: float
    val_log_loss_by_c: dict[float, float]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(x)[:, 1], dtype=np.float64)


def fit_logistic(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
    grid: tuple[float, ...] = C_GRID,
) -> LogisticBaseline:
    """One pipeline per C of `grid` fitted on train; the one with the lowest validation log loss is kept.

    Raises:
        ValueError: an empty grid, or training labels of one class only.
    """
    if not grid:
        raise ValueError("the logistic baseline needs at least one C in its grid")
    if len(np.unique(y_train)) != 2:
        raise ValueError("the logistic baseline needs both classes in the training split")
    fitted: dict[float, Pipeline] = {}
    scores: dict[float, float] = {}
    for c in grid:
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000, random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(x_train, y_train)
        fitted[c] = pipeline
        scores[c] = float(row_log_loss(y_val, pipeline.predict_proba(x_val)[:, 1]).mean())
    best = min(grid, key=lambda c: (scores[c], c))  # ties: the stronger regularization
    logger.info("logistic baseline: C = %g (validation log loss by C: %s)", best, scores)
    return LogisticBaseline(fitted[best], best, scores)


@dataclass(frozen=True)
class Baselines:
    """The class prior and the logistic baseline of each binary head."""

    prior: dict[str, float]
    logistic: dict[str, LogisticBaseline]

    def predict(self, x: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """{head: {"prior": p, "logistic": p}} for the rows of `x` (the 85 snapshot features)."""
        return {
            head: {
                "prior": np.full(len(x), self.prior[head]),
                "logistic": self.logistic[head].predict(x),
            }
            for head in HEADS
        }

    def describe(self) -> dict[str, Any]:
        """JSON-able: the fitted prior rates and each logistic's chosen C with the validation scores."""
        return {
            "prior": {"fitted_on": "train", "positive_rate": dict(self.prior)},
            "logistic": {
                "fitted_on": "train (inputs standardized on train); C chosen on val by log loss",
                "features": "the 85 snapshot features",
                **{
                    head: {
                        "C": fit.c,
                        "val_log_loss_by_C": {f"{c:g}": v for c, v in fit.val_log_loss_by_c.items()},
                    }
                    for head, fit in self.logistic.items()
                },
            },
        }


def fit_baselines(
    x_train: np.ndarray, targets_train: np.ndarray, x_val: np.ndarray, targets_val: np.ndarray, seed: int
) -> Baselines:
    """Fit both baselines of both binary heads (targets: [N, 3] direction, early_move, quality)."""
    prior = {head: float(targets_train[:, col].mean()) for head, col in HEADS.items()}
    logistic = {
        head: fit_logistic(x_train, targets_train[:, col], x_val, targets_val[:, col], seed)
        for head, col in HEADS.items()
    }
    return Baselines(prior, logistic)
