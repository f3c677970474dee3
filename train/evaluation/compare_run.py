"""`train compare`: two snapshots (contract versions) on the same walk-forward folds, paired, with a record.

Usage::

    config = evaluate_run_config(None, {})                       # evaluate's training bound
    record = compare_snapshots(store, snap_a, snap_b, config, CompareConfig(n_folds=4))
    record["verdict"], record["pooled"]["direction"]["difference"]["log_loss"]

Both snapshots must hold the same symbol. The folds are cut on the UTC days both cover, with the same
dates, seeds, training bound and configuration for both versions. Every fit of both versions goes through
:func:`fit_predictions` (one list of :class:`FitSpec`), which reuses a fit already kept under the same key
(`train.evaluation.fit_cache`) and fits the rest. Writes ``reports/compare-<a>-<b>-<utc time>/`` with
record.json, the PNGs and report.html.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from featurestore.api import Snapshot, Store, open_snapshot
from schemas.contract import CONTRACT_HASH_KEYS
from train.evaluation.compare import (
    pair_fold,
    paired_figures,
    pool,
    trade_differences,
    verdict,
    version_trades,
)
from train.evaluation.compare_html import write_compare_html
from train.evaluation.compare_plots import write_compare_plots
from train.evaluation.evaluate import fit_fold_seed
from train.evaluation.fit_cache import FitPredictions, describe, fit_key, from_fit, load_fit, save_fit
from train.evaluation.folds import Fold, rolling_folds
from train.evaluation.trades import TradeConfig
from train.evaluation.walkforward import _bound
from train.fitting.config import VARIANTS, RunConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompareConfig:
    n_folds: int = 4
    variant: str = "v10_ctx"
    seeds: int = 1
    trades: TradeConfig = field(default_factory=TradeConfig)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"--variant: unknown {self.variant!r}; use {', '.join(VARIANTS)}")
        if self.seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {self.seeds}")


@dataclass(frozen=True)
class FitSpec:
    """One fit: a snapshot, a fold, and the whole configuration (variant and seed included)."""

    snapshot_id: str
    fold: Fold
    config: RunConfig

    @property
    def key(self) -> str:
        return fit_key(self.snapshot_id, self.fold, self.config)


def fit_predictions(
    store: Store,
    specs: Sequence[FitSpec],
    *,
    on_fit: Callable[[int, int, FitSpec, bool], None] | None = None,
) -> list[tuple[FitPredictions, bool]]:
    """Each spec's test-block predictions and whether they were reused (kept under the spec's key).

    The one place a comparison fits: the specs are independent of each other, so they may run anywhere
    (a worker pool) as long as each result is kept with :func:`save_fit` under its key.
    """
    snapshots: dict[str, Snapshot] = {}
    out = []
    for i, spec in enumerate(specs):
        key = spec.key
        cached = load_fit(store, key)
        if on_fit is not None:
            on_fit(i, len(specs), spec, cached is not None)
        if cached is not None:
            out.append((cached, True))
            continue
        if spec.snapshot_id not in snapshots:
            snapshots[spec.snapshot_id] = open_snapshot(store, spec.snapshot_id, contract=None)
        prepared, run = fit_fold_seed(snapshots[spec.snapshot_id], spec.config, spec.fold)
        fit = from_fit(key, prepared, run, spec.fold)
        save_fit(store, fit)
        out.append((fit, False))
    return out


def shared_range(a: Snapshot, b: Snapshot) -> tuple[date, date]:
    if a.manifest["symbol"] != b.manifest["symbol"]:
        raise ValueError(
            f"snapshots {a.id[:12]} ({a.manifest['symbol']}) and {b.id[:12]} ({b.manifest['symbol']}) hold "
            "different symbols; compare two versions of the same symbol"
        )
    (a0, a1), (b0, b1) = ([date.fromisoformat(d) for d in s.manifest["date_range"]] for s in (a, b))
    first, last = max(a0, b0), min(a1, b1)
    if last < first:
        raise ValueError(f"snapshots {a.id[:12]} and {b.id[:12]} share no day; compare overlapping ranges")
    return first, last


def describe_snapshot(snapshot: Snapshot) -> dict[str, Any]:
    m = snapshot.manifest
    return {
        "id": snapshot.id,
        "contract": m.get("sql_version"),
        **{k: m.get(k) for k in CONTRACT_HASH_KEYS},
        "date_range": m["date_range"],
        "label_margin_bars": snapshot.contract.label_margin_bars,
    }


def compare_snapshots(
    store: Store,
    snapshot_a: str,
    snapshot_b: str,
    config: RunConfig,
    compare: CompareConfig,
    *,
    on_fit: Callable[[int, int, FitSpec, bool], None] | None = None,
) -> dict[str, Any]:
    """Fit (or reuse) both versions on the same folds, pair them, and write the decision record."""
    started = time.perf_counter()
    snaps = {s: open_snapshot(store, i, contract=None) for s, i in (("a", snapshot_a), ("b", snapshot_b))}
    first, last = shared_range(snaps["a"], snaps["b"])
    folds = rolling_folds(first, last, compare.n_folds, config.splits.embargo_bars)
    seeds = [config.seed + i for i in range(compare.seeds)]
    specs = [
        FitSpec(snaps[side].id, fold, dataclasses.replace(config, variant=compare.variant, seed=seed))
        for side in ("a", "b")
        for fold in folds
        for seed in seeds
    ]
    results = fit_predictions(store, specs, on_fit=on_fit)
    per_side = len(folds) * len(seeds)
    fold_fits = {  # specs are ordered version, fold, seed
        side: [
            [fit for fit, _ in results[s * per_side + k * len(seeds) :][: len(seeds)]]
            for k in range(len(folds))
        ]
        for s, side in enumerate(("a", "b"))
    }
    paired = [pair_fold(fold_fits["a"][k], fold_fits["b"][k]) for k in range(len(folds))]
    pooled = pool(paired)
    pooled_figures = paired_figures(pooled)
    trades = {side: version_trades(pooled, side, compare.trades) for side in ("a", "b")}
    record: dict[str, Any] = {
        "kind": "compare",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "a": describe_snapshot(snaps["a"]),
        "b": describe_snapshot(snaps["b"]),
        "symbol": snaps["a"].manifest["symbol"],
        "shared_range": [str(first), str(last)],
        "variant": compare.variant,
        "seeds": seeds,
        "training_bound": _bound(config),
        "folds": [f.to_dict() for f in folds],
        "differences_noted": _differences(snaps["a"], snaps["b"], pooled.unpaired),
        "per_fold": [
            {**folds[k].to_dict(), "rows": p.unpaired, **paired_figures(p)} for k, p in enumerate(paired)
        ],
        "pooled": {"rows": pooled.unpaired, **pooled_figures},
        "verdict": verdict(pooled_figures["direction"]["difference"]["log_loss"]),
        "trades": {
            "a": trades["a"],
            "b": trades["b"],
            "difference_mean_bps": trade_differences(pooled, compare.trades),
            "rules_tried": len(compare.trades.thresholds) + len(compare.trades.top_shares),
            "without_realized_bps": [s for s in ("a", "b") if trades[s] is None],
        },
        "fits": [
            {"version": "ab"[i // per_side], "fold": spec.fold.index, "seed": spec.config.seed}
            | {"reused": reused}
            | describe(fit)
            for i, (spec, (fit, reused)) in enumerate(zip(specs, results, strict=True))
        ],
        "intervals": "95% percentile intervals from a block bootstrap by UTC trading day, the same days "
        "resampled for both versions (1000 resamples; AUC 200)",
    }
    record["reused_fits"] = sum(f["reused"] for f in record["fits"])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = store.reports_dir / f"compare-{snaps['a'].id[:8]}-{snaps['b'].id[:8]}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    record["plots"] = write_compare_plots(record, out)
    record["seconds"] = round(time.perf_counter() - started, 1)
    (out / "record.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    record["report_dir"] = str(out)
    record["report_html"] = str(write_compare_html(record, out))
    logger.info(
        "compare %s vs %s: %s (%s s)", snapshot_a[:8], snapshot_b[:8], record["verdict"], record["seconds"]
    )
    return record


def _differences(a: Snapshot, b: Snapshot, rows: dict[str, Any]) -> list[str]:
    """What could not be made the same for both versions, said plainly."""
    notes = []
    if a.contract.label_margin_bars != b.contract.label_margin_bars:
        notes.append(
            f"label horizon differs: A reads {a.contract.label_margin_bars} bars ahead, B "
            f"{b.contract.label_margin_bars}"
        )
    if rows["a_only"] or rows["b_only"]:
        notes.append(
            f"{rows['a_only']} rows only A predicted and {rows['b_only']} only B predicted "
            f"({rows['share_unpaired']:.1%}); they are left out of every paired figure"
        )
    for head, n in rows["label_disagreements"].items():
        if n:
            notes.append(f"{head}: the versions' labels differ on {n} paired rows; each is scored on its own")
    return notes
