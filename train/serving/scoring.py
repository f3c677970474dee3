"""Scoring bars with a bundle: one code path for batch replay and the online predictor.

A live cycle at bar t checks eligibility first, then needs the model's inputs, then calls the model. The
inputs of bar t are its snapshot features, its context, and the sequence window of bars t-29..t; each window
row carries the base model's p for that bar plus its finite-window EMA over the 30 bars before it, so bar t
needs base-model values for its last 59 bars. Batch replay computes these over a whole snapshot at once; the
online predictor computes them from the last 59 featurized bars; both go through the functions below, so the
two can differ only where their feature rows differ (and the parity test says they do not). The model runs
through the one inference loop of `train.fitting.inference`.

Replay also asks for the context ablations (`AblationPlan`): the predicted rows again with the inputs of
each context group (`CONTEXT_GROUPS`) taken from other predicted rows, K seeded permutations, both binary
heads, and a control run (each row's own context through the same path);
`train.evaluation.context_evidence` turns them into the context-usage verdict.

Usage::

    frame = join_tables(featurize_window(candles, HISTORY_BARS), source="online")
    scores = score_frame(bundle, frame)          # Scores over every row; p_long NaN where not predicted
    scores.p_long[-1]
    scores = score_frame(bundle, frame, ablation=AblationPlan(repeats=5, seed=1337))
    scores.ablated["all_context"]["p_long"]     # [N, 5]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch
from torch import nn

from train.fitting.base_model import predict as base_predict
from train.fitting.bundle import BundleMismatch, LoadedBundle
from train.fitting.dataset import (
    SEQ_LEN,
    Tensors,
    build_tensors,
    full_windows,
    with_channels,
)
from train.fitting.hybrid import EMA_WINDOW
from train.fitting.inference import BATCH_SIZE, CONTEXT_FIELDS, Swap, infer_runs

# Bars of history one prediction reads: the sequence window, each of whose rows needs EMA_WINDOW base-model
# values (the bar itself and the EMA_WINDOW - 1 before it).
HISTORY_BARS = SEQ_LEN + EMA_WINDOW - 1

# The context groups whose inputs the ablations permute across rows (docs/replay.md): each takes these
# batch fields from the donor row. v10 has no ctx_cat/ctx_cont inputs, so only "all_context" (its regime ids)
# is replayed for it.
CONTEXT_GROUPS: dict[str, tuple[str, ...]] = {
    "ctx_cat": ("ctx_cat",),
    "ctx_cont": ("ctx_cont",),
    "all_context": CONTEXT_FIELDS,
}
# The control run: every row takes its context from itself, through the same swap path as an ablation.
CONTROL = "control"
HEADS = ("p_long", "p_early_move")


@dataclass(frozen=True, eq=False)
class Scores:
    """Per-row results over a frame; the model outputs are NaN where the row was not predicted."""

    p_xgb: np.ndarray  # [N] base-model p_long; NaN where the row has no snapshot features (warmup)
    predicted: np.ndarray  # [N] bool: eligible, and every input of the row and its window finite
    p_long: np.ndarray  # [N] direction head probability
    p_early_move: np.ndarray  # [N]
    quality: np.ndarray  # [N]
    # group (or CONTROL) -> head (HEADS) -> [N, K]: the outputs under each of the K permutations of that
    # group's inputs (K = 1 for the control); NaN where the row was not predicted
    ablated: dict[str, dict[str, np.ndarray]]


def base_probabilities(bundle: LoadedBundle, frame: pl.DataFrame) -> np.ndarray:
    """The base model's p_long per row from the raw snapshot features; NaN where they are absent.

    Warmup rows have null features: a tree model would still answer (missing values take a default branch),
    but that answer rests on nothing, so such rows get NaN and no window that contains them is predicted.
    """
    features = bundle.inputs.snap_features
    x = frame.select(features).to_numpy().astype(np.float64)
    p = base_predict(bundle.base_model, x, feature_names=features)
    p[~np.isfinite(x).all(axis=1)] = np.nan
    return p


def model_tensors(bundle: LoadedBundle, frame: pl.DataFrame, p_xgb: np.ndarray) -> Tensors:
    """Normalized base tensors of every row (hybrid channels from `p_xgb`), as in training."""
    if bundle.normalization is None:
        raise BundleMismatch(bundle.path, [*bundle.problems, "it did not load, so it cannot score"])
    return build_tensors(with_channels(frame, p_xgb), bundle.normalization, bundle.inputs)


def predictable(frame: pl.DataFrame, tensors: Tensors) -> np.ndarray:
    """Rows a live cycle sends to the model: eligible, finite snapshot and context inputs, and a full window
    of finite sequence rows (features and hybrid channels)."""
    row_ok = (torch.isfinite(tensors.snap).all(dim=1) & torch.isfinite(tensors.ctx_cont).all(dim=1)).numpy()
    window_ok = full_windows(torch.isfinite(tensors.seq).all(dim=1).numpy())
    return frame["eligible"].fill_null(False).to_numpy() & row_ok & window_ok


@dataclass(frozen=True)
class AblationPlan:
    """How replay permutes context: `repeats` seeded permutations of the predicted rows, each applied to every
    group of `groups_of(variant)` (the same permutation for all groups, so they differ only in what moves)."""

    repeats: int = 5
    seed: int = 1337

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"AblationPlan.repeats must be >= 1, got {self.repeats}")


def groups_of(variant: str) -> tuple[str, ...]:
    """The context groups a variant reads: all three for v10_ctx, only the regime ids for v10."""
    return tuple(CONTEXT_GROUPS) if variant == "v10_ctx" else ("all_context",)


def context_swaps(rows: np.ndarray, variant: str, plan: AblationPlan) -> dict[str, Swap]:
    """The swaps of `plan` over `rows`: "<group>/<k>" for each repeat k and group, and the CONTROL."""
    rows = np.asarray(rows, dtype=np.int64)
    rng = np.random.default_rng(plan.seed)
    swaps = {CONTROL: Swap(rows, CONTEXT_FIELDS)}
    for k in range(plan.repeats):
        donors = rows[rng.permutation(len(rows))]
        swaps.update({f"{group}/{k}": Swap(donors, CONTEXT_GROUPS[group]) for group in groups_of(variant)})
    return swaps


def predict_rows(
    model: nn.Module,
    variant: str,
    tensors: Tensors,
    rows: np.ndarray,
    *,
    swaps: Mapping[str, Swap] | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, dict[str, np.ndarray]]:
    """Model outputs for `rows` (int indices) under the key "model", and under each swap's name the outputs
    with that swap's context; through the one inference loop (`train.fitting.inference.infer_runs`)."""
    out: dict[str, dict[str, list[np.ndarray]]] = {
        name: {"p_long": [], "p_early_move": [], "quality": []} for name in ("model", *(swaps or {}))
    }
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    for _, runs in infer_runs(model, tensors, index, variant, batch_size, swaps=swaps):
        for name, result in runs.items():
            heads = out[name]
            heads["p_long"].append(_numpy(torch.sigmoid(result["direction_logit"])))
            heads["p_early_move"].append(_numpy(torch.sigmoid(result["early_move_logit"])))
            heads["quality"].append(_numpy(result["quality"]))
    return {
        name: {k: np.concatenate(v) if v else np.empty(0) for k, v in heads.items()}
        for name, heads in out.items()
    }


