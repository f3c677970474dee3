"""The trade table: one position at a time, an injected edge beats chance, a random walk does not."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from train.evaluation.trades import TradeConfig, TradeRows, one_position, trade_table

BAR = np.timedelta64(5, "m")


def _rows(n: int, seed: int, edge: float) -> TradeRows:
    """n M5 bars over days of 200 bars; horizons of 1-12 bars; realized_bps = edge * (p - 0.5) + noise."""
    rng = np.random.default_rng(seed)
    day = np.arange(n) // 200
    ts = np.datetime64("2025-03-03T00:00", "us") + (np.arange(n) + day * 88) * BAR
    t1 = ts + rng.integers(1, 13, size=n) * BAR
    p = np.clip(0.5 + 0.05 * rng.standard_normal(n), 0.0, 1.0)
    realized = edge * (p - 0.5) + 20.0 * rng.standard_normal(n) - 1.0
    return TradeRows.from_arrays(ts, t1, p, realized)


def _row(table: dict, rule: str) -> dict:
    return next(r for r in table["table"] if r["rule"] == rule)


def test_an_injected_edge_beats_the_random_band_at_high_tau() -> None:
    rows = _rows(8000, seed=3, edge=800.0)
    table = trade_table(rows, TradeConfig(random_draws=200, seed=1), reference_p=rows.p)
    high = _row(table, "p_long >= 0.56")
    assert high["trades"] > 100
    assert high["mean_bps"] > high["random_band"]["mean_bps"][1]
    assert high["above_random"]


def test_a_random_walk_stays_inside_the_random_band() -> None:
    rows = _rows(8000, seed=4, edge=0.0)
    table = trade_table(rows, TradeConfig(random_draws=200, seed=1), reference_p=rows.p)
    for rule in ("p_long >= 0.56", "p_long >= 0.58", "top 5% of p_long"):
        assert not _row(table, rule)["above_random"], rule


def test_table_states_long_only_and_has_always_enter() -> None:
    rows = _rows(2000, seed=5, edge=0.0)
    table = trade_table(rows, TradeConfig(random_draws=5), reference_p=rows.p)
    assert table["long_only"] is True
    always = _row(table, "always enter")
    assert always["signals"] == len(rows)
    assert always["trades"] < len(rows)  # the position rule holds each trade until its t1


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=300),
    seed=st.integers(min_value=0, max_value=10_000),
    share=st.floats(min_value=0.0, max_value=1.0),
)
def test_one_position_never_overlaps_two_trades(n: int, seed: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2025-03-03T00:00", "us") + np.cumsum(rng.integers(1, 5, size=n)) * BAR
    t1 = ts + rng.integers(1, 30, size=n) * BAR
    rows = TradeRows.from_arrays(ts, t1, np.full(n, 0.5), np.zeros(n))
    signal = rng.random(n) < share
    taken = one_position(rows, signal)
    assert signal[taken].all()
    assert (ts[taken[1:]] >= t1[taken[:-1]]).all()
    # greedy: every skipped signal falls inside the trade before it
    for i in np.flatnonzero(signal):
        if i not in taken:
            before = taken[taken < i]
            assert len(before) and ts[i] < t1[before[-1]]
