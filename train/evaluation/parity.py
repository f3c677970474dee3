"""Online/offline parity: for random bars of the batch replay's range, the live path (candles -> online
featurizer -> model) must give the materialized feature rows and the batch-replay p_long.

Features: categoricals, ids, strings and flags identical; floats within `feature_rtol` relative (an absolute
floor of 1e-12 for values at zero). p_long: within `p_long_atol` of batch replay, and the same bars predicted.

Usage::

    report = check_parity(store, bundle, snapshot, replay.cycles, ParityConfig(bars=500))
    report["passed"], report["max_abs_diff_p_long"]
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from featurestore.api import DECISION_TABLES, Snapshot, Store, stored_candles, utc_day_range
from schemas.contract import Contract
from train.fitting.bundle import BundleMismatch, LoadedBundle
from train.fitting.dataset import snapshot_frame
from train.serving.live import predict_latest

FLOAT_ABS_FLOOR = 1e-12


def decision_columns(contract: Contract) -> tuple[Any, ...]:
    """Every column of the decision-time tables of `contract` but the keys: what the live path recomputes."""
    return tuple(
        dict.fromkeys(
            c for t in DECISION_TABLES for c in contract.table(t).columns if c.name not in ("symbol", "ts")
        )
    )


@dataclass(frozen=True)
class ParityConfig:
    bars: int = 500
    seed: int = 2025
    feature_rtol: float = 1e-9
    p_long_atol: float = 1e-6

    def __post_init__(self) -> None:
        if self.bars < 1:
            raise ValueError(f"ParityConfig.bars must be >= 1, got {self.bars}")


def check_parity(
    store: Store, bundle: LoadedBundle, snapshot: Snapshot, batch_cycles: pl.DataFrame, config: ParityConfig
) -> dict[str, Any]:
    """Compare the live path with the snapshot and batch replay on `config.bars` random bars of the range
    `batch_cycles` covers (verify-fullyear: the test split)."""
    if bundle.contract.version != snapshot.contract.version:
        why = f"contract {bundle.contract.version}, but snapshot {snapshot.id} is {snapshot.contract.version}"
        raise BundleMismatch(bundle.path, [why])
    columns = decision_columns(snapshot.contract)
    frame = snapshot_frame(snapshot)
    lo, hi = utc_day_range(*(date.fromisoformat(d) for d in snapshot.manifest["date_range"]))
    candles = stored_candles(store, snapshot.manifest["symbol"], snapshot.manifest["timeframe"], before=hi)
    stamps = candles.column("ts").to_numpy()
    replayed = batch_cycles["ts"].cast(pl.Datetime("us")).to_numpy()
    inside = (stamps >= max(np.datetime64(lo, "us"), replayed.min())) & (stamps <= replayed.max())
    candidates = np.flatnonzero(inside)
    picks = np.sort(
        np.random.default_rng(config.seed).choice(
            candidates, size=min(config.bars, len(candidates)), replace=False
        )
    )
    offline = frame.join(batch_cycles.select("ts", "predicted", "p_long"), on="ts", how="left")
    by_ts = {ts: i for i, ts in enumerate(offline["ts"].to_list())}
    mismatches: list[str] = []
    max_rel, max_dp, predicted_differs, predicted, seconds = 0.0, 0.0, 0, 0, []
    for end in picks:
        began = time.perf_counter()
        decision = predict_latest(bundle, candles.slice(0, int(end) + 1))
        seconds.append(time.perf_counter() - began)
        row = offline.row(by_ts[decision.ts], named=True)
        online = decision.frame.row(decision.frame.height - 1, named=True)
        for col in columns:
            same, rel = _compare(online[col.name], row[col.name], col.dtype, config.feature_rtol)
            max_rel = max(max_rel, rel)
            if not same:
                mismatches.append(
                    f"{decision.ts} {col.name}: online {online[col.name]!r}, stored {row[col.name]!r}"
                )
        predicted += decision.predicted
        if decision.predicted != bool(row["predicted"]):
            predicted_differs += 1
        elif decision.predicted:
            max_dp = max(max_dp, abs(decision.p_long - row["p_long"]))
    ms = np.array(seconds) * 1000
    passed = not mismatches and predicted_differs == 0 and max_dp <= config.p_long_atol
    return {
        "passed": passed,
        "bars": len(picks),
        "predicted_bars": predicted,
        "contract_version": snapshot.contract.version,
        "feature_columns": len(columns),
        "feature_mismatches": len(mismatches),
        "first_mismatches": mismatches[:5],
        "max_rel_diff_features": max_rel,
        "predicted_status_differs": predicted_differs,
        "max_abs_diff_p_long": max_dp,
        "per_bar_ms": {"median": float(np.median(ms)), "p99": float(np.quantile(ms, 0.99))},
        "config": asdict(config),
    }


def _compare(a: Any, b: Any, dtype: str, rtol: float) -> tuple[bool, float]:
    """(equal within tolerance, relative difference): floats may differ by `rtol` relative (or 1e-12
    absolute near zero); everything else, nulls included, must be identical."""
    if dtype != "float64" or a is None or b is None:
        return a == b, 0.0
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b), 0.0
    scale = max(abs(a), abs(b))
    rel = abs(a - b) / scale if scale > FLOAT_ABS_FLOOR else 0.0
    return math.isclose(a, b, rel_tol=rtol, abs_tol=FLOAT_ABS_FLOOR), rel
