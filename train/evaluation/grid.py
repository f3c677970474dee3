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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from featurestore.api import Snapshot, Store, open_snapshot
from train.evaluation.evaluate import (
    StepCallback,
    combine_seeds,
    fit_seed,
    fold_config,
    prepare_fold,
)
from train.evaluation.grid_spec import (
    FitSpec,
    GridEngine,
    GridRun,
    Stage,
    StageCallback,
    stage_total,
)


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
