"""Purge and embargo: property tests (openquant #66 style), the mlfinlab #295 case, hand-made indices."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from train.fitting.splits import SplitConfig, TimeSplit, assign_splits, purge_and_embargo

NAT = np.datetime64("NaT", "us")
FIVE_MIN = np.timedelta64(5, "m")


@st.composite
def labelled_bars(draw, min_bars: int = 6, max_bars: int = 60):
    """Bars with irregular gaps (so bar counts differ from minutes) and variable-length labels (some NaT)."""
    n = draw(st.integers(min_bars, max_bars))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 7]), min_size=n, max_size=n))
    ts = np.datetime64("2025-03-03T00:00", "us") + np.cumsum(steps).astype("timedelta64[m]")
    spans = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    no_label = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    last = np.array(
        [-1 if gone else min(i + k, n - 1) for i, (k, gone) in enumerate(zip(spans, no_label, strict=False))]
    )
    return ts, last


def label_ends(ts: np.ndarray, last: np.ndarray) -> np.ndarray:
    """t1 = close time of the last bar a label needs (NaT where there is no label)."""
    return np.where(last < 0, NAT, ts[np.maximum(last, 0)] + FIVE_MIN)


@st.composite
def block_layout(draw):
    """Bars plus a contiguous test block anywhere (start, middle, end) and a random set of training rows."""
    ts, last = draw(labelled_bars())
    t1 = label_ends(ts, last)
    n = len(ts)
    a = draw(st.integers(0, n - 1))
    b = draw(st.integers(a + 1, n))
    test = np.zeros(n, dtype=bool)
    test[a:b] = True
    chosen = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return ts, t1, chosen & ~test, test


def interval_end(t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    return np.where(np.isnat(t1), t0, t1)


def bars_in(bar_ts: np.ndarray, lo: np.datetime64, hi: np.datetime64) -> int:
    """Brute-force count of bars with lo < ts <= hi."""
    return sum(1 for t in bar_ts if lo < t <= hi)


@settings(max_examples=300, deadline=None)
@given(block_layout())
def test_no_training_interval_intersects_any_test_interval_without_embargo(layout):
    ts, t1, train, test = layout
    kept = purge_and_embargo(ts, t1, train, test, 0, ts).keep
    end = interval_end(ts, t1)
    for i in np.flatnonzero(kept):
        for j in np.flatnonzero(test):
            assert end[i] < ts[j] or ts[i] > end[j], f"train {i} [{ts[i]}, {end[i]}] meets test {j}"


@settings(max_examples=300, deadline=None)
@given(block_layout(), st.integers(1, 15))
def test_no_training_start_within_embargo_after_test_end(layout, h):
    ts, t1, train, test = layout
    kept = purge_and_embargo(ts, t1, train, test, h, ts).keep
    end = interval_end(ts, t1)
    test_end = end[test].max()
    for i in np.flatnonzero(kept):
        assert not (ts[i] > test_end and bars_in(ts, test_end, ts[i]) <= h), f"train t0 {ts[i]} is embargoed"
        # and nothing reaches into the block or the h bars guarding its front
        first = int(np.flatnonzero(test)[0])
        reaches = first < h or end[i] >= ts[first - h]
        assert ts[i] > test_end or not reaches, f"train {i} reaches into the guarded span"


@settings(max_examples=300, deadline=None)
@given(block_layout(), st.integers(0, 15))
def test_only_leaking_rows_are_dropped(layout, h):
    """The guards are exact: a row is dropped if and only if it meets the guarded span or the embargo."""
    ts, t1, train, test = layout
    result = purge_and_embargo(ts, t1, train, test, h, ts)
    end = interval_end(ts, t1)
    first = int(np.flatnonzero(test)[0])
    guard = ts[first - h] if first >= h else ts[0]
    test_end = end[test].max()
    for i in np.flatnonzero(train):
        leaks = ts[i] <= test_end and end[i] >= guard
        embargoed = ts[i] > test_end and bars_in(ts, test_end, ts[i]) <= h
        assert bool(result.purged[i]) == leaks
        assert bool(result.embargoed[i]) == (embargoed and not leaks)
        assert bool(result.keep[i]) == (not leaks and not embargoed)
    assert not (result.keep & ~train).any()


def test_train_events_ending_during_test_events_are_purged():
    """mlfinlab #295: a training event that starts before the test block and ends inside it must go."""
    ts = np.datetime64("2025-03-03T00:00", "us") + np.arange(20) * FIVE_MIN
    t1 = ts + FIVE_MIN
    t1[7] = ts[12]  # starts before the test block (10..14), ends during it
    t1[3] = ts[17]  # envelops the test block
    test = np.zeros(20, dtype=bool)
    test[10:15] = True
    train = ~test
    result = purge_and_embargo(ts, t1, train, test, 0, ts)
    assert result.purged[7] and result.purged[3]
    assert result.purged[9]  # its t1 (close of bar 9) is the test block's first ts: the intervals touch
    assert result.purged[15]  # starts at the close of the test block's last label: the intervals touch
    assert result.keep[8] and result.keep[16]


