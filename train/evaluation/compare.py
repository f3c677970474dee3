"""Pairing two versions' predictions on the rows both predicted, the paired differences and the verdict.

Usage::

    paired = [pair_fold(k, fits_a[k], fits_b[k]) for k in folds]     # each: the seeds' fits of one fold
    pooled = pool(paired)
    figures = paired_figures(pooled)          # A, B and B - A per head, each with its interval
    verdict(figures["direction"]["difference"]["log_loss"])

Every difference is B - A on the same rows, and its interval resamples the same UTC trading days for both
(`train.fitting.bootstrap`): a per-row loss difference for the log loss, both AUCs recomputed on each
resample for the AUC. Each version is scored on its own targets (the same when the label definition is the
same; the rows where they disagree are counted). Lower log loss is better, so "B better" means the
interval of B - A lies below 0 (docs/compare.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from train.evaluation.fit_cache import FitPredictions
from train.evaluation.metric_intervals import trade_intervals
from train.evaluation.rule_family import FamilyConfig, family_headline, rule_family
from train.evaluation.trades import TradeConfig, TradeRows, entry_rules, one_position, trade_table
from train.fitting.bootstrap import block_bootstrap, mean_interval, trading_days
from train.fitting.intervals import AUC_RESAMPLES, binary_intervals, row_log_loss

HEADS = ("direction", "early_move")
BETTER, WORSE, INCONCLUSIVE = "B better", "B worse", "inconclusive (the interval covers 0)"
NOT_ELIGIBLE = "not eligible under the other version"
NOT_A_SAMPLE = "eligible under the other version, not one of its samples (warmup, label or filters)"


@dataclass(frozen=True, eq=False)
class Paired:
    """Both versions on the rows both predicted (seed-mean p), in time order."""

    ts: np.ndarray
    t1: np.ndarray
    y: dict[str, np.ndarray]  # "a"/"b" -> [n, 2] direction, early_move
    p: dict[str, np.ndarray]  # "a"/"b" -> [n] direction p_long
    early: dict[str, np.ndarray]
    realized: dict[str, np.ndarray]  # NaN where that version has no realized_bps
    val_p: dict[str, np.ndarray]  # validation p_long per version (top-k% cut points)
    unpaired: dict[str, Any]


def _seed_mean(fits: Sequence[FitPredictions]) -> FitPredictions:
    first = fits[0]
    for other in fits[1:]:
        if not np.array_equal(other.ts, first.ts):
            raise AssertionError(f"fit {other.key} scored other rows than {first.key} on the same fold")
    mean = lambda name: np.mean([getattr(f, name) for f in fits], axis=0)  # noqa: E731
    return FitPredictions(
        key=first.key,
        ts=first.ts,
        t1=first.t1,
        targets=first.targets,
        p=mean("p"),
        early_p=mean("early_p"),
        realized_bps=first.realized_bps,
        val_p=mean("val_p"),
        eligible_ts=first.eligible_ts,
        best_epoch=first.best_epoch,
        seconds=sum(f.seconds for f in fits),
    )


def _reasons(only: np.ndarray, other: FitPredictions) -> dict[str, int]:
    eligible = np.isin(only, other.eligible_ts)
    return {NOT_ELIGIBLE: int((~eligible).sum()), NOT_A_SAMPLE: int(eligible.sum())}


def pair_fold(fits_a: Sequence[FitPredictions], fits_b: Sequence[FitPredictions]) -> Paired:
    """Join one fold's predictions of A and B on ts (one symbol per snapshot) over the rows both predicted."""
    a, b = _seed_mean(fits_a), _seed_mean(fits_b)
    common, ia, ib = np.intersect1d(a.ts, b.ts, assume_unique=True, return_indices=True)
    a_only, b_only = np.setdiff1d(a.ts, common), np.setdiff1d(b.ts, common)
    y = {"a": a.targets[ia], "b": b.targets[ib]}
    unpaired = {
        "paired": len(common),
        "a_only": len(a_only),
        "b_only": len(b_only),
        "share_unpaired": (len(a_only) + len(b_only)) / max(len(common) + len(a_only) + len(b_only), 1),
        "why_a_only": _reasons(a_only, b),
        "why_b_only": _reasons(b_only, a),
        "label_disagreements": {h: int((y["a"][:, i] != y["b"][:, i]).sum()) for i, h in enumerate(HEADS)},
    }
    return Paired(
        ts=common,
        t1=a.t1[ia],
        y=y,
        p={"a": a.p[ia], "b": b.p[ib]},
        early={"a": a.early_p[ia], "b": b.early_p[ib]},
        realized={"a": a.realized_bps[ia], "b": b.realized_bps[ib]},
        val_p={"a": a.val_p, "b": b.val_p},
        unpaired=unpaired,
    )


