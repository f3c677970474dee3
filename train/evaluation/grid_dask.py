"""The evaluation grid on Dask distributed: every preparation, fit and combination is a task.

Usage (through :func:`train.evaluation.grid.run_grid`, which imports this module only when asked to)::

    run = run_grid(specs, GridEngine(workers=4))                       # LocalCluster, 4 processes
    run = run_grid(specs, GridEngine(scheduler="tcp://10.0.0.5:8786"))  # an existing cluster

Decisions (docs/grid.md):
- Workers run one task at a time (one Dask thread each); a fit uses ``threads_per_worker`` torch and XGBoost
  threads, by default the host's cores divided by its Dask worker threads.
- Data: by default each worker opens the snapshot at the store's path (a path every worker sees: this
  machine, or a shared filesystem mounted at the same path), verifying its hashes as any reader does. With
  ``ship_snapshot`` the driver sends the snapshot's files once to every worker, which opens a private copy.
- Workers never write into the store: each fit's bundle comes back as bytes and this process writes it.
- The first failed task cancels the rest and raises :class:`GridTaskFailed` naming its fit. A local cluster
  is closed on the way out, also on Ctrl-C, so no worker process outlives the command.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dask.distributed import Client, Future, LocalCluster, get_worker, wait

from featurestore.api import Snapshot, Store, open_snapshot
from train.evaluation.evaluate import (
    FoldResult,
    SeedRun,
    combine_seeds,
    fit_seed,
    fold_config,
    prepare_fold,
)
from train.evaluation.grid_spec import FitSpec, GridEngine, GridRun, GridTaskFailed, Stage, StageCallback
from train.fitting.prepare import Prepared

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
_STEP_ORDER = {"prepare": 0, "fit": 1, "combine": 2}  # task key prefixes, in the order the steps run
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SnapshotSource:
    """Where a worker finds a snapshot: the store's path, or the files the driver shipped."""

    store_root: str
    snapshot_id: str


@dataclass(frozen=True)
class FitOutput:
    """What a fit task returns: the seed's run, the test rows its preparation chose, its bundle's files."""

    run: SeedRun
    test_rows: Any  # np.ndarray
    bundle_files: dict[str, bytes] | None
    prepare_seconds: float
    seconds: float  # the whole fit task


_opened: dict[tuple[str, str], Snapshot] = {}  # per worker process: each snapshot is opened once


def worker_snapshot(source: SnapshotSource, shipped: dict[str, bytes] | None) -> Snapshot:
    """The snapshot in this worker process: opened at the store's path, or from the shipped files."""
    key = (source.store_root, source.snapshot_id)
    if key in _opened:
        return _opened[key]
    if shipped is not None:
        root = Path(tempfile.mkdtemp(prefix="xau-grid-"))
        atexit.register(shutil.rmtree, root, True)
        folder = root / "snapshots" / source.snapshot_id
        folder.mkdir(parents=True)
        for name, body in shipped.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(body)
        store = Store.at(root)
    else:
        store = Store.at(source.store_root)
        path = store.snapshots_dir / source.snapshot_id
        if not (path / MANIFEST).is_file():
            raise FileNotFoundError(
                f"worker on {socket.gethostname()} cannot read snapshot {source.snapshot_id} at {path}: "
                "every worker must see the store at the same path (a shared filesystem), or pass "
                "--ship-snapshot to send the snapshot's files to the workers"
            )
    _opened[key] = open_snapshot(store, source.snapshot_id, contract=None)  # hashes verified here too
    return _opened[key]


def _threads(threads: dict[str, int], fixed: int | None) -> int:
    """This fit's torch and XGBoost threads; torch's are set for the worker process."""
    import torch

    n = fixed or threads.get(get_worker().address) or 1
    torch.set_num_threads(n)
    return n


def _with_jobs(config: Any, n: int) -> Any:
    return dataclasses.replace(config, base_model=dataclasses.replace(config.base_model, n_jobs=n))


def prepare_task(
    source: SnapshotSource,
    shipped: dict[str, bytes] | None,
    spec: FitSpec,
    seed: int,
    threads: dict,
    fixed: int | None,
) -> tuple[Prepared, float]:
    n = _threads(threads, fixed)
    snapshot = worker_snapshot(source, shipped)
    began = time.perf_counter()
    prepared = prepare_fold(snapshot, _with_jobs(dataclasses.replace(spec.config, seed=seed), n), spec.fold)
    return prepared, time.perf_counter() - began


