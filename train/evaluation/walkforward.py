"""`train evaluate`: every variant on every rolling-origin fold, then per-fold and pooled figures.

Usage::

    report = evaluate_snapshot(store, snap_id, config, EvaluateConfig(n_folds=4, variants=("v10", "v10_ctx")))
    report["pooled"]["v10_ctx"]["direction"]["auc"], report["paired_log_loss"]["pooled"]

Pooled figures concatenate the folds' test blocks (disjoint, in time order). Each variant uses the same
seeds on the same folds; the base model, channels and normalization are prepared once per fold and shared
by the variants (they do not depend on the variant). Writes ``reports/evaluate-<snapshot>-<utc time>/
report.json`` under the store.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from featurestore.api import Store, open_snapshot
from train.evaluation.evaluate import FoldResult, evaluate_fold, prepare_fold, snapshot_folds
from train.evaluation.evaluate_html import write_evaluate_html
from train.evaluation.metric_intervals import trade_intervals
from train.evaluation.trades import TradeConfig, TradeRows, trade_table
from train.fitting.config import VARIANTS, RunConfig
from train.fitting.intervals import AUC_RESAMPLES, binary_intervals, paired_log_loss_interval
from train.fitting.metrics import binary_metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateConfig:
    n_folds: int = 4
    variants: tuple[str, ...] = VARIANTS
    trades: TradeConfig = TradeConfig()

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.variants:
            raise ValueError(f"--variants: unknown {unknown or 'none given'}; use {', '.join(VARIANTS)}")


def _pool(results: list[FoldResult]) -> tuple[np.ndarray, np.ndarray, TradeRows]:
    p = np.concatenate([r.test_p for r in results])
    y = np.concatenate([r.test_targets for r in results])
    rows = TradeRows.from_arrays(
        np.concatenate([r.trade_rows.ts for r in results]),
        np.concatenate([r.trade_rows.t1 for r in results]),
        p,
        np.concatenate([r.trade_rows.realized_bps for r in results]),
    )
    return p, y, rows


def evaluate_snapshot(
    store: Store,
    snapshot_id: str,
    config: RunConfig,
    evaluate: EvaluateConfig,
    *,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the walk-forward evaluation and write its report; returns the report dict."""
    started = time.perf_counter()
    stage = on_stage or (lambda _name: None)
    snapshot = open_snapshot(store, snapshot_id, contract=None)
    folds = snapshot_folds(snapshot, evaluate.n_folds, config.splits.embargo_bars)
    results: dict[str, list[FoldResult]] = {v: [] for v in evaluate.variants}
    seconds: list[dict[str, Any]] = []
    for fold in folds:
        began = time.perf_counter()
        stage(f"fold {fold.index + 1}/{len(folds)}: base model and inputs")
        prepared = prepare_fold(snapshot, config, fold)
        for variant in evaluate.variants:
            stage(f"fold {fold.index + 1}/{len(folds)}: {variant}")
            run_config = dataclasses.replace(config, variant=variant)
            results[variant].append(
                evaluate_fold(snapshot, run_config, fold, evaluate.trades, prepared=prepared)
            )
        seconds.append({"fold": fold.index, "seconds": round(time.perf_counter() - began, 1)})
    pooled: dict[str, Any] = {}
    for variant, per_fold in results.items():
        p, y, rows = _pool(per_fold)
        reference = np.concatenate([r.val_p for r in per_fold])  # cut points from validation blocks only
        early = np.concatenate([r.test_early_p for r in per_fold])
        pooled[variant] = {
            "direction": binary_metrics(y[:, 0], p),
            "early_move": binary_metrics(y[:, 1], early),
            "intervals": {
                "direction": binary_intervals(y[:, 0], p, rows.ts),
                "early_move": binary_intervals(y[:, 1], early, rows.ts),
            },
            "trades": trade_table(rows, evaluate.trades, reference_p=reference, intervals=trade_intervals),
        }
    report = {
        "snapshot_id": snapshot_id,
        "folds": [f.to_dict() for f in folds],
        "variants": list(evaluate.variants),
        "per_fold": {v: [r.to_dict() for r in rs] for v, rs in results.items()},
        "pooled": pooled,
        "paired_log_loss": _paired(results),
        "intervals": "95% percentile intervals from a block bootstrap by UTC trading day (1000 resamples; "
        f"AUC {AUC_RESAMPLES}), on the pooled test rows",
        "seconds": {"folds": seconds, "total": round(time.perf_counter() - started, 1)},
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = store.reports_dir / f"evaluate-{snapshot_id[:8]}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    report["report_dir"] = str(out)
    report["report_html"] = str(write_evaluate_html(report, out))
    return report


def _paired(results: dict[str, list[FoldResult]]) -> dict[str, Any] | None:
    """v10_ctx - v10 direction log loss per fold and pooled (same rows, same seeds); negative favours ctx."""
    if not {"v10", "v10_ctx"} <= set(results):
        return None
    per_fold = []
    for plain, ctx in zip(results["v10"], results["v10_ctx"], strict=True):
        if not np.array_equal(plain.test_rows, ctx.test_rows):
            raise AssertionError(f"fold {plain.fold.index}: the variants scored different rows")
        a = ctx.metrics["test"]["direction"]["log_loss"]
        b = plain.metrics["test"]["direction"]["log_loss"]
        interval = paired_log_loss_interval(
            plain.test_targets[:, 0], ctx.test_p, plain.test_p, plain.trade_rows.ts
        )
        per_fold.append(
            {"fold": plain.fold.index, "n": len(plain.test_rows), "difference": a - b, "interval": interval}
        )
    _, y, rows = _pool(results["v10"])
    p_ctx = np.concatenate([r.test_p for r in results["v10_ctx"]])
    p_plain = np.concatenate([r.test_p for r in results["v10"]])
    pooled = binary_metrics(y[:, 0], p_ctx)["log_loss"] - binary_metrics(y[:, 0], p_plain)["log_loss"]
    interval = paired_log_loss_interval(y[:, 0], p_ctx, p_plain, rows.ts)
    return {"per_fold": per_fold, "pooled": {"n": len(y), "difference": pooled, "interval": interval}}
