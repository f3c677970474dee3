"""The XGBoost base model behind the hybrid channels: walk-forward out-of-fold values and a final model.

Why: the seed annotated its training rows with XGBoost models that had been trained on those same rows
(seed lessons 9.22), so the transformer learned to trust a p_long that was far better in training than it
can be live. Here the training span is cut into ``n_folds`` consecutive blocks; block k's p comes from a
model trained only on usable rows of earlier blocks whose label resolved (``t1``) before block k's first bar
minus the embargo, so no training-time p has seen its own label or anything after it. Block 0 has no
earlier data and gets NaN. Validation and test bars get p from the final model (trained on the purged
training split), which is also the one saved in the bundle, in XGBoost's own JSON format (never pickle).

The model sees the raw, unscaled snapshot features, at training and at runtime alike.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from train.fitting.calibration import METHODS, Calibration, fit_platt
from train.fitting.intervals import row_log_loss

log = logging.getLogger(__name__)

# The capacity settings chosen per fit from their cartesian product (docs/trainer.md, "Base model").
GRID_AXES = ("max_depth", "min_child_weight", "subsample", "learning_rate")


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


@dataclass(frozen=True)
class BaseModelConfig:
    """The capacity grid, early stopping, calibration and the out-of-fold block count.

    Each fit (every out-of-fold block and the final model) holds out the most recent ``stop_share`` of its
    own rows (after an embargo); every point of the grid (the product of the ``GRID_AXES`` tuples) is
    trained on the rest with early stopping on the held-out rows, the point with the lowest held-out log
    loss is kept, and its held-out predictions fit the calibration. A single grid point with
    ``early_stopping_rounds = 0`` and ``calibration = "none"`` trains on all rows, as before the grid.
    """

    n_folds: int = 5
    max_depth: tuple[int, ...] = (2, 4)
    min_child_weight: tuple[float, ...] = (10.0, 100.0)
    subsample: tuple[float, ...] = (0.8,)
    learning_rate: tuple[float, ...] = (0.05,)
    n_estimators: int = 200  # the most trees; early stopping keeps fewer
    early_stopping_rounds: int = 20  # 0: no early stopping
    stop_share: float = 0.2
    calibration: str = "platt"  # or "none"
    colsample_bytree: float = 0.8
    tree_method: str = "hist"
    n_jobs: int = 2
    seed: int = 1337

    def __post_init__(self) -> None:
        for axis in GRID_AXES:  # a single value is a one-point axis (BaseModelConfig(max_depth=3))
            object.__setattr__(self, axis, _as_tuple(getattr(self, axis)))
            if not getattr(self, axis):
                raise ValueError(f"[base_model] {axis} needs at least one value")
        if self.n_folds < 2:
            raise ValueError(f"n_folds must be >= 2 (block 0 only trains), got {self.n_folds}")
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")
        if self.early_stopping_rounds < 0:
            raise ValueError(f"early_stopping_rounds must be >= 0, got {self.early_stopping_rounds}")
        if not 0.0 < self.stop_share <= 0.5:
            raise ValueError(f"stop_share must be in (0, 0.5], got {self.stop_share}")
        if self.calibration not in METHODS:
            raise ValueError(f"calibration must be one of {', '.join(METHODS)}, got {self.calibration!r}")

    def grid(self) -> list[dict[str, Any]]:
        """Every grid point, in order (ties in held-out log loss keep the earlier point)."""
        axes = [getattr(self, axis) for axis in GRID_AXES]
        return [dict(zip(GRID_AXES, values, strict=True)) for values in itertools.product(*axes)]

    @property
    def holds_out(self) -> bool:
        """Whether a fit needs held-out rows (to choose a grid point, stop early or calibrate)."""
        return len(self.grid()) > 1 or self.early_stopping_rounds > 0 or self.calibration != "none"

    def xgb_params(self, point: dict[str, Any]) -> dict[str, object]:
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "max_depth": point["max_depth"],
            "eta": point["learning_rate"],
            "subsample": point["subsample"],
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": point["min_child_weight"],
            "tree_method": self.tree_method,
            "nthread": self.n_jobs,
            "seed": self.seed,
        }


@dataclass(frozen=True, eq=False)
class BaseModel:
    """A fitted base model: its trees, their calibration and how the settings were chosen."""

    booster: xgb.Booster
    calibration: Calibration = field(default_factory=Calibration)
    settings: dict[str, Any] = field(default_factory=dict)  # the chosen grid point and its trees
    selection: dict[str, Any] = field(default_factory=dict)  # rows, each grid point's held-out log loss

    def describe(self) -> dict[str, Any]:
        """JSON-able: the settings it runs with, its calibration and the selection record."""
        return {
            "settings": dict(self.settings),
            "calibration": self.calibration.to_dict(),
            "selection": dict(self.selection),
        }


@dataclass(frozen=True, eq=False)
class OofResult:
    """Out-of-fold predictions over all N rows, and what each block's model was trained on."""

    p: np.ndarray  # [N] float64; NaN for block 0 and rows outside the training span
    fold_of_row: np.ndarray  # [N] int64; block index, -1 outside the training span
    fold_start: list[np.datetime64]  # ts of each block's first bar
    fold_cutoff: list[np.datetime64]  # training rows of block k have t1 strictly before this
    fold_train_end: list[np.datetime64]  # max t1 of the rows block k's model trained on (NaT for block 0)
    fold_n_train: list[int]  # rows block k's model trained on (0 for block 0)
    fold_settings: list[dict[str, Any]] = field(default_factory=list)  # block k's describe() ({} for 0)


