"""One fold of the walk-forward evaluation on the small synthetic snapshot (tiny config)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from featurestore.materialize import MaterializeConfig, materialize
from featurestore.snapshots import open_snapshot
from featurestore.store import Store
from featurestore.validate import ValidateConfig, validate
from schemas.versions import CONTRACT_V2
from tests.train.conftest import RANGE, TINY
from train.evaluation.evaluate import evaluate_fold, prepare_fold, snapshot_folds
from train.evaluation.trades import TradeConfig
from train.fitting.config import load_run_config


@pytest.fixture(scope="module")
def v2_snapshot_id(snapshot_store: tuple[Path, str]) -> str:
    """A contract v2 snapshot (with realized_bps) of the shared synthetic store's range."""
    store = Store.at(snapshot_store[0])
    materialize(store, MaterializeConfig("XAUUSD", *RANGE), contract=CONTRACT_V2)
    return validate(
        store, ValidateConfig("XAUUSD", *RANGE, data_docs=False), contract=CONTRACT_V2
    ).snapshot_id


def test_a_fold_trains_before_its_origin_and_scores_its_test_block(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str
) -> None:
    snapshot = open_snapshot(Store.at(snapshot_store[0]), v2_snapshot_id, contract=None)
    config = load_run_config(TINY, {"variant": "v10", "epochs": 1, "max_train_rows": 800})
    folds = snapshot_folds(snapshot, n_folds=2, embargo_bars=config.splits.embargo_bars)
    fold = folds[1]
    prepared = prepare_fold(snapshot, config, fold)
    ts = prepared.frame["ts"].cast(pl.Datetime("us")).to_numpy()
    t1 = prepared.frame["t1"].cast(pl.Datetime("us")).to_numpy()
    origin = np.datetime64(fold.origin, "us")
    train = prepared.idx["train"].numpy()
    assert len(train) and (t1[train] < origin).all() and (ts[train] < origin).all()
    # the base model's final training rows are counted by prepare; none may reach the origin
    usable_before = (
        prepared.frame["eligible"].to_numpy() & prepared.frame["label_available"].to_numpy() & (t1 < origin)
    )
    assert prepared.filter_report["base_model_training_rows"] <= int(usable_before.sum())

    result = evaluate_fold(snapshot, config, fold, TradeConfig(random_draws=20), prepared=prepared)
    test = ts[result.test_rows]
    assert (test >= np.datetime64(fold.splits.test.start, "us")).all()
    assert result.metrics["test"]["direction"]["n"] == len(result.test_rows)
    assert set(result.metrics["baselines"]["direction"]) == {"prior", "logistic", "base_model"}
    assert set(result.metrics["baselines"]["early_move"]) == {"prior", "logistic"}
    for baseline in result.metrics["baselines"]["direction"].values():
        assert baseline["n"] == len(result.test_rows)
        paired = baseline["model_minus_baseline_log_loss"]
        assert paired["low"] <= paired["estimate"] <= paired["high"]
    assert result.trades["long_only"] and result.trades["rows"] == len(result.test_rows)
    assert np.datetime64(result.train_last_t1) < origin
