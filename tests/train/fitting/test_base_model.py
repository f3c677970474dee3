"""Base model: walk-forward out-of-fold predictions never see their own or later labels; settings, trees and
calibration chosen on each fit's own most recent rows; JSON persistence."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import train.fitting.base_model as base_model
from train.fitting.base_model import (
    BaseModelConfig,
    fit_final,
    fit_out_of_fold,
    fit_selected,
    load_base_model,
    predict,
    save_base_model,
)
from train.fitting.intervals import paired_log_loss_interval, row_log_loss

N, F, TRAIN_N, EMBARGO = 3_000, 10, 2_400, 30
CONFIG = BaseModelConfig(n_estimators=20, n_jobs=1)
# the old base model: one deep setting, every tree, no early stopping, no calibration
FIXED = BaseModelConfig(
    max_depth=6, min_child_weight=1.0, n_estimators=200, early_stopping_rounds=0, calibration="none", n_jobs=1
)
NAT = np.datetime64("NaT", "us")


def synthetic(seed: int = 7, signal: bool = True, n: int = N, train_n: int = TRAIN_N):
    """Bars with gaps, labels of variable length (some unavailable), a learnable or a pure-noise target.

    Column 0 is the row index, so a test can tell exactly which rows a model was trained on.
    """
    N, TRAIN_N = n, train_n  # noqa: N806 - the module's sizes unless a test asks for more rows
    rng = np.random.default_rng(seed)
    steps = rng.choice([5, 5, 5, 10, 60], size=N).astype("timedelta64[m]")
    ts = (np.datetime64("2025-02-03T00:00", "us") + np.cumsum(steps)).astype("datetime64[us]")
    X = rng.normal(size=(N, F))
    X[:, 0] = np.arange(N)
    score = X[:, 1] + 0.5 * X[:, 2] if signal else np.zeros(N)
    y = (score + rng.normal(size=N) > 0).astype(np.float64)
    span = rng.integers(1, 13, size=N)
    last = np.minimum(np.arange(N) + span, N - 1)
    t1 = ts[last] + np.timedelta64(5, "m")
    unavailable = rng.random(N) < 0.05
    y[unavailable], t1[unavailable] = np.nan, NAT
    train_rows = np.arange(N) < TRAIN_N
    usable = train_rows & ~unavailable & (rng.random(N) < 0.8)  # not every bar is eligible
    return X, y, t1, ts, usable, train_rows


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC (no ties in continuous scores)."""
    ranks = np.empty(len(score))
    ranks[np.argsort(score)] = np.arange(1, len(score) + 1)
    pos = y == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def test_every_model_trained_only_on_rows_resolved_before_its_block_minus_embargo(monkeypatch):
    """Each block's fits (every grid point, with the rows that stop and calibrate them) read only usable
    rows whose label resolved before the block's first bar minus the embargo, and all such rows."""
    X, y, t1, ts, usable, train_rows = synthetic()
    fits: list[tuple[np.ndarray, np.ndarray]] = []
    real_fit = base_model._fit

    def recording_fit(X_rows, y_rows, params, rounds, names, stop=None):
        fits.append((X_rows[:, 0].astype(np.int64), stop[0][:, 0].astype(np.int64)))
        return real_fit(X_rows, y_rows, params, rounds, names, stop)

    monkeypatch.setattr(base_model, "_fit", recording_fit)
    oof = fit_out_of_fold(X, y, t1, ts, usable, train_rows, EMBARGO, CONFIG)

    points = len(CONFIG.grid())
    assert points == 4 and len(fits) == (CONFIG.n_folds - 1) * points
    for k in range(1, CONFIG.n_folds):
        first = np.flatnonzero(oof.fold_of_row == k)[0]
        allowed = np.flatnonzero(usable & (np.arange(N) < first) & (t1 < ts[first - EMBARGO]))
        block_fits = fits[(k - 1) * points : k * points]
        fit_rows, held = block_fits[0]
        for other_fit, other_held in block_fits:  # every grid point sees the same rows
            np.testing.assert_array_equal(other_fit, fit_rows)
            np.testing.assert_array_equal(other_held, held)
        read = np.union1d(fit_rows, held)
        assert np.isin(read, allowed).all()
        assert (t1[read] < ts[first - EMBARGO]).all()
        assert oof.fold_train_end[k] == t1[allowed].max() and oof.fold_n_train[k] == len(allowed)
        # held out: the most recent allowed rows; fitted: the earlier ones resolved before them (purged)
        np.testing.assert_array_equal(held, allowed[-len(held) :])
        assert (t1[fit_rows] < ts[held[0] - EMBARGO]).all()
        np.testing.assert_array_equal(
            fit_rows, allowed[: -len(held)][t1[allowed[: -len(held)]] < ts[held[0] - EMBARGO]]
        )
        assert oof.fold_settings[k]["selection"]["held_out_rows"] == len(held)

    rng = np.random.default_rng(0)
    predicted = np.flatnonzero(~np.isnan(oof.p))
    for r in rng.choice(predicted, size=200, replace=False):
        k = oof.fold_of_row[r]
        assert oof.fold_train_end[k] < ts[r - EMBARGO]
        assert oof.fold_start[k] <= ts[r]