def _fit(
    X: np.ndarray,
    y: np.ndarray,
    params: dict[str, object],
    rounds: int,
    feature_names: Sequence[str] | None,
    stop: tuple[np.ndarray, np.ndarray, int] | None = None,
) -> xgb.Booster:
    """One XGBoost fit; with ``stop = (X_held, y_held, patience)`` it stops early on those rows and keeps
    only the trees up to the best held-out log loss."""
    if len(y) == 0:
        raise ValueError("no rows to train the base model on")
    classes = np.unique(y)
    if not np.array_equal(classes, [0.0, 1.0]):
        raise ValueError(f"base model training labels need both classes 0 and 1, got {classes.tolist()}")
    names = list(feature_names) if feature_names is not None else None
    dtrain = xgb.DMatrix(X, label=y, feature_names=names, nthread=int(params["nthread"]))  # type: ignore[call-overload]
    if stop is None or stop[2] == 0:
        return xgb.train(params, dtrain, num_boost_round=rounds)
    held = xgb.DMatrix(stop[0], label=stop[1], feature_names=names, nthread=int(params["nthread"]))  # type: ignore[call-overload]
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=rounds,
        evals=[(held, "held_out")],
        early_stopping_rounds=stop[2],
        verbose_eval=False,
    )
    return booster[: booster.best_iteration + 1]


def _inner_split(
    rows: np.ndarray, ts: np.ndarray, t1: np.ndarray, embargo_bars: int, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, held-out rows) of a fit's time-ordered ``rows``: the last ``share`` is held out; fit rows
    are the earlier ones whose label resolved before the held-out block's first bar minus the embargo."""
    n_held = max(int(round(share * len(rows))), 1)
    held = rows[-n_held:]
    cutoff = ts[max(int(held[0]) - embargo_bars, 0)]
    earlier = rows[:-n_held]
    return earlier[t1[earlier] < cutoff], held


