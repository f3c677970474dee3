"""Rolling-origin folds: layout, and purge/embargo of every fold through the trainer's own splits."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from train.evaluation.folds import rolling_folds
from train.fitting.splits import assign_splits


def test_folds_roll_forward_one_block_at_a_time() -> None:
    folds = rolling_folds(date(2025, 1, 2), date(2025, 12, 31), n_folds=4, embargo_bars=30)
    assert len(folds) == 4
    for a, b in zip(folds, folds[1:], strict=False):
        assert b.splits.val == a.splits.test.__class__("val", a.splits.test.start, a.splits.test.end)
        assert b.origin > a.origin
    for fold in folds:
        s = fold.splits
        assert s.train.start == date(2025, 1, 2)
        assert s.train.end == s.val.start - timedelta(days=1)
        assert s.test.start == s.val.end + timedelta(days=1)
    assert folds[-1].splits.test.end == date(2025, 12, 31)


def test_too_short_a_range_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer folds"):
        rolling_folds(date(2025, 1, 1), date(2025, 1, 6), n_folds=4, embargo_bars=30)


@settings(max_examples=40, deadline=None)
@given(
    n_days=st.integers(min_value=20, max_value=60),
    n_folds=st.integers(min_value=1, max_value=4),
    horizon=st.integers(min_value=1, max_value=40),
    embargo=st.integers(min_value=0, max_value=40),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_every_fold_is_purged_and_embargoed(n_days, n_folds, horizon, embargo, seed) -> None:
    """No training row's label interval reaches within `embargo` bars of validation or test, and no
    validation row's label reaches into test: on random bar grids (with gaps) and horizons."""
    rng = np.random.default_rng(seed)
    first = date(2025, 1, 1)
    bars_per_day = 48
    steps = rng.integers(1, 4, size=n_days * bars_per_day)  # 30-minute grid with random gaps
    ts = np.datetime64("2025-01-01T00:00", "us") + np.cumsum(steps) * np.timedelta64(10, "m")
    ts = ts[ts < np.datetime64(first + timedelta(days=n_days), "us")]
    t1 = ts[np.minimum(np.arange(len(ts)) + horizon, len(ts) - 1)]
    candidate = rng.random(len(ts)) < 0.8
    last = ts[-1].astype("datetime64[D]").astype(object)
    for fold in rolling_folds(first, last, n_folds=n_folds, embargo_bars=embargo):
        idx = assign_splits(ts, t1, candidate, fold.splits)
        val_first = int(np.searchsorted(ts, np.datetime64(fold.splits.val.start, "us")))
        test_first = int(np.searchsorted(ts, np.datetime64(fold.splits.test.start, "us")))
        guard_val = ts[max(val_first - embargo, 0)]
        guard_test = ts[max(test_first - embargo, 0)]
        assert (t1[idx.train] < guard_val).all()
        assert (t1[idx.val] < guard_test).all()
        assert (ts[idx.val] >= np.datetime64(fold.splits.val.start, "us")).all()
        assert (ts[idx.test] >= np.datetime64(fold.splits.test.start, "us")).all()
