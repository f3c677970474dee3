"""From a verified snapshot to model-ready tensors: samples, splits, out-of-fold base model, normalization.

The base model's training-split predictions are out-of-fold (walk-forward, purged); validation and test bars
get the final base model's predictions, exactly what the bundle will compute live. Normalization is fitted
on the training samples only and stored by feature name.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
import torch

from featurestore.api import Snapshot, funnel_stages, utc_day_range
from train.fitting.base_model import fit_final, fit_out_of_fold, predict
from train.fitting.config import RunConfig
from train.fitting.dataset import (
    Tensors,
    build_tensors,
    full_windows,
    gather,
    snapshot_frame,
    with_channels,
)
from train.fitting.hybrid import seq_channels
from train.fitting.inputs import ModelInputs
from train.fitting.normalization import Normalization, fit_normalization
from train.fitting.splits import assign_splits

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """Everything the fit and evaluation need, plus what the bundle stores."""

    frame: pl.DataFrame
    train_tensors: Tensors  # hybrid channels from out-of-fold base-model predictions
    eval_tensors: Tensors  # hybrid channels from the final base model
    idx: dict[str, torch.Tensor]  # sample rows per split
    normalization: Normalization
    base_model: Any  # train.fitting.base_model.BaseModel: trees, calibration, chosen settings
    filter_report: dict[str, Any]
    ranges: dict[str, list[str]]  # role -> [first ts, last ts] of its samples
    base_model_span: list[str]  # [first ts, last ts] of the rows the shipped base model was fitted on
    inputs: ModelInputs  # the snapshot contract's model inputs, in declared order
    oof_settings: list[dict[str, Any]]  # each out-of-fold block model's settings ({} for block 0)


def _ts(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame[column].cast(pl.Datetime("us")).to_numpy()


def prepare(snapshot: Snapshot, config: RunConfig) -> Prepared:
    """Build samples, splits, hybrid channels and normalized tensors from `snapshot`.

    Raises:
        ValueError: the embargo is shorter than the model's window or the snapshot contract's label horizon.
    """
    config.splits.check_embargo(config.model_config.seq_len, snapshot.contract.label_margin_bars)
    frame = snapshot_frame(snapshot)
    inputs = ModelInputs.of(snapshot.contract)
    ts, t1 = _ts(frame, "ts"), _ts(frame, "t1")
    eligible = frame["eligible"].to_numpy()
    labelled = frame["label_available"].to_numpy()
    seq_ok = np.isfinite(frame.select(inputs.seq_features).to_numpy()).all(axis=1)
    windowed = full_windows(seq_ok)
    candidate = eligible & labelled & windowed
    splits = assign_splits(ts, t1, candidate, config.splits)
    _check_splits_hold_samples(splits, config, ts)

    x = frame.select(inputs.snap_features).to_numpy().astype(np.float64)
    y = frame["y_direction"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    usable = eligible & labelled
    train_span = _within(ts, config.splits.train.start, config.splits.train.end)
    embargo = config.splits.embargo_bars
    oof = fit_out_of_fold(x, y, t1, ts, usable, train_span, embargo, config.base_model)
    cutoff = _bar_before(ts, config.splits.val.start, embargo)
    final_rows = usable & train_span & (t1 < cutoff)
    base = fit_final(x, y, t1, ts, final_rows, embargo, config.base_model, feature_names=inputs.snap_features)
    p_final = predict(base, x, feature_names=inputs.snap_features)

    train_idx = np.asarray(splits.train)
    # every channel of every window row must exist: the EMA needs 30 bars of p before it is defined
    with_history = full_windows(np.isfinite(seq_channels(oof.p)).all(axis=1) & seq_ok)
    kept = train_idx[with_history[train_idx]]
    if config.optim.max_train_rows is not None:
        kept = kept[-config.optim.max_train_rows :]
    frame_train = with_channels(frame, oof.p)
    normalization = fit_normalization(frame_train[kept], inputs.normalized())
    idx = {
        "train": torch.from_numpy(kept.astype(np.int64)),
        "val": torch.from_numpy(np.asarray(splits.val, dtype=np.int64)),
        "test": torch.from_numpy(np.asarray(splits.test, dtype=np.int64)),
    }
    report = _filter_report(
        snapshot, frame, candidate, windowed, splits, len(train_idx), len(kept), final_rows
    )
    ranges = {name: [str(ts[i[0]]), str(ts[i[-1]])] if len(i) else [] for name, i in idx.items()}
    logger.info("samples: %s", {k: len(v) for k, v in idx.items()})
    train_tensors = build_tensors(frame_train, normalization, inputs)
    eval_tensors = build_tensors(with_channels(frame, p_final), normalization, inputs)
    _check_finite(train_tensors, idx["train"], "train")
    for split in ("val", "test"):
        _check_finite(eval_tensors, idx[split], split)
    return Prepared(
        frame=frame,
        train_tensors=train_tensors,
        eval_tensors=eval_tensors,
        idx=idx,
        normalization=normalization,
        base_model=base,
        filter_report=report,
        ranges=ranges,
        base_model_span=_span(ts, final_rows),
        inputs=inputs,
        oof_settings=oof.fold_settings,
    )


def _span(ts: np.ndarray, rows: np.ndarray) -> list[str]:
    """[first ts, last ts] of the chosen rows ([] when none)."""
    chosen = ts[rows]
    return [str(chosen[0]), str(chosen[-1])] if len(chosen) else []


def _check_splits_hold_samples(splits: Any, config: RunConfig, ts: np.ndarray) -> None:
    """A split without one usable sample cannot train or evaluate: say which, and what the data covers."""
    for role, block in config.splits.blocks().items():
        if len(getattr(splits, role)) == 0:
            days = ts.astype("datetime64[D]")
            covers = f"{days[0]}..{days[-1]}" if len(ts) else "nothing"
            raise ValueError(
                f"the {role} split {block.start}..{block.end} holds no usable sample of the snapshot "
                f"(it covers {covers}); how to fix: choose [splits] days inside the snapshot's range"
            )


def _check_finite(tensors: Tensors, idx: torch.Tensor, split: str) -> None:
    """Every input of every sample must be finite: fail here, naming the split, not later as a NaN loss."""
    batch = gather(tensors, idx)
    for name in ("seq_x", "snap_x", "ctx_cont", "targets"):
        values = getattr(batch, name)
        bad = ~torch.isfinite(values.reshape(len(idx), -1)).all(dim=1)
        if bool(bad.any()):
            rows = idx[bad][:5].tolist()
            raise ValueError(
                f"{int(bad.sum())} {split} samples have non-finite {name} (rows {rows}); this is a bug"
            )


def _within(ts: np.ndarray, start: Any, end: Any) -> np.ndarray:
    lo, hi = (np.datetime64(moment, "us") for moment in utc_day_range(start, end))
    return (ts >= lo) & (ts < hi)


def _bar_before(ts: np.ndarray, day: Any, bars: int) -> np.datetime64:
    """The ts `bars` bars before the first bar of `day` (labels must resolve before it)."""
    first = int(np.searchsorted(ts, np.datetime64(utc_day_range(day, day)[0], "us")))
    return ts[max(first - bars, 0)]


def _filter_report(
    snapshot: Snapshot,
    frame: pl.DataFrame,
    candidate: np.ndarray,
    windowed: np.ndarray,
    splits: Any,
    n_train: int,
    n_kept: int,
    final_rows: np.ndarray,
) -> dict[str, Any]:
    """The eligibility funnel of the snapshot, then what the trainer's own filters removed."""
    rows = frame.height
    stages = [
        ("eligible and label available", int((frame["eligible"] & frame["label_available"]).sum())),
        ("with a full 30-bar window", int(candidate.sum())),
        ("in a split after purge and embargo", len(splits.train) + len(splits.val) + len(splits.test)),
        ("train samples with base-model history", n_kept + len(splits.val) + len(splits.test)),
    ]
    return {
        "snapshot_funnel": snapshot.manifest["eligibility_report"],
        "trainer_stages": [asdict(stage) for stage in funnel_stages(rows, stages)],
        "samples": {"train": n_kept, "val": len(splits.val), "test": len(splits.test)},
        "train_without_history": n_train - n_kept,
        "splits": splits.report(),
        "base_model_training_rows": int(final_rows.sum()),
        "bars_without_full_window": int((~windowed).sum()),
    }
