"""`train evaluate`: every variant on every rolling-origin fold, then per-fold and pooled figures.

Usage::

    config = evaluate_run_config(None, {"epochs": None})      # evaluate's bounded training defaults
    report = evaluate_snapshot(store, snap_id, config, EvaluateConfig(n_folds=4, variants=("v10", "v10_ctx")))
    report["pooled"]["v10_ctx"]["direction"]["auc"], report["paired_log_loss"]["pooled"]

Pooled figures concatenate the folds' test blocks (disjoint, in time order). Each variant uses the same
seeds on the same folds; the base model, channels and normalization are prepared once per fold and seed and
shared by the variants (they do not depend on the variant); the baselines are the first seed's.
With several seeds a row's p is the mean of the seeds' p (``pooled``); each seed alone is in ``per_seed``.

Writes ``reports/evaluate-<snapshot>-<utc time>/`` under the store: report.json, the PNGs, report.html,
and ``bundles/fold<k>-<variant>-seed<s>`` (one full bundle per fit, replayable with `train replay
--bundle`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from featurestore.api import Store, open_snapshot
from train.evaluation.evaluate import FoldResult, StepCallback, snapshot_folds
from train.evaluation.evaluate_html import evaluate_headline, write_evaluate_html
from train.evaluation.evaluate_plots import write_plots
from train.evaluation.fit_cache import keep_evaluate_fits
from train.evaluation.grid import run_grid
from train.evaluation.grid_spec import FitSpec, GridEngine, GridRun, Stage
from train.evaluation.metric_intervals import reliability_intervals, trade_intervals
from train.evaluation.rule_family import FamilyConfig, rule_family
from train.evaluation.trades import TradeConfig, TradeRows, trade_table
from train.fitting.base_model import GRID_AXES
from train.fitting.config import VARIANTS, RunConfig, load_run_config
from train.fitting.dataset import snapshot_frame
from train.fitting.intervals import AUC_RESAMPLES, binary_intervals, paired_log_loss_interval
from train.fitting.metrics import binary_metrics

logger = logging.getLogger(__name__)

# Evaluate's training bound (docs/evaluate.md): on the real year the validation loss is lowest at epoch 1-3,
# so `train run`'s 30 epochs with patience 7 spend most of a fold's time on epochs that are thrown away.
EVALUATE_OPTIM = {"epochs": 6, "early_stop_patience": 2}
QUICK_OPTIM = {"epochs": 1, "max_train_rows": 3000}
QUICK_FOLDS = 2
QUICK_BASE_TREES = 50


@dataclass(frozen=True)
class EvaluateConfig:
    n_folds: int = 4
    variants: tuple[str, ...] = VARIANTS
    seeds: int = 1  # transformer fits per variant and fold: seeds config.seed, config.seed + 1, ...
    trades: TradeConfig = field(default_factory=TradeConfig)
    family: FamilyConfig = field(default_factory=FamilyConfig)  # SPA / StepM over the entry rules
    keep_bundles: bool = True

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(f"--variants: unknown {unknown or 'none given'}; use {', '.join(VARIANTS)}")
        if self.seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {self.seeds}")


def evaluate_run_config(path: Path | None, overrides: dict[str, Any], *, quick: bool = False) -> RunConfig:
    """The training configuration of `train evaluate`: the file and the CLI's overrides, and below them
    evaluate's bound (``EVALUATE_OPTIM``; with ``quick`` also ``QUICK_OPTIM`` and a 50-tree base model) for
    every key neither sets."""
    in_file: set[str] = set()
    base_in_file: set[str] = set()
    if path is not None and path.is_file():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        in_file, base_in_file = set(data.get("optim", {})), set(data.get("base_model", {}))
    layered = {**EVALUATE_OPTIM, **(QUICK_OPTIM if quick else {})}
    given = {k: v for k, v in overrides.items() if v is not None}
    merged = {k: v for k, v in layered.items() if k not in in_file} | given
    config = load_run_config(path, merged)
    if quick and "n_estimators" not in base_in_file:
        config = dataclasses.replace(
            config, base_model=dataclasses.replace(config.base_model, n_estimators=QUICK_BASE_TREES)
        )
    return config


def _pool(results: list[FoldResult], p: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, TradeRows]:
    p = np.concatenate([r.test_p for r in results]) if p is None else p
    y = np.concatenate([r.test_targets for r in results])
    rows = TradeRows.from_arrays(
        np.concatenate([r.trade_rows.ts for r in results]),
        np.concatenate([r.trade_rows.t1 for r in results]),
        p,
        np.concatenate([r.trade_rows.realized_bps for r in results]),
    )
    return p, y, rows


def evaluate_snapshot(
    store: Store,
    snapshot_id: str,
    config: RunConfig,
    evaluate: EvaluateConfig,
    *,
    engine: GridEngine | None = None,
    on_stage: Callable[[Stage], None] | None = None,
    on_step: StepCallback | None = None,
) -> dict[str, Any]:
    """Run the walk-forward evaluation (on ``engine``: this process by default, or Dask) and write its
    report; returns the report dict."""
    started = time.perf_counter()
    snapshot = open_snapshot(store, snapshot_id, contract=None)
    folds = snapshot_folds(snapshot, evaluate.n_folds, config.splits.embargo_bars)
    seeds = tuple(config.seed + i for i in range(evaluate.seeds))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = store.reports_dir / f"evaluate-{snapshot_id[:8]}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    specs = [
        FitSpec(
            store.root,
            snapshot_id,
            dataclasses.replace(config, variant=variant),
            fold,
            seeds,
            where=f"fold {fold.index + 1}/{len(folds)}",
            trades=evaluate.trades,
            bundle_dir=out / "bundles" if evaluate.keep_bundles else None,
        )
        for fold in folds
        for variant in evaluate.variants
    ]
    grid = run_grid(specs, engine, on_stage=on_stage, on_step=on_step)
    results: dict[str, list[FoldResult]] = {v: [] for v in evaluate.variants}
    frame = snapshot_frame(snapshot)  # its eligible bars go with each kept fit (`train compare` reuses them)
    for spec, result in zip(specs, grid.results, strict=True):
        results[spec.config.variant].append(result)
        keep_evaluate_fits(store, snapshot_id, spec.config, result, frame)
    timing = [_fold_timing(specs, grid, fold.index) for fold in folds]
    pooling_began = time.perf_counter()
    report = {
        "snapshot_id": snapshot_id,
        "folds": [f.to_dict() for f in folds],
        "variants": list(evaluate.variants),
        "seeds": list(seeds),
        "seed_pooling": "a row's p is the mean of the seeds' p (per fold and pooled); per_seed holds each "
        "seed alone",
        "training_bound": _bound(config),
        "per_fold": {v: [r.to_dict() for r in rs] for v, rs in results.items()},
        "pooled": {v: _pooled(rs, evaluate.trades, evaluate.family) for v, rs in results.items()},
        "per_seed": {v: _per_seed(rs, seeds) for v, rs in results.items()},
        "paired_log_loss": _paired(results, seeds),
        "base_model_vs_prior": _base_vs_prior(next(iter(results.values()))),
        "bundles": _bundles(results, snapshot_id),
        "intervals": "95% percentile intervals from a block bootstrap by UTC trading day (1000 resamples; "
        f"AUC {AUC_RESAMPLES}), on each fold's and the pooled test rows",
    }
    report["headline"] = evaluate_headline(report)
    report["plots"] = write_plots(report, out)
    report["seconds"] = {
        "folds": timing,
        "pooling_and_plots": round(time.perf_counter() - pooling_began, 1),
        "grid": round(grid.seconds, 1),
        "tasks": {label: round(seconds, 2) for label, seconds in grid.task_seconds.items()},
        "total": round(time.perf_counter() - started, 1),
    }
    report["engine"] = grid.engine
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    report["report_dir"] = str(out)
    report["report_html"] = str(write_evaluate_html(report, out))
    return report


def _bound(config: RunConfig) -> dict[str, Any]:
    optim = config.optim
    return {
        "max_epochs": optim.epochs,
        "early_stop_patience": optim.early_stop_patience,
        "max_train_rows": optim.max_train_rows,
        "base_model_trees": config.base_model.n_estimators,
        "base_model_blocks": config.base_model.n_folds,
        "base_model_grid": {axis: list(getattr(config.base_model, axis)) for axis in GRID_AXES},
        "base_model_early_stopping_rounds": config.base_model.early_stopping_rounds,
        "base_model_calibration": config.base_model.calibration,
    }


def _fold_timing(specs: list[FitSpec], grid: GridRun, fold: int) -> dict[str, Any]:
    """A fold's preparations and fits in seconds of work (wall seconds only in a serial run)."""
    mine = [(s, r) for s, r in zip(specs, grid.results, strict=True) if s.fold.index == fold]
    labels = {spec.prepare_label(seed) for spec, _ in mine for seed in spec.seeds}
    prepare = sum(grid.task_seconds.get(label, 0.0) for label in labels)
    fits = [fit for _, result in mine for fit in _fit_timing(result)]
    return {
        "fold": fold,
        "prepare_seconds": round(prepare, 1),
        "fits": fits,
        "seconds": round(prepare + sum(f["seconds"] for f in fits), 1),
    }


