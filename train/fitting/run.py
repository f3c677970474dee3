"""`train run`: from a verified snapshot to a bundle, in one function.

Usage::

    config = load_run_config(None, {"epochs": 3})
    result = train_run(Store.at("./fsdata"), "4e8c2331...", config, out="v10ctx_demo")
    result.bundle_path, result.metrics["test"]["direction"]["auc"]
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

import torch

from featurestore.api import Snapshot, Store, open_snapshot
from schemas.bundle_metadata import (
    SCHEMA_VERSION,
    BaseModelCalibration,
    BaseModelRecord,
    BundleMetadata,
    HybridSettings,
    Seeds,
)
from schemas.contract import contract_hashes
from train.fitting.bundle import save_bundle
from train.fitting.config import RunConfig
from train.fitting.fit import FitResult, fit
from train.fitting.hybrid import EMA_SPAN, EMA_WINDOW
from train.fitting.metrics import evaluate_predictions, predict
from train.fitting.plots import plot_calibration, plot_losses
from train.fitting.prepare import Prepared, prepare

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    bundle_path: Path | None  # None on ranks other than 0 of a distributed run
    snapshot_id: str
    variant: str
    filter_report: dict[str, Any]
    metrics: dict[str, Any]
    history: list[dict[str, float]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle_path": str(self.bundle_path) if self.bundle_path else None,
            "snapshot_id": self.snapshot_id,
            "variant": self.variant,
            "filter_report": self.filter_report,
            "metrics": self.metrics,
            "epochs_run": len(self.history),
            "seconds": round(self.seconds, 1),
        }


def train_run(
    store: Store,
    snapshot_id: str,
    config: RunConfig,
    out: str,
    *,
    on_stage: Callable[[str], None] | None = None,
    on_step: Callable[[int, int, int], None] | None = None,
) -> TrainResult:
    """Open the snapshot (verified), prepare, fit, evaluate against baselines and save the bundle."""
    with _distributed(config.optim.device):
        return _train_run(store, snapshot_id, config, out, on_stage, on_step)


def process_group_backend(device: str) -> str:
    """nccl only when the model trains on CUDA; gloo on CPU (even where a GPU exists)."""
    return "nccl" if device == "cuda" else "gloo"


@contextlib.contextmanager
def _distributed(device: str) -> Iterator[None]:
    """Join the torchrun process group when launched by torchrun (`process_group_backend`)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or torch.distributed.is_initialized():
        yield
        return
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    torch.distributed.init_process_group(process_group_backend(device))
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()


def _train_run(
    store: Store,
    snapshot_id: str,
    config: RunConfig,
    out: str,
    on_stage: Callable[[str], None] | None,
    on_step: Callable[[int, int, int], None] | None,
) -> TrainResult:
    started = time.perf_counter()
    stage = on_stage or (lambda _name: None)
    if config.optim.threads:
        torch.set_num_threads(config.optim.threads)
    stage("open snapshot")
    snapshot = open_snapshot(store, snapshot_id, contract=None)  # under the version it names
    stage("base model (out-of-fold) and inputs")
    prepared = prepare(snapshot, config)
    config = prepared.inputs.configure(config)  # the model's widths follow the snapshot's contract
    for name, idx in prepared.idx.items():
        if len(idx) == 0:
            raise ValueError(
                f"the {name} split has no samples: check the split dates against the snapshot range"
            )
    stage("train")
    fitted = fit(prepared.train_tensors, prepared.eval_tensors, prepared.idx, config, on_step=on_step)
    stage("evaluate")
    metrics = _evaluate(prepared, fitted, config)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    bundle_path = None
    if rank == 0:
        stage("save bundle")
        bundle_path = save_run_bundle(store.bundles_dir / out, snapshot, prepared, fitted, metrics, config)
    return TrainResult(
        bundle_path,
        snapshot_id,
        config.variant,
        prepared.filter_report,
        metrics,
        fitted.history,
        time.perf_counter() - started,
    )


def _evaluate(prepared: Prepared, fitted: FitResult, config: RunConfig) -> dict[str, Any]:
    """Validation and test metrics with intervals, beside the baselines (`train.fitting.metrics`)."""
    predictions = {
        split: predict(fitted.model, prepared.eval_tensors, prepared.idx[split], config.variant)
        for split in ("val", "test")
    }
    out = evaluate_predictions(prepared, predictions, config.seed)
    out["best_epoch"] = fitted.best_epoch
    out["best_val_loss"] = fitted.best_val_loss
    out["stopped_early"] = fitted.stopped_early
    return out


def _versions() -> dict[str, str | None]:
    def version(name: str) -> str | None:
        try:
            return pkg_metadata.version(name)
        except pkg_metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        **{n: version(n) for n in ("torch", "xgboost", "numpy", "polars")},
    }


