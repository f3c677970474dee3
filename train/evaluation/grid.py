"""The evaluation grid runner: many fits (snapshot x fold x variant x seed), in this process or as Dask tasks.

Usage::

    specs = [
        FitSpec(store.root, snap_id, replace(config, variant=v), fold, seeds=(7, 8), where=f"fold {k}/4")
        for k, fold in enumerate(folds, start=1) for v in ("v10", "v10_ctx")
    ]
    run = run_grid(specs)                          # this process, no Dask imported
    run = run_grid(specs, GridEngine(workers=2))   # a LocalCluster of 2 worker processes
    run.results[i]                                 # the FoldResult of specs[i]; the same numbers either way

A spec is one variant on one fold of one snapshot, with its seeds. Its work is three kinds of step: a
*preparation* per snapshot, fold and seed (the base model, its out-of-fold channels, normalization and the
tensors; shared by every spec that needs the same one, whatever its variant), a *fit* per seed (the
transformer, its predictions, the baselines, the context evidence, the bundle) and a *combination* of the
seeds (their mean p scored beside the baselines, the trade table) into the spec's
:class:`~train.evaluation.evaluate.FoldResult`. Every step is the code `train evaluate` always ran
(`prepare_fold`, `fit_seed`, `combine_seeds`); the engine only decides where it runs (docs/grid.md).

Without Dask the steps run in spec order, each preparation just before the first fit that needs it and
dropped after the last (the stages the progress display shows). With Dask (`train.evaluation.grid_dask`,
imported only then) each step is a task; the results come back to this process in spec order.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from featurestore.api import Snapshot, Store, open_snapshot
from featurestore.errors import FeatureStoreError
from train.evaluation.evaluate import (
    FoldResult,
    StepCallback,
    combine_seeds,
    fit_seed,
    fold_config,
    prepare_fold,
)
from train.evaluation.folds import Fold
from train.evaluation.trades import TradeConfig
from train.fitting.config import VARIANTS, RunConfig


@dataclass(frozen=True)
class Stage:
    """Progress of a grid: step ``done + 1`` of ``total`` begins (in this process), or, with Dask
    (``parallel``), ``done`` of ``total`` steps are finished, ``running`` are executing, ``failed`` failed."""

    done: int
    total: int
    text: str
    running: tuple[str, ...] = ()
    failed: int = 0
    parallel: bool = False


StageCallback = Callable[[Stage], None]


@dataclass(frozen=True)
class FitSpec:
    """One variant (``config.variant``) on one fold of one snapshot, fitted once per seed.

    ``where`` names the fold in progress lines and errors ("fold 2/4"; a comparison may write
    "v2 · fold 2/4"). With ``bundle_dir`` each seed's model is saved there as a full bundle.
    """

    store_root: Path
    snapshot_id: str
    config: RunConfig
    fold: Fold
    seeds: tuple[int, ...]
    where: str
    trades: TradeConfig = field(default_factory=TradeConfig)
    bundle_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError(f"{self.where}: a fit spec needs at least one seed")

    def prepare_key(self, seed: int) -> str:
        """The same key for every spec that needs the same preparation (the variant plays no part in it)."""
        shared = dataclasses.replace(self.config, variant=VARIANTS[0], seed=seed)
        return f"{Path(self.store_root).resolve()}|{self.snapshot_id}|{self.fold!r}|{shared!r}"

    def prepare_label(self, seed: int) -> str:
        return f"{self.where}: base model and inputs (seed {seed})"

    def fit_label(self, seed: int) -> str:
        return f"{self.where} · {self.config.variant} · seed {seed}"

    def combine_label(self) -> str:
        return f"{self.where} · {self.config.variant}: seeds combined"


@dataclass(frozen=True)
class GridEngine:
    """Where the grid runs: this process (the default), a LocalCluster of ``workers`` processes, or the
    Dask cluster at ``scheduler``. ``threads_per_worker``: torch and XGBoost threads of each fit (default:
    the host's cores / its Dask worker threads). ``ship_snapshot``: send the snapshot's files to the
    workers instead of their reading it at the store's path."""

    workers: int | None = None
    scheduler: str | None = None
    threads_per_worker: int | None = None
    ship_snapshot: bool = False

    def __post_init__(self) -> None:
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("--workers starts a local cluster, --scheduler uses an existing one: give one")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")
        if self.threads_per_worker is not None and self.threads_per_worker < 1:
            raise ValueError(f"--threads-per-worker must be at least 1, got {self.threads_per_worker}")
        if not self.uses_dask and (self.threads_per_worker is not None or self.ship_snapshot):
            raise ValueError(
                "--threads-per-worker and --ship-snapshot apply to Dask workers: add --workers N or "
                "--scheduler ADDRESS"
            )

    @property
    def uses_dask(self) -> bool:
        return self.workers is not None or self.scheduler is not None


class GridTaskFailed(FeatureStoreError):
    """A step of the grid failed on a Dask worker; the message names the fit. The exit code is the one
    the same error has without Dask (2 for a bad option or input, the error's own code, else 1)."""

    def __init__(self, label: str, cause: BaseException) -> None:
        super().__init__(f"{label} failed ({type(cause).__name__}): {cause}; the other tasks were cancelled")
        self.label = label
        if isinstance(cause, FeatureStoreError):
            self.exit_code = cause.exit_code
        elif isinstance(cause, ValueError | OSError):
            self.exit_code = 2


@dataclass(frozen=True)
class GridRun:
    """What :func:`run_grid` returns: each spec's result (in spec order), the wall seconds of each
    preparation and fit (by its progress label: prediction, scoring, context evidence and bundle included),
    and where it ran (``engine``, for the report and the summary)."""

    results: list[FoldResult]
    task_seconds: dict[str, float]
    engine: dict[str, Any]
    seconds: float


def stage_total(specs: Sequence[FitSpec]) -> int:
    """Preparations (distinct) plus fits: the steps the progress counts."""
    preparations = {spec.prepare_key(s) for spec in specs for s in spec.seeds}
    return len(preparations) + sum(len(spec.seeds) for spec in specs)


def run_grid(
    specs: Sequence[FitSpec],
    engine: GridEngine | None = None,
    *,
    on_stage: StageCallback | None = None,
    on_step: StepCallback | None = None,
) -> GridRun:
    """Run every spec's preparations, fits and combination; results in spec order.

    ``on_step`` (epoch progress) is called only without Dask. Raises what a step raises without Dask, and
    :class:`GridTaskFailed` (naming the fit) with it, after cancelling the other tasks.
    """
    engine = engine or GridEngine()
    if engine.uses_dask:
        from train.evaluation.grid_dask import run_on_dask  # Dask is imported on this path only

        return run_on_dask(list(specs), engine, on_stage)
    return _run_here(list(specs), on_stage, on_step)


def _run_here(specs: list[FitSpec], on_stage: StageCallback | None, on_step: StepCallback | None) -> GridRun:
    started = time.perf_counter()
    total, done = stage_total(specs), 0

    def begin(text: str) -> None:
        nonlocal done
        if on_stage is not None:
            on_stage(Stage(done, total, text))
        done += 1

    uses = Counter(spec.prepare_key(s) for spec in specs for s in spec.seeds)
    prepared: dict[str, Any] = {}
    snapshots: dict[tuple[Path, str], Snapshot] = {}
    seconds: dict[str, float] = {}
    results = []
    for spec in specs:
        where = (Path(spec.store_root), spec.snapshot_id)
        if where not in snapshots:
            snapshots[where] = open_snapshot(Store.at(spec.store_root), spec.snapshot_id, contract=None)
        snapshot = snapshots[where]
        for seed in spec.seeds:
            key = spec.prepare_key(seed)
            if key not in prepared:
                begin(spec.prepare_label(seed))
                began = time.perf_counter()
                prepared[key] = prepare_fold(snapshot, dataclasses.replace(spec.config, seed=seed), spec.fold)
                seconds[spec.prepare_label(seed)] = time.perf_counter() - began
        cfg = fold_config(spec.config, spec.fold)
        runs = []
        for seed in spec.seeds:
            begin(spec.fit_label(seed))
            began = time.perf_counter()
            ready = prepared[spec.prepare_key(seed)]
            seed_cfg = dataclasses.replace(cfg, seed=seed)
            runs.append(fit_seed(snapshot, ready, spec.fold, seed_cfg, spec.bundle_dir, on_step))
            seconds[spec.fit_label(seed)] = time.perf_counter() - began
        first = prepared[spec.prepare_key(spec.seeds[0])]
        test_rows = [prepared[spec.prepare_key(seed)].idx["test"].numpy() for seed in spec.seeds]
        result = combine_seeds(first, spec.fold, cfg, runs, test_rows, spec.trades)
        results.append(result)
        for seed in spec.seeds:  # a preparation is dropped after the last fit that needs it
            key = spec.prepare_key(seed)
            uses[key] -= 1
            if uses[key] == 0:
                del prepared[key]
    jobs = "/".join(str(n) for n in sorted({spec.config.base_model.n_jobs for spec in specs}))
    engine = {
        "kind": "this process",
        "threads": f"torch {torch.get_num_threads()} threads, XGBoost n_jobs {jobs}",
    }
    return GridRun(results, seconds, engine, time.perf_counter() - started)
