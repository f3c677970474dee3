"""`train replay`: evaluate the bars of a range as a live cycle would, and report on it.

Batch replay scores by default only the bundle's test split, the bars no stage of the fit has seen;
`all_bars` scores every bar of the snapshot and a date range narrows either choice (`in_sample`). Online
replay scores its date range. Either way the summary gives the in-sample share of each fitting stage
(base model, training split, validation split) and says plainly when any is above 0.

Each cycle (bar) goes through eligibility first, then its inputs, then the model. Batch mode reads the
features of a verified snapshot; online mode computes them bar by bar from the stored candles with the online
featurizer, exactly as a live process would. Both score through `train.serving.scoring`. The summary holds the
eligibility funnel, the p_long distribution overall and by session / vol regime / trend regime, the
context-usage verdict (`train.evaluation.telemetry`) and, with a baseline bundle, the same numbers for it
side by side (`comparison`). The bundles are loaded by `replay_bundles`, summarized by `replay_summary`, drawn
by `replay_plots` into a directory from `reports`, where `replay_html` writes report.html beside summary.json.

Usage::

    result = replay_snapshot(store, Path("fsdata/bundles/demo"), "7b03...", ReplayConfig())
    result.summary["context_usage"]["verdict"], result.report_dir
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from featurestore.api import Store, open_snapshot, stored_candles, utc_day_range
from schemas.contract import CONTRACT_HASH_KEYS, Contract
from train.evaluation.comparison import compare
from train.evaluation.in_sample import select_bars
from train.evaluation.replay_bundles import load_bundles
from train.evaluation.replay_config import ReplayConfig
from train.evaluation.replay_html import REPORT_NAME, write_replay_html
from train.evaluation.replay_plots import write_plots
from train.evaluation.replay_summary import cycles_benefit, summarize
from train.evaluation.reports import replay_report_dir
from train.fitting.bundle import LoadedBundle
from train.fitting.dataset import snapshot_frame
from train.serving.live import predict_latest
from train.serving.scoring import HISTORY_BARS, AblationPlan, score_frame

logger = logging.getLogger(__name__)

CYCLE_COLUMNS = ("ts", "session_id", "vol_regime_id", "trend_regime_id", "status", "reason", "eligible")
LABEL_COLUMNS = ("y_direction", "y_early_move")  # held-out labels of the reliance measure (snapshots only)


@dataclass(frozen=True)
class ReplayResult:
    summary: dict[str, Any]
    # one row per cycle of the range: context, eligibility, labels, p_xgb, p_long, and per context group the
    # outputs under its K permutations (array columns p_long_<group>, p_early_move_<group>)
    cycles: pl.DataFrame
    report_dir: Path

    @property
    def report_html(self) -> Path:
        """The self-contained page of the replay (plots inline), beside summary.json."""
        return self.report_dir / REPORT_NAME


def replay_snapshot(
    store: Store,
    bundle_path: Path,
    snapshot_id: str,
    config: ReplayConfig,
    *,
    baseline_path: Path | None = None,
) -> ReplayResult:
    """Batch replay of the bundle's test split of the snapshot (or every bar), narrowed by the date range."""
    started = time.perf_counter()
    snapshot = open_snapshot(store, snapshot_id, contract=None)  # under the version it names
    hashes = {k: snapshot.manifest[k] for k in CONTRACT_HASH_KEYS}
    bundles = load_bundles(bundle_path, baseline_path, config.load_mode, hashes)
    frame = snapshot_frame(snapshot)
    timings = {"load": time.perf_counter() - started}
    ts = frame["ts"].cast(pl.Datetime("us")).to_numpy()
    in_range, scored = select_bars(
        ts, bundles["model"].metadata, all_bars=config.all_bars, start=config.start, end=config.end
    )
    source = {"kind": "snapshot", "snapshot_id": snapshot_id, **scored}
    return _finish(store, bundles, frame, in_range, config, source, timings, online_p_long=None)