def test_purge_and_embargo_exact_indices_with_test_block_in_the_middle():
    step = np.timedelta64(6, "h")
    ts = np.datetime64("2025-01-01T00:00", "us") + np.arange(20) * step
    t1 = ts + step  # each label needs one bar; t1 is its close time
    test = np.zeros(20, dtype=bool)
    test[8:12] = True  # span [ts[8], ts[12]]
    result = purge_and_embargo(ts, t1, ~test, test, 2, ts)
    assert np.flatnonzero(result.purged).tolist() == [5, 6, 7, 12]  # guard starts at ts[6]
    assert np.flatnonzero(result.embargoed).tolist() == [13, 14]  # the 2 bars after ts[12]
    assert np.flatnonzero(result.keep).tolist() == [0, 1, 2, 3, 4, 15, 16, 17, 18, 19]


def hand_made():
    """20 bars, 4 per UTC day (every 6 hours), 2025-01-01..05; each label needs the next bar."""
    step = np.timedelta64(6, "h")
    ts = np.datetime64("2025-01-01T00:00", "us") + np.arange(20) * step
    t1 = ts + step
    t1[2] = ts[13]  # a long training label reaching into the test block
    t1[19] = NAT  # the last bar's label needs data past the end
    candidate = np.ones(20, dtype=bool)
    candidate[[4, 19]] = False
    config = SplitConfig(
        TimeSplit("train", date(2025, 1, 1), date(2025, 1, 2)),
        TimeSplit("val", date(2025, 1, 3), date(2025, 1, 3)),
        TimeSplit("test", date(2025, 1, 4), date(2025, 1, 5)),
        embargo_bars=1,
    )
    return ts, t1, candidate, config


def test_assign_splits_exact_indices():
    ts, t1, candidate, config = hand_made()
    splits = assign_splits(ts, t1, candidate, config)
    # train rows 0..7: guard before val = ts[7] -> 6 and 7 purged; 2 reaches into test; 4 not a candidate
    assert splits.train.tolist() == [0, 1, 3, 5]
    # val rows 8..11: guard before test = ts[11] -> 10 (t1 = ts[11]) and 11 purged
    assert splits.val.tolist() == [8, 9]
    assert splits.test.tolist() == [12, 13, 14, 15, 16, 17, 18]
    assert splits.report() == {
        "train": {"samples": 4, "purged": 3, "embargoed": 0},
        "val": {"samples": 2, "purged": 2, "embargoed": 0},
        "test": {"samples": 7, "purged": 0, "embargoed": 0},
    }


