"""`fs calibrate`: choose the data-driven thresholds of a contract from a calibration window's eligible rows.

Rule (contract v2; docs/contract_v2.md, calibration window), on the eligible rows of the window only:
- `atr_bucket_thresholds`: the 25/50/75 % quantiles of atr_bps, rounded to 0.1 bps (four equal buckets);
- `spread_bucket_thresholds`: the 1/3 and 2/3 quantiles of spread_bps, rounded to 0.01 bps;
- `trend_threshold`: the t (to 0.01) at which NEUTRAL (|trend score| <= t) holds a third of the rows, found
  by bisection running the contract's own context SQL (one definition of the trend score, never a copy).

Usage::

    result = calibrate(store, CalibrateConfig("XAUUSD", date(2025, 2, 1), date(2025, 7, 31)), contract)
    result.thresholds        # {"atr_bucket_thresholds": [...], "spread_bucket_thresholds": [...], ...}
    shares(store, "XAUUSD", date(2025, 8, 1), date(2025, 10, 31), contract)   # class shares elsewhere
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.compute.pipeline import run_pipeline
from featurestore.errors import MaterializeError
from featurestore.store.candles import load_candle_slice
from featurestore.store.handle import Store, utc_day_range
from schemas.contract import Contract

ATR_QUANTILES = (0.25, 0.5, 0.75)
SPREAD_QUANTILES = (1 / 3, 2 / 3)
NEUTRAL_SHARE = 1 / 3
CLASSES = {"atr_bucket": 4, "spread_bucket": 3, "trend_regime_id": 3}


@dataclass(frozen=True)
class CalibrateResult:
    symbol: str
    start: date
    end: date
    eligible_rows: int
    thresholds: dict[str, Any]
    shares: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "range": [self.start.isoformat(), self.end.isoformat()],
            "eligible_rows": self.eligible_rows,
            "thresholds": self.thresholds,
            "shares": self.shares,
        }


def calibrate(store: Store, symbol: str, start: date, end: date, contract: Contract) -> CalibrateResult:
    """Thresholds from the eligible rows of [start, end] and the class shares they give there."""
    runner = _Runner(store, symbol, start, end, contract)
    context = runner.context(contract)
    atr = _eligible(context, runner.eligible, "atr_bps")
    spread = _eligible(context, runner.eligible, "spread_bps")
    thresholds = {
        "atr_bucket_thresholds": [round(float(q), 1) for q in np.quantile(atr, ATR_QUANTILES)],
        "spread_bucket_thresholds": [round(float(q), 2) for q in np.quantile(spread, SPREAD_QUANTILES)],
        "trend_threshold": _trend_threshold(runner, contract),
    }
    calibrated = with_thresholds(contract, thresholds)
    return CalibrateResult(
        symbol, start, end, len(atr), thresholds, _shares(runner.context(calibrated), runner.eligible)
    )


def shares(store: Store, symbol: str, start: date, end: date, contract: Contract) -> dict[str, list[float]]:
    """Share of each class of atr_bucket, spread_bucket and trend_regime_id on the eligible rows."""
    runner = _Runner(store, symbol, start, end, contract)
    return _shares(runner.context(contract), runner.eligible)


def with_thresholds(contract: Contract, thresholds: dict[str, Any]) -> Contract:
    return dataclasses.replace(contract, parameters={**contract.parameters, **thresholds})


class _Runner:
    """The candle slice of a range and its eligible rows, to run the context SQL on again and again."""

    def __init__(self, store: Store, symbol: str, start: date, end: date, contract: Contract) -> None:
        self.start, self.end = utc_day_range(start, end)
        with store.connect() as con:
            self.candles = load_candle_slice(
                con, symbol, contract.parameters["timeframe"], self.start, self.end, contract
            )
        if self.candles.num_rows == 0:
            raise MaterializeError(f"no candles of {symbol} around {start}..{end}: run `fs ingest` first")
        eligibility = run_pipeline(self.candles, self.start, self.end, contract=contract)["eligibility"]
        self.eligible = eligibility.column("eligible")
        self.warm = pc.equal(eligibility.column("reason"), "HARD_WARMUP")

    def context(self, contract: Contract) -> pa.Table:
        return run_pipeline(
            self.candles, self.start, self.end, contract=contract, tables=["context"], warmup=self.warm
        )["context"]


def _eligible(table: pa.Table, eligible: pa.ChunkedArray, column: str) -> np.ndarray:
    return table.filter(eligible).column(column).to_numpy()


def _shares(context: pa.Table, eligible: pa.ChunkedArray) -> dict[str, list[float]]:
    out = {}
    for column, n in CLASSES.items():
        values = _eligible(context, eligible, column)
        out[column] = [round(float(np.mean(values == k)), 4) for k in range(n)]
    return out


def _trend_threshold(runner: _Runner, contract: Contract) -> float:
    """The smallest t (in 0.01 steps) whose NEUTRAL share on eligible rows reaches NEUTRAL_SHARE."""
    lo, hi = 0, 500  # hundredths
    while hi - lo > 1:
        mid = (lo + hi) // 2
        context = runner.context(with_thresholds(contract, {"trend_threshold": mid / 100}))
        neutral = float(np.mean(_eligible(context, runner.eligible, "trend_regime_id") == 1))
        lo, hi = (lo, mid) if neutral >= NEUTRAL_SHARE else (mid, hi)
    return hi / 100
