"""The chosen, calibrated base model on the trainer tests' synthetic candles: with an edge injected into the
direction labels it still beats the class prior on the test split (it is not regularized into uselessness);
on the candles' own labels (no edge by construction) its channel stays near 0.5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from featurestore.store.handle import Store
from featurestore.store.snapshots import open_snapshot
from tests.train.conftest import TINY
from train.fitting import prepare as prepare_module
from train.fitting.base_model import predict
from train.fitting.config import load_run_config
from train.fitting.dataset import snapshot_frame
from train.fitting.intervals import paired_log_loss_interval
from train.fitting.prepare import Prepared, prepare

EDGE_FEATURE = "mom_24_z"  # the label leans on this momentum z-score: P(long) = sigmoid(EDGE * z)
EDGE = 1.0


def _with_edge(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    """y_direction redrawn on every labelled row with a known dependence on one snapshot feature."""
    rng = np.random.default_rng(seed)
    z = frame[EDGE_FEATURE].fill_null(0.0).fill_nan(0.0).to_numpy().clip(-4, 4)
    drawn = (rng.random(frame.height) < 1.0 / (1.0 + np.exp(-EDGE * z))).astype(np.int64)
    return frame.with_columns(
        pl.when(pl.col("y_direction").is_not_null())
        .then(pl.Series(drawn))
        .otherwise(pl.col("y_direction"))
        .cast(frame["y_direction"].dtype)
        .alias("y_direction")
    )


def _test_split(prepared: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(y, base model p, ts) of the test samples, and the training samples' positive rate (the prior)."""
    rows = prepared.idx["test"].numpy()
    y = prepared.frame["y_direction"].cast(pl.Float64).to_numpy()
    names = list(prepared.inputs.snap_features)
    raw = prepared.frame.select(names).to_numpy().astype(np.float64)
    p = predict(prepared.base_model, raw[rows], feature_names=names)
    ts = prepared.frame["ts"].cast(pl.Datetime("us")).to_numpy()[rows]
    return y[rows], p, ts, float(y[prepared.idx["train"].numpy()].mean())


def _prepared(snapshot_store: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, edge: bool) -> Prepared:
    snapshot = open_snapshot(Store.at(snapshot_store[0]), snapshot_store[1], contract=None)
    frame = snapshot_frame(snapshot)
    frame = _with_edge(frame, seed=3) if edge else frame
    monkeypatch.setattr(prepare_module, "snapshot_frame", lambda _snapshot: frame)
    return prepare(snapshot, load_run_config(TINY))


def test_with_an_injected_edge_the_base_model_alone_beats_the_prior(
    snapshot_store: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = _prepared(snapshot_store, monkeypatch, edge=True)
    y, p, ts, prior = _test_split(prepared)
    diff = paired_log_loss_interval(y, p, np.full(len(y), prior), ts, seed=0)
    assert diff["high"] < 0, diff  # base model minus prior, test split
    assert prepared.base_model.calibration.method == "platt"


def test_without_an_edge_the_calibrated_channel_stays_near_one_half(
    snapshot_store: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = _prepared(snapshot_store, monkeypatch, edge=False)
    y, p, ts, prior = _test_split(prepared)
    assert np.abs(p - 0.5).mean() < 0.05
    diff = paired_log_loss_interval(y, p, np.full(len(y), prior), ts, seed=0)
    assert diff["low"] < 0.01, diff  # not clearly worse than the prior