@settings(max_examples=150, deadline=None)
@given(labelled_bars(min_bars=12, max_bars=60), st.integers(0, 8), st.data())
def test_assign_splits_never_lets_train_or_val_labels_reach_a_later_block(bars, h, data):
    ts, last = bars
    days = ts.astype("datetime64[D]")
    # put the bars on three separate days so each split is non-empty, then derive t1 from the new times
    n = len(ts)
    cut1 = data.draw(st.integers(1, n - 2))
    cut2 = data.draw(st.integers(cut1 + 1, n - 1))
    day_of = np.where(np.arange(n) < cut1, 0, np.where(np.arange(n) < cut2, 2, 4)).astype("timedelta64[D]")
    shift = (np.datetime64("2025-01-01", "D") + day_of) - days
    ts = ts + shift  # stays strictly increasing: whole days added block by block
    t1 = label_ends(ts, last)
    candidate = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    config = SplitConfig(
        TimeSplit("train", date(2025, 1, 1), date(2025, 1, 2)),
        TimeSplit("val", date(2025, 1, 3), date(2025, 1, 4)),
        TimeSplit("test", date(2025, 1, 5), date(2025, 1, 6)),
        embargo_bars=h,
    )
    splits = assign_splits(ts, t1, candidate, config)
    end = interval_end(ts, t1)
    for earlier, later_first in ((splits.train, cut1), (splits.train, cut2), (splits.val, cut2)):
        guard = ts[max(later_first - h, 0)]
        assert all(end[i] < guard for i in earlier)
    assert set(splits.train) <= set(range(cut1)) and set(splits.val) <= set(range(cut1, cut2))
    assert splits.test.tolist() == [i for i in range(cut2, n) if candidate[i]]


def test_split_config_validation():
    a = TimeSplit("train", date(2025, 2, 1), date(2025, 7, 31))
    b = TimeSplit("val", date(2025, 8, 1), date(2025, 8, 31))
    c = TimeSplit("test", date(2025, 9, 1), date(2025, 10, 27))
    SplitConfig(a, b, c)
    with pytest.raises(ValueError, match="val split 'val' starts 2025-07-31"):
        SplitConfig(a, TimeSplit("val", date(2025, 7, 31), date(2025, 8, 31)), c)
    with pytest.raises(ValueError, match="test split 'test' starts 2025-08-01"):
        SplitConfig(
            a,
            TimeSplit("val", date(2025, 9, 1), date(2025, 10, 27)),
            TimeSplit("test", date(2025, 8, 1), date(2025, 8, 31)),
        )
    with pytest.raises(ValueError, match="embargo_bars must be >= 0"):
        SplitConfig(a, b, c, embargo_bars=-1)
    with pytest.raises(ValueError, match="start 2025-08-31 is after end"):
        TimeSplit("val", date(2025, 8, 31), date(2025, 8, 1))


def test_embargo_below_window_or_horizon_is_refused_naming_both() -> None:
    a = TimeSplit("train", date(2025, 2, 1), date(2025, 7, 31))
    b = TimeSplit("val", date(2025, 8, 1), date(2025, 8, 31))
    c = TimeSplit("test", date(2025, 9, 1), date(2025, 10, 27))
    SplitConfig(a, b, c, embargo_bars=30).check_embargo(seq_len=30, label_horizon=12)
    SplitConfig(a, b, c, embargo_bars=48).check_embargo(seq_len=30, label_horizon=48)
    expected = r"embargo_bars = 29 is below max\(sequence length 30, label horizon 12\) = 30 bars"
    with pytest.raises(ValueError, match=expected):
        SplitConfig(a, b, c, embargo_bars=29).check_embargo(seq_len=30, label_horizon=12)
    with pytest.raises(ValueError, match=r"label horizon 48\) = 48 bars.*set embargo_bars = 48 or more"):
        SplitConfig(a, b, c, embargo_bars=30).check_embargo(seq_len=30, label_horizon=48)


def test_unsorted_bars_are_refused():
    ts, t1, candidate, config = hand_made()
    with pytest.raises(ValueError, match="strictly increasing"):
        assign_splits(ts[::-1], t1[::-1], candidate, config)
