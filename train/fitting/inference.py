"""The one batched inference loop of the trainer: model outputs over sample rows, on the model's device.

`metrics.predict` (test metrics) and `fit.evaluate_loss` (validation) both run through `infer`, so a change
of batching, device or eval mode happens in one place. (Serving's `predict_rows` reuses one transformer
encoding for its context ablations, so it runs the model in two halves; it batches the same way.)

Usage::

    for batch, out in infer(model, tensors, idx, "v10_ctx"):
        torch.sigmoid(out["direction_logit"])
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from train.fitting.dataset import Batch, Tensors, gather


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for a model without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def infer(
    model: nn.Module, tensors: Tensors, idx: torch.Tensor, variant: str, batch_size: int = 2048
) -> Iterator[tuple[Batch, dict[str, torch.Tensor]]]:
    """(batch, outputs) per batch of rows `idx`, in eval mode under no_grad; restores the train mode after."""
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(idx), batch_size):
                batch = gather(tensors, idx[start : start + batch_size]).to(device)
                yield batch, model(**batch.model_inputs(variant))
    finally:
        model.train(was_training)
