"""Parity audit of live decisions: recompute the journaled bars with the batch path and compare.

The batch path is the one `fs materialize` and batch replay use: the contract's SQL run once over the stored
candles of the whole journaled range (`featurize_window` with as many rows as the range holds, each bar
with its own history), then `score_frame` over all of them at once. Against each journaled decision it
compares every input the live cycle used (the decision-time tables' columns, recorded in the journal),
the eligibility reason, whether the bar was predicted, and p_long (within `P_LONG_ATOL`).

A broker may rewrite history after a bar was decided. A journaled bar whose own candle differs from the
stored one, or whose inputs' history holds a bar the source revised after the decision (journal events
`revised`), is reported as `revised_by_source`, not as a parity mismatch: the live cycle was right about
the data it had.

Usage::

    audit = audit_decisions(store, bundle, decisions, revised_ts=["2025-09-03T10:05:00Z"])
    audit["mismatches"], audit["revised_by_source"], audit["passed"]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from featurestore.api import DECISION_TABLES, Store, featurize_window, stored_candles
from train.fitting.bundle import LoadedBundle
from train.fitting.dataset import join_tables
from train.serving.journal import Decision
from train.serving.live import single_threaded
from train.serving.scoring import HISTORY_BARS, score_frame

P_LONG_ATOL = 1e-6
FEATURE_RTOL = 1e-9
LISTED = 20  # mismatches listed by name; all are counted
_TS = "%Y-%m-%dT%H:%M:%SZ"
_CANDLE = ("open", "high", "low", "close", "tick_volume", "spread")


def audit_decisions(
    store: Store,
    bundle: LoadedBundle,
    decisions: Sequence[Decision],
    *,
    revised_ts: Sequence[str] = (),
    timeframe: str = "M5",
) -> dict[str, Any]:
    """Recompute `decisions` (one symbol, any order) from the stored candles in batch and compare."""
    if not decisions:
        return _result(0, 0, [], [], [], 0.0, 0.0)
    decisions = sorted(decisions, key=lambda d: d.ts)
    symbol = decisions[0].symbol
    last = datetime.strptime(decisions[-1].ts, _TS)
    candles = stored_candles(store, symbol, timeframe, before=last + timedelta(seconds=1))
    stamps = candles.column("ts").to_numpy()
    wanted = np.array([np.datetime64(datetime.strptime(d.ts, _TS), "us") for d in decisions])
    present = np.isin(wanted, stamps)
    missing = [d.ts for d, ok in zip(decisions, present, strict=True) if not ok]
    first = int(np.searchsorted(stamps, wanted[present].min())) if present.any() else len(stamps)
    rows = len(stamps) - first + HISTORY_BARS - 1
    frame = _batch_frame(bundle, candles, rows) if present.any() else None
    history = bundle.contract.warmup_bars
    revised = sorted(revised_ts)
    mismatches: list[str] = []
    revised_by_source: list[str] = []
    compared, max_dp, max_rel = 0, 0.0, 0.0
    index = {} if frame is None else {ts: i for i, ts in enumerate(frame["ts"].to_list())}
    bars = {bar["ts"]: bar for bar in candles.slice(first).to_pylist()}
    for decision in decisions:
        ts = datetime.strptime(decision.ts, _TS)
        if ts not in index:
            continue
        row = frame.row(index[ts], named=True)  # type: ignore[union-attr]
        problems, rel, dp = _compare(decision, row)
        max_rel, max_dp = max(max_rel, rel), max(max_dp, dp)
        if _revised(decision, bars[ts], revised, index, ts, history, frame):
            revised_by_source.append(decision.ts)
            continue
        compared += 1
        mismatches += [f"{decision.ts} {p}" for p in problems]
    return _result(len(decisions), compared, mismatches, revised_by_source, missing, max_dp, max_rel)


def _batch_frame(bundle: LoadedBundle, candles: Any, rows: int) -> pl.DataFrame:
    """Every bar from the first journaled one on, featurized and scored in one batch."""
    tables = featurize_window(candles, rows, contract=bundle.contract)
    frame = join_tables({name: tables[name] for name in DECISION_TABLES}, "batch")
    with single_threaded():
        scores = score_frame(bundle, frame)
    return frame.with_columns(pl.Series("predicted", scores.predicted), pl.Series("p_long", scores.p_long))


def _compare(decision: Decision, row: dict[str, Any]) -> tuple[list[str], float, float]:
    """(what differs, the largest relative feature difference, |dp_long|)."""
    problems, max_rel = [], 0.0
    if decision.reason != row["reason"]:
        problems.append(f"reason: live {decision.reason}, batch {row['reason']}")
    for name, live in decision.inputs.items():
        same, rel = _same(live, row[name])
        max_rel = max(max_rel, rel)
        if not same:
            problems.append(f"{name}: live {live!r}, batch {row[name]!r}")
    dp = 0.0
    if decision.predicted != bool(row["predicted"]):
        problems.append(f"predicted: live {decision.predicted}, batch {bool(row['predicted'])}")
    elif decision.predicted:
        dp = abs(float(decision.p_long or 0.0) - float(row["p_long"]))
        if dp > P_LONG_ATOL:
            problems.append(f"p_long: live {decision.p_long}, batch {row['p_long']}")
    return problems, max_rel, dp


def _same(live: Any, batch: Any) -> tuple[bool, float]:
    if isinstance(batch, float) and math.isnan(batch):
        batch = None
    if isinstance(batch, datetime):
        batch = batch.strftime(_TS)
    if not isinstance(live, float) or not isinstance(batch, float):
        return live == batch, 0.0
    scale = max(abs(live), abs(batch))
    rel = abs(live - batch) / scale if scale > 1e-12 else 0.0
    return math.isclose(live, batch, rel_tol=FEATURE_RTOL, abs_tol=1e-12), rel


def _revised(
    decision: Decision,
    bar: dict[str, Any],
    revised: list[str],
    index: dict[datetime, int],
    ts: datetime,
    history: int,
    frame: pl.DataFrame | None,
) -> bool:
    """Whether the source changed this bar, or a bar of its history, after the decision."""
    if any(decision.candle.get(k) != bar[k] for k in _CANDLE):
        return True
    if not revised:
        return False
    earliest = frame["ts"][max(index[ts] - history, 0)] if frame is not None else ts
    return any(earliest.strftime(_TS) <= r <= decision.ts for r in revised)


def _result(
    bars: int,
    compared: int,
    mismatches: list[str],
    revised: list[str],
    missing: list[str],
    max_dp: float,
    max_rel: float,
) -> dict[str, Any]:
    return {
        "passed": not mismatches and not missing,
        "bars": bars,
        "compared": compared,
        "mismatches": len(mismatches),
        "first_mismatches": mismatches[:LISTED],
        "revised_by_source": len(revised),
        "revised_bars": revised[:LISTED],
        "missing_from_store": len(missing),
        "missing_bars": missing[:LISTED],
        "max_abs_diff_p_long": max_dp,
        "max_rel_diff_features": max_rel,
        "p_long_atol": P_LONG_ATOL,
        "feature_rtol": FEATURE_RTOL,
    }