def ablation_outputs(
    outputs: Mapping[str, Mapping[str, np.ndarray]], variant: str, plan: AblationPlan | None
) -> dict[str, dict[str, np.ndarray]]:
    """`predict_rows`' outputs under `context_swaps` regrouped: group (and CONTROL) -> head -> [n, K]."""
    if plan is None:
        return {}
    names = {CONTROL: [CONTROL]}
    names.update({g: [f"{g}/{k}" for k in range(plan.repeats)] for g in groups_of(variant)})
    return {
        group: {head: np.stack([outputs[run][head] for run in runs], axis=1) for head in HEADS}
        for group, runs in names.items()
    }


def _numpy(values: torch.Tensor) -> np.ndarray:
    return values.squeeze(-1).double().cpu().numpy()


def score_frame(
    bundle: LoadedBundle,
    frame: pl.DataFrame,
    *,
    within: np.ndarray | None = None,
    ablation: AblationPlan | None = None,
) -> Scores:
    """Base model, hybrid channels, eligibility and model over consecutive bars of one symbol.

    Args:
        within: bool [N]; only these rows may be predicted (default all). The online path scores its newest
            bar; replay scores the bars of its date range (earlier rows are history only).
        ablation: also replay the predicted rows with each context group permuted among them, `repeats`
            times, and the control (`context_swaps`); the outputs land in `Scores.ablated`.
    """
    if bundle.model is None:
        raise BundleMismatch(bundle.path, [*bundle.problems, "it did not load, so it cannot score"])
    assert bundle.config is not None  # loaded with its model
    variant = bundle.config.variant
    p_xgb = base_probabilities(bundle, frame)
    tensors = model_tensors(bundle, frame, p_xgb)
    predicted = predictable(frame, tensors)
    if within is not None:
        predicted &= within
    rows = np.flatnonzero(predicted)
    swaps = {} if ablation is None else context_swaps(rows, variant, ablation)
    outputs = predict_rows(bundle.model, variant, tensors, rows, swaps=swaps)

    def spread(values: np.ndarray) -> np.ndarray:
        full = np.full((frame.height, *values.shape[1:]), np.nan)
        full[rows] = values
        return full

    model = {name: spread(values) for name, values in outputs.pop("model").items()}
    ablated = {
        group: {head: spread(values) for head, values in heads.items()}
        for group, heads in ablation_outputs(outputs, variant, ablation).items()
    }
    return Scores(p_xgb, predicted, model["p_long"], model["p_early_move"], model["quality"], ablated)
