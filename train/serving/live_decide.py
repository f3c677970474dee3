"""One batch of bars through the live cycle into journal decisions: featurize the bars with their history
under the bundle's contract, score them (eligibility, base model, hybrid channels, model), and record for
each what the journal keeps (reason, outputs, provenance, lag, flags, the candle and every input value).

Usage::

    decide = BarDecider(bundle, bundle_id, symbol="XAUUSD", source="file:/x", bar_s=300, allowed_lag_s=300)
    decisions = decide(candles, n=3, blocked=(), flags=())    # the last 3 bars of `candles`
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from featurestore.api import DECISION_TABLES, featurize_window
from schemas.bundle_metadata import read_bundle_metadata
from train.fitting.bundle import LOCK, BundleMismatch, LoadedBundle, load_entry_v10_bundle
from train.fitting.dataset import join_tables
from train.serving.journal import Decision
from train.serving.live import single_threaded
from train.serving.scoring import HISTORY_BARS, Scores, score_frame

CANDLE_FIELDS = ("open", "high", "low", "close", "tick_volume", "spread")


def bundle_id_of(path: Path) -> str:
    """`<bundle name>@<sha256 of its lock file, 12 hex>`: names the exact bundle files a decision used."""
    lock = Path(path) / LOCK
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12] if lock.is_file() else "unlocked"
    return f"{Path(path).name}@{digest}"


def load_live_bundle(path: Path) -> LoadedBundle:
    """The bundle in live mode (a mismatch warns and marks it degraded); one that cannot score is refused.

    Raises:
        BundleMismatch: no metadata, or the model did not load (live mode cannot decide without it).
    """
    variant = read_bundle_metadata(Path(path)).variant
    bundle = load_entry_v10_bundle(Path(path), variant=variant, mode="live")
    if bundle.model is None or bundle.metadata is None:
        raise BundleMismatch(Path(path), [*bundle.problems, "its model did not load, so it cannot decide"])
    return bundle


def iso(ts: datetime) -> str:
    """A naive-UTC or aware timestamp as the journal writes it: `2025-06-25T10:05:00Z`."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def decision_columns(bundle: LoadedBundle) -> list[str]:
    """Every column of the decision-time tables but the keys: the inputs the parity audit recomputes."""
    names = (c.name for t in DECISION_TABLES for c in bundle.contract.table(t).columns)
    return [name for name in dict.fromkeys(names) if name not in ("symbol", "ts")]


class BarDecider:
    """Decides the newest bars of a candle window with one bundle."""

    def __init__(
        self,
        bundle: LoadedBundle,
        bundle_id: str,
        *,
        symbol: str,
        source: str,
        bar_s: float,
        allowed_lag_s: float,
    ) -> None:
        self.bundle, self.bundle_id, self.symbol, self.source = bundle, bundle_id, symbol, source
        self.bar = timedelta(seconds=bar_s)
        self.allowed_lag_s = allowed_lag_s
        self.columns = decision_columns(bundle)

    def __call__(
        self,
        candles: pa.Table,
        n: int,
        blocked: Sequence[tuple[datetime, datetime]],
        flags: tuple[str, ...],
    ) -> list[Decision]:
        """The decisions of the last `n` bars of `candles`, each featurized with its own history."""
        tables = featurize_window(
            candles, HISTORY_BARS - 1 + n, blocked_intervals=blocked, contract=self.bundle.contract
        )
        frame = join_tables({name: tables[name] for name in DECISION_TABLES}, "online")
        within = np.zeros(frame.height, dtype=bool)
        within[-n:] = True
        with single_threaded():
            scores = score_frame(self.bundle, frame, within=within)
        decided_at = datetime.now(UTC)
        rows = frame.tail(n).to_dicts()
        bars = candles.slice(candles.num_rows - n).to_pylist()
        return [
            self._decision(row, bar, scores, frame.height - n + i, decided_at, flags)
            for i, (row, bar) in enumerate(zip(rows, bars, strict=True))
        ]

    def _decision(
        self,
        row: dict[str, Any],
        bar: dict[str, Any],
        scores: Scores,
        i: int,
        at: datetime,
        flags: tuple[str, ...],
    ) -> Decision:
        meta = self.bundle.metadata
        assert meta is not None  # load_live_bundle refuses a bundle without one
        close = row["ts"] + self.bar
        lag = (at.replace(tzinfo=None) - close).total_seconds()
        predicted = bool(scores.predicted[i])

        def value(array: np.ndarray) -> float | None:
            return float(array[i]) if predicted else None

        return Decision(
            symbol=self.symbol,
            ts=iso(row["ts"]),
            bundle_id=self.bundle_id,
            reason=row["reason"],
            predicted=predicted,
            p_long=value(scores.p_long),
            p_early_move=value(scores.p_early_move),
            quality=value(scores.quality),
            p_xgb=None if np.isnan(scores.p_xgb[i]) else float(scores.p_xgb[i]),
            contract_version=self.bundle.contract.version,
            feature_contract_hash=meta.feature_contract_hash,
            full_contract_hash=meta.full_contract_hash,
            snapshot_id=meta.snapshot_id,
            source=self.source,
            bar_close=iso(close),
            decided_at=at.isoformat(timespec="milliseconds"),
            lag_s=round(lag, 3),
            late=lag > self.allowed_lag_s,
            degraded=bool(flags),
            flags=flags,
            candle={k: bar[k] for k in CANDLE_FIELDS},
            inputs={c: _plain(row[c]) for c in self.columns},
        )


def _plain(value: Any) -> Any:
    """A JSON-able feature value (NaN as None)."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, datetime):
        return iso(value)
    return value
