"""Baselines: the regularized logistic never loses to the class prior on noise, and still finds signal."""

from __future__ import annotations

import numpy as np
import pytest

from train.fitting.baselines import C_GRID, fit_baselines, fit_logistic
from train.fitting.intervals import row_log_loss

N_FEATURES = 85
TOLERANCE = 0.003  # log loss (nats) a baseline may lose to the prior by chance


def _noise(seed: int, n: int, rate: float = 0.45) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(df=5, size=(n, N_FEATURES))  # heavy tails, as the snapshot features have
    return x, (rng.random(n) < rate).astype(np.float64)


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return float(row_log_loss(y, p).mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logistic_on_pure_noise_is_not_worse_than_the_prior(seed: int) -> None:
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (
        _noise(seed * 10 + k, n) for k, n in ((0, 4000), (1, 1500), (2, 1500))
    )
    prior = y_tr.mean()
    fitted = fit_logistic(x_tr, y_tr, x_va, y_va, seed=seed)
    for x, y in ((x_va, y_va), (x_te, y_te)):
        assert _log_loss(y, fitted.predict(x)) <= _log_loss(y, np.full(len(y), prior)) + TOLERANCE
    assert set(fitted.val_log_loss_by_c) == set(C_GRID) and fitted.c in C_GRID


def test_unregularized_choice_would_lose_to_the_prior_on_noise() -> None:
    """What the grid protects against: C = 1 alone overfits 85 noise features (the old baseline)."""
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (_noise(k, n) for k, n in ((0, 4000), (1, 1500), (2, 1500)))
    weak = fit_logistic(x_tr, y_tr, x_va, y_va, seed=0, grid=(1.0,))
    prior = np.full(len(y_te), y_tr.mean())
    assert _log_loss(y_te, weak.predict(x_te)) > _log_loss(y_te, prior) + TOLERANCE


def test_logistic_finds_a_real_linear_signal_and_prefers_weaker_regularization() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6000, N_FEATURES)) * rng.uniform(0.1, 50.0, N_FEATURES)  # unscaled inputs
    logit = 0.8 * x[:, 3] / x[:, 3].std() - 0.5 * x[:, 7] / x[:, 7].std()
    y = (rng.random(6000) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    tr, va, te = slice(0, 4000), slice(4000, 5000), slice(5000, 6000)
    fitted = fit_logistic(x[tr], y[tr], x[va], y[va], seed=0)
    assert fitted.c >= 1e-2
    assert _log_loss(y[te], fitted.predict(x[te])) < _log_loss(y[te], np.full(1000, y[tr].mean())) - 0.05


def test_fit_baselines_prior_is_the_training_rate_per_head() -> None:
    x, y = _noise(3, 3000)
    targets = np.stack([y, 1 - y, np.zeros_like(y)], axis=1)
    baselines = fit_baselines(x[:2000], targets[:2000], x[2000:], targets[2000:], seed=0)
    assert baselines.prior == pytest.approx({"direction": y[:2000].mean(), "early_move": 1 - y[:2000].mean()})
    predicted = baselines.predict(x[2000:])
    assert set(predicted) == {"direction", "early_move"}
    assert (predicted["direction"]["prior"] == y[:2000].mean()).all()
    assert predicted["early_move"]["logistic"].shape == (1000,)
    described = baselines.describe()
    assert described["logistic"]["direction"]["C"] in C_GRID
    with pytest.raises(ValueError, match="both classes"):
        fit_logistic(x, np.zeros(len(x)), x, y, seed=0)
