"""Platt calibration of the base model's p_long, fitted on rows the trees never trained on.

Why: a boosted-tree model on near-noise labels is overconfident (its p spreads far from the base rate while
it ranks barely better than chance), so its held-out log loss was worse than the constant prior, and the
transformer received a channel whose distance from 0.5 meant nothing. Platt scaling maps the model's
log-odds ``z = logit(p)`` to ``sigmoid(slope * z + intercept)``, a logistic regression with one input fitted
by scikit-learn on held-out rows (with a mild L2 penalty on the slope, `PLATT_C`). Two numbers, monotone
(the ranking, hence the AUC, is unchanged), JSON friendly (the bundle stores them in its metadata; no
pickle), and it degrades gracefully: when the trees carry no signal the slope goes to 0 and every p
becomes the held-out base rate, "no view". Isotonic regression was not chosen: it needs more rows than a
walk-forward block holds to avoid steps, and its plateaus tie many rows (losing the ranking the channel
exists for).

Usage::

    cal = fit_platt(p_heldout, y_heldout)
    cal.apply(p_new), cal.to_dict()  # {"method": "platt", "slope": ..., "intercept": ..., "n": ...}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

METHODS = ("platt", "none")
# L2 strength on the slope (scikit-learn's default C; the intercept is not penalized): a prior pulling the
# slope toward 0, "no view". Without it a few hundred held-out rows of a near-flat p (log-odds spread
# ~0.05) fit a chance slope of 2-10 and stretch noise into a confident channel; with it a real spread
# (thousands of rows, or log-odds spread ~0.3 and more) keeps its slope almost unshrunk.
PLATT_C = 1.0
# p is clipped away from 0 and 1 before taking log-odds (float32 trees can output exactly 0 or 1)
_EPS = 1e-6


@dataclass(frozen=True)
class Calibration:
    """``p -> sigmoid(slope * logit(p) + intercept)`` ("platt"), or the identity ("none")."""

    method: str = "none"
    slope: float = 1.0
    intercept: float = 0.0
    n: int = 0  # held-out rows it was fitted on (0 for "none")

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"calibration method must be one of {', '.join(METHODS)}, got {self.method!r}")

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated p (float64, same shape); NaN stays NaN."""
        p = np.asarray(p, dtype=np.float64)
        if self.method == "none":
            return p
        z = logit(np.clip(p, _EPS, 1.0 - _EPS))
        return np.asarray(expit(self.slope * z + self.intercept), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(str(data["method"]), float(data["slope"]), float(data["intercept"]), int(data["n"]))


def fit_platt(p: np.ndarray, y: np.ndarray) -> Calibration:
    """Platt scaling of held-out predictions ``p`` against their 0/1 labels ``y`` (slope L2, `PLATT_C`).

    Raises:
        ValueError: no rows, or labels of one class only.
    """
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(p) == 0 or len(np.unique(y)) != 2:
        raise ValueError("Platt calibration needs held-out rows of both classes")
    z = logit(np.clip(p, _EPS, 1.0 - _EPS)).reshape(-1, 1)
    fitted = LogisticRegression(C=PLATT_C, max_iter=1000).fit(z, y)
    return Calibration("platt", float(fitted.coef_[0, 0]), float(fitted.intercept_[0]), int(len(y)))
