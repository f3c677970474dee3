"""The training loop: weighted multi-head loss, AdamW, plateau schedule, early stopping, hard failures.

Runs single-process or under torchrun (torch.distributed with gloo on CPU, nccl on GPU): every rank walks
the same seeded permutation and takes its own stride of it, DistributedDataParallel averages gradients,
and every rank evaluates the full validation split so all ranks take the same stopping decisions.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from featurestore.errors import FeatureStoreError
from train.fitting.config import RunConfig
from train.fitting.dataset import Tensors, iterate_batches
from train.fitting.inference import infer
from train.fitting.model import build_model

logger = logging.getLogger(__name__)
COLLAPSE_STD = 1e-6


class TrainingFailed(FeatureStoreError):
    """A hard failure of training (docs/trainer.md): non-finite loss or collapsed predictions (exit 1)."""


@dataclass
class FitResult:
    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    stopped_early: bool = False


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def multitask_loss(
    outputs: dict[str, torch.Tensor], targets: torch.Tensor, weights: tuple[float, float, float]
) -> torch.Tensor:
    """BCE(direction) + BCE(early_move) + MSE(quality), weighted (default 0.5 / 0.3 / 0.2)."""
    bce = nn.functional.binary_cross_entropy_with_logits
    direction = bce(outputs["direction_logit"].squeeze(-1), targets[:, 0])
    early = bce(outputs["early_move_logit"].squeeze(-1), targets[:, 1])
    quality = nn.functional.mse_loss(outputs["quality"].squeeze(-1), targets[:, 2])
    return weights[0] * direction + weights[1] * early + weights[2] * quality


def evaluate_loss(
    model: nn.Module,
    tensors: Tensors,
    idx: torch.Tensor,
    variant: str,
    weights: tuple[float, float, float],
    batch_size: int = 2048,
) -> tuple[float, np.ndarray]:
    """Mean loss over `idx` and the direction probabilities (restores train mode afterwards)."""
    total, probs = 0.0, []
    for batch, out in infer(model, tensors, idx, variant, batch_size):
        total += float(multitask_loss(out, batch.targets, weights)) * len(batch.targets)
        probs.append(torch.sigmoid(out["direction_logit"].squeeze(-1)).cpu().numpy())
    return total / max(len(idx), 1), np.concatenate(probs) if probs else np.empty(0)


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def fit(
    train: Tensors,
    evaluation: Tensors,
    idx: dict[str, torch.Tensor],
    config: RunConfig,
    on_step: Callable[[int, int, int], None] | None = None,
) -> FitResult:
    """Train the configured variant; returns the model with the best validation loss restored.

    Raises:
        TrainingFailed: a non-finite loss, or validation predictions with std < 1e-6.
    """
    set_seed(config.seed)
    variant, optim = config.variant, config.optim
    device = training_device(config.optim.device)
    model: nn.Module = build_model(config.model_config).to(device)
    rank, world = _rank_world()
    trained: nn.Module = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        trained = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    opt = torch.optim.AdamW(model.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=optim.plateau_factor, patience=optim.plateau_patience
    )
    generator = torch.Generator().manual_seed(config.seed)
    result = FitResult(model=model)
    best_state: dict[str, Any] = copy.deepcopy(model.state_dict())
    steps = -(-len(idx["train"]) // (optim.batch_size * world))
    for epoch in range(1, optim.epochs + 1):
        began, running, seen = time.perf_counter(), 0.0, 0
        trained.train()
        order = idx["train"][torch.randperm(len(idx["train"]), generator=generator)]
        order = order[: len(order) - len(order) % world][rank::world]  # equal batch counts on every rank
        for step, batch in enumerate(iterate_batches(train, order, optim.batch_size, shuffle=False), start=1):
            batch = batch.to(device)
            loss = multitask_loss(trained(**batch.model_inputs(variant)), batch.targets, optim.loss_weights)
            if not torch.isfinite(loss):
                raise TrainingFailed(f"non-finite loss {float(loss)} at epoch {epoch}, step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
            opt.step()
            running += float(loss.detach()) * len(batch.targets)
            seen += len(batch.targets)
            if on_step is not None and rank == 0:
                on_step(epoch, step, steps)
        val_loss, val_p = evaluate_loss(model, evaluation, idx["val"], variant, optim.loss_weights)
        if not np.isfinite(val_loss):
            raise TrainingFailed(f"non-finite validation loss at epoch {epoch}")
        if val_p.std() < COLLAPSE_STD:
            raise TrainingFailed(
                f"collapsed predictions at epoch {epoch}: validation p_long std {val_p.std():.2e}"
            )
        schedule.step(val_loss)
        result.history.append(
            {
                "epoch": epoch,
                "train_loss": running / max(seen, 1),
                "val_loss": val_loss,
                "lr": opt.param_groups[0]["lr"],
                "seconds": time.perf_counter() - began,
            }
        )
        logger.info("epoch %d: train %.4f val %.4f", epoch, running / max(seen, 1), val_loss)
        if val_loss < result.best_val_loss:
            result.best_val_loss, result.best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - result.best_epoch >= optim.early_stop_patience:
            result.stopped_early = True
            break
    model.load_state_dict(best_state)
    result.model = model.to("cpu")  # bundles, metrics and serving run on the CPU copy
    return result


def training_device(name: str) -> torch.device:
    """The device of `[optim] device`: "cpu", or "cuda" (the local rank's GPU under torchrun).

    Raises:
        ValueError: "cuda" without a usable GPU.
    """
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"[optim] device = {name!r}, but no CUDA device is available: use device = 'cpu'")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
