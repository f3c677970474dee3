"""`train live`: follow a candle source and decide each new complete bar exactly once.

Each poll hands new complete source lines to the ingest checks of `fs ingest` (one short write to the store,
rejected rows journaled with their reason), then decides every stored bar after the last journaled one up
to the newest bar the source delivered, through the live cycle of `train.serving.live`: the online
featurizer under the bundle's own contract -> eligibility -> base model, hybrid channels, model. Bars that
arrive together (a restart, a catch-up) are featurized and scored together, each with its own history,
exactly as one at a time (the same SQL and scoring; the parity audit checks it). Each batch of decisions is
one journal transaction, then its signal lines.

Where it starts: after the last journaled bar of (symbol, bundle); on a fresh journal, after `since` when
given, else after the newest bar the store held at start (the history is not decided again). A restart thus
neither repeats nor skips a bar; bars that closed while it was down are decided and marked `late` (decided
more than `allowed_lag_s` after their close).

Usage::

    config = LiveConfig(bundle=Path("fsdata/bundles/demo"), source=FileSource(Path("XAUUSD_M5.csv")),
                        ingest=IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    summary = run_live(Store.at("fsdata"), config, should_stop=lambda: False)
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.api import (
    DECISION_TABLES,
    IngestOptions,
    Store,
    featurize_window,
    ingest_part,
    read_blocked_intervals,
    stored_candles,
)
from featurestore.errors import StoreMissingError
from schemas.bundle_metadata import read_bundle_metadata
from train.fitting.bundle import LOCK, BundleMismatch, LoadedBundle, load_entry_v10_bundle
from train.fitting.dataset import join_tables
from train.serving.journal import Decision, Journal, utc_now
from train.serving.live import single_threaded
from train.serving.live_sources import SourcePart
from train.serving.scoring import HISTORY_BARS, score_frame

logger = logging.getLogger(__name__)

CHUNK_BARS = 240  # bars featurized and scored together while catching up
HEARTBEAT_S = 10.0
_CANDLE_FIELDS = ("open", "high", "low", "close", "tick_volume", "spread")


class Source(Protocol):
    label: str  # names the source in the journal ("file:/path", "oanda:XAU_USD")
    origin: Path  # the file name ingest records for its rows

    def poll(self) -> SourcePart | None: ...


@dataclass(frozen=True)
class LiveConfig:
    bundle: Path
    source: Source
    ingest: IngestOptions
    timeframe_minutes: int = 5
    journal_dir: Path | None = None  # default: <store>/live/<symbol>-<bundle name>
    blocked: Path | None = None  # re-read before every decision
    since: datetime | None = None  # fresh journal: decide bars after this (UTC); default: new bars only
    allowed_lag_s: float | None = None  # default: one bar
    poll_s: float = 0.25
    on_drift: str = "warn"  # warn: keep deciding, marked degraded; pause: stop deciding
    exit_when_idle_s: float | None = None  # stop once the source brought nothing for this long
    max_decisions: int | None = None
    lock_wait_s: float = 30.0  # how long a write waits for another command's hold on the store
    hooks: tuple[Callable[[list[Decision]], None], ...] = field(default_factory=tuple)


@dataclass
class LiveSummary:
    journal_dir: Path
    bundle_id: str
    decided: int = 0
    predicted: int = 0
    late: int = 0
    rejected: int = 0
    revised: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    degraded: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "journal_dir": str(self.journal_dir)}


def bundle_id_of(path: Path) -> str:
    """`<bundle name>@<sha256 of its lock file, 12 hex>`: names the exact bundle files a decision used."""
    lock = Path(path) / LOCK
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12] if lock.is_file() else "unlocked"
    return f"{Path(path).name}@{digest}"


def iso(ts: datetime) -> str:
    """A naive-UTC or aware timestamp as the journal writes it: `2025-06-25T10:05:00Z`."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


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


def run_live(store: Store, config: LiveConfig, should_stop: Callable[[], bool]) -> LiveSummary:
    """Follow `config.source` until `should_stop()`, the source stays idle `exit_when_idle_s`, or
    `max_decisions` bars were decided."""
    runner = LiveRunner(store, config)
    try:
        return runner.run(should_stop)
    finally:
        runner.close()