def test_block_layout_and_missing_predictions():
    X, y, t1, ts, usable, train_rows = synthetic()
    oof = fit_out_of_fold(X, y, t1, ts, usable, train_rows, EMBARGO, CONFIG)
    sizes = np.bincount(oof.fold_of_row[oof.fold_of_row >= 0])
    assert len(sizes) == CONFIG.n_folds and sizes.max() - sizes.min() <= 1
    assert (np.diff(oof.fold_of_row[:TRAIN_N]) >= 0).all()  # consecutive blocks by time
    assert (oof.fold_of_row[TRAIN_N:] == -1).all()
    assert np.isnan(oof.p[oof.fold_of_row == 0]).all()
    assert np.isnan(oof.p[TRAIN_N:]).all()
    assert np.isfinite(oof.p[(oof.fold_of_row > 0)]).all()  # every bar of a later block, eligible or not
    assert np.isnat(oof.fold_train_end[0]) and oof.fold_n_train[0] == 0
    assert auc(y[usable & (oof.fold_of_row > 0)], oof.p[usable & (oof.fold_of_row > 0)]) > 0.6


def test_out_of_fold_values_are_not_in_sample():
    """On pure-noise labels, in-sample predictions look skilful (the seed's bug); out-of-fold ones do not."""
    X, y, t1, ts, usable, train_rows = synthetic(signal=False)
    oof = fit_out_of_fold(X, y, t1, ts, usable, train_rows, EMBARGO, CONFIG)
    rows = usable & (oof.fold_of_row > 0)
    in_sample = predict(fit_final(X, y, t1, ts, usable, EMBARGO, FIXED), X)
    assert auc(y[rows], in_sample[rows]) > 0.7
    assert abs(auc(y[rows], oof.p[rows]) - 0.5) < 0.06


def test_fits_are_deterministic():
    data = synthetic()
    first = fit_out_of_fold(*data, EMBARGO, CONFIG)
    second = fit_out_of_fold(*data, EMBARGO, CONFIG)
    np.testing.assert_array_equal(first.p, second.p)
    X, y, t1, ts, usable, _ = data
    np.testing.assert_array_equal(
        predict(fit_final(X, y, t1, ts, usable, EMBARGO, CONFIG), X),
        predict(fit_final(X, y, t1, ts, usable, EMBARGO, CONFIG), X),
    )


def test_save_and_load_round_trip_in_json(tmp_path):
    X, y, t1, ts, usable, _ = synthetic()
    names = [f"f{i}" for i in range(F)]
    model = fit_final(X, y, t1, ts, usable, EMBARGO, CONFIG, feature_names=names)
    assert model.calibration.method == "platt"
    path = save_base_model(model, tmp_path / "base_model.json")
    raw = path.read_bytes()
    assert raw.lstrip()[:1] == b"{"  # a JSON document, not a pickle (which starts with 0x80)
    document = json.loads(raw)
    assert "learner" in document
    assert document["learner"]["feature_names"] == names
    loaded = load_base_model(path, model.calibration)
    np.testing.assert_array_equal(predict(loaded, X, names), predict(model, X, names))
    raw_p = predict(load_base_model(path), X, names)  # without its calibration: the trees' own p
    np.testing.assert_array_equal(raw_p, predict(model.booster, X, names))
    assert not np.allclose(raw_p, predict(model, X, names))
    with pytest.raises(ValueError, match="must end in .json"):
        save_base_model(model, tmp_path / "base_model.ubj")


