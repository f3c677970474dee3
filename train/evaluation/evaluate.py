"""Walk-forward evaluation of one fold: the trainer's own prepare and fit on the fold's SplitConfig.

Usage::

    folds = snapshot_folds(snapshot, n_folds=4, embargo_bars=config.splits.embargo_bars)
    prepared = {s: prepare_fold(snapshot, dataclasses.replace(config, seed=s), folds[0]) for s in (7, 8)}
    result = evaluate_fold(snapshot, config, folds[0], prepared=prepared, seeds=(7, 8))
    result.metrics["test"]["direction"]["auc"], result.trades["table"], result.seeds[0].bundle

Everything that is fitted (the base model and its out-of-fold channels, normalization, the transformer,
the baselines of `train.fitting.metrics`) is fitted and scored by the same code as ``train run``
(`evaluate_predictions`), given the fold's split configuration, so it sees only the fold's (purged) training
span; the validation block chooses the early-stopping epoch, the logistic baseline's C and the top-k% cut
points; metrics and trades are computed on the test block only.

Seeds: a seed is a whole run's seed (`train run --seed`: the transformer's initialization and batch order and
the base model's subsampling), so each seed has its own preparation of the fold, shared by the variants. The
baselines (class prior, logistic, the base model alone) are the first seed's. The fold's figures use the mean
of the seeds' probabilities per row; each seed's own test metrics are kept in :class:`SeedRun`.

With a ``bundle_dir`` each seed's model is saved there as a full bundle (`train replay --bundle` replays
it; its test-block p_long is that seed's ``test_p``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from featurestore.api import Snapshot
from train.evaluation.context_evidence import VerdictConfig, model_context_usage
from train.evaluation.folds import Fold, rolling_folds
from train.evaluation.trades import TradeConfig, TradeRows, trade_table
from train.fitting.base_model import predict as base_predict
from train.fitting.config import RunConfig
from train.fitting.fit import fit
from train.fitting.metrics import evaluate_predictions, predict
from train.fitting.prepare import Prepared, prepare
from train.fitting.run import save_run_bundle

StepCallback = Callable[[int, int, int], None]  # (epoch, step, steps per epoch)


@dataclass(frozen=True)
class SeedRun:
    """One seed's fit on one fold: its own test metrics, how long it trained, and its bundle."""

    seed: int
    test_p: np.ndarray  # [n_test] direction p_long
    test_early_p: np.ndarray
    test_quality: np.ndarray
    val_p: np.ndarray
    metrics: dict[str, Any]  # test split metrics of this seed alone
    evaluation: dict[str, Any]  # `evaluate_predictions` of this seed (val and test, with the baselines)
    context: dict[str, Any]  # reliance on context on the test block (`context_evidence`), compact
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    seconds: float
    bundle: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "test": {head: self.metrics[head] for head in ("direction", "early_move")},
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "stopped_early": self.stopped_early,
            "seconds": round(self.seconds, 1),
            "bundle": self.bundle,
            "context_usage": self.context,
        }


@dataclass(frozen=True)
class FoldResult:
    """What one variant scored on one fold's test block (seed-averaged p), and what it selected on."""

    fold: Fold
    variant: str
    metrics: dict[str, Any]  # test metrics, per-fold intervals, baselines on the same rows, the base model
    trades: dict[str, Any]  # trade table on the test block
    test_p: np.ndarray  # [n_test] direction p_long, mean over the seeds
    val_p: np.ndarray  # [n_val] direction p_long on the validation block (top-k% cut points)
    test_early_p: np.ndarray  # [n_test] early_move probability, mean over the seeds
    test_rows: np.ndarray  # [n_test] snapshot row indices
    test_targets: np.ndarray  # [n_test, 3] direction, early_move, quality
    trade_rows: TradeRows  # the test block's rows as the trade table saw them
    train_last_t1: str  # the latest label end of any transformer training sample
    train_samples: int
    seeds: tuple[SeedRun, ...]
    test_base_p: np.ndarray  # [n_test] the base model alone (first seed's, calibrated) on the test block
    prior: float  # the class prior of direction (the training samples' positive rate)

    @property
    def best_epoch(self) -> int:
        return self.seeds[0].best_epoch

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.fold.to_dict(),
            "variant": self.variant,
            "metrics": self.metrics,
            "trades": self.trades,
            "train_last_t1": self.train_last_t1,
            "train_samples": self.train_samples,
            "best_epoch": self.best_epoch,
            "seeds": [s.to_dict() for s in self.seeds],
        }


def snapshot_folds(snapshot: Snapshot, n_folds: int, embargo_bars: int) -> list[Fold]:
    """The rolling-origin folds over the snapshot's UTC day range (docs/evaluate.md)."""
    first, last = (date.fromisoformat(d) for d in snapshot.manifest["date_range"])
    return rolling_folds(first, last, n_folds, embargo_bars)


