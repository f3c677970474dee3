"""Scoring bars with a bundle: one code path for batch replay and the online predictor.

A live cycle at bar t checks eligibility first, then needs the model's inputs, then calls the model. The
inputs of bar t are its snapshot features, its context, and the sequence window of bars t-29..t; each window
row carries the base model's p for that bar plus its finite-window EMA over the 30 bars before it, so bar t
needs base-model values for its last 59 bars. Batch replay computes these over a whole snapshot at once; the
online predictor computes them from the last 59 featurized bars; both go through the functions below, so the
two can differ only where their feature rows differ (and the parity test says they do not).

Usage::

    frame = join_tables(featurize_window(candles, HISTORY_BARS), source="online")
    scores = score_frame(bundle, frame)          # Scores over every row; p_long NaN where not predicted
    scores.p_long[-1]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import polars as pl
import torch
from torch import nn

from train.fitting.base_model import predict as base_predict
from train.fitting.bundle import BundleMismatch, LoadedBundle
from train.fitting.dataset import (
    SEQ_LEN,
    SNAP_FEATURES,
    Tensors,
    build_tensors,
    full_windows,
    gather,
    with_channels,
)
from train.fitting.hybrid import EMA_WINDOW

# Bars of history one prediction reads: the sequence window, each of whose rows needs EMA_WINDOW base-model
# values (the bar itself and the EMA_WINDOW - 1 before it).
HISTORY_BARS = SEQ_LEN + EMA_WINDOW - 1

# Batch fields that carry a bar's context into the model; ablations take them from other bars.
CTX_FIELDS = ("ctx_cat", "ctx_cont")
ALL_CONTEXT_FIELDS = ("ctx_cat", "ctx_cont", "regime")


@dataclass(frozen=True, eq=False)
class Scores:
    """Per-row results over a frame; the model outputs are NaN where the row was not predicted."""

    p_xgb: np.ndarray  # [N] base-model p_long; NaN where the row has no snapshot features (warmup)
    predicted: np.ndarray  # [N] bool: eligible, and every input of the row and its window finite
    p_long: np.ndarray  # [N] direction head probability
    p_early_move: np.ndarray  # [N]
    quality: np.ndarray  # [N]
    ablated: dict[str, np.ndarray]  # ablation name -> [N] p_long with that ablation's context


def base_probabilities(bundle: LoadedBundle, frame: pl.DataFrame) -> np.ndarray:
    """The base model's p_long per row from the raw snapshot features; NaN where they are absent.

    Warmup rows have null features: a tree model would still answer (missing values take a default branch),
    but that answer rests on nothing, so such rows get NaN and no window that contains them is predicted.
    """
    x = frame.select(SNAP_FEATURES).to_numpy().astype(np.float64)
    p = base_predict(bundle.base_model, x, feature_names=SNAP_FEATURES)
    p[~np.isfinite(x).all(axis=1)] = np.nan
    return p


def model_tensors(bundle: LoadedBundle, frame: pl.DataFrame, p_xgb: np.ndarray) -> Tensors:
    """Normalized base tensors of every row (hybrid channels from `p_xgb`), as in training."""
    if bundle.normalization is None:
        raise BundleMismatch(bundle.path, [*bundle.problems, "it did not load, so it cannot score"])
    return build_tensors(with_channels(frame, p_xgb), bundle.normalization)


def predictable(frame: pl.DataFrame, tensors: Tensors) -> np.ndarray:
    """Rows a live cycle sends to the model: eligible, finite snapshot and context inputs, and a full window
    of finite sequence rows (features and hybrid channels)."""
    row_ok = (torch.isfinite(tensors.snap).all(dim=1) & torch.isfinite(tensors.ctx_cont).all(dim=1)).numpy()
    window_ok = full_windows(torch.isfinite(tensors.seq).all(dim=1).numpy())
    return frame["eligible"].fill_null(False).to_numpy() & row_ok & window_ok


@dataclass(frozen=True)
class Ablation:
    """Replay rows with the context of other rows: row i takes `fields` of row `donors[i]`."""

    donors: np.ndarray
    fields: tuple[str, ...] = CTX_FIELDS


def context_ablations(rows: np.ndarray, seed: int) -> dict[str, Ablation]:
    """The two shuffles of the verdict, one seeded permutation of `rows`: "ctx_shuffled" swaps
    ctx_cat/ctx_cont between rows, "all_context_shuffled" also the regime ids."""
    donors = np.asarray(rows)[np.random.default_rng(seed).permutation(len(rows))]
    return {
        "ctx_shuffled": Ablation(donors, CTX_FIELDS),
        "all_context_shuffled": Ablation(donors, ALL_CONTEXT_FIELDS),
    }


@torch.no_grad()
def predict_rows(
    model: nn.Module,
    variant: str,
    tensors: Tensors,
    rows: np.ndarray,
    *,
    ablations: Mapping[str, Ablation] | None = None,
    batch_size: int = 256,
) -> dict[str, dict[str, np.ndarray]]:
    """Model outputs for `rows` (int indices) under the key "model", and under each ablation's name the
    outputs with that ablation's context. The market-data encoding is computed once per batch and reused:
    context only enters at the fusion layer, so an ablation costs a fusion and heads pass, not a transformer.
    """
    model.eval()
    runs = {"model": None, **(ablations or {})}
    out: dict[str, dict[str, list[np.ndarray]]] = {
        name: {"p_long": [], "p_early_move": [], "quality": []} for name in runs
    }
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    for start in range(0, len(index), batch_size):
        chunk = index[start : start + batch_size]
        batch = gather(tensors, chunk)
        encoded = model.encode(batch.seq_x, batch.snap_x)
        for name, ablation in runs.items():
            if ablation is not None:
                donors = torch.from_numpy(
                    np.asarray(ablation.donors[start : start + batch_size], dtype=np.int64)
                )
                batch_run = replace(batch, **{f: getattr(tensors, f)[donors] for f in ablation.fields})
            else:
                batch_run = batch
            result = model.decide(encoded, **batch_run.context_inputs(variant))
            heads = out[name]
            heads["p_long"].append(torch.sigmoid(result["direction_logit"]).squeeze(-1).double().numpy())
            heads["p_early_move"].append(
                torch.sigmoid(result["early_move_logit"]).squeeze(-1).double().numpy()
            )
            heads["quality"].append(result["quality"].squeeze(-1).double().numpy())
    return {
        name: {k: np.concatenate(v) if v else np.empty(0) for k, v in heads.items()}
        for name, heads in out.items()
    }


def score_frame(
    bundle: LoadedBundle,
    frame: pl.DataFrame,
    *,
    within: np.ndarray | None = None,
    ablation_seed: int | None = None,
) -> Scores:
    """Base model, hybrid channels, eligibility and model over consecutive bars of one symbol.

    Args:
        within: bool [N]; only these rows may be predicted (default all). The online path scores its newest
            bar; replay scores the bars of its date range (earlier rows are history only).
        ablation_seed: also replay the predicted rows with their context shuffled among them (a seeded
            permutation): "ctx_shuffled" swaps ctx_cat/ctx_cont, "all_context_shuffled" the regime ids too.
    """
    if bundle.model is None:
        raise BundleMismatch(bundle.path, [*bundle.problems, "it did not load, so it cannot score"])
    p_xgb = base_probabilities(bundle, frame)
    tensors = model_tensors(bundle, frame, p_xgb)
    predicted = predictable(frame, tensors)
    if within is not None:
        predicted &= within
    rows = np.flatnonzero(predicted)
    ablations = {} if ablation_seed is None else context_ablations(rows, ablation_seed)
    outputs = predict_rows(bundle.model, bundle.config.variant, tensors, rows, ablations=ablations)

    def spread(values: np.ndarray) -> np.ndarray:
        full = np.full(frame.height, np.nan)
        full[rows] = values
        return full

    model = {name: spread(values) for name, values in outputs.pop("model").items()}
    ablated = {name: spread(heads["p_long"]) for name, heads in outputs.items()}
    return Scores(p_xgb, predicted, model["p_long"], model["p_early_move"], model["quality"], ablated)
