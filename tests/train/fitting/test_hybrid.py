"""Hybrid channels: the finite-window EMA is the same offline and online, and matches a plain loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from train.fitting.hybrid import EMA_WINDOW, SEQ_CHANNELS, SNAP_CHANNELS, ema_5, seq_channels, snap_channels


def ema_loop(p: np.ndarray) -> np.ndarray:
    """Reference: the definition in docs/trainer.md, one bar at a time."""
    a = 2.0 / (5 + 1)
    out = np.empty(len(p))
    for t in range(len(p)):
        weights = [(1 - a) ** j for j in range(min(t + 1, EMA_WINDOW))]
        values = [p[t - j] for j in range(len(weights))]
        out[t] = sum(w * v for w, v in zip(weights, values, strict=False)) / sum(weights)
    return out


probabilities = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=120).map(np.array)


@settings(max_examples=200, deadline=None)
@given(probabilities)
def test_ema_matches_a_plain_loop(p):
    np.testing.assert_allclose(ema_5(p), ema_loop(p), rtol=1e-12, atol=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=EMA_WINDOW, max_size=400).map(np.array))
def test_last_30_values_give_exactly_the_training_value(p):
    """Online, the runtime holds only the last 30 predictions; its EMA equals the offline one bit for bit."""
    assert ema_5(p[-EMA_WINDOW:])[-1] == ema_5(p)[-1]
    assert ema_5(p[-EMA_WINDOW - 7 :])[-1] == ema_5(p)[-1]


def test_nan_propagates_through_the_window_and_no_further():
    p = np.full(100, 0.6)
    p[10] = np.nan
    out = ema_5(p)
    assert np.isnan(out[10 : 10 + EMA_WINDOW]).all()
    assert np.isfinite(out[:10]).all() and np.isfinite(out[10 + EMA_WINDOW :]).all()
    np.testing.assert_allclose(out[10 + EMA_WINDOW :], 0.6)


def test_window_start_is_renormalized_and_constant_series_is_fixed_point():
    np.testing.assert_allclose(ema_5(np.full(45, 0.3)), 0.3, rtol=1e-15)
    assert ema_5(np.array([0.8]))[0] == 0.8


def test_channels_in_documented_order():
    p = np.array([0.1, 0.5, 0.9, np.nan])
    seq, snap = seq_channels(p), snap_channels(p)
    assert SEQ_CHANNELS == ("p_long_xgb", "margin_xgb", "p_long_xgb_ema_5")
    assert SNAP_CHANNELS == ("p_long_xgb", "margin_xgb", "p_hat_xgb")
    assert seq.shape == snap.shape == (4, 3)
    np.testing.assert_allclose(seq[:3, 1], [0.8, 0.0, 0.8])
    np.testing.assert_allclose(snap[:3, 2], [0.9, 0.5, 0.9])
    np.testing.assert_array_equal(seq[:, 0], p)
    np.testing.assert_allclose(seq[:3, 2], ema_loop(p[:3]))
    assert np.isnan(seq[3]).all() and np.isnan(snap[3]).all()


def test_out_of_range_probabilities_are_refused():
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        ema_5(np.array([0.2, 1.5]))
    with pytest.raises(ValueError, match="1-D"):
        snap_channels(np.zeros((3, 2)))
