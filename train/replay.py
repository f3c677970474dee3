"""`train replay`: evaluate every bar of a range as a live cycle would, and report on it.

Each cycle (bar) goes through eligibility first, then its inputs, then the model. Batch mode reads the
features of a verified snapshot; online mode computes them bar by bar from the stored candles with the online
featurizer, exactly as a live process would. Both score through `train.scoring`. The summary holds the
eligibility funnel, the p_long distribution overall and by session / vol regime / trend regime, the
context-usage verdict (`train.telemetry`) and, with a baseline bundle, the same numbers for it side by side.

Usage::

    result = replay_snapshot(store, Path("fsdata/bundles/demo"), "7b03...", ReplayConfig())
    result.summary["context_usage"]["verdict"], result.report_dir
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from featurestore.online import stored_candles
from featurestore.snapshots import open_snapshot
from featurestore.store import Store, utc_day_range
from schemas.contract import CONTRACT, CONTRACT_HASH_KEYS, contract_hashes
from train.bundle import METADATA, BundleMismatch, LoadedBundle, load_entry_v10_bundle
from train.dataset import snapshot_frame
from train.live import predict_latest
from train.plots import plot_by_bucket, plot_funnel, plot_p_long_hist
from train.scoring import HISTORY_BARS, score_frame
from train.telemetry import GROUPINGS, VerdictConfig, by_bucket, context_usage, cycle_funnel, distribution

logger = logging.getLogger(__name__)

CYCLE_COLUMNS = ("ts", "session_id", "vol_regime_id", "trend_regime_id", "status", "reason", "eligible")


@dataclass(frozen=True)
class ReplayConfig:
    """How to replay: bundle load mode, the date range (inclusive UTC days; default the whole snapshot)."""

    load_mode: str = "replay"  # "replay": any bundle mismatch is an error; "live": warn and mark degraded
    start: date | None = None
    end: date | None = None
    per_cycle: bool = False  # also write every cycle's p_long per bucket into the summary
    verdict: VerdictConfig = field(default_factory=VerdictConfig)

    def __post_init__(self) -> None:
        if self.load_mode not in ("replay", "live"):
            raise ValueError(f"load mode must be 'replay' or 'live', got {self.load_mode!r}")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"the date range ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class ReplayResult:
    summary: dict[str, Any]
    cycles: pl.DataFrame  # one row per cycle of the range: context, eligibility, p_xgb, p_long, ablations
    report_dir: Path


def load_bundle(path: Path, mode: str, data_hashes: dict[str, str]) -> LoadedBundle:
    """Load a bundle (variant from its metadata) and check its contract hashes against the data's.

    Raises:
        BundleMismatch: in replay mode, on any mismatch.
    """
    metadata_path = Path(path) / METADATA
    variant = (
        json.loads(metadata_path.read_text(encoding="utf-8"))["variant"] if metadata_path.is_file() else ""
    )
    bundle = load_entry_v10_bundle(Path(path), variant=variant, mode=mode)
    problems = [
        f"{key} is {bundle.metadata.get(key)!r}, but the data was built under {want!r}"
        for key, want in data_hashes.items()
        if bundle.metadata.get(key) != want
    ]
    if problems and mode == "replay":
        raise BundleMismatch(Path(path), problems)
    for problem in problems:
        logger.warning("bundle %s (live mode, degraded): %s", path, problem)
    if not problems:
        return bundle
    all_problems = (*bundle.problems, *(p for p in problems if p not in bundle.problems))
    return dataclasses.replace(bundle, status="degraded", problems=all_problems)


def replay_snapshot(
    store: Store,
    bundle_path: Path,
    snapshot_id: str,
    config: ReplayConfig,
    *,
    baseline_path: Path | None = None,
) -> ReplayResult:
    """Batch replay over the snapshot's bars (or the configured range of them)."""
    started = time.perf_counter()
    snapshot = open_snapshot(store, snapshot_id)
    hashes = {k: snapshot.manifest[k] for k in CONTRACT_HASH_KEYS}
    bundles = _load_bundles(bundle_path, baseline_path, config.load_mode, hashes)
    frame = snapshot_frame(snapshot)
    timings = {"load": time.perf_counter() - started}
    in_range = _in_range(frame, config)
    source = {"kind": "snapshot", "snapshot_id": snapshot_id}
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
    started = time.perf_counter()
    bundles = _load_bundles(bundle_path, baseline_path, config.load_mode, contract_hashes())
    candles, first = _candles_with_history(store, symbol, timeframe, config.start, config.end)
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