class LiveRunner:
    """The loop's state: bundle, journal, the candles held in memory, and where deciding stands."""

    def __init__(self, store: Store, config: LiveConfig) -> None:
        self.store, self.config = store, config
        self.bundle = load_live_bundle(config.bundle)
        self.bundle_id = bundle_id_of(config.bundle)
        symbol = config.ingest.symbol
        directory = config.journal_dir or store.root / "live" / f"{symbol}-{Path(config.bundle).name}"
        self.journal = Journal.open(directory, symbol, self.bundle_id)
        self.summary = LiveSummary(directory, self.bundle_id, degraded=self.bundle.status != "ok")
        self.contract = self.bundle.contract
        self.bar = timedelta(minutes=config.timeframe_minutes)
        self.keep = 2 * (self.contract.warmup_bars + HISTORY_BARS + CHUNK_BARS)
        self.window = self._trim(self._initial_candles())
        self.decided_until = self._start_after()
        self.source_high: datetime | None = None
        self.blocked: tuple[tuple[datetime, datetime], ...] = ()
        if config.blocked is not None:
            self.blocked = read_blocked_intervals(config.blocked)  # unreadable at start: an error
        self.columns = _decision_columns(self.contract)
        self.ingest = replace(config.ingest, on_conflict="replace", max_reject_share=1.0)
        for key, value in (("source", config.source.label), ("bundle_id", self.bundle_id)):
            self.journal.set_meta(key, value)
        logger.info("deciding %s bars after %s with %s", symbol, self.decided_until, self.bundle_id)

    def close(self) -> None:
        self.journal.set_meta("stopped_at", utc_now())
        self.journal.close()

    def _initial_candles(self) -> pa.Table:
        try:
            return stored_candles(self.store, self.config.ingest.symbol, self._timeframe())
        except StoreMissingError:
            return pa.table({})

    def _timeframe(self) -> str:
        return f"M{self.config.timeframe_minutes}"

    def _start_after(self) -> datetime | None:
        last = self.journal.last_ts()
        if last is not None:
            return datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ")
        if self.config.since is not None:
            return self.config.since - timedelta(microseconds=1)
        return self._newest()

    def _newest(self) -> datetime | None:
        return self.window.column("ts")[-1].as_py() if self.window.num_rows else None

    def _trim(self, candles: pa.Table) -> pa.Table:
        return candles.slice(max(candles.num_rows - self.keep, 0)) if candles.num_columns else candles

    def run(self, should_stop: Callable[[], bool]) -> LiveSummary:
        idle_since, beat = time.monotonic(), 0.0
        while not should_stop():
            part = self.config.source.poll()
            if part is not None:
                self._take(part)
                idle_since = time.monotonic()
            self._decide_pending()
            now = time.monotonic()
            if now - beat >= HEARTBEAT_S:
                self.journal.set_meta("heartbeat", utc_now())
                beat = now
            max_decisions = self.config.max_decisions
            if max_decisions is not None and self.summary.decided >= max_decisions:
                break
            idle = self.config.exit_when_idle_s
            if idle is not None and now - idle_since >= idle:
                break
            if part is None:
                time.sleep(self.config.poll_s)
        return self.summary

    def _take(self, part: SourcePart) -> None:
        """Ingest a source part, journal its rejected rows, merge its stored bars into the window."""
        result = ingest_part(
            self.store,
            self.config.source.origin,
            part.data,
            self.ingest,
            line_shift=part.line_shift,
            after=self._newest(),
            wait=self.config.lock_wait_s,
        )
        for line, ts, reason in result.rejected:
            self.journal.event("rejected", {"line": line, "reason": reason}, iso(ts) if ts else None)
            self.summary.rejected += 1
        if part.rewritten:
            self.journal.event("source_rewritten", {"lines": part.lines, "offset": part.offset})
        self._merge(result.candles)
        if result.result.last_ts is not None:
            last = result.result.last_ts.replace(tzinfo=None)
            self.source_high = last if self.source_high is None else max(self.source_high, last)

    def _merge(self, fresh: pa.Table) -> None:
        """Replace the window's bars from `fresh`'s first on; decided bars whose values changed are
        journaled as revised by the source."""
        if fresh.num_rows == 0:
            return
        if not self.window.num_columns:
            self.window = self._trim(fresh)
            return
        lo = fresh.column("ts")[0]
        old = self.window.filter(pc.greater_equal(self.window.column("ts"), lo))
        self._report_revisions(old, fresh)
        kept = self.window.filter(pc.less(self.window.column("ts"), lo))
        self.window = self._trim(pa.concat_tables([kept, fresh.cast(kept.schema)]))

    def _report_revisions(self, old: pa.Table, fresh: pa.Table) -> None:
        if old.num_rows == 0 or self.decided_until is None:
            return
        before = {row["ts"]: row for row in old.to_pylist() if row["ts"] <= self.decided_until}
        for row in fresh.to_pylist():
            was = before.get(row["ts"])
            if was is not None and any(was[k] != row[k] for k in _CANDLE_FIELDS):
                changed = {k: [was[k], row[k]] for k in _CANDLE_FIELDS if was[k] != row[k]}
                self.journal.event("revised", {"changed": changed}, iso(row["ts"]))
                self.summary.revised += 1

    def _decide_pending(self) -> None:
        """Decide every window bar after `decided_until` up to the newest bar the source delivered."""
        if self.source_high is None or not self.window.num_columns:
            return
        ts = self.window.column("ts").to_numpy()
        lo = 0 if self.decided_until is None else int(np.searchsorted(ts, np.datetime64(self.decided_until)))
        if self.decided_until is not None and lo < len(ts) and ts[lo] == np.datetime64(self.decided_until):
            lo += 1
        hi = int(np.searchsorted(ts, np.datetime64(self.source_high), side="right"))
        while lo < hi:
            end = min(lo + CHUNK_BARS, hi)
            decisions = self._decide(end, end - lo)
            self.journal.record(decisions)
            for hook in self.config.hooks:
                hook(decisions)
            self._count(decisions)
            self.decided_until = self.window.column("ts")[end - 1].as_py()
            lo = end

    def _decide(self, end: int, n: int) -> list[Decision]:
        """The decisions of window rows [end - n, end): featurized with their history, scored together."""
        flags = list(self.bundle.problems and ["bundle_mismatch"])
        flags += self._read_blocked()
        candles = self.window.slice(0, end)
        tables = featurize_window(
            candles, HISTORY_BARS - 1 + n, blocked_intervals=self.blocked, contract=self.contract
        )
        frame = join_tables({name: tables[name] for name in DECISION_TABLES}, "online")
        within = np.zeros(frame.height, dtype=bool)
        within[-n:] = True
        with single_threaded():
            scores = score_frame(self.bundle, frame, within=within)
        decided_at = datetime.now(UTC)
        rows = frame.tail(n).to_dicts()
        bars = candles.slice(end - n).to_pylist()
        return [
            self._decision(row, bar, scores, frame.height - n + i, decided_at, tuple(flags))
            for i, (row, bar) in enumerate(zip(rows, bars, strict=True))
        ]

    def _decision(
        self,
        row: dict[str, Any],
        bar: dict[str, Any],
        scores: Any,
        i: int,
        at: datetime,
        flags: tuple[str, ...],
    ) -> Decision:
        meta = self.bundle.metadata
        assert meta is not None  # load_live_bundle refuses a bundle without one
        close = row["ts"] + self.bar
        lag = (at.replace(tzinfo=None) - close).total_seconds()
        allowed = (
            self.config.allowed_lag_s if self.config.allowed_lag_s is not None else self.bar.total_seconds()
        )
        predicted = bool(scores.predicted[i])

        def value(array: np.ndarray) -> float | None:
            return float(array[i]) if predicted else None

        return Decision(
            symbol=self.config.ingest.symbol,
            ts=iso(row["ts"]),
            bundle_id=self.bundle_id,
            reason=row["reason"],
            predicted=predicted,
            p_long=value(scores.p_long),
            p_early_move=value(scores.p_early_move),
            quality=value(scores.quality),
            p_xgb=None if np.isnan(scores.p_xgb[i]) else float(scores.p_xgb[i]),
            contract_version=self.contract.version,
            feature_contract_hash=meta.feature_contract_hash,
            full_contract_hash=meta.full_contract_hash,
            snapshot_id=meta.snapshot_id,
            source=self.config.source.label,
            bar_close=iso(close),
            decided_at=at.isoformat(timespec="milliseconds"),
            lag_s=round(lag, 3),
            late=lag > allowed,
            degraded=bool(flags),
            flags=flags,
            candle={k: bar[k] for k in _CANDLE_FIELDS},
            inputs={c: _plain(row[c]) for c in self.columns},
        )

    def _read_blocked(self) -> list[str]:
        """Re-read the blocked-interval file; an unreadable one keeps the last intervals and flags it."""
        if self.config.blocked is None:
            return []
        try:
            self.blocked = read_blocked_intervals(self.config.blocked)
        except Exception as exc:  # noqa: BLE001 - any fault of the file: keep deciding, flagged
            logger.warning(
                "--blocked %s unreadable, keeping its last intervals: %s", self.config.blocked, exc
            )
            return ["blocked_unreadable"]
        return []

    def _count(self, decisions: list[Decision]) -> None:
        s = self.summary
        s.decided += len(decisions)
        s.predicted += sum(d.predicted for d in decisions)
        s.late += sum(d.late for d in decisions)
        s.degraded = s.degraded or any(d.degraded for d in decisions)
        s.first_ts = s.first_ts or decisions[0].ts
        s.last_ts = decisions[-1].ts


def _decision_columns(contract: Any) -> list[str]:
    """Every column of the decision-time tables but the keys: the inputs the parity audit recomputes."""
    names = (c.name for t in DECISION_TABLES for c in contract.table(t).columns)
    return [name for name in dict.fromkeys(names) if name not in ("symbol", "ts")]


def _plain(value: Any) -> Any:
    """A JSON-able feature value (NaN as None)."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, datetime):
        return iso(value)
    return value
