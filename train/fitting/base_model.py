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

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseModelConfig:
    """Hyper-parameters (within the seed design doc's suggested ranges) and the out-of-fold block count."""

    n_folds: int = 5
    max_depth: int = 6
    n_estimators: int = 200
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 3
    tree_method: str = "hist"
    n_jobs: int = 2
    seed: int = 1337

    def __post_init__(self) -> None:
        if self.n_folds < 2:
            raise ValueError(f"n_folds must be >= 2 (block 0 only trains), got {self.n_folds}")
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")

    def xgb_params(self) -> dict[str, object]:
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "tree_method": self.tree_method,
            "nthread": self.n_jobs,
            "seed": self.seed,
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


def _fit(
    X: np.ndarray, y: np.ndarray, config: BaseModelConfig, feature_names: Sequence[str] | None
) -> xgb.Booster:
    if len(y) == 0:
        raise ValueError("no rows to train the base model on")
    classes = np.unique(y)
    if not np.array_equal(classes, [0.0, 1.0]):
        raise ValueError(f"base model training labels need both classes 0 and 1, got {classes.tolist()}")
    names = list(feature_names) if feature_names is not None else None
    dtrain = xgb.DMatrix(X, label=y, feature_names=names, nthread=config.n_jobs)
    return xgb.train(config.xgb_params(), dtrain, num_boost_round=config.n_estimators)


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
    result = OofResult(p, fold_of_row, [], [], [], [])
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
            continue
        if len(rows) == 0:
            raise ValueError(
                f"base-model block {k} (from {ts[first]}) has no usable rows before its cutoff {cutoff}"
            )
        model = _fit(X[rows], y[rows], config, None)
        p[block] = predict(model, X[block])
        log.info(
            "base model block %d: trained on %d rows (t1 <= %s), predicted %d rows from %s",
            k,
            len(rows),
            result.fold_train_end[k],
            len(block),
            ts[first],
        )
    return result


def fit_final(
    X: np.ndarray,
    y: np.ndarray,
    usable_train_mask: np.ndarray,
    config: BaseModelConfig,
    feature_names: Sequence[str] | None = None,
) -> xgb.Booster:
    """The base model shipped in the bundle: trained on all usable (purged) training-split rows.

    ``feature_names`` (the contract's snapshot feature order) are stored in the model, so :func:`predict`
    can refuse a caller that passes the columns in another order.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mask = np.asarray(usable_train_mask, dtype=bool)
    _check_inputs(X, y, mask)
    model = _fit(X[mask], y[mask], config, feature_names)
    log.info("final base model trained on %d rows", int(mask.sum()))
    return model


def predict(model: xgb.Booster, X: np.ndarray, feature_names: Sequence[str] | None = None) -> np.ndarray:
    """p_long for each row of ``X`` (float64 [N]); ``feature_names``, if given, must match the model's."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != model.num_features():
        raise ValueError(f"X has shape {X.shape}; the base model expects {model.num_features()} features")
    stored = model.feature_names
    if feature_names is not None and stored is not None and list(feature_names) != list(stored):
        position = next(
            (i for i, (a, b) in enumerate(zip(stored, feature_names, strict=False)) if a != b),
            min(len(stored), len(feature_names)),
        )
        raise ValueError(f"feature order differs from the base model's at position {position}")
    # inplace_predict skips building a DMatrix (which costs more than the trees on a live cycle's 59 rows)
    # and gives the same values; the feature order was checked above.
    return np.asarray(model.inplace_predict(X), dtype=np.float64)


def save_base_model(model: xgb.Booster, path: str | Path) -> Path:
    """Write the model in XGBoost's JSON format; the ``.json`` suffix is required (it selects the format)."""
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"base model path must end in .json (XGBoost's JSON format), got {path}")
    model.save_model(str(path))
    return path


def load_base_model(path: str | Path) -> xgb.Booster:
    path = Path(path)
    if path.suffix != ".json":
        raise ValueError(f"base model path must end in .json (XGBoost's JSON format), got {path}")
    model = xgb.Booster()
    model.load_model(str(path))
    return model