def _load_bundles(
    bundle_path: Path, baseline_path: Path | None, mode: str, hashes: dict[str, str]
) -> dict[str, LoadedBundle]:
    bundles = {"model": load_bundle(bundle_path, mode, hashes)}
    if baseline_path is not None:
        bundles["baseline"] = load_bundle(baseline_path, mode, hashes)
    return bundles


def _in_range(frame: pl.DataFrame, config: ReplayConfig) -> np.ndarray:
    ts = frame["ts"].cast(pl.Datetime("us")).to_numpy()
    first = config.start or ts[0].astype("datetime64[D]").item()
    last = config.end or ts[-1].astype("datetime64[D]").item()
    lo, hi = (np.datetime64(moment, "us") for moment in utc_day_range(first, last))
    in_range = (ts >= lo) & (ts < hi)
    if not in_range.any():
        raise ValueError(f"no bars of the data fall in {first}..{last} (it covers {ts[0]}..{ts[-1]})")
    return in_range


def _candles_with_history(
    store: Store, symbol: str, timeframe: str, start: date, end: date
) -> tuple[pa.Table, int]:
    """Candles up to the end of the range with enough history before it; and the index of its first bar."""
    lo, hi = utc_day_range(start, end)
    candles = stored_candles(store, symbol, timeframe, before=hi)
    ts = candles.column("ts").to_numpy()
    first = int(np.searchsorted(ts, np.datetime64(lo, "us")))
    keep = max(first - CONTRACT.warmup_bars - HISTORY_BARS, 0)
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
        summary["comparison"] = compare(summaries["model"], summaries["baseline"])
    report_dir = _report_dir(store, bundles["model"], source)
    began = time.perf_counter()
    variants = {role: str(b.metadata.get("variant")) for role, b in bundles.items()}
    summary["plots"] = write_plots(cycles, variants, summary["funnel"], report_dir)
    timings["plots"] = time.perf_counter() - began
    summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    (report_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8"
    )
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
    scores = score_frame(bundle, frame, within=in_range, ablation_seed=config.verdict.seed)
    return (
        frame.select(CYCLE_COLUMNS)
        .with_columns(
            pl.Series("predicted", scores.predicted),
            pl.Series("p_xgb", scores.p_xgb),
            pl.Series("p_long", scores.p_long),
            pl.Series("p_early_move", scores.p_early_move),
            pl.Series("quality", scores.quality),
            *(pl.Series(f"p_long_{name}", values) for name, values in scores.ablated.items()),
        )
        .filter(pl.Series(in_range))
    )


def summarize(bundle: LoadedBundle, cycles: pl.DataFrame, config: ReplayConfig) -> dict[str, Any]:
    """The perf summary of one bundle's cycles (see the module docstring)."""
    meta = bundle.metadata
    predicted = cycles.filter(pl.col("predicted"))
    p = predicted["p_long"].to_numpy()
    groups = {name: predicted[column].to_numpy() for name, (column, _) in GROUPINGS.items()}
    funnel = cycle_funnel(
        cycles["status"].to_numpy(),
        cycles["reason"].to_numpy(),
        cycles["eligible"].to_numpy(),
        cycles["predicted"].to_numpy(),
    )
    ts = cycles["ts"]
    summary: dict[str, Any] = {
        "bundle": {
            "path": str(bundle.path),
            "variant": meta.get("variant"),
            "snapshot_id": meta.get("snapshot_id"),
            "load_mode": config.load_mode,
            "status": bundle.status,
            "problems": list(bundle.problems),
            "feature_contract_hash": meta.get("feature_contract_hash"),
            "full_contract_hash": meta.get("full_contract_hash"),
        },
        "degraded": bundle.status != "ok",
        "range": [str(ts.min()), str(ts.max())],
        "in_sample_share": _in_sample_share(meta, predicted["ts"]),
        "funnel": funnel,
        "p_long": distribution(p),
        "p_xgb": distribution(predicted["p_xgb"].to_numpy()),
        "non_finite_outputs": int((~np.isfinite(p)).sum()),
    }
    for name, (_, names) in GROUPINGS.items():
        summary[f"p_long_by_{name}"] = by_bucket(p, groups[name], names, per_cycle=config.per_cycle)
    summary["context_usage"] = context_usage(
        p,
        predicted["p_long_ctx_shuffled"].to_numpy(),
        predicted["p_long_all_context_shuffled"].to_numpy(),
        groups,
        config.verdict,
        has_ctx_inputs=bool(meta.get("supports_context_features")),
    )
    summary["test_metrics"] = _test_metrics(meta)
    return summary


