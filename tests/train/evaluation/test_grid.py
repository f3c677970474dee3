"""The evaluation grid on Dask: the same numbers as without Dask, failures named and cancelled, Ctrl-C, no
Dask import on the default path (tiny synthetic snapshot, a LocalCluster of 2 worker processes on loopback).
The multi-process tests are slow (worker processes start and import torch): `-m slow`."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from featurestore.store.handle import Store
from tests.conftest import REPO
from tests.train.conftest import TINY
from train.evaluation.evaluate import FoldResult, snapshot_folds
from train.evaluation.grid import run_grid
from train.evaluation.grid_spec import FitSpec, GridEngine, GridTaskFailed, Stage
from train.evaluation.trades import TradeConfig
from train.evaluation.walkforward import evaluate_run_config

TRADES = TradeConfig(random_draws=20)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of 2 single-threaded worker processes on loopback, shared by this module's tests."""
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        yield local


def _specs(root: Path, snap: str, bundles: Path | None, **optim: Any) -> list[FitSpec]:
    config = evaluate_run_config(TINY, {"epochs": 1, "max_train_rows": 400, **optim})
    from featurestore.store.snapshots import open_snapshot

    fold = snapshot_folds(open_snapshot(Store.at(root), snap), 1, config.splits.embargo_bars)[0]
    return [
        FitSpec(root, snap, dataclasses.replace(config, variant=v), fold, (7, 8), "fold 1/1", TRADES, bundles)
        for v in ("v10", "v10_ctx")
    ]


def _numbers(result: FoldResult) -> str:
    """Everything a fold result reports except wall seconds and bundle paths, as canonical JSON."""
    data = result.to_dict()
    for seed in data["seeds"]:
        seed.pop("seconds"), seed.pop("bundle")
    arrays = {"test_p": result.test_p, "val_p": result.val_p, "early": result.test_early_p}
    return json.dumps({**data, **{k: v.tolist() for k, v in arrays.items()}}, sort_keys=True, default=str)


