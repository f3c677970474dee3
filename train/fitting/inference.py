"""The one batched inference loop of the trainer and of serving: model outputs over sample rows, on the
model's device, optionally also with other rows' context (the context ablations of replay).

`metrics.predict` (test metrics), `fit.evaluate_loss` (validation) and serving's `predict_rows` (replay and
the online predictor) all run through `infer_runs`, so a change of batching, device or eval mode happens in
one place. The model runs in two halves, `encode` (sequence and snapshot: the transformer) and `decide`
(regime ids, context, fusion and heads), which is what `forward` does; the encoding is computed once per batch
and reused by every swap, so an ablation costs a fusion and heads pass, not a transformer.

Usage::

    for batch, out in infer(model, tensors, idx, "v10_ctx"):
        torch.sigmoid(out["direction_logit"])
    swaps = {"ctx_cat/0": Swap(donors, ("ctx_cat",))}
    for batch, runs in infer_runs(model, tensors, idx, "v10_ctx", swaps=swaps):
        runs["model"], runs["ctx_cat/0"]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from train.fitting.dataset import Batch, Tensors, gather

# Batch fields that carry a bar's context into the model (`Batch.context_inputs`).
CONTEXT_FIELDS = ("ctx_cat", "ctx_cont", "regime")
BATCH_SIZE = 2048


@dataclass(frozen=True, eq=False)
class Swap:
    """Run the rows with `fields` of other rows: position j of `idx` takes them from row `donors[j]`.

    `donors` are row indices into the same Tensors (like `idx`); `fields` a subset of CONTEXT_FIELDS.
    """

    donors: np.ndarray
    fields: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = set(self.fields) - set(CONTEXT_FIELDS)
        if unknown or not self.fields:
            raise ValueError(f"Swap.fields must be a non-empty subset of {CONTEXT_FIELDS}, got {self.fields}")


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for a model without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def infer_runs(
    model: nn.Module,
    tensors: Tensors,
    idx: torch.Tensor,
    variant: str,
    batch_size: int = BATCH_SIZE,
    *,
    swaps: Mapping[str, Swap] | None = None,
) -> Iterator[tuple[Batch, dict[str, dict[str, torch.Tensor]]]]:
    """(batch, {"model": outputs, swap name: outputs with that swap's context}) per batch of rows `idx`, in
    eval mode under no_grad; restores the train mode after."""
    swaps = dict(swaps or {})
    for name, swap in swaps.items():
        if len(swap.donors) != len(idx) or name == "model":
            raise ValueError(
                f"swap {name!r}: {len(swap.donors)} donors for {len(idx)} rows (or a reserved name)"
            )
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(idx), batch_size):
                batch = gather(tensors, idx[start : start + batch_size]).to(device)
                encoded = model.encode(batch.seq_x, batch.snap_x)
                runs = {"model": model.decide(encoded, **batch.context_inputs(variant))}
                for name, swap in swaps.items():
                    donors = torch.as_tensor(swap.donors[start : start + batch_size], dtype=torch.int64)
                    moved = {f: getattr(tensors, f)[donors].to(device) for f in swap.fields}
                    runs[name] = model.decide(encoded, **replace(batch, **moved).context_inputs(variant))
                yield batch, runs
    finally:
        model.train(was_training)


def infer(
    model: nn.Module, tensors: Tensors, idx: torch.Tensor, variant: str, batch_size: int = BATCH_SIZE
) -> Iterator[tuple[Batch, dict[str, torch.Tensor]]]:
    """(batch, outputs) per batch of rows `idx`: `infer_runs` without swaps."""
    for batch, runs in infer_runs(model, tensors, idx, variant, batch_size):
        yield batch, runs["model"]
