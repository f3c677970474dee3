"""What a grid of fits is made of, shared by the runner in this process (`grid.py`) and on Dask
(`grid_dask.py`): the fit specs, the engine, the progress stages, the run's result and its failure."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featurestore.errors import FeatureStoreError
from train.evaluation.evaluate import FoldResult
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
