"""Walk-forward evaluation of one fold: the trainer's own prepare and fit on the fold's SplitConfig.

Usage::

    folds = snapshot_folds(snapshot, n_folds=4, embargo_bars=config.splits.embargo_bars)
    result = evaluate_fold(snapshot, config, folds[0])      # one variant, one fold
    result.metrics["test"]["direction"]["auc"], result.trades["table"]

Everything that is fitted (the base model and its out-of-fold channels, normalization, the transformer,
the baselines of `train.fitting.metrics`) is fitted by the same code as ``train run``, given the fold's
split configuration, so it sees only the fold's (purged) training span; the validation block chooses the
early-stopping epoch, the logistic baseline's C and the top-k% cut points; metrics and trades are computed
on the test block only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from featurestore.api import Snapshot
from train.evaluation.folds import Fold, rolling_folds
from train.evaluation.trades import TradeConfig, TradeRows, trade_table
from train.fitting.config import RunConfig
from train.fitting.fit import fit
from train.fitting.metrics import evaluate_predictions, predict
from train.fitting.prepare import Prepared, prepare


@dataclass(frozen=True)
class FoldResult:
    """What one variant scored on one fold's test block (and what it selected on, from validation)."""

    fold: Fold
    variant: str
    metrics: dict[str, Any]  # test metrics and baselines (incl. the base model alone) on the same rows
    trades: dict[str, Any]  # trade table on the test block
    test_p: np.ndarray  # [n_test] direction p_long of the model
    val_p: np.ndarray  # [n_val] direction p_long on the validation block (top-k% cut points)
    test_early_p: np.ndarray  # [n_test] early_move probability
    test_rows: np.ndarray  # [n_test] snapshot row indices
    test_targets: np.ndarray  # [n_test, 3] direction, early_move, quality
    trade_rows: TradeRows  # the test block's rows as the trade table saw them
    train_last_t1: str  # the latest label end of any transformer training sample
    best_epoch: int

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.fold.to_dict(),
            "variant": self.variant,
            "metrics": self.metrics,
            "trades": self.trades,
            "train_last_t1": self.train_last_t1,
            "best_epoch": self.best_epoch,
        }


def snapshot_folds(snapshot: Snapshot, n_folds: int, embargo_bars: int) -> list[Fold]:
    """The rolling-origin folds over the snapshot's UTC day range (docs/evaluate.md)."""
    first, last = (date.fromisoformat(d) for d in snapshot.manifest["date_range"])
    return rolling_folds(first, last, n_folds, embargo_bars)


def fold_config(config: RunConfig, fold: Fold) -> RunConfig:
    """The run configuration of one fold: the same seeds and hyperparameters, the fold's splits."""
    return dataclasses.replace(config, splits=fold.splits)


def prepare_fold(snapshot: Snapshot, config: RunConfig, fold: Fold) -> Prepared:
    prepared = prepare(snapshot, fold_config(config, fold))
    for name, idx in prepared.idx.items():
        if len(idx) == 0:
            raise ValueError(
                f"fold {fold.index}: the {name} block has no samples; use fewer --folds for this snapshot"
            )
    return prepared


def evaluate_fold(
    snapshot: Snapshot,
    config: RunConfig,
    fold: Fold,
    trade_config: TradeConfig | None = None,
    prepared: Prepared | None = None,
) -> FoldResult:
    """Fit ``config.variant`` on the fold's training span and score its test block.

    ``prepared`` (from :func:`prepare_fold`) may be shared by the variants of a fold: the base model,
    channels and normalization do not depend on the variant.
    """
    if "realized_bps" not in (prepared.frame if prepared else snapshot_frame_columns(snapshot)):
        raise ValueError(
            f"snapshot {snapshot.id} has no realized_bps (contract v1): build a contract v2 snapshot "
            "(`fs materialize` and `fs validate` under the newest contract) for the trade table"
        )
    cfg = fold_config(config, fold)
    prepared = prepared or prepare_fold(snapshot, config, fold)
    fitted = fit(prepared.train_tensors, prepared.eval_tensors, prepared.idx, cfg)
    idx = {split: prepared.idx[split] for split in ("val", "test")}
    targets = {split: prepared.eval_tensors.targets[i].numpy() for split, i in idx.items()}
    pred = {split: predict(fitted.model, prepared.eval_tensors, i, cfg.variant) for split, i in idx.items()}

    scored = evaluate_predictions(prepared, {"test": pred["test"]}, cfg.seed)
    metrics = {
        "test": scored["test"],
        "baselines": scored["baselines"]["test"],
        "baseline_fit": scored["baseline_fit"],
        "intervals": scored["intervals"],
    }
    frame = prepared.frame
    test_rows = idx["test"].numpy()
    train_idx = prepared.idx["train"]
    ts = frame["ts"].cast(pl.Datetime("us")).to_numpy()
    t1 = frame["t1"].cast(pl.Datetime("us")).to_numpy()
    realized = frame["realized_bps"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    rows = TradeRows.from_arrays(ts[test_rows], t1[test_rows], pred["test"]["direction"], realized[test_rows])
    trades = trade_table(
        rows, trade_config or TradeConfig(seed=cfg.seed), reference_p=pred["val"]["direction"]
    )
    train_rows = train_idx.numpy()
    return FoldResult(
        fold=fold,
        variant=cfg.variant,
        metrics=metrics,
        trades=trades,
        test_p=pred["test"]["direction"],
        val_p=pred["val"]["direction"],
        test_early_p=pred["test"]["early_move"],
        test_rows=test_rows,
        test_targets=targets["test"],
        trade_rows=rows,
        train_last_t1=str(t1[train_rows].max()) if len(train_rows) else "",
        best_epoch=fitted.best_epoch,
    )


def snapshot_frame_columns(snapshot: Snapshot) -> list[str]:
    """Column names of the snapshot's labels table (to refuse a v1 snapshot before any fitting)."""
    return list(snapshot.table("labels").schema.names)