def fit_selected(
    X: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    ts: np.ndarray,
    t1: np.ndarray,
    embargo_bars: int,
    config: BaseModelConfig,
    feature_names: Sequence[str] | None = None,
) -> BaseModel:
    """One base model from ``rows`` only (bar indices, time-ordered): grid point, trees and calibration
    chosen on the most recent of those rows (`BaseModelConfig`); nothing outside ``rows`` is read."""
    rows = np.asarray(rows, dtype=np.int64)
    grid = config.grid()
    if not config.holds_out:
        booster = _fit(X[rows], y[rows], config.xgb_params(grid[0]), config.n_estimators, feature_names)
        settings = {**grid[0], "trees": config.n_estimators}
        return BaseModel(booster, Calibration(), settings, {"fit_rows": len(rows), "held_out_rows": 0})
    fit_rows, held = _inner_split(rows, ts, t1, embargo_bars, config.stop_share)
    if len(np.unique(y[held])) != 2:
        raise ValueError(f"the base model's {len(held)} held-out rows need both classes; use more rows")
    stop = (X[held], y[held], config.early_stopping_rounds)
    best: tuple[float, xgb.Booster, np.ndarray, dict[str, Any]] | None = None
    scores = []
    for point in grid:
        booster = _fit(
            X[fit_rows], y[fit_rows], config.xgb_params(point), config.n_estimators, feature_names, stop
        )
        p_held = np.asarray(booster.inplace_predict(X[held]), dtype=np.float64)
        loss = float(row_log_loss(y[held], p_held).mean())
        scores.append({**point, "trees": booster.num_boosted_rounds(), "held_out_log_loss": loss})
        if best is None or loss < best[0]:
            best = (loss, booster, p_held, scores[-1])
    assert best is not None  # the grid is never empty
    _, booster, p_held, chosen = best
    calibration = fit_platt(p_held, y[held]) if config.calibration == "platt" else Calibration()
    settings = {key: chosen[key] for key in (*GRID_AXES, "trees")}
    selection = {
        "fit_rows": len(fit_rows),
        "held_out_rows": len(held),
        "held_out_from": str(ts[held[0]]),
        "early_stopping_rounds": config.early_stopping_rounds,
        "grid": scores,
    }
    return BaseModel(booster, calibration, settings, selection)


def _check_inputs(X: np.ndarray, y: np.ndarray, mask: np.ndarray) -> None:
    if X.ndim != 2 or len(X) != len(y) or len(mask) != len(y):
        raise ValueError(f"X {X.shape}, y {y.shape} and the row mask {mask.shape} describe different rows")
    bad = mask & ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"row {int(np.flatnonzero(bad)[0])} is marked usable but has no 0/1 label")