def _fit_timing(result: FoldResult) -> list[dict[str, Any]]:
    return [
        {
            "variant": result.variant,
            "seed": run.seed,
            "train_samples": result.train_samples,
            "epochs_run": run.epochs_run,
            "best_epoch": run.best_epoch,
            "seconds": round(run.seconds, 1),
            "seconds_per_epoch": round(run.seconds / max(run.epochs_run, 1), 2),
        }
        for run in result.seeds
    ]


def _pooled(per_fold: list[FoldResult], trades: TradeConfig, family: FamilyConfig) -> dict[str, Any]:
    p, y, rows = _pool(per_fold)
    reference = np.concatenate([r.val_p for r in per_fold])  # cut points from validation blocks only
    early = np.concatenate([r.test_early_p for r in per_fold])
    return {
        "direction": binary_metrics(y[:, 0], p),
        "early_move": binary_metrics(y[:, 1], early),
        "intervals": {
            "direction": binary_intervals(y[:, 0], p, rows.ts),
            "early_move": binary_intervals(y[:, 1], early, rows.ts),
        },
        "reliability_direction": reliability_intervals(y[:, 0], p, rows.ts),
        "trades": trade_table(rows, trades, reference_p=reference, intervals=trade_intervals),
        "rule_family": rule_family(rows, reference, trades, family),
    }


