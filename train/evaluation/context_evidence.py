"""Whether a model uses context (docs/replay.md): sensitivity, reliance and benefit, and the verdict.

Every measure is on the replayed (predicted) cycles; the replay says how many of them are in-sample.

1. **Sensitivity**: mean and p95 |p_long(permuted) - p_long| when the inputs of one context group are
   permuted across the predicted cycles (`train.serving.scoring.CONTEXT_GROUPS`: ctx_cat, ctx_cont, and
   all context = both plus the regime ids), over K seeded permutations (the same K for every group).
   *Noise floor*: the p95 |dp| of the control run, in which every row takes its context from itself through
   the very same swap path (gather by donor, fusion and heads). Why this floor and not the spread of the K
   permutations: "ignores context" claims that p_long does not depend on the inputs at all, and under that
   claim every permutation gives |dp| = 0 up to arithmetic, so the only noise |dp| can carry is the
   arithmetic's. The spread across permutations measures how precisely a non-zero sensitivity is estimated
   (it is reported as `repeat_std`), not whether it differs from zero; a mean |dp| is > 0 whenever the
   model reads the input at all. On deterministic CPU inference the floor comes out 0, and "below the floor"
   means p_long did not move on any cycle; a non-deterministic device gives its own, measured floor. A model
   that reads context a little is not "ignoring" it; whether that matters is reliance's question.
2. **Reliance**: permutation importance on held-out loss (Breiman 2001): per labelled cycle, the mean over
   the K permutations of its log loss with the group permuted minus its log loss as replayed, for the
   direction head and the early_move head. The 95% interval of its mean comes from the block bootstrap by
   trading day (`bootstrap.mean_interval`): whole days resampled, the same days for both sides of the
   difference. Cycles without a label (label_available false, or the online path) are left out and counted.
3. **Benefit** (with a v10 baseline): the paired log-loss difference v10_ctx - v10 on the cycles both
   predicted and labelled (`metric_intervals.paired_log_loss_interval`); negative is better for v10_ctx.

The verdict (one of `VERDICTS`) is decided on the "all_context" group and the direction head only, so one
interval decides, not six (no multiple-comparison inflation of "uses"); the ctx_cat / ctx_cont groups and
the early_move head are shown beside it, and early_move's reliance is quoted in the reason:

- "inconclusive (n too small)": fewer than `min_cycles` predicted cycles or `min_days` trading days; or
  context moves p_long but fewer than that many *labelled* cycles / days remain for reliance;
- "ignores context": all-context sensitivity (mean |dp|) not above the noise floor;
- "uses context": the direction reliance's interval lies above 0 AND the model has held-out skill: its
  direction log loss minus that of the constant base rate of the same rows has an interval below 0;
- otherwise "context moves p_long but does not help held-out loss".

Why the skill condition (our decision; the rule says "uses context" *only when* reliance is above zero, a
necessary condition): an untrained network's arbitrary preference for a session can line up with a real
session effect of the labels, and then permuting context really does raise its held-out loss (measured:
3 of 5 untrained seeds on labels 85% / 15% up by session). Such a model still predicts no better than a
constant, so what context does for it is luck, not use. Requiring skill keeps an untrained model from
"uses context" whatever the labels; a trained model that relies on context and beats the base rate gets it.

v10 has no ctx_cat / ctx_cont inputs; its context is the regime ids, which is what its all-context group
permutes, so it gets the same measures and verdict on them. The ordering of the rules means a model whose
ctx encoders are zeroed but which reads session through the regime embeddings is not "ignoring" context.

Usage::

    usage = context_usage(replayed, VerdictConfig(), has_ctx_inputs=True)
    usage["verdict"], usage["reason"], usage["reliance"]["all_context"]["direction"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from train.fitting.bootstrap import mean_interval, trading_days
from train.fitting.dataset import Tensors
from train.fitting.intervals import paired_log_loss_interval, row_log_loss
from train.serving.scoring import CONTROL, AblationPlan, ablation_outputs, context_swaps, predict_rows

USES = "uses context"
IGNORES = "ignores context"
MOVES = "context moves p_long but does not help held-out loss"
INCONCLUSIVE = "inconclusive (n too small)"
VERDICTS = (USES, IGNORES, MOVES, INCONCLUSIVE)
DECIDING_GROUP = "all_context"
# head -> (output name in the replayed cycles, label column)
HEADS = {"direction": ("p_long", "y_direction"), "early_move": ("p_early_move", "y_early_move")}


@dataclass(frozen=True)
class VerdictConfig:
    """How the context ablations are run and how much data a verdict needs."""

    repeats: int = 5  # K permutations per context group
    seed: int = 1337  # of the permutations (and of the bootstrap)
    n_resamples: int = 1000  # block bootstrap resamples (means of per-row values: cheap)
    min_cycles: int = 500  # fewer predicted (or, for reliance, labelled) cycles: inconclusive
    min_days: int = 10  # fewer trading days among them: inconclusive

    def __post_init__(self) -> None:
        if self.repeats < 1 or self.n_resamples < 1:
            raise ValueError("VerdictConfig: repeats and n_resamples must be >= 1")
        if self.min_cycles < 2 or self.min_days < 2:
            raise ValueError("VerdictConfig: min_cycles and min_days must be >= 2")


@dataclass(frozen=True)
class Replayed:
    """The predicted cycles of one bundle as the verdict needs them.

    outputs: "p_long" / "p_early_move" -> [n]; ablated: group (and CONTROL) -> the same names -> [n, K];
    labels: "y_direction" / "y_early_move" -> [n] floats, NaN where the cycle has no label.
    """

    ts: np.ndarray
    outputs: Mapping[str, np.ndarray]
    ablated: Mapping[str, Mapping[str, np.ndarray]]
    labels: Mapping[str, np.ndarray]


def _abs_deltas(p: np.ndarray, permuted: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(permuted, dtype=np.float64) - np.asarray(p, dtype=np.float64)[:, None])


def noise_floor(p: np.ndarray, control: np.ndarray) -> dict[str, Any]:
    """|dp| of the control run (each row's own context through the swap path): mean, p95 and max."""
    delta = _abs_deltas(p, control)
    if delta.size == 0:
        return {"n": 0, "mean_abs_delta": None, "p95_abs_delta": None, "max_abs_delta": None}
    return {
        "n": int(delta.shape[0]),
        "mean_abs_delta": float(delta.mean()),
        "p95_abs_delta": float(np.quantile(delta, 0.95)),
        "max_abs_delta": float(delta.max()),
    }


def sensitivity(p: np.ndarray, permuted: np.ndarray, floor: float) -> dict[str, Any]:
    """How far p_long moves when a group is permuted ([n, K]): mean, p95 and max |dp| over rows and repeats,
    the std of the per-repeat means, and whether the mean is above the noise floor."""
    delta = _abs_deltas(p, permuted)
    if delta.size == 0:
        empty = dict.fromkeys(("mean_abs_delta", "p95_abs_delta", "max_abs_delta", "repeat_std"))
        return {"n": 0, "repeats": int(permuted.shape[1]), **empty, "above_floor": False}
    per_repeat = delta.mean(axis=0)
    return {
        "n": int(delta.shape[0]),
        "repeats": int(delta.shape[1]),
        "mean_abs_delta": float(delta.mean()),
        "p95_abs_delta": float(np.quantile(delta, 0.95)),
        "max_abs_delta": float(delta.max()),
        "repeat_std": float(per_repeat.std(ddof=1)) if len(per_repeat) > 1 else 0.0,
        "above_floor": bool(delta.mean() > floor),
    }


def reliance(
    y: np.ndarray, p: np.ndarray, permuted: np.ndarray, days: np.ndarray, config: VerdictConfig
) -> dict[str, Any]:
    """Held-out log-loss increase under the permutation: per labelled row the mean over the K repeats of
    LL(permuted) - LL(as replayed); its mean with the block-bootstrap interval by trading day, and the mean
    of each repeat."""
    labelled = np.isfinite(y)
    y, p, permuted, days = y[labelled], p[labelled], permuted[labelled], days[labelled]
    base = row_log_loss(y, p)
    increase = np.stack([row_log_loss(y, permuted[:, k]) - base for k in range(permuted.shape[1])], axis=1)
    interval = mean_interval(
        increase.mean(axis=1), days, n_resamples=config.n_resamples, seed=config.seed
    ).to_dict()
    per_repeat = [float(x) for x in increase.mean(axis=0)] if len(y) else []
    return {**interval, "per_repeat": per_repeat, "n_unlabelled": int((~labelled).sum())}


def skill(y: np.ndarray, p: np.ndarray, ts: np.ndarray, config: VerdictConfig) -> dict[str, Any]:
    """The held-out log loss of the model minus that of the constant base rate of the same labelled rows
    (the best constant a posteriori, so a conservative baseline), with its block-bootstrap interval by day:
    below 0 the model predicts better than a constant."""
    labelled = np.isfinite(y)
    y, p, ts = y[labelled], p[labelled], ts[labelled]
    rate = float(y.mean()) if len(y) else 0.5
    interval = paired_log_loss_interval(y, p, np.full(len(y), rate), ts, seed=config.seed) if len(y) else {}
    return {**interval, "base_rate": rate}


def benefit(
    y: Mapping[str, np.ndarray],
    model: Mapping[str, np.ndarray],
    baseline: Mapping[str, np.ndarray],
    ts: np.ndarray,
    seed: int = 0,
) -> dict[str, Any]:
    """Paired held-out log loss model - baseline per head on rows both predicted and labelled (negative:
    the model is better); the rows left out are counted."""
    out: dict[str, Any] = {}
    for head, (output, label) in HEADS.items():
        keep = np.isfinite(y[label]) & np.isfinite(model[output]) & np.isfinite(baseline[output])
        interval = paired_log_loss_interval(
            y[label][keep], model[output][keep], baseline[output][keep], ts[keep], seed=seed
        )
        out[head] = {**interval, "n_left_out": int((~keep).sum())}
    return out


def context_usage(replayed: Replayed, config: VerdictConfig, *, has_ctx_inputs: bool) -> dict[str, Any]:
    """The three measures per context group, the verdict and the reason that quotes the numbers behind it."""
    days = trading_days(replayed.ts) if len(replayed.ts) else np.empty(0, dtype=np.int64)
    p = np.asarray(replayed.outputs["p_long"], dtype=np.float64)
    floor = noise_floor(p, replayed.ablated[CONTROL]["p_long"])
    level = floor["p95_abs_delta"] or 0.0
    groups = [g for g in replayed.ablated if g != CONTROL]
    usage: dict[str, Any] = {
        "noise_floor": floor,
        "sensitivity": {g: sensitivity(p, replayed.ablated[g]["p_long"], level) for g in groups},
        "reliance": {
            g: {
                head: reliance(
                    np.asarray(replayed.labels[label], dtype=np.float64),
                    np.asarray(replayed.outputs[output], dtype=np.float64),
                    replayed.ablated[g][output],
                    days,
                    config,
                )
                for head, (output, label) in HEADS.items()
            }
            for g in groups
        },
        "skill": skill(
            np.asarray(replayed.labels[HEADS["direction"][1]], dtype=np.float64), p, replayed.ts, config
        ),
        "n_cycles": int(len(p)),
        "n_days": int(len(np.unique(days))),
        "has_ctx_inputs": has_ctx_inputs,
        "deciding_group": DECIDING_GROUP,
        "p_long_std": float(np.std(p, ddof=1)) if len(p) > 1 else 0.0,
        "config": asdict(config),
    }
    usage["verdict"], usage["reason"] = _verdict(usage, config)
    return usage


def _interval(r: Mapping[str, Any]) -> str:
    return f"{r['estimate']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]"


def _verdict(usage: Mapping[str, Any], config: VerdictConfig) -> tuple[str, str]:
    n, n_days = usage["n_cycles"], usage["n_days"]
    what = (
        "all context (ctx_cat, ctx_cont and the regime ids)"
        if usage["has_ctx_inputs"]
        else "the regime ids (v10 has no ctx_cat/ctx_cont inputs)"
    )
    if n < config.min_cycles or n_days < config.min_days:
        return INCONCLUSIVE, (
            f"only {n} predicted cycles over {n_days} trading days "
            f"(at least {config.min_cycles} and {config.min_days} are needed)"
        )
    sens = usage["sensitivity"][DECIDING_GROUP]
    floor = usage["noise_floor"]["p95_abs_delta"]
    moved = (
        f"permuting {what} across {n} cycles ({sens['repeats']} permutations) moves p_long by "
        f"{sens['mean_abs_delta']:.4f} on average (p95 {sens['p95_abs_delta']:.4f}; noise floor {floor:.2g})"
    )
    if not sens["above_floor"]:
        return IGNORES, f"{moved}: not above the noise floor"
    rel = usage["reliance"][DECIDING_GROUP]
    direction, early = rel["direction"], rel["early_move"]
    if direction["n"] < config.min_cycles or direction["n_days"] < config.min_days:
        return INCONCLUSIVE, (
            f"{moved}, but only {direction['n']} labelled cycles over {direction['n_days']} days for "
            f"reliance ({direction['n_unlabelled']} without a label; at least {config.min_cycles} and "
            f"{config.min_days} are needed)"
        )
    relied = (
        f"held-out direction log loss rises by {_interval(direction)} (95% interval, block bootstrap over "
        f"{direction['n_days']} days, n = {direction['n']:,} labelled cycles)"
    )
    early_note = f"; early_move log loss rises by {_interval(early)} (shown, not deciding)"
    if direction["low"] <= 0:
        return MOVES, f"{moved}; but {relied}, not above 0{early_note}"
    beat = usage["skill"]
    skilled = (
        f"the model's direction log loss minus the base rate's ({beat['base_rate']:.3f}) is "
        f"{_interval(beat)}"
    )
    if beat["high"] < 0:
        return USES, f"{moved}; {relied}, above 0; {skilled}, below 0{early_note}"
    return MOVES, (
        f"{moved}; {relied}, above 0, but {skilled}, not below 0: the model does not predict better than a "
        f"constant, so what context does for it is not skill{early_note}"
    )


def model_context_usage(
    model: Any, variant: str, tensors: Tensors, rows: np.ndarray, ts: np.ndarray, config: VerdictConfig
) -> dict[str, Any]:
    """`context_usage` of a fitted model on the sample `rows` of `tensors` (their labels are the tensors'
    targets; `ts` the rows' bar times): what replay computes, for a model that is not in a bundle (each fit
    of `train evaluate`, on its fold's test block)."""
    plan = AblationPlan(config.repeats, config.seed)
    outputs = predict_rows(model, variant, tensors, rows, swaps=context_swaps(rows, variant, plan))
    y = tensors.targets[rows].double().numpy()
    replayed = Replayed(
        ts=ts,
        outputs=outputs["model"],
        ablated=ablation_outputs(outputs, variant, plan),
        labels={HEADS["direction"][1]: y[:, 0], HEADS["early_move"][1]: y[:, 1]},
    )
    return context_usage(replayed, config, has_ctx_inputs=variant == "v10_ctx")
