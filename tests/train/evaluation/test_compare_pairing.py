"""Pairing, paired differences, verdict and the keyed fit store of `train compare`, on hand-made predictions
(no fitting: seconds)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from featurestore.store.handle import Store
from tests.train.conftest import TINY
from train.evaluation.compare import (
    BETTER,
    INCONCLUSIVE,
    NOT_A_SAMPLE,
    NOT_ELIGIBLE,
    WORSE,
    pair_fold,
    paired_figures,
    pool,
    trade_differences,
    verdict,
)
from train.evaluation.fit_cache import FitPredictions, fit_key, load_fit, save_fit
from train.evaluation.folds import rolling_folds
from train.evaluation.trades import TradeConfig
from train.fitting.config import load_run_config

START = np.datetime64("2025-07-01T00:00", "us")
STEP = np.timedelta64(60, "m")  # 24 rows a day


def _fit(
    rows: np.ndarray, y: np.ndarray, p: np.ndarray, key: str = "k", eligible: np.ndarray | None = None
) -> FitPredictions:
    ts = START + rows * STEP
    return FitPredictions(
        key=key,
        ts=ts,
        t1=ts + np.timedelta64(30, "m"),
        targets=np.stack([y, 1 - y], axis=1).astype(np.float64),
        p=p,
        early_p=np.full(len(rows), 0.5),
        realized_bps=np.where(y == 1, 5.0, -5.0),
        val_p=np.linspace(0.3, 0.7, 50),
        eligible_ts=ts if eligible is None else START + eligible * STEP,
        best_epoch=1,
        seconds=1.0,
    )


def _data(n: int = 24 * 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal(n)
    y = (signal + rng.standard_normal(n) > 0).astype(np.float64)
    informed = 1 / (1 + np.exp(-1.5 * signal))
    return np.arange(n), y, informed


def test_the_same_predictions_differ_by_exactly_zero_and_are_inconclusive() -> None:
    rows, y, p = _data()
    paired = pool([pair_fold([_fit(rows, y, p)], [_fit(rows, y, p)])])
    figures = paired_figures(paired)
    for head in ("direction", "early_move"):
        for metric in ("log_loss", "auc"):
            d = figures[head]["difference"][metric]
            assert (
                (d["estimate"], d["low"], d["high"]) == (0.0, 0.0, 0.0)
                or metric == "auc"
                and head == "early_move"
            )
    assert verdict(figures["direction"]["difference"]["log_loss"]) == INCONCLUSIVE
    traded = [d for d in trade_differences(paired, TradeConfig(random_draws=5)) if d["trades_a"]]
    assert traded and all((d["estimate"], d["low"], d["high"]) == (0.0, 0.0, 0.0) for d in traded)


def test_an_informed_b_is_better_and_an_informed_a_makes_b_worse() -> None:
    rows, y, informed = _data()
    flat = np.full(len(rows), y.mean())
    better = paired_figures(pool([pair_fold([_fit(rows, y, flat)], [_fit(rows, y, informed)])]))
    d = better["direction"]["difference"]["log_loss"]
    assert verdict(d) == BETTER and d["high"] < 0 and d["n"] == len(rows) and d["n_days"] == 40
    worse = paired_figures(pool([pair_fold([_fit(rows, y, informed)], [_fit(rows, y, flat)])]))
    assert verdict(worse["direction"]["difference"]["log_loss"]) == WORSE
    assert worse["direction"]["difference"]["auc"]["high"] < 0


def test_rows_only_one_version_predicted_are_counted_with_their_reason() -> None:
    rows, y, p = _data(24 * 10)
    a = _fit(rows[:200], y[:200], p[:200], eligible=rows[:210])  # A's snapshot: rows 200-209 eligible too
    b = _fit(rows[5:210], y[5:210], p[5:210], eligible=rows[3:210])  # B: 0-2 not eligible, 3-4 eligible
    paired = pair_fold([a], [b])
    assert len(paired.ts) == 195 and np.array_equal(paired.ts, a.ts[5:])
    u = paired.unpaired
    assert (u["a_only"], u["b_only"]) == (5, 10)
    assert u["why_a_only"] == {NOT_ELIGIBLE: 3, NOT_A_SAMPLE: 2}
    assert u["why_b_only"] == {NOT_ELIGIBLE: 0, NOT_A_SAMPLE: 10}
    assert u["share_unpaired"] == pytest.approx(15 / 210)


def test_seeds_are_averaged_before_pairing() -> None:
    rows, y, p = _data(24 * 5)
    two = [_fit(rows, y, p * 0.9, "s1"), _fit(rows, y, p * 0.9 + 0.1, "s2")]
    paired = pair_fold(two, [_fit(rows, y, p)])
    assert np.allclose(paired.p["a"], p * 0.9 + 0.05)


def test_the_fit_key_follows_snapshot_fold_dates_config_and_seed_and_the_store_round_trips(
    tmp_path: Path,
) -> None:
    config = load_run_config(TINY, {})
    folds = rolling_folds(date(2025, 1, 1), date(2025, 12, 31), 2, config.splits.embargo_bars)
    key = fit_key("snap", folds[0], config)
    assert key == fit_key("snap", folds[0], config)
    assert key != fit_key("other", folds[0], config)
    assert key != fit_key("snap", folds[1], config)
    assert key != fit_key("snap", folds[0], dataclasses.replace(config, seed=config.seed + 1))
    assert key != fit_key("snap", folds[0], dataclasses.replace(config, variant="v10"))
    # the same dates under another fold number (another --folds) are the same fit
    assert key == fit_key("snap", dataclasses.replace(folds[0], index=3), config)

    store = Store.at(tmp_path)
    rows, y, p = _data(24 * 3)
    fit = _fit(rows, y, p, key=key)
    assert load_fit(store, key) is None
    save_fit(store, fit)
    back = load_fit(store, key)
    assert back is not None and back.key == key and back.best_epoch == 1
    for field in dataclasses.fields(fit):
        assert np.array_equal(getattr(back, field.name), getattr(fit, field.name)), field.name