def fit_task(
    source: SnapshotSource,
    shipped: dict[str, bytes] | None,
    prepared: tuple[Prepared, float],
    spec: FitSpec,
    seed: int,
    threads: dict,
    fixed: int | None,
) -> FitOutput:
    began = time.perf_counter()
    n = _threads(threads, fixed)
    snapshot = worker_snapshot(source, shipped)
    cfg = _with_jobs(dataclasses.replace(fold_config(spec.config, spec.fold), seed=seed), n)
    files = None
    if spec.bundle_dir is None:
        run = fit_seed(snapshot, prepared[0], spec.fold, cfg, None, None)
    else:
        with tempfile.TemporaryDirectory(prefix="xau-grid-bundle-") as tmp:
            run = fit_seed(snapshot, prepared[0], spec.fold, cfg, Path(tmp), None)
            bundle = Path(run.bundle or "")
            files = {str(p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    test_rows = prepared[0].idx["test"].numpy()
    return FitOutput(run, test_rows, files, prepared[1], time.perf_counter() - began)


def combine_task(first: tuple[Prepared, float], spec: FitSpec, outputs: list[FitOutput]) -> FoldResult:
    runs = [o.run for o in outputs]
    cfg = fold_config(spec.config, spec.fold)
    return combine_seeds(first[0], spec.fold, cfg, runs, [o.test_rows for o in outputs], spec.trades)


def _executing(dask_worker: Any) -> list[str]:
    """Keys this worker is executing now (run on each worker by the progress poll)."""
    return [str(key) for key, ts in dask_worker.state.tasks.items() if ts.state == "executing"]


@contextmanager
def _client(engine: GridEngine) -> Iterator[tuple[Client, dict[str, Any]]]:
    """A client of a new LocalCluster (closed on the way out, Ctrl-C included) or of the given scheduler."""
    if engine.workers is not None:
        cluster = LocalCluster(
            n_workers=engine.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        try:
            with Client(cluster) as client:
                client.wait_for_workers(engine.workers, timeout=120)
                yield client, {"kind": "dask LocalCluster", "workers": engine.workers}
        finally:
            cluster.close(timeout=30)
    else:
        with Client(engine.scheduler, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
            yield client, {"kind": "dask cluster", "scheduler": engine.scheduler}


def _threads_by_worker(client: Client) -> dict[str, int]:
    """Per worker: its host's cores divided by the Dask worker threads on that host."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(os.cpu_count)
    slots: dict[str, int] = {}
    for info in workers.values():
        slots[info["host"]] = slots.get(info["host"], 0) + info["nthreads"]
    return {
        addr: max(1, (cores.get(addr) or 1) // max(slots[info["host"]], 1)) for addr, info in workers.items()
    }


def run_on_dask(specs: list[FitSpec], engine: GridEngine, on_stage: StageCallback | None) -> GridRun:
    started = time.perf_counter()
    with _client(engine) as (client, where):
        threads = _threads_by_worker(client)
        described = engine.threads_per_worker or sorted(set(threads.values()))
        data = "shipped to the workers" if engine.ship_snapshot else "read at the store's path"
        where |= {"threads_per_worker": described, "data": data, "workers": len(threads)}
        graph = _submit(client, specs, engine, threads)
        outputs = _follow(client, graph, on_stage, started)
    results = []
    for i, spec in enumerate(specs):
        fits = [outputs[key] for key in graph.fits[i]]
        results.append(_with_bundles(spec, outputs[graph.combines[i]], fits))
    seconds = {graph.labels[key]: outputs[fit].prepare_seconds for key, fit in graph.first_fit.items()}
    seconds |= {graph.labels[key]: outputs[key].seconds for keys in graph.fits for key in keys}
    return GridRun(results, seconds, where, time.perf_counter() - started)


@dataclass
class _Graph:
    """The submitted tasks by key. Only ``futures`` holds them, and only until :func:`_follow` takes them,
    so a preparation is released on its worker once its fits and combination are done."""

    futures: list[Future]
    labels: dict[str, str]  # task key -> progress label
    counted: set[str]  # preparations and fits (the steps the progress counts)
    fits: list[list[str]]  # per spec
    combines: list[str]  # per spec
    first_fit: dict[str, str]  # preparation key -> the key of one fit that used it (carries its seconds)


def _submit(client: Client, specs: list[FitSpec], engine: GridEngine, threads: dict[str, int]) -> _Graph:
    fixed = engine.threads_per_worker
    shipped: dict[tuple[str, str], Any] = {}
    prepared: dict[str, Future] = {}
    graph = _Graph([], {}, set(), [], [], {})
    run_id = uuid.uuid4().hex[:8]

    def add(future: Future, label: str, counted: bool) -> str:
        graph.futures.append(future)
        graph.labels[future.key] = label
        if counted:
            graph.counted.add(future.key)
        return future.key

    for i, spec in enumerate(specs):
        source = SnapshotSource(str(Path(spec.store_root).resolve()), spec.snapshot_id)
        where = (source.store_root, source.snapshot_id)
        if engine.ship_snapshot and where not in shipped:
            folder = Store.at(spec.store_root).snapshots_dir / spec.snapshot_id
            # every file, its definition/ copy of the contract included (paths relative to the snapshot)
            paths = sorted(p for p in folder.rglob("*") if p.is_file())
            files = {str(p.relative_to(folder)): p.read_bytes() for p in paths}
            shipped[where] = client.scatter([files], broadcast=True, hash=False)[0]
        data = shipped.get(where)
        fits = []
        for seed in spec.seeds:
            prep_key = spec.prepare_key(seed)
            new = prep_key not in prepared
            if new:
                name = f"prepare-{run_id}-{len(prepared)}"
                prepared[prep_key] = client.submit(
                    prepare_task, source, data, spec, seed, threads, fixed, key=name, pure=False
                )
                add(prepared[prep_key], spec.prepare_label(seed), True)
            fit = client.submit(
                fit_task,
                source,
                data,
                prepared[prep_key],
                spec,
                seed,
                threads,
                fixed,
                key=f"fit-{run_id}-{i}-{seed}",
                pure=False,
            )
            fits.append(fit)
            key = add(fit, spec.fit_label(seed), True)
            if new:
                graph.first_fit[prepared[prep_key].key] = key
        graph.fits.append([f.key for f in fits])
        first = prepared[spec.prepare_key(spec.seeds[0])]
        combine = client.submit(combine_task, first, spec, fits, key=f"combine-{run_id}-{i}", pure=False)
        graph.combines.append(add(combine, spec.combine_label(), False))
    return graph


def _follow(client: Client, graph: _Graph, on_stage: StageCallback | None, started: float) -> dict[str, Any]:
    """Wait for every task, reporting done / running / failed; the first failure, or Ctrl-C, cancels the
    rest. Returns the results of the fits and combinations (a preparation never comes to this process)."""
    pending = set(graph.futures)
    graph.futures.clear()
    total = len(graph.counted)
    outputs: dict[str, Any] = {}
    done, shown = 0, None
    try:
        while pending:
            try:
                finished, _ = wait(list(pending), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:
                finished = set()
            event = None
            erred = [f for f in (*finished, *pending) if f.status in ("error", "cancelled", "lost")]
            if erred:  # the first step that failed: a failed fit also fails its combination
                culprit = min(erred, key=lambda f: _STEP_ORDER[f.key.split("-")[0]])
                label = graph.labels[culprit.key]
                cause = culprit.exception() if culprit.status == "error" else RuntimeError(culprit.status)
                if on_stage is not None:
                    on_stage(Stage(done, total, f"failed: {label}", (), 1, True))
                raise GridTaskFailed(label, cause) from cause
            for future in finished:
                pending.discard(future)
                label = graph.labels[future.key]
                if not future.key.startswith("prepare-"):
                    outputs[future.key] = future.result()
                if future.key in graph.counted:
                    done += 1
                    event = f"finished {label}"
            running = _running(client, graph.labels)
            if on_stage is not None and (event or running != shown):
                began = sorted(set(running) - set(shown or ()))
                text = event or (f"started {began[0]}" if began else "waiting")
                on_stage(Stage(done, total, text, running, 0, True))
            shown = running
    except BaseException:
        with contextlib.suppress(Exception):  # the cluster may be closing already (Ctrl-C)
            client.cancel(list(pending), force=True)
        raise
    logger.debug("grid of %d steps finished in %.1f s", total, time.perf_counter() - started)
    return outputs


def _running(client: Client, labels: dict[str, str]) -> tuple[str, ...]:
    try:
        executing = client.run(_executing)
    except (OSError, TimeoutError):  # a worker leaving: the next poll asks again
        return ()
    return tuple(sorted(labels[k] for keys in executing.values() for k in keys if k in labels))


def _with_bundles(spec: FitSpec, result: FoldResult, outputs: list[FitOutput]) -> FoldResult:
    """Write each fit's bundle where the spec asks, and point its SeedRun at it."""
    if spec.bundle_dir is None:
        return result
    runs = []
    for run, output in zip(result.seeds, outputs, strict=True):
        path = spec.bundle_dir / Path(run.bundle or "").name
        for name, body in (output.bundle_files or {}).items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(body)
        runs.append(dataclasses.replace(run, bundle=str(path)))
    return dataclasses.replace(result, seeds=tuple(runs))
