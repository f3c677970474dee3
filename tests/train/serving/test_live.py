"""The live path (candles -> online featurizer -> model) against batch replay, and the parity check."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from featurestore.compute.online import stored_candles
from featurestore.store.handle import Store
from featurestore.store.snapshots import open_snapshot
from schemas.contract import CONTRACT_HASH_KEYS
from train.evaluation.parity import ParityConfig, check_parity
from train.evaluation.replay import ReplayConfig, replay_snapshot
from train.evaluation.replay_bundles import load_bundle
from train.serving.live import predict_latest

WEEK = (date(2025, 6, 2), date(2025, 6, 6))


@pytest.fixture(scope="module")
def world(snapshot_store: tuple[Path, str], bundles: dict[str, Path]):
    root, snap = snapshot_store
    store = Store.at(root)
    snapshot = open_snapshot(store, snap)
    hashes = {k: snapshot.manifest[k] for k in CONTRACT_HASH_KEYS}
    bundle = load_bundle(bundles["ctx_a"], "replay", hashes)
    cycles = replay_snapshot(store, bundles["ctx_a"], snap, ReplayConfig(start=WEEK[0], end=WEEK[1])).cycles
    candles = stored_candles(store, "XAUUSD", "M5")
    return store, snapshot, bundle, cycles, candles


def test_live_decisions_equal_batch_replay(world) -> None:
    _, _, bundle, cycles, candles = world
    ts = candles.column("ts").to_numpy()
    predicted = cycles.filter("predicted").sample(4, seed=1)
    blocked = cycles.filter(pl.col("reason") == "HARD_SESSION_BLOCK").sample(1, seed=1)
    for row in pl.concat([predicted, blocked]).iter_rows(named=True):
        end = int(np.searchsorted(ts, np.datetime64(row["ts"], "us")))
        decision = predict_latest(bundle, candles.slice(0, end + 1))
        assert decision.ts == row["ts"] and decision.reason == row["reason"]
        assert decision.predicted == row["predicted"]
        if row["predicted"]:
            assert decision.p_long == pytest.approx(row["p_long"], abs=1e-6)
            assert decision.p_xgb == pytest.approx(row["p_xgb"], abs=1e-12)
        else:
            assert math.isnan(decision.p_long)


def test_parity_check_passes_and_catches_a_p_long_difference(world) -> None:
    store, snapshot, bundle, _, _ = world
    full = replay_snapshot(store, bundle.path, snapshot.id, ReplayConfig()).cycles
    clean = check_parity(store, bundle, snapshot, full, ParityConfig(bars=12, seed=5))
    assert clean["passed"], clean
    assert clean["bars"] == 12 and clean["predicted_bars"] > 0 and clean["feature_columns"] > 100
    assert clean["feature_mismatches"] == 0 and clean["max_abs_diff_p_long"] <= 1e-6
    shifted = full.with_columns(pl.col("p_long") + 1e-3)
    broken = check_parity(store, bundle, snapshot, shifted, ParityConfig(bars=12, seed=5))
    assert not broken["passed"] and broken["max_abs_diff_p_long"] == pytest.approx(1e-3, rel=1e-3)