def fold_config(config: RunConfig, fold: Fold) -> RunConfig:
    """The run configuration of one fold: the same seeds and hyperparameters, the fold's splits."""
    return dataclasses.replace(config, splits=fold.splits)


def prepare_fold(
    snapshot: Snapshot, config: RunConfig, fold: Fold, *, need_realized: bool = True
) -> Prepared:
    if need_realized and "realized_bps" not in snapshot_frame_columns(snapshot):
        raise ValueError(
            f"snapshot {snapshot.id} has no realized_bps (contract v1): build a contract v2 snapshot "
            "(`fs materialize` and `fs validate` under the newest contract) for the trade table"
        )
    prepared = prepare(snapshot, fold_config(config, fold))
    for name, idx in prepared.idx.items():
        if len(idx) == 0:
            raise ValueError(
                f"fold {fold.index}: the {name} block has no samples; use fewer --folds for this snapshot"
            )
    return prepared


def bundle_name(fold: Fold, variant: str, seed: int) -> str:
    return f"fold{fold.index}-{variant}-seed{seed}"


def evaluate_fold(
    snapshot: Snapshot,
    config: RunConfig,
    fold: Fold,
    trade_config: TradeConfig | None = None,
    prepared: Mapping[int, Prepared] | None = None,
    *,
    seeds: Sequence[int] | None = None,
    bundle_dir: Path | None = None,
    on_seed: Callable[[int], None] | None = None,
    on_step: StepCallback | None = None,
) -> FoldResult:
    """Fit ``config.variant`` once per seed on the fold's training span and score its test block.

    ``prepared`` maps each seed to its :func:`prepare_fold` (shared by the variants; prepared here when
    missing). ``seeds`` default to ``(config.seed,)``; ``on_seed(seed)`` is called before each seed's fit.
    The baselines are the first seed's preparation's (its training span, its base model).
    """
    cfg = fold_config(config, fold)
    seeds = tuple(seeds or (cfg.seed,))
    by_seed = dict(prepared or {})
    for seed in seeds:
        if seed not in by_seed:
            by_seed[seed] = prepare_fold(snapshot, dataclasses.replace(config, seed=seed), fold)
    runs = []
    for seed in seeds:
        if on_seed is not None:
            on_seed(seed)
        seed_config = dataclasses.replace(cfg, seed=seed)
        runs.append(fit_seed(snapshot, by_seed[seed], fold, seed_config, bundle_dir, on_step))
    test_rows = [by_seed[seed].idx["test"].numpy() for seed in seeds]
    return combine_seeds(by_seed[seeds[0]], fold, cfg, runs, test_rows, trade_config)