@pytest.mark.slow
def test_the_same_numbers_without_dask_on_one_and_on_two_workers(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str, cluster: Any, tmp_path: Path
) -> None:
    root = snapshot_store[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' threads per fit below: one thread count, one set of numbers
    try:
        here = run_grid(_specs(root, v2_snapshot_id, tmp_path / "here"))
    finally:
        torch.set_num_threads(threads)
    stages: list[Stage] = []
    two = run_grid(
        _specs(root, v2_snapshot_id, tmp_path / "two"),
        GridEngine(scheduler=cluster.scheduler_address, threads_per_worker=1),
        on_stage=stages.append,
    )
    one = run_grid(
        _specs(root, v2_snapshot_id, tmp_path / "one"),
        GridEngine(workers=1, threads_per_worker=1, ship_snapshot=True),
    )
    assert two.engine["workers"] == 2 and one.engine["workers"] == 1
    assert one.engine["data"] == "shipped to the workers" and one.engine["threads_per_worker"] == 1
    for a, b, c in zip(here.results, two.results, one.results, strict=True):
        assert np.array_equal(a.test_p, b.test_p) and np.array_equal(a.test_p, c.test_p)
        assert _numbers(a) == _numbers(b) == _numbers(c)  # tolerance 0: same seeds, same threads
    assert [r.variant for r in two.results] == ["v10", "v10_ctx"]
    assert [s.seed for s in two.results[1].seeds] == [7, 8]

    # each fit's bundle came back from its worker and is whole where the spec asked for it
    for run in (*two.results[0].seeds, *two.results[1].seeds):
        path = Path(run.bundle or "")
        assert path.parent == tmp_path / "two" and (path / "metadata.json").is_file()
        serial = tmp_path / "here" / path.name
        assert sorted(p.relative_to(path) for p in path.rglob("*")) == sorted(
            p.relative_to(serial) for p in serial.rglob("*")
        )

    # progress: parallel stages counting 2 preparations + 4 fits, ending with all done
    assert stages and all(s.parallel and s.total == 6 and s.failed == 0 for s in stages)
    assert stages[-1].done == 6 and [s.done for s in stages] == sorted(s.done for s in stages)
    assert any(s.text.startswith("finished fold 1/1 · v10_ctx · seed") for s in stages)


@pytest.mark.slow
def test_a_failing_fit_is_named_and_the_rest_cancelled(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str, cluster: Any
) -> None:
    from dask.distributed import Client

    root = snapshot_store[0]
    good = _specs(root, v2_snapshot_id, None)[0]
    bad = _specs(root, v2_snapshot_id, None, lr=1e30)[1]  # the weights overflow: a non-finite loss
    stages: list[Stage] = []
    engine = GridEngine(scheduler=cluster.scheduler_address, threads_per_worker=1)
    with pytest.raises(GridTaskFailed) as failed:
        run_grid([good, bad], engine, on_stage=stages.append)
    assert "fold 1/1 · v10_ctx · seed" in str(failed.value) and "TrainingFailed" in str(failed.value)
    assert failed.value.exit_code == 1 and stages[-1].failed == 1
    with Client(cluster.scheduler_address) as client:  # nothing of the grid is left on the cluster
        deadline = time.monotonic() + 30
        while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0


@pytest.mark.slow
def test_a_worker_that_cannot_read_the_snapshot_names_the_path(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str, cluster: Any, tmp_path: Path
) -> None:
    spec = _specs(snapshot_store[0], v2_snapshot_id, None)[0]
    elsewhere = dataclasses.replace(spec, store_root=tmp_path / "not-mounted")
    with pytest.raises(GridTaskFailed) as failed:
        run_grid([elsewhere], GridEngine(scheduler=cluster.scheduler_address))
    message = str(failed.value)
    assert str(tmp_path / "not-mounted" / "snapshots" / v2_snapshot_id) in message
    assert "--ship-snapshot" in message and failed.value.exit_code == 2


def test_the_default_path_never_imports_dask_and_options_are_checked() -> None:
    code = (
        "import sys; import train.app.cli, train.evaluation.walkforward, train.evaluation.grid; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
    with pytest.raises(ValueError, match="give one"):
        GridEngine(workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="--workers N or --scheduler"):
        GridEngine(threads_per_worker=2)
    from typer.testing import CliRunner

    from train.app.cli import app

    both = CliRunner().invoke(app, ["evaluate", "--snapshot", "0" * 20, "--workers", "2", "--scheduler", "x"])
    assert both.exit_code == 2 and "give one" in both.stderr


@pytest.mark.slow
def test_ctrl_c_leaves_no_worker_process_behind(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str
) -> None:
    """`train evaluate --workers 2` as a user runs it; Ctrl-C (SIGINT to its process group, as a terminal
    sends it) while a fit runs on a worker: the command exits and every process it started is gone."""
    import psutil

    args = [sys.executable, "-m", "train.app.cli", "evaluate", "--snapshot", v2_snapshot_id, "--folds", "1"]
    args += ["--variants", "v10", "--epochs", "100", "--patience", "100", "--config", str(TINY)]
    args += ["--store", str(snapshot_store[0]), "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        args,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True).start()
    try:
        deadline = time.monotonic() + 480
        while not any("· v10 · seed 7" in line and "1 running" in line for line in lines):
            assert proc.poll() is None, f"evaluate ended before its fit ran: {lines}"
            assert time.monotonic() < deadline, f"no fit started on a worker within 480 s: {lines}"
            time.sleep(0.2)
        started = psutil.Process(proc.pid).children(recursive=True)
        assert len(started) >= 2  # the two worker processes (and any helper they spawned)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=90) != 0
        _, alive = psutil.wait_procs(started, timeout=30)
        assert alive == [], f"still running after Ctrl-C: {[p.pid for p in alive]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
