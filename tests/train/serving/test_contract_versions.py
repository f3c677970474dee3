"""A bundle is replayed and served under its own contract version: a v1 bundle keeps working, with v1's
SQL, after v2 became the default, and it cannot be fed data of another version. Among them a bundle trained
before v2 existed (`tests/fixtures/bundle_schema1_v1`: schema entry_v10_bundle/1, written by the trainer of
that time), whose replayed p_long must equal what that trainer computed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.online import featurize_window, stored_candles
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from featurestore.store.snapshots import open_snapshot
from schemas.bundle_metadata import read_bundle_metadata
from schemas.versions import CONTRACT_V1, CONTRACT_V2, DEFAULT_VERSION
from tests.conftest import real_m5_or_skip
from tests.train.conftest import RANGE, TINY
from train.evaluation.parity import ParityConfig, check_parity
from train.evaluation.replay import ReplayConfig, replay_online, replay_snapshot
from train.fitting.bundle import BundleMismatch, load_entry_v10_bundle
from train.fitting.config import load_run_config
from train.fitting.run import train_run
from train.serving.scoring import HISTORY_BARS

DAYS = (date(2025, 6, 2), date(2025, 6, 3))
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
OLD_BUNDLE = FIXTURES / "bundle_schema1_v1"
OLD_P_LONG = json.loads((FIXTURES / "bundle_schema1_v1_p_long.json").read_text())


def _v1_world(root: Path, source: Path, run_name: str) -> tuple[Store, str, str, Path]:
    """A store with the same range materialized and sealed under v1 and under the default (v2), and a
    bundle trained on the v1 snapshot."""
    store = Store.at(root)
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    materialize(store, MaterializeConfig("XAUUSD", *RANGE), contract=CONTRACT_V1)
    v1 = validate(store, ValidateConfig("XAUUSD", *RANGE, data_docs=False), contract=CONTRACT_V1).snapshot_id
    materialize(store, MaterializeConfig("XAUUSD", *RANGE))
    v2 = validate(store, ValidateConfig("XAUUSD", *RANGE, data_docs=False)).snapshot_id
    bundle = train_run(store, v1, load_run_config(TINY), run_name).bundle_path
    assert bundle is not None
    return store, v1, v2, bundle


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str, str, Path]:
    root = tmp_path_factory.mktemp("versions")
    source = write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 6, 30), seed=21)),
        root / "c.tsv",
    )
    return _v1_world(root / "store", source, "v1_bundle")


def test_the_default_is_v2_and_the_bundle_names_v1(world) -> None:
    store, v1, v2, bundle = world
    assert DEFAULT_VERSION == "v2"
    assert open_snapshot(store, v1).contract is CONTRACT_V1
    assert open_snapshot(store, v2).contract is CONTRACT_V2
    assert read_bundle_metadata(bundle).contract_version == "v1"
    assert load_entry_v10_bundle(bundle, variant="v10_ctx").contract is CONTRACT_V1


def test_a_v1_bundle_replays_its_v1_snapshot_and_refuses_the_v2_one(world) -> None:
    store, v1, v2, bundle = world
    result = replay_snapshot(store, bundle, v1, ReplayConfig(start=DAYS[0], end=DAYS[1]))
    assert result.summary["bundle"]["contract_version"] == "v1"
    assert result.summary["funnel"]["predicted"] > 0
    with pytest.raises(BundleMismatch, match="full_contract_hash is"):
        replay_snapshot(store, bundle, v2, ReplayConfig(start=DAYS[0], end=DAYS[1]))


def test_online_replay_of_a_v1_bundle_computes_v1_features(world) -> None:
    """Served bar by bar, the bundle's features are v1's (its thresholds), equal to the v1 snapshot's; the
    same bars under v2 differ, so serving under the default would have been caught here."""
    store, v1, _, bundle = world
    online = replay_online(store, bundle, ReplayConfig(start=DAYS[0], end=DAYS[0]))
    assert online.summary["online_vs_batch"]["same_bars_predicted"]
    day = replay_snapshot(store, bundle, v1, ReplayConfig(start=DAYS[0], end=DAYS[0])).cycles
    both = online.cycles.join(day, on="ts", suffix="_batch").filter("predicted")
    assert both.height > 50 and both["predicted_batch"].all()
    assert both["p_long"].to_list() == pytest.approx(both["p_long_batch"].to_list(), abs=1e-6)
    loaded = load_entry_v10_bundle(bundle, variant="v10_ctx")
    every = replay_snapshot(store, bundle, v1, ReplayConfig(all_bars=True)).cycles
    parity = check_parity(store, loaded, open_snapshot(store, v1), every, ParityConfig(bars=15, seed=3))
    assert parity["passed"] and parity["contract_version"] == "v1", parity
    candles = stored_candles(store, "XAUUSD", "M5")
    buckets = [
        featurize_window(candles, HISTORY_BARS, contract=c)["context"].column("spread_bucket").to_numpy()
        for c in (CONTRACT_V1, CONTRACT_V2)
    ]
    assert not np.array_equal(*buckets)  # the two versions really compute different context here


def test_a_bundle_from_before_v2_loads_with_what_it_recorded(world) -> None:
    meta = read_bundle_metadata(OLD_BUNDLE)
    assert meta.schema_version == "entry_v10_bundle/1" and meta.contract_version == "v1"
    assert (meta.seeds.torch, meta.seeds.base_model) == (7, 1337)  # --seed did not reach XGBoost then
    loaded = load_entry_v10_bundle(OLD_BUNDLE, variant="v10_ctx")
    assert loaded.status == "ok" and loaded.contract is CONTRACT_V1
    assert loaded.model.context_cont_encoder.norm is not None  # the seed's encoder it was trained with
    # its base model ran uncalibrated with fixed settings, and still does
    assert meta.base_model.calibration.method == loaded.base_model.calibration.method == "none"
    assert meta.base_model.settings == {
        "max_depth": 3,
        "min_child_weight": 3,
        "subsample": 0.8,
        "learning_rate": 0.05,
        "trees": 15,
    }


def test_a_bundle_from_before_v2_replays_as_its_own_trainer_did(world) -> None:
    """Batch and online replay of the old bundle on v1 data give the p_long its own trainer computed."""
    store, v1, v2, _ = world
    first, last = (date.fromisoformat(d) for d in OLD_P_LONG["range"])
    batch = replay_snapshot(store, OLD_BUNDLE, v1, ReplayConfig(start=first, end=last)).cycles
    got = batch.filter("predicted")
    assert [str(t) for t in got["ts"].to_list()] == OLD_P_LONG["ts"]
    assert got["p_long"].to_list() == pytest.approx(OLD_P_LONG["p_long"], abs=1e-6)
    assert got["p_early_move"].to_list() == pytest.approx(OLD_P_LONG["p_early_move"], abs=1e-6)
    online = replay_online(store, OLD_BUNDLE, ReplayConfig(start=first, end=first)).cycles.filter("predicted")
    expected = dict(zip(OLD_P_LONG["ts"], OLD_P_LONG["p_long"], strict=True))
    assert online.height > 50
    for ts, p in zip(online["ts"].to_list(), online["p_long"].to_list(), strict=True):
        assert p == pytest.approx(expected[str(ts)], abs=1e-6)
    with pytest.raises(BundleMismatch, match="full_contract_hash is"):
        replay_snapshot(store, OLD_BUNDLE, v2, ReplayConfig(start=first, end=last))


@pytest.mark.slow
def test_a_bundle_from_before_v2_keeps_parity_on_100_random_real_bars(tmp_path: Path) -> None:
    store = Store.at(tmp_path / "store")
    ingest_file(store, real_m5_or_skip(), IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    materialize(store, MaterializeConfig("XAUUSD", *RANGE), contract=CONTRACT_V1)
    v1 = validate(store, ValidateConfig("XAUUSD", *RANGE, data_docs=False), contract=CONTRACT_V1).snapshot_id
    loaded = load_entry_v10_bundle(OLD_BUNDLE, variant="v10_ctx")
    cycles = replay_snapshot(store, OLD_BUNDLE, v1, ReplayConfig(all_bars=True)).cycles
    parity = check_parity(store, loaded, open_snapshot(store, v1), cycles, ParityConfig(bars=100, seed=11))
    assert parity["passed"], parity["first_mismatches"]
    assert parity["bars"] == 100 and parity["predicted_bars"] > 0 and parity["contract_version"] == "v1"


@pytest.mark.slow
def test_a_v1_bundle_keeps_parity_on_100_random_real_bars(tmp_path: Path) -> None:
    store, v1, _, bundle = _v1_world(tmp_path / "store", real_m5_or_skip(), "v1_real")
    snapshot = open_snapshot(store, v1)
    loaded = load_entry_v10_bundle(bundle, variant="v10_ctx")
    cycles = replay_snapshot(store, bundle, v1, ReplayConfig(all_bars=True)).cycles
    parity = check_parity(store, loaded, snapshot, cycles, ParityConfig(bars=100, seed=11))
    assert parity["passed"], parity["first_mismatches"]
    assert parity["bars"] == 100 and parity["predicted_bars"] > 0 and parity["contract_version"] == "v1"