def fit_out_of_fold(
    X: np.ndarray,
    y: np.ndarray,
    t1: np.ndarray,
    ts: np.ndarray,
    usable: np.ndarray,
    train_rows: np.ndarray,
    embargo_bars: int,
    config: BaseModelConfig,
) -> OofResult:
    """Walk-forward, purged out-of-fold p for every bar of the training span.

    ``ts`` is the snapshot's full bar index; ``train_rows`` marks the bars of the training split (all of
    them: every bar gets a p, since sequence windows read non-eligible bars too); ``usable`` marks the rows
    allowed to train a base model (eligible and labelled); only those inside the training span are used.
    Blocks are consecutive equal-count slices of the training-span bars. Block k's model trains on usable
    rows of blocks < k with ``t1 < ts[first_k - embargo_bars]`` and predicts every bar of block k.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ts, t1 = np.asarray(ts).astype("datetime64[us]"), np.asarray(t1).astype("datetime64[us]")
    usable, train_rows = np.asarray(usable, dtype=bool), np.asarray(train_rows, dtype=bool)
    if not (len(ts) == len(t1) == len(train_rows) == len(y)):
        raise ValueError("ts, t1, train_rows and y must have the same length")
    usable = usable & train_rows
    _check_inputs(X, y, usable)
    if (usable & np.isnat(t1)).any():
        raise ValueError("usable rows must have a t1 (a resolved label)")
    if embargo_bars < 0:
        raise ValueError(f"embargo_bars must be >= 0, got {embargo_bars}")
    span = np.flatnonzero(train_rows)
    if len(span) < config.n_folds:
        raise ValueError(f"{len(span)} training-span rows cannot form {config.n_folds} blocks")

    n = len(y)
    p = np.full(n, np.nan)
    fold_of_row = np.full(n, -1, dtype=np.int64)
    result = OofResult(p, fold_of_row, [], [], [], [], [])
    for k, block in enumerate(np.array_split(span, config.n_folds)):
        first = int(block[0])
        fold_of_row[block] = k
        cutoff = ts[max(first - embargo_bars, 0)]
        result.fold_start.append(ts[first])
        result.fold_cutoff.append(cutoff)
        rows = np.flatnonzero(usable & (np.arange(n) < first) & (t1 < cutoff)) if k > 0 else np.empty(0, int)
        result.fold_n_train.append(len(rows))
        result.fold_train_end.append(t1[rows].max() if len(rows) else np.datetime64("NaT", "us"))
        if k == 0:
            result.fold_settings.append({})
            continue
        if len(rows) == 0:
            raise ValueError(
                f"base-model block {k} (from {ts[first]}) has no usable rows before its cutoff {cutoff}"
            )
        model = fit_selected(X, y, rows, ts, t1, embargo_bars, config)
        p[block] = predict(model, X[block])
        result.fold_settings.append(model.describe())
        log.info(
            "base model block %d: trained on %d rows (t1 <= %s; %s), predicted %d rows from %s",
            k,
            len(rows),
            result.fold_train_end[k],
            model.settings,
            len(block),
            ts[first],
        )
    return result


def fit_final(
    X: np.ndarray,
    y: np.ndarray,
    t1: np.ndarray,
    ts: np.ndarray,
    usable_train_mask: np.ndarray,
    embargo_bars: int,
    config: BaseModelConfig,
    feature_names: Sequence[str] | None = None,
) -> BaseModel:
    """The base model shipped in the bundle: from all usable (purged) training-split rows, its settings
    and calibration chosen on the most recent of them (`fit_selected`).

    ``feature_names`` (the contract's snapshot feature order) are stored in the model, so :func:`predict`
    can refuse a caller that passes the columns in another order.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ts, t1 = np.asarray(ts).astype("datetime64[us]"), np.asarray(t1).astype("datetime64[us]")
    mask = np.asarray(usable_train_mask, dtype=bool)
    _check_inputs(X, y, mask)
    model = fit_selected(X, y, np.flatnonzero(mask), ts, t1, embargo_bars, config, feature_names)
    log.info(
        "final base model trained on %d rows: %s, %s", int(mask.sum()), model.settings, model.calibration
    )
    return model


def predict(
    model: BaseModel | xgb.Booster, X: np.ndarray, feature_names: Sequence[str] | None = None
) -> np.ndarray:
    """Calibrated p_long for each row of ``X`` (float64 [N]); ``feature_names``, if given, must match the
    model's. A bare booster is uncalibrated."""
    booster = model.booster if isinstance(model, BaseModel) else model
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != booster.num_features():
        raise ValueError(f"X has shape {X.shape}; the base model expects {booster.num_features()} features")
    stored = booster.feature_names
    if feature_names is not None and stored is not None and list(feature_names) != list(stored):
        position = next(
            (i for i, (a, b) in enumerate(zip(stored, feature_names, strict=False)) if a != b),
            min(len(stored), len(feature_names)),
        )
        raise ValueError(f"feature order differs from the base model's at position {position}")
    # inplace_predict skips building a DMatrix (which costs more than the trees on a live cycle's 59 rows)
    # and gives the same values; the feature order was checked above.
    p = np.asarray(booster.inplace_predict(X), dtype=np.float64)
    return model.calibration.apply(p) if isinstance(model, BaseModel) else p


def save_base_model(model: BaseModel | xgb.Booster, path: str | Path) -> Path:
    """Write the trees in XGBoost's JSON format; the ``.json`` suffix is required (it selects the format).
    The calibration and settings are not in this file: the bundle's metadata records them."""
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"base model path must end in .json (XGBoost's JSON format), got {path}")
    (model.booster if isinstance(model, BaseModel) else model).save_model(str(path))
    return path


def load_base_model(path: str | Path, calibration: Calibration | None = None) -> BaseModel:
    """The trees of ``path`` with ``calibration`` (from the bundle's metadata; None: uncalibrated)."""
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"base model path must end in .json (XGBoost's JSON format), got {path}")
    booster = xgb.Booster()
    booster.load_model(str(path))
    return BaseModel(booster, calibration or Calibration())