def _in_sample_share(meta: dict[str, Any], ts: pl.Series) -> float:
    """Share of predicted cycles inside the bundle's training split: those are not out-of-sample."""
    train = meta.get("split_ranges", {}).get("train") or []
    if len(train) != 2 or ts.is_empty():
        return 0.0
    lo, hi = (np.datetime64(x, "us") for x in train)
    stamps = ts.cast(pl.Datetime("us")).to_numpy()
    return float(((stamps >= lo) & (stamps <= hi)).mean())


def _test_metrics(meta: dict[str, Any]) -> dict[str, Any]:
    test = meta.get("metrics", {}).get("test", {})
    return {
        head: {k: test[head][k] for k in ("n", "auc", "log_loss", "brier")}
        for head in ("direction", "early_move")
        if head in test
    }


def compare(model: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The A/B numbers side by side: verdict inputs and test metrics (model minus baseline)."""
    usage = {role: s["context_usage"] for role, s in (("model", model), ("baseline", baseline))}
    rows = {
        role: {
            "variant": s["bundle"]["variant"],
            "verdict": usage[role]["verdict"],
            "ctx_shuffled_mean_abs_delta": usage[role]["ablation_ctx_shuffled"]["mean_abs_delta"],
            "ctx_shuffled_p95_abs_delta": usage[role]["ablation_ctx_shuffled"]["p95_abs_delta"],
            "all_context_shuffled_mean_abs_delta": usage[role]["ablation_all_context_shuffled"][
                "mean_abs_delta"
            ],
            **{
                f"{name}_epsilon_squared": test["epsilon_squared"]
                for name, test in usage[role]["rank_tests"].items()
            },
            "p_long_std": usage[role]["p_long_std"],
        }
        for role, s in (("model", model), ("baseline", baseline))
    }
    diff = {
        head: {
            metric: model["test_metrics"][head][metric] - baseline["test_metrics"][head][metric]
            for metric in ("auc", "log_loss", "brier")
        }
        for head in model["test_metrics"]
        if head in baseline["test_metrics"]
    }
    return {"side_by_side": rows, "test_metric_diff_model_minus_baseline": diff}


def write_plots(
    cycles: dict[str, pl.DataFrame], variants: dict[str, str], funnel: dict[str, Any], report_dir: Path
) -> list[str]:
    """p_long by session / vol regime / trend regime (both models when a baseline is given), the funnel and
    the p_long histogram with the ablation; returns the file names."""
    predicted = {role: c.filter(pl.col("predicted")) for role, c in cycles.items()}
    labels = {role: f"{role} ({variants[role]})" for role in cycles}
    written = []
    for name, (column, names) in GROUPINGS.items():
        series = {
            labels[role]: {
                bucket: c.filter(pl.col(column) == bucket_id)["p_long"].to_numpy()
                for bucket_id, bucket in sorted(names.items())
            }
            for role, c in predicted.items()
        }
        path = report_dir / f"p_long_by_{name}.png"
        plot_by_bucket(f"p_long by {name.replace('_', ' ')}", series, path)
        written.append(path.name)
    written.append(plot_funnel(funnel, report_dir / "eligibility_funnel.png").name)
    hist = plot_p_long_hist(
        predicted["model"]["p_long"].to_numpy(),
        predicted["model"]["p_long_ctx_shuffled"].to_numpy(),
        report_dir / "p_long_ablation.png",
    )
    written.append(hist.name)
    return written


def _report_dir(store: Store, bundle: LoadedBundle, source: dict[str, Any]) -> Path:
    stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M%S%f")
    what = source.get("snapshot_id", "online")[:12]
    path = store.reports_dir / f"replay-{bundle.path.name}-{what}-{stamp}"
    path.mkdir(parents=True, exist_ok=False)
    return path
