"""The options that say where an evaluation grid runs (`train evaluate`; `train compare` takes the same).

Usage in a command::

    def evaluate(..., workers: WorkersOpt = None, scheduler: SchedulerOpt = None,
                 threads_per_worker: ThreadsPerWorkerOpt = None, ship_snapshot: ShipSnapshotOpt = False):
        engine = grid_engine(workers, scheduler, threads_per_worker, ship_snapshot)

Without `--workers` and `--scheduler` the grid runs in this process and Dask is never imported
(docs/grid.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from train.evaluation.grid_spec import GridEngine

WorkersOpt = Annotated[
    int | None, typer.Option(help="Run the fits on a local Dask cluster of N worker processes.")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(help="Run the fits on an existing Dask cluster, e.g. tcp://host:8786 (README: Dask)."),
]
ThreadsPerWorkerOpt = Annotated[
    int | None,
    typer.Option(help="torch and XGBoost threads per fit on Dask (default: cores / workers on each host)."),
]
ShipSnapshotOpt = Annotated[
    bool,
    typer.Option(
        "--ship-snapshot", help="Send the snapshot's files to the Dask workers (they cannot see the store)."
    ),
]


def grid_engine(
    workers: int | None, scheduler: str | None, threads_per_worker: int | None, ship_snapshot: bool
) -> GridEngine:
    """The grid engine the options name (a ValueError, exit 2, for a contradictory combination)."""
    from train.evaluation.grid_spec import GridEngine

    return GridEngine(workers, scheduler, threads_per_worker, ship_snapshot)
