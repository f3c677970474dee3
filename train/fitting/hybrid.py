"""The "+3" hybrid channels built from the base model's p_long: one definition for training and runtime.

Why: in the seed, ``p_long_xgb_ema_5`` was an EMA (span 5, per session group) offline and a placeholder equal
to p at runtime (seed lessons 3.3, 9.5). Here the EMA is a *finite-window* EMA over the last
``EMA_WINDOW`` bars (docs/trainer.md): its value at a bar depends only on that bar and the 29 before it,
so a live process holding the last 30 predictions computes exactly what training computed, whatever the
history length. Near the start of a series fewer bars are present and the weights are renormalized over
those that are.

NaN (a bar with no base-model prediction, e.g. the first out-of-fold block) propagates: the EMA at a bar is
NaN if any bar of its window is NaN. Filling it would invent a value the live system never sees; callers
drop samples whose window holds a NaN channel.
"""

from __future__ import annotations

import numpy as np

EMA_WINDOW = 30
EMA_SPAN = 5
EMA_ALPHA = 2.0 / (EMA_SPAN + 1)  # = 1/3

SEQ_CHANNELS = ("p_long_xgb", "margin_xgb", "p_long_xgb_ema_5")
SNAP_CHANNELS = ("p_long_xgb", "margin_xgb", "p_hat_xgb")

# Weight of the bar j steps back is (1 - a)^j, j = 0..29; stored oldest first to match window order.
_WEIGHTS_OLDEST_FIRST = (1.0 - EMA_ALPHA) ** np.arange(EMA_WINDOW - 1, -1, -1, dtype=np.float64)
# Sum of the weights of the k + 1 most recent bars, k = 0..29 (the renormalizer while the window fills).
_WEIGHT_SUMS = np.cumsum((1.0 - EMA_ALPHA) ** np.arange(EMA_WINDOW, dtype=np.float64))


def _check_probabilities(p: np.ndarray) -> np.ndarray:
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"p must be 1-D (one prediction per bar), got shape {arr.shape}")
    finite = arr[~np.isnan(arr)]
    if finite.size and not ((finite >= 0.0) & (finite <= 1.0)).all():
        raise ValueError("p must hold probabilities in [0, 1] (or NaN for bars without a prediction)")
    return arr


def ema_5(p: np.ndarray) -> np.ndarray:
    """Finite-window EMA of ``p`` (float64, same length).

    ``out[t] = sum_j w_j p[t-j] / sum_j w_j`` over ``j = 0..min(t, 29)``, ``w_j = (1 - 1/3)^j``. NaN in any
    bar of the window gives NaN. Each output is a fixed-order sum over its own 30-value window, so the last
    value of ``ema_5(p)`` equals ``ema_5(p[-30:])[-1]`` exactly.
    """
    arr = _check_probabilities(p)
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    padded = np.concatenate([np.zeros(EMA_WINDOW - 1), arr])  # absent bars weigh 0; NaN stays NaN
    windows = np.lib.stride_tricks.sliding_window_view(padded, EMA_WINDOW)  # [n, 30] view, oldest first
    numerator = (windows * _WEIGHTS_OLDEST_FIRST).sum(axis=1)
    return numerator / _WEIGHT_SUMS[np.minimum(np.arange(n), EMA_WINDOW - 1)]


def margin(p: np.ndarray) -> np.ndarray:
    """``|2p - 1|``: how far the base model is from a coin flip."""
    return np.abs(2.0 * _check_probabilities(p) - 1.0)


def seq_channels(p: np.ndarray) -> np.ndarray:
    """Per-bar sequence channels ``[p, |2p-1|, ema_5(p)]`` as float64 ``[N, 3]`` (order: SEQ_CHANNELS)."""
    arr = _check_probabilities(p)
    return np.stack([arr, margin(arr), ema_5(arr)], axis=1)


def snap_channels(p: np.ndarray) -> np.ndarray:
    """Snapshot channels ``[p, |2p-1|, max(p, 1-p)]`` as float64 ``[N, 3]`` (order: SNAP_CHANNELS)."""
    arr = _check_probabilities(p)
    return np.stack([arr, margin(arr), np.maximum(arr, 1.0 - arr)], axis=1)