def _base_vs_prior(per_fold: list[FoldResult]) -> dict[str, Any]:
    """The base model alone against the class prior, direction, pooled over the folds' test blocks (each
    fold's own base model and prior; the same for every variant). Negative favours the base model."""
    _, y, rows = _pool(per_fold)
    base = np.concatenate([r.test_base_p for r in per_fold])
    prior = np.concatenate([np.full(len(r.test_rows), r.prior) for r in per_fold])
    intervals = binary_intervals(y[:, 0], base, rows.ts)
    return {
        "n": len(y),
        "base_model": {**binary_metrics(y[:, 0], base), "intervals": intervals},
        "prior_log_loss": binary_metrics(y[:, 0], prior)["log_loss"],
        "base_model_minus_prior_log_loss": paired_log_loss_interval(y[:, 0], base, prior, rows.ts),
    }


def _per_seed(per_fold: list[FoldResult], seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    """Each seed's own pooled test metrics (its models alone), with intervals, and its epochs per fold."""
    out = []
    for i, seed in enumerate(seeds):
        p, y, rows = _pool(per_fold, np.concatenate([r.seeds[i].test_p for r in per_fold]))
        early = np.concatenate([r.seeds[i].test_early_p for r in per_fold])
        out.append(
            {
                "seed": seed,
                "direction": binary_metrics(y[:, 0], p),
                "early_move": binary_metrics(y[:, 1], early),
                "intervals": {
                    "direction": binary_intervals(y[:, 0], p, rows.ts),
                    "early_move": binary_intervals(y[:, 1], early, rows.ts),
                },
                "best_epochs": [r.seeds[i].best_epoch for r in per_fold],
            }
        )
    return out


def _bundles(results: dict[str, list[FoldResult]], snapshot_id: str) -> list[dict[str, Any]]:
    return [
        {
            "fold": r.fold.index,
            "variant": variant,
            "seed": run.seed,
            "path": run.bundle,
            "replay": f"train replay --bundle {run.bundle} --snapshot {snapshot_id} "
            f"--date-range {r.fold.splits.test.start}..{r.fold.splits.test.end}",
        }
        for variant, rs in results.items()
        for r in rs
        for run in r.seeds
        if run.bundle
    ]


def _paired(results: dict[str, list[FoldResult]], seeds: tuple[int, ...]) -> dict[str, Any] | None:
    """v10_ctx - v10 direction log loss per fold and pooled (same rows, same seeds); negative favours ctx.

    On the seed-averaged p; ``per_seed`` pairs each seed's v10_ctx with the same seed's v10.
    """
    if not {"v10", "v10_ctx"} <= set(results):
        return None
    per_fold = []
    for plain, ctx in zip(results["v10"], results["v10_ctx"], strict=True):
        if not np.array_equal(plain.test_rows, ctx.test_rows):
            raise AssertionError(f"fold {plain.fold.index}: the variants scored different rows")
        a = ctx.metrics["test"]["direction"]["log_loss"]
        b = plain.metrics["test"]["direction"]["log_loss"]
        interval = paired_log_loss_interval(
            plain.test_targets[:, 0], ctx.test_p, plain.test_p, plain.trade_rows.ts
        )
        per_fold.append(
            {"fold": plain.fold.index, "n": len(plain.test_rows), "difference": a - b, "interval": interval}
        )

    def pooled(p_ctx: np.ndarray, p_plain: np.ndarray) -> dict[str, Any]:
        _, y, rows = _pool(results["v10"])
        diff = binary_metrics(y[:, 0], p_ctx)["log_loss"] - binary_metrics(y[:, 0], p_plain)["log_loss"]
        interval = paired_log_loss_interval(y[:, 0], p_ctx, p_plain, rows.ts)
        return {"n": len(y), "difference": diff, "interval": interval}

    def test_p(variant: str, i: int | None) -> np.ndarray:
        return np.concatenate([r.test_p if i is None else r.seeds[i].test_p for r in results[variant]])

    return {
        "per_fold": per_fold,
        "pooled": pooled(test_p("v10_ctx", None), test_p("v10", None)),
        "per_seed": [
            {"seed": seed, **pooled(test_p("v10_ctx", i), test_p("v10", i))} for i, seed in enumerate(seeds)
        ],
    }
