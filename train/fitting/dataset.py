"""Model inputs from a verified snapshot: one base tensor per input, windows by index arithmetic.

Usage::

    frame = snapshot_frame(open_snapshot(store, snap_id))        # all rows, contract column order
    tensors = build_tensors(with_channels(frame, p), normalization, ModelInputs.of(snapshot.contract))
    for batch in iterate_batches(tensors, train_idx, 256, generator=g):
        model(**batch.model_inputs(variant))

`seq_x` is gathered as `seq[idx[:, None] + offsets]` from one [N, seq inputs] tensor, never an [N, L, F]
copy, and batches are assembled without a per-sample Python loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import torch

from featurestore.api import Snapshot
from schemas.contract import CONTRACT
from train.fitting.hybrid import SEQ_CHANNELS, SNAP_CHANNELS, seq_channels, snap_channels
from train.fitting.inputs import REGIME_IDS, ModelInputs
from train.fitting.normalization import Normalization

TARGETS = ("y_direction", "y_early_move", "y_quality_score")
SEQ_LEN = int(CONTRACT.parameters["sequence_length"])


def snapshot_frame(snapshot: Snapshot) -> pl.DataFrame:
    """The five materialized tables of a snapshot side by side (their keys are identical by validation),
    as its own contract version declares them."""
    return join_tables(
        {t.name: snapshot.table(t.name) for t in snapshot.contract.tables}, source=f"snapshot {snapshot.id}"
    )


def join_tables(tables: Mapping[str, pa.Table], source: str) -> pl.DataFrame:
    """Tables of the same bars side by side, in contract order; refuses tables whose (symbol, ts) differ.

    The online featurizer gives the decision-time tables only (no labels); snapshots give all five.
    """
    names = [t.name for t in CONTRACT.tables if t.name in tables]
    parts = [pl.from_arrow(tables[name]) for name in names]
    keys = parts[0].select("symbol", "ts")
    for part, name in zip(parts[1:], names[1:], strict=True):
        if not part.select("symbol", "ts").equals(keys):
            raise ValueError(f"{source}: table {name} is not aligned with {names[0]}")
    return pl.concat([parts[0], *[p.drop("symbol", "ts") for p in parts[1:]]], how="horizontal")


def with_channels(frame: pl.DataFrame, p: np.ndarray) -> pl.DataFrame:
    """Add the hybrid channels computed from the base model's per-bar p_long_xgb."""
    seq = seq_channels(p)
    snap = snap_channels(p)
    columns = {name: seq[:, i] for i, name in enumerate(SEQ_CHANNELS)}
    columns.update({name: snap[:, i] for i, name in enumerate(SNAP_CHANNELS)})
    return frame.with_columns(**{name: pl.Series(name, values) for name, values in columns.items()})


def full_windows(valid_rows: np.ndarray, length: int = SEQ_LEN) -> np.ndarray:
    """True at row i when rows i-length+1..i all exist and are valid (finite inputs)."""
    bad = np.concatenate([[0], np.cumsum(~valid_rows)])
    ends = np.arange(len(valid_rows)) + 1
    starts = ends - length
    ok = np.zeros(len(valid_rows), dtype=bool)
    inside = starts >= 0
    ok[inside] = (bad[ends[inside]] - bad[starts[inside]]) == 0
    return ok


@dataclass(frozen=True)
class Tensors:
    """Base tensors over all rows of a snapshot (normalized inputs, raw ids and targets)."""

    seq: torch.Tensor  # [N, seq inputs] float32 (16 under v1 and v2)
    snap: torch.Tensor  # [N, snap inputs] float32 (88 under v1 and v2)
    ctx_cat: torch.Tensor  # [N, context ids] int64, declared order (the seed's 5)
    ctx_cont: torch.Tensor  # [N, continuous context inputs] float32 (2)
    regime: torch.Tensor  # [N, 3] int64: session, vol, trend
    targets: torch.Tensor  # [N, 3] float32, NaN where no label


def build_tensors(frame: pl.DataFrame, normalization: Normalization, inputs: ModelInputs) -> Tensors:
    """Normalize by feature NAME and stack `inputs` into base tensors; ids and targets stay raw."""

    def ids(names: tuple[str, ...]) -> torch.Tensor:
        return torch.from_numpy(frame.select(names).fill_null(0).to_numpy().astype(np.int64))

    return Tensors(
        seq=torch.from_numpy(np.ascontiguousarray(normalization.apply(frame, inputs.seq))),
        snap=torch.from_numpy(np.ascontiguousarray(normalization.apply(frame, inputs.snap))),
        ctx_cat=ids(inputs.ctx_cat),
        ctx_cont=torch.from_numpy(np.ascontiguousarray(normalization.apply(frame, inputs.ctx_cont))),
        regime=ids(REGIME_IDS),
        targets=_targets(frame),
    )


def _targets(frame: pl.DataFrame) -> torch.Tensor:
    """Label targets, NaN where there is no label; a frame from the online path has no label columns at
    all (labels need the future), so all its targets are NaN."""
    if not set(TARGETS) & set(frame.columns):
        return torch.full((frame.height, len(TARGETS)), float("nan"))
    return torch.from_numpy(frame.select(TARGETS).cast(pl.Float32).fill_null(float("nan")).to_numpy())


@dataclass(frozen=True)
class Batch:
    seq_x: torch.Tensor
    snap_x: torch.Tensor
    ctx_cat: torch.Tensor
    ctx_cont: torch.Tensor
    regime: torch.Tensor
    targets: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        """The batch on `device` (a no-op where it already is)."""
        return Batch(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))

    def model_inputs(self, variant: str) -> dict[str, torch.Tensor]:
        return {"seq_x": self.seq_x, "snap_x": self.snap_x, **self.context_inputs(variant)}

    def context_inputs(self, variant: str) -> dict[str, torch.Tensor]:
        """The inputs that describe the bar's context: regime ids, plus ctx_cat/ctx_cont for v10_ctx."""
        inputs = {
            "session_id": self.regime[:, 0],
            "vol_regime_id": self.regime[:, 1],
            "trend_regime_id": self.regime[:, 2],
        }
        if variant == "v10_ctx":
            inputs.update(ctx_cat=self.ctx_cat, ctx_cont=self.ctx_cont)
        return inputs


def gather(tensors: Tensors, idx: torch.Tensor, length: int = SEQ_LEN) -> Batch:
    """The samples at rows `idx`; their sequence windows are rows idx-length+1..idx."""
    offsets = torch.arange(-length + 1, 1, device=idx.device)
    return Batch(
        seq_x=tensors.seq[idx[:, None] + offsets],
        snap_x=tensors.snap[idx],
        ctx_cat=tensors.ctx_cat[idx],
        ctx_cont=tensors.ctx_cont[idx],
        regime=tensors.regime[idx],
        targets=tensors.targets[idx],
    )


def iterate_batches(
    tensors: Tensors,
    idx: torch.Tensor,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
) -> Iterator[Batch]:
    """Batches over sample rows `idx` (shuffled with `generator` when asked); the last batch may be short."""
    order = idx[torch.randperm(len(idx), generator=generator)] if shuffle else idx
    for start in range(0, len(order), batch_size):
        yield gather(tensors, order[start : start + batch_size])