def save_run_bundle(
    path: Path,
    snapshot: Snapshot,
    prepared: Prepared,
    fitted: FitResult,
    metrics: dict[str, Any],
    config: RunConfig,
) -> Path:
    """The bundle of one fitted run at ``path`` (`train run`, and each fit of `train evaluate`)."""
    model_config = config.model_config
    names = prepared.inputs.names()
    with_ctx = config.variant == "v10_ctx"
    metadata = BundleMetadata(
        schema_version=SCHEMA_VERSION,
        variant=config.variant,
        supports_context_features=with_ctx,
        seq_len=model_config.seq_len,
        seq_dim=len(names["seq"]),
        snap_dim=len(names["snap"]),
        ctx_cat_dim=len(names["ctx_cat"]) if with_ctx else 0,
        ctx_cont_dim=len(names["ctx_cont"]) if with_ctx else 0,
        ordered_ctx_cat_names=list(names["ctx_cat"]),
        ordered_ctx_cont_names=list(names["ctx_cont"]),
        input_names={k: list(v) for k, v in names.items()},
        contract_version=snapshot.contract.version,
        **contract_hashes(snapshot.contract),
        hybrid=HybridSettings(ema_span=EMA_SPAN, ema_window=EMA_WINDOW),
        seeds=Seeds(torch=config.seed, base_model=config.base_model.seed),
        base_model=base_model_record(prepared),
        snapshot_id=snapshot.id,
        snapshot_range=list(snapshot.manifest["date_range"]),
        split_ranges=prepared.ranges,
        base_model_span=prepared.base_model_span,
        split_config=config.to_dict()["splits"],
        run_config=config.to_dict(),
        metrics=metrics,
        history=fitted.history,
        eligibility_report=prepared.filter_report,
        versions=_versions(),
    )
    with tempfile.TemporaryDirectory() as tmp:
        plots = {
            "loss_curves.png": plot_losses(fitted.history, Path(tmp) / "loss_curves.png"),
            "calibration.png": plot_calibration(
                {split: metrics[split]["calibration_direction"] for split in ("val", "test")},
                Path(tmp) / "calibration.png",
            ),
        }
        return save_bundle(
            path,
            fitted.model,
            model_config,
            prepared.base_model,
            prepared.normalization,
            metadata,
            plots,
            snapshot.contract,
        )


def base_model_record(prepared: Prepared) -> BaseModelRecord:
    """The shipped base model's settings, calibration and selection, and each out-of-fold block's."""
    shipped = prepared.base_model.describe()
    return BaseModelRecord(
        settings=shipped["settings"],
        calibration=BaseModelCalibration(**shipped["calibration"]),
        selection=shipped["selection"],
        out_of_fold=list(prepared.oof_settings),
    )


# The columns of summary_metrics, with their display names (CLI and report tables); format with summary_cell.
SUMMARY_COLUMNS = {
    "predictor": "predictor",
    "n": "n (days)",
    "auc": "AUC",
    "log_loss": "log loss",
    "brier": "Brier",
    "model_minus": "model - it (log loss)",
}
BASELINE_NAMES = {"prior": "class prior", "logistic": "logistic", "base_model": "base model alone"}


def summary_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The headline rows: per split and head, the model and then each baseline on the same rows.

    Each row holds `SUMMARY_COLUMNS`; figures are interval dicts ({"estimate", "low", "high"}), the paired
    column is the model's log loss minus this baseline's (negative favours the model).
    """
    rows: dict[str, dict[str, Any]] = {}
    fit = metrics.get("baseline_fit", {}).get("logistic", {})
    for split in ("val", "test"):
        if split not in metrics:
            continue
        for head in ("direction", "early_move"):
            model = metrics[split][head]
            rows[f"{split} {head}"] = _summary_row("model", model, None)
            baselines = metrics["baselines"][split][head]
            for name in sorted(baselines, key=lambda n: list(BASELINE_NAMES).index(n)):
                base, label = baselines[name], BASELINE_NAMES[name]
                if name == "logistic" and head in fit:
                    label += f" (C={fit[head]['C']:g})"
                if name == "base_model" and "base_model" in metrics.get("baseline_fit", {}):
                    label += f" ({base_model_label(metrics['baseline_fit']['base_model'])})"
                rows[f"{split} {head}: {name}"] = _summary_row(
                    label, base, base.get("model_minus_baseline_log_loss")
                )
    return rows


def base_model_label(described: Any) -> str:
    """The settings a base model ran with, short: "depth 2, min child 100, 41 trees, Platt"."""
    if not isinstance(described, dict) or "settings" not in described:
        return "settings not recorded"
    settings, method = described["settings"], described["calibration"]["method"]
    return (
        f"depth {settings['max_depth']}, min child {settings['min_child_weight']:g}, {settings['trees']} "
        f"trees, {'Platt' if method == 'platt' else 'uncalibrated'}"
    )


def _summary_row(predictor: str, m: dict[str, Any], paired: dict[str, Any] | None) -> dict[str, Any]:
    intervals = m.get("intervals", {})

    def figure(key: str) -> dict[str, Any]:
        nan = float("nan")
        return intervals.get(key, {"estimate": m[key], "low": nan, "high": nan})

    n_days = intervals.get("log_loss", {}).get("n_days")
    return {
        "predictor": predictor,
        "n": f"{m['n']:,}" + (f" ({n_days})" if n_days is not None else ""),
        "auc": figure("auc"),
        "log_loss": figure("log_loss"),
        "brier": figure("brier"),
        "model_minus": paired,
    }


def summary_cell(value: Any, digits: int = 3) -> str:
    """A summary_metrics value as text: an interval as `0.512 [0.499, 0.530]`, None as `-`."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        estimate = f"{value['estimate']:.{digits}f}"
        if not (math.isfinite(value["low"]) and math.isfinite(value["high"])):
            return f"{estimate} [no interval]"
        return f"{estimate} [{value['low']:.{digits}f}, {value['high']:.{digits}f}]"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