def combine_seeds(
    first: Prepared,
    fold: Fold,
    cfg: RunConfig,
    runs: Sequence[SeedRun],
    test_rows_by_seed: Sequence[np.ndarray],
    trade_config: TradeConfig | None = None,
) -> FoldResult:
    """One variant's fold result from its seeds' fits: the mean p per row, scored beside the baselines of
    the first seed's preparation ``first``; ``test_rows_by_seed`` are the test rows each seed's preparation
    chose (they must agree)."""
    seeds = [run.seed for run in runs]
    idx = {split: first.idx[split] for split in ("val", "test")}
    targets = {split: first.eval_tensors.targets[i].numpy() for split, i in idx.items()}
    for seed, rows in zip(seeds, test_rows_by_seed, strict=True):
        if not np.array_equal(rows, idx["test"].numpy()):
            raise AssertionError(
                f"fold {fold.index}: seed {seed} prepared other test rows than seed {seeds[0]}"
            )
    mean = {
        "direction": np.mean([r.test_p for r in runs], axis=0),
        "early_move": np.mean([r.test_early_p for r in runs], axis=0),
        "quality": np.mean([r.test_quality for r in runs], axis=0),
    }
    val_p = np.mean([r.val_p for r in runs], axis=0)
    frame = first.frame
    test_rows = idx["test"].numpy()
    ts = frame["ts"].cast(pl.Datetime("us")).to_numpy()
    t1 = frame["t1"].cast(pl.Datetime("us")).to_numpy()
    y = targets["test"]
    # one seed: its own evaluation; several: the mean p over seeds, scored the same way
    scored = runs[0].evaluation if len(runs) == 1 else evaluate_predictions(first, {"test": mean}, seeds[0])
    metrics = fold_metrics(scored)
    realized = frame["realized_bps"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    rows = TradeRows.from_arrays(ts[test_rows], t1[test_rows], mean["direction"], realized[test_rows])
    trades = trade_table(rows, trade_config or TradeConfig(seed=cfg.seed), reference_p=val_p)
    train_rows = first.idx["train"].numpy()
    snap_names = list(first.inputs.snap_features)  # the snapshot contract's inputs, in declared order
    raw = frame.select(snap_names).to_numpy().astype(np.float64)
    return FoldResult(
        fold=fold,
        variant=cfg.variant,
        metrics=metrics,
        trades=trades,
        test_p=mean["direction"],
        val_p=val_p,
        test_early_p=mean["early_move"],
        test_rows=test_rows,
        test_targets=y,
        trade_rows=rows,
        train_last_t1=str(t1[train_rows].max()) if len(train_rows) else "",
        train_samples=len(train_rows),
        seeds=tuple(runs),
        test_base_p=base_predict(first.base_model, raw[test_rows], feature_names=snap_names),
        prior=float(scored["baseline_fit"]["prior"]["positive_rate"]["direction"]),
    )


def fit_fold_seed(snapshot: Snapshot, config: RunConfig, fold: Fold) -> tuple[Prepared, SeedRun]:
    """One fit of ``config.variant`` with ``config.seed`` on the fold (no bundle): its preparation and run.

    `train compare` fits through this; a snapshot without realized_bps (contract v1) is fitted too.
    """
    prepared = prepare_fold(snapshot, config, fold, need_realized=False)
    return prepared, fit_seed(snapshot, prepared, fold, fold_config(config, fold), None, None)


def fit_seed(
    snapshot: Snapshot,
    prepared: Prepared,
    fold: Fold,
    cfg: RunConfig,
    bundle_dir: Path | None,
    on_step: StepCallback | None,
) -> SeedRun:
    cfg = prepared.inputs.configure(cfg)  # the model's widths follow the snapshot's contract
    began = time.perf_counter()
    fitted = fit(prepared.train_tensors, prepared.eval_tensors, prepared.idx, cfg, on_step=on_step)
    seconds = time.perf_counter() - began
    pred = {
        split: predict(fitted.model, prepared.eval_tensors, prepared.idx[split], cfg.variant)
        for split in ("val", "test")
    }
    scored = evaluate_predictions(prepared, pred, cfg.seed)
    test_rows = prepared.idx["test"].numpy()
    ts = prepared.frame["ts"].cast(pl.Datetime("us")).to_numpy()[test_rows]
    usage = model_context_usage(
        fitted.model, cfg.variant, prepared.eval_tensors, test_rows, ts, VerdictConfig(seed=cfg.seed)
    )
    bundle = None
    if bundle_dir is not None:
        metrics = {  # what `train run` stores, so `train inspect` and replay read it alike
            **scored,
            "best_epoch": fitted.best_epoch,
            "best_val_loss": fitted.best_val_loss,
            "stopped_early": fitted.stopped_early,
        }
        path = bundle_dir / bundle_name(fold, cfg.variant, cfg.seed)
        bundle = str(save_run_bundle(path, snapshot, prepared, fitted, metrics, cfg))
    return SeedRun(
        seed=cfg.seed,
        test_p=pred["test"]["direction"],
        test_early_p=pred["test"]["early_move"],
        test_quality=pred["test"]["quality"],
        val_p=pred["val"]["direction"],
        metrics=scored["test"],
        evaluation=scored,
        context=compact_usage(usage),
        best_epoch=fitted.best_epoch,
        epochs_run=len(fitted.history),
        stopped_early=fitted.stopped_early,
        seconds=seconds,
        bundle=bundle,
    )


def compact_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """What a fold's report keeps of `context_usage`: the verdict with its reason, and per context group the
    sensitivity and the direction / early_move reliance with their intervals."""
    return {
        "verdict": usage["verdict"],
        "reason": usage["reason"],
        "skill": usage["skill"],
        "sensitivity": {g: v["mean_abs_delta"] for g, v in usage["sensitivity"].items()},
        "reliance": usage["reliance"],
        "noise_floor": usage["noise_floor"]["p95_abs_delta"],
    }


def fold_metrics(scored: dict[str, Any]) -> dict[str, Any]:
    """The test-block figures of one fold from `evaluate_predictions`: the model (with its intervals), the
    baselines per head (class prior, logistic; the base model alone for direction) and their intervals."""
    test, base = scored["test"], scored["baselines"]["test"]
    heads = ("direction", "early_move")
    return {
        "test": test,
        "intervals": {head: test[head]["intervals"] for head in heads},
        "baselines": base,
        "baseline_intervals": {
            name: {head: base[head][name]["intervals"] for head in heads if name in base[head]}
            for name in ("prior", "logistic", "base_model")
        },
        "baseline_fit": scored["baseline_fit"],
    }


def snapshot_frame_columns(snapshot: Snapshot) -> list[str]:
    """Column names of the snapshot's labels table (to refuse a v1 snapshot before any fitting)."""
    return list(snapshot.table("labels").schema.names)