def replay_online(
    store: Store,
    bundle_path: Path,
    config: ReplayConfig,
    *,
    symbol: str = "XAUUSD",
    timeframe: str = "M5",
    blocked_intervals: tuple[tuple[datetime, datetime], ...] = (),
    baseline_path: Path | None = None,
    on_bar: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Online replay: for every stored bar of the range, featurize it from the candles up to it (the online
    featurizer, same SQL as materialization) and score it, one bar at a time as a live loop would.

    The summary also reports how long each bar took (featurize + predict) and checks the per-bar p_long
    against a batch scoring of the same online feature rows.
    """
    if config.start is None or config.end is None:
        raise ValueError("online replay needs a date range (--date-range FIRST..LAST)")
    if config.all_bars:
        raise ValueError("--all-bars is for batch replay (--snapshot); online replay scores its date range")
    started = time.perf_counter()
    bundles = load_bundles(bundle_path, baseline_path, config.load_mode, None)  # the bundle's own contract
    contract = bundles["model"].contract
    candles, first = _candles_with_history(store, symbol, timeframe, config.start, config.end, contract)
    timings: dict[str, float] = {"load": time.perf_counter() - started}
    n = candles.num_rows - first
    if n <= 0:
        raise ValueError(f"no {symbol} {timeframe} candles stored in {config.start}..{config.end}")
    bundle = bundles["model"]
    rows: list[pl.DataFrame] = []
    p_online = np.full(n, np.nan)
    seconds = np.zeros(n)
    for k in range(n):
        began = time.perf_counter()
        decision = predict_latest(
            bundle, candles.slice(0, first + k + 1), blocked_intervals=blocked_intervals
        )
        seconds[k] = time.perf_counter() - began
        p_online[k] = decision.p_long
        rows.append(decision.frame[-1:] if k else decision.frame)  # the first bar brings its history rows
        if on_bar is not None:
            on_bar(k + 1, n)
    timings["online_loop"] = float(seconds.sum())
    frame = pl.concat(rows)
    in_range = np.zeros(frame.height, dtype=bool)
    in_range[-n:] = True
    source = {
        "kind": "online",
        "symbol": symbol,
        "timeframe": timeframe,
        "selection": f"date range {config.start}..{config.end}",
        "date_range": [str(config.start), str(config.end)],
        "per_bar_ms": _latency(seconds),
    }
    return _finish(store, bundles, frame, in_range, config, source, timings, online_p_long=p_online)


def _latency(seconds: np.ndarray) -> dict[str, float]:
    ms = seconds * 1000
    return {
        "median": float(np.median(ms)),
        "p95": float(np.quantile(ms, 0.95)),
        "p99": float(np.quantile(ms, 0.99)),
        "max": float(ms.max()),
    }


def _candles_with_history(
    store: Store, symbol: str, timeframe: str, start: date, end: date, contract: Contract
) -> tuple[pa.Table, int]:
    """Candles up to the end of the range with enough history before it; and the index of its first bar."""
    lo, hi = utc_day_range(start, end)
    candles = stored_candles(store, symbol, timeframe, before=hi)
    ts = candles.column("ts").to_numpy()
    first = int(np.searchsorted(ts, np.datetime64(lo, "us")))
    keep = max(first - contract.warmup_bars - HISTORY_BARS, 0)
    return candles.slice(keep), first - keep


def _finish(
    store: Store,
    bundles: dict[str, LoadedBundle],
    frame: pl.DataFrame,
    in_range: np.ndarray,
    config: ReplayConfig,
    source: dict[str, Any],
    timings: dict[str, float],
    online_p_long: np.ndarray | None,
) -> ReplayResult:
    summaries: dict[str, dict[str, Any]] = {}
    cycles: dict[str, pl.DataFrame] = {}
    for role, bundle in bundles.items():
        began = time.perf_counter()
        cycles[role] = _score_cycles(bundle, frame, in_range, config)
        summaries[role] = summarize(bundle, cycles[role], config)
        timings[f"score_{role}"] = time.perf_counter() - began
    summary = summaries["model"]
    summary["source"] = source
    if online_p_long is not None:
        batch = cycles["model"]["p_long"].to_numpy()
        summary["online_vs_batch"] = _online_vs_batch(online_p_long, batch)
    if "baseline" in bundles:
        summary["baseline"] = summaries["baseline"]
        summary["context_usage"]["benefit"] = cycles_benefit(cycles["model"], cycles["baseline"], config)
        summary["comparison"] = compare(summaries["model"], summaries["baseline"])
    report_dir = replay_report_dir(store, bundles["model"], source)
    began = time.perf_counter()
    variants = {role: b.metadata.variant if b.metadata else "unknown" for role, b in bundles.items()}
    summary["plots"] = write_plots(cycles, variants, summary["funnel"], report_dir)
    timings["plots"] = time.perf_counter() - began
    summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    (report_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8"
    )
    write_replay_html(summary, report_dir)
    logger.info("replay report written to %s", report_dir)
    return ReplayResult(summary, cycles["model"], report_dir)


def _online_vs_batch(online: np.ndarray, batch: np.ndarray) -> dict[str, Any]:
    both = np.isfinite(online) & np.isfinite(batch)
    same_predicted = bool((np.isfinite(online) == np.isfinite(batch)).all())
    diff = np.abs(online[both] - batch[both])
    return {
        "bars": int(len(online)),
        "same_bars_predicted": same_predicted,
        "max_abs_diff_p_long": float(diff.max()) if diff.size else 0.0,
    }


def _score_cycles(
    bundle: LoadedBundle, frame: pl.DataFrame, in_range: np.ndarray, config: ReplayConfig
) -> pl.DataFrame:
    plan = AblationPlan(repeats=config.verdict.repeats, seed=config.verdict.seed)
    scores = score_frame(bundle, frame, within=in_range, ablation=plan)
    labelled = frame["label_available"].fill_null(False) if "label_available" in frame.columns else None
    labels = [
        pl.when(labelled).then(pl.col(name).cast(pl.Float64)).otherwise(None).alias(name)
        if labelled is not None and name in frame.columns
        else pl.lit(None, dtype=pl.Float64).alias(name)
        for name in LABEL_COLUMNS
    ]
    return (
        frame.select(*CYCLE_COLUMNS, *labels)
        .with_columns(
            pl.Series("predicted", scores.predicted),
            pl.Series("p_xgb", scores.p_xgb),
            pl.Series("p_long", scores.p_long),
            pl.Series("p_early_move", scores.p_early_move),
            pl.Series("quality", scores.quality),
            *(
                pl.Series(f"{head}_{group}", values)
                for group, heads in scores.ablated.items()
                for head, values in heads.items()
            ),
        )
        .filter(pl.Series(in_range))
    )