def pool(folds: Sequence[Paired]) -> Paired:
    """The folds' paired rows one after the other (disjoint test blocks, in time order)."""
    cat = lambda get: np.concatenate([get(f) for f in folds])  # noqa: E731
    sides = ("a", "b")
    counts = {k: sum(f.unpaired[k] for f in folds) for k in ("paired", "a_only", "b_only")}
    total = max(sum(counts.values()), 1)
    return Paired(
        ts=cat(lambda f: f.ts),
        t1=cat(lambda f: f.t1),
        y={s: cat(lambda f, s=s: f.y[s]) for s in sides},
        p={s: cat(lambda f, s=s: f.p[s]) for s in sides},
        early={s: cat(lambda f, s=s: f.early[s]) for s in sides},
        realized={s: cat(lambda f, s=s: f.realized[s]) for s in sides},
        val_p={s: cat(lambda f, s=s: f.val_p[s]) for s in sides},
        unpaired={
            **counts,
            "share_unpaired": (counts["a_only"] + counts["b_only"]) / total,
            **{
                why: {r: sum(f.unpaired[why][r] for f in folds) for r in (NOT_ELIGIBLE, NOT_A_SAMPLE)}
                for why in ("why_a_only", "why_b_only")
            },
            "label_disagreements": {
                h: sum(f.unpaired["label_disagreements"][h] for f in folds) for h in HEADS
            },
        },
    )


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def paired_figures(paired: Paired, seed: int = 0) -> dict[str, Any]:
    """Per head: A's and B's log loss / Brier / AUC with intervals, and B - A of log loss and AUC."""
    days = trading_days(paired.ts)
    out: dict[str, Any] = {"n": len(paired.ts), "n_days": len(np.unique(days))}
    for i, head in enumerate(HEADS):
        probs = paired.p if head == "direction" else paired.early
        ya, yb, pa, pb = paired.y["a"][:, i], paired.y["b"][:, i], probs["a"], probs["b"]
        loss_diff = row_log_loss(yb, pb) - row_log_loss(ya, pa)
        auc_diff = block_bootstrap(
            lambda idx, ya=ya, yb=yb, pa=pa, pb=pb: _auc(yb[idx], pb[idx]) - _auc(ya[idx], pa[idx]),
            days,
            n_resamples=AUC_RESAMPLES,
            seed=seed,
        )
        out[head] = {
            "a": binary_intervals(ya, pa, paired.ts, seed=seed),
            "b": binary_intervals(yb, pb, paired.ts, seed=seed),
            "difference": {
                "log_loss": mean_interval(loss_diff, days, seed=seed).to_dict(),
                "auc": auc_diff.to_dict(),
            },
        }
    return out


def verdict(log_loss_difference: dict[str, Any]) -> str:
    """The headline on B - A direction log loss: below 0 all along is better, above 0 worse."""
    if log_loss_difference["high"] < 0:
        return BETTER
    if log_loss_difference["low"] > 0:
        return WORSE
    return INCONCLUSIVE


def _rows(paired: Paired, side: str) -> TradeRows:
    return TradeRows.from_arrays(paired.ts, paired.t1, paired.p[side], paired.realized[side])


def version_trades(paired: Paired, side: str, config: TradeConfig) -> dict[str, Any] | None:
    """One version's trade table on the paired rows (None without realized_bps), with the test of its
    whole rule grid (SPA / StepM against staying flat and always entering: `rule_family`) and the
    sentence that states it, which names how many rules were tried."""
    if not np.isfinite(paired.realized[side]).all() or len(paired.ts) == 0:
        return None
    rows = _rows(paired, side)
    table = trade_table(rows, config, reference_p=paired.val_p[side], intervals=trade_intervals)
    family = rule_family(rows, paired.val_p[side], config, FamilyConfig())
    table["rule_family"] = family
    table["rule_family_headline"] = family_headline(f"version {side.upper()}", family)[1]
    return table


def trade_differences(paired: Paired, config: TradeConfig, seed: int = 0) -> list[dict[str, Any]] | None:
    """Per entry rule: B's mean realized_bps minus A's, each over its own trades, resampling the same days.

    None when either version has no realized_bps.
    """
    if not all(np.isfinite(paired.realized[s]).all() for s in ("a", "b")) or len(paired.ts) == 0:
        return None
    days = trading_days(paired.ts)
    rules = {s: entry_rules(paired.p[s], paired.val_p[s], config) for s in ("a", "b")}
    bps_a, bps_b = paired.realized["a"], paired.realized["b"]
    out = []
    for (name, _, signal_a), (_, _, signal_b) in zip(rules["a"], rules["b"], strict=True):
        taken_a, taken_b = np.zeros(len(paired.ts), bool), np.zeros(len(paired.ts), bool)
        taken_a[one_position(_rows(paired, "a"), signal_a)] = True
        taken_b[one_position(_rows(paired, "b"), signal_b)] = True

        def diff(idx: np.ndarray, ta: np.ndarray = taken_a, tb: np.ndarray = taken_b) -> float:
            ra, rb = bps_a[idx][ta[idx]], bps_b[idx][tb[idx]]
            return float(rb.mean() - ra.mean()) if len(ra) and len(rb) else float("nan")

        interval = block_bootstrap(diff, days, seed=seed).to_dict()
        out.append({"rule": name, "trades_a": int(taken_a.sum()), "trades_b": int(taken_b.sum()), **interval})
    return out
