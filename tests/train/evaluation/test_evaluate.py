"""One fold of the walk-forward evaluation on the small synthetic snapshot (tiny config)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from featurestore.store.handle import Store
from featurestore.store.snapshots import open_snapshot
from schemas.versions import CONTRACT_V2
from tests.train.conftest import TINY
from train.app.cli import app
from train.evaluation.evaluate import evaluate_fold, prepare_fold, snapshot_folds
from train.evaluation.replay import ReplayConfig, replay_snapshot
from train.evaluation.trades import TradeConfig
from train.fitting import base_model
from train.fitting import prepare as prepare_module
from train.fitting.config import load_run_config
from train.fitting.dataset import snapshot_frame


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

    result = evaluate_fold(
        snapshot, config, fold, TradeConfig(random_draws=20), prepared={config.seed: prepared}
    )
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


SNAP_FEATURES = tuple(c.name for c in CONTRACT_V2.feature_columns("snap_features"))


def _poisoned(frame: pl.DataFrame, label_rows: np.ndarray, feature_rows: np.ndarray) -> pl.DataFrame:
    """The frame with y_direction flipped on ``label_rows`` and the snapshot features of ``feature_rows``
    reversed in order (each row gets another bar's features)."""
    rows = np.flatnonzero(feature_rows).tolist()
    reversed_rows = frame.select(SNAP_FEATURES)[rows[::-1]]
    return frame.with_columns(
        pl.when(pl.Series(label_rows))
        .then(1 - pl.col("y_direction"))
        .otherwise(pl.col("y_direction"))
        .cast(frame["y_direction"].dtype)
        .alias("y_direction"),
        *(frame[name].scatter(rows, reversed_rows[name]) for name in SNAP_FEATURES),
    )


def test_base_models_never_see_a_row_at_or_after_the_fold_origin(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Poisoned rows: every base model of the fold (each grid point of each out-of-fold block and of the
    final one), its chosen settings and calibration come out identical when every label resolving at or
    after the origin is flipped and every feature row from the origin on is scrambled; poisoning the last
    training days instead changes them (the control)."""
    snapshot = open_snapshot(Store.at(snapshot_store[0]), v2_snapshot_id, contract=None)
    config = load_run_config(TINY, {"variant": "v10"})
    fold = snapshot_folds(snapshot, n_folds=2, embargo_bars=config.splits.embargo_bars)[0]
    origin = np.datetime64(fold.origin, "us")
    fits: list[bytes] = []
    real_fit = base_model._fit

    def recording_fit(*args: object) -> object:
        model = real_fit(*args)  # type: ignore[arg-type]
        fits.append(bytes(model.save_raw("json")))
        return model

    monkeypatch.setattr(base_model, "_fit", recording_fit)
    frame = snapshot_frame(snapshot)

    def base_fits(poisoned: pl.DataFrame) -> tuple[list[bytes], list[dict], dict]:
        fits.clear()
        monkeypatch.setattr(prepare_module, "snapshot_frame", lambda _snapshot: poisoned)
        prepared = prepare_fold(snapshot, config, fold)
        return list(fits), prepared.oof_settings, prepared.base_model.describe()

    ts = frame["ts"].cast(pl.Datetime("us")).to_numpy()
    t1 = frame["t1"].cast(pl.Datetime("us")).to_numpy()
    clean = base_fits(frame)
    # blocks 1..n-1 out of fold, then the final model; one fit per grid point each
    assert len(clean[0]) == config.base_model.n_folds * len(config.base_model.grid())
    resolves_late = ~np.isnat(t1) & (t1 >= origin)
    assert base_fits(_poisoned(frame, resolves_late, ts >= origin)) == clean
    last_days = (ts >= origin - np.timedelta64(10, "D")) & (ts < origin)
    assert base_fits(_poisoned(frame, last_days, last_days))[2] != clean[2]


def test_seeds_are_averaged_and_each_fold_bundle_replays_its_test_p(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str, tmp_path: Path
) -> None:
    store = Store.at(snapshot_store[0])
    snapshot = open_snapshot(store, v2_snapshot_id, contract=None)
    config = load_run_config(TINY, {"variant": "v10_ctx", "epochs": 1, "max_train_rows": 600})
    fold = snapshot_folds(snapshot, n_folds=2, embargo_bars=config.splits.embargo_bars)[1]
    result = evaluate_fold(
        snapshot, config, fold, TradeConfig(random_draws=20), seeds=(7, 8), bundle_dir=tmp_path / "bundles"
    )
    first, second = result.seeds
    assert (first.seed, second.seed) == (7, 8) and not np.allclose(first.test_p, second.test_p)
    np.testing.assert_allclose(result.test_p, (first.test_p + second.test_p) / 2)
    assert result.metrics["test"]["direction"]["n"] == len(result.test_rows)
    interval = result.metrics["intervals"]["direction"]["log_loss"]
    assert interval["low"] <= result.metrics["test"]["direction"]["log_loss"] <= interval["high"]

    test = fold.splits.test
    args = ["replay", "--bundle", str(second.bundle), "--snapshot", v2_snapshot_id, "--json"]
    args += ["--date-range", f"{test.start}..{test.end}", "--store", str(store.root)]
    cli = CliRunner().invoke(app, args)
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["bundle"]["path"] == second.bundle

    replayed = replay_snapshot(
        store, Path(second.bundle), v2_snapshot_id, ReplayConfig(start=test.start, end=test.end)
    )
    cycles = replayed.cycles
    by_ts = dict(zip(cycles["ts"].cast(pl.Datetime("us")).to_numpy(), cycles["p_long"], strict=True))
    ts = snapshot_frame(snapshot)["ts"].cast(pl.Datetime("us")).to_numpy()[result.test_rows]
    np.testing.assert_allclose([by_ts[t] for t in ts], second.test_p, atol=1e-5)