def test_predict_refuses_other_feature_order_or_width():
    X, y, t1, ts, usable, _ = synthetic()
    names = [f"f{i}" for i in range(F)]
    model = fit_final(X, y, t1, ts, usable, EMBARGO, CONFIG, feature_names=names)
    swapped = names[:3] + [names[4], names[3]] + names[5:]
    with pytest.raises(ValueError, match="position 3"):
        predict(model, X, swapped)
    with pytest.raises(ValueError, match="expects 10 features"):
        predict(model, X[:, :9])


def test_only_usable_rows_inside_the_training_span_train_and_they_need_labels():
    X, y, t1, ts, usable, train_rows = synthetic()
    span = train_rows & (np.arange(N) >= 300)  # labelled bars before and after the span must not train
    everywhere = ~np.isnan(y)
    np.testing.assert_array_equal(
        fit_out_of_fold(X, y, t1, ts, everywhere, span, EMBARGO, CONFIG).p,
        fit_out_of_fold(X, y, t1, ts, everywhere & span, span, EMBARGO, CONFIG).p,
    )
    bad = usable | (np.isnan(y) & train_rows)
    with pytest.raises(ValueError, match="has no 0/1 label"):
        fit_out_of_fold(X, y, t1, ts, bad, train_rows, EMBARGO, CONFIG)


def test_settings_are_the_grid_point_with_the_lowest_held_out_log_loss():
    X, y, t1, ts, usable, _ = synthetic()
    model = fit_selected(X, y, np.flatnonzero(usable), ts, t1, EMBARGO, CONFIG)
    grid = model.selection["grid"]
    assert [{k: g[k] for k in CONFIG.grid()[0]} for g in grid] == CONFIG.grid()
    best = min(grid, key=lambda g: g["held_out_log_loss"])
    assert model.settings == {k: best[k] for k in model.settings}
    assert model.booster.num_boosted_rounds() == model.settings["trees"] <= CONFIG.n_estimators
    assert model.calibration.method == "platt" and model.calibration.n == model.selection["held_out_rows"]


def test_no_signal_gives_a_calibrated_channel_near_one_half():
    """Pure-noise labels, as many training rows as the real year's span: the old deep, uncalibrated model
    spreads p far from 0.5 and loses to the prior on later rows; Platt calibration alone (the same deep
    model, every tree) pulls it to "no view" (p near 0.5), and so does the chosen, calibrated model."""
    X, y, t1, ts, usable, train_rows = synthetic(seed=11, signal=False, n=24_000, train_n=20_000)
    later = ~train_rows & ~np.isnan(y)
    fit_mask = usable & train_rows
    prior = row_log_loss(y[later], np.full(later.sum(), y[fit_mask].mean())).mean()
    deep_platt = dataclasses.replace(FIXED, calibration="platt")
    p = {
        name: predict(fit_final(X, y, t1, ts, fit_mask, EMBARGO, config), X[later])
        for name, config in (("chosen", CONFIG), ("deep, Platt", deep_platt), ("old", FIXED))
    }
    assert np.abs(p["old"] - 0.5).mean() > 0.1  # the control: what calibration and stopping prevent
    assert row_log_loss(y[later], p["old"]).mean() > prior + 0.01
    for name in ("chosen", "deep, Platt"):
        assert np.abs(p[name] - 0.5).max() < 0.05, name
        assert row_log_loss(y[later], p[name]).mean() <= prior + 0.005, name


def test_with_signal_the_chosen_model_still_beats_the_prior():
    X, y, t1, ts, usable, train_rows = synthetic(seed=5)
    later = ~train_rows & ~np.isnan(y)
    fit_mask = usable & train_rows
    p = predict(fit_final(X, y, t1, ts, fit_mask, EMBARGO, CONFIG), X[later])
    prior = np.full(later.sum(), y[fit_mask].mean())
    diff = paired_log_loss_interval(y[later], p, prior, ts[later], seed=0)
    assert diff["high"] < 0
    assert np.abs(p - 0.5).mean() > 0.1  # calibration did not squash a real signal
