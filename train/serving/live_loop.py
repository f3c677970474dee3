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

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.api import (
    IngestOptions,
    Store,
    ingest_part,
    read_blocked_intervals,
    stored_candles,
)
from featurestore.errors import StoreBusyError, StoreMissingError
from train.serving.drift_monitor import DriftMonitor, monitored_columns
from train.serving.journal import Decision, Journal, utc_now
from train.serving.live_decide import CANDLE_FIELDS, BarDecider, bundle_id_of, iso, load_live_bundle
from train.serving.live_sources import SourcePart
from train.serving.scoring import HISTORY_BARS

logger = logging.getLogger(__name__)

CHUNK_BARS = 240  # bars featurized and scored together while catching up
HEARTBEAT_S = 10.0


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
    drift: bool = True  # drift alarms against the bundle's training rows
    lock_wait_s: float = 30.0  # how long a write waits for another command's hold on the store
    # the parity audit (train.evaluation.live_audit.audit_decisions, given by the app layer): run over each
    # UTC day of decisions once the next day's first bar is decided, its counts journaled
    audit: Callable[..., dict[str, Any]] | None = None


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
    paused_on_drift: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "journal_dir": str(self.journal_dir)}


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
        bar = timedelta(minutes=config.timeframe_minutes)
        self.keep = 2 * (self.contract.warmup_bars + HISTORY_BARS + CHUNK_BARS)
        self.window = self._trim(self._initial_candles())
        self.decided_until = self._start_after()
        resume = getattr(config.source, "resume", None)
        if resume is not None:  # a polled source asks from where the loop stands (OANDA)
            resume(self.decided_until)
        self.source_high: datetime | None = None
        self.pending: SourcePart | None = None  # a part the store was too busy to take
        self.audited = self.journal.unaudited_from()  # the first UTC day whose decisions await their audit
        self.blocked: tuple[tuple[datetime, datetime], ...] = ()
        if config.blocked is not None:
            self.blocked = read_blocked_intervals(config.blocked)  # unreadable at start: an error
        lag = config.allowed_lag_s if config.allowed_lag_s is not None else bar.total_seconds()
        self.decide = BarDecider(
            self.bundle,
            self.bundle_id,
            symbol=symbol,
            source=config.source.label,
            bar_s=bar.total_seconds(),
            allowed_lag_s=lag,
        )
        self.drift = None
        if config.drift:
            columns = monitored_columns(self.bundle, self.decide.columns)
            self.drift = DriftMonitor.start(store, self.bundle, self.bundle_id, self.journal, columns)
        self.ingest = replace(
            config.ingest, on_conflict="replace", max_reject_share=1.0, timeframe=self._timeframe()
        )  # one new line cannot tell its timeframe
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
            part = self.pending or self.config.source.poll()
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
            if self.summary.paused_on_drift:
                break
            if part is None:
                time.sleep(self.config.poll_s)
        return self.summary

    def _take(self, part: SourcePart) -> None:
        """Ingest a source part, journal its rejected rows, merge its stored bars into the window. A store
        held by another command past the wait keeps the part for the next round (nothing is lost)."""
        try:
            result = ingest_part(
                self.store,
                self.config.source.origin,
                part.data,
                self.ingest,
                line_shift=part.line_shift,
                after=self._newest(),
                wait=self.config.lock_wait_s,
            )
        except StoreBusyError as exc:
            self.pending = part
            logger.warning("%s; trying again", exc)
            self.journal.event("store_busy", {"error": str(exc)})
            return
        self.pending = None
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
            if was is not None and any(was[k] != row[k] for k in CANDLE_FIELDS):
                changed = {k: [was[k], row[k]] for k in CANDLE_FIELDS if was[k] != row[k]}
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
            if self.config.audit is not None:
                self._audit_days(decisions[-1].ts[:10])
            self._count(decisions)
            self.decided_until = self.window.column("ts")[end - 1].as_py()
            lo = end
            if self.drift is not None:
                self.drift.observe(decisions)
                if self.config.on_drift == "pause" and self.drift.alarms:
                    self.summary.paused_on_drift = list(self.drift.alarms)
                    self.journal.event("paused", {"alarms": list(self.drift.alarms)})
                    return

    def _decide(self, end: int, n: int) -> list[Decision]:
        """The decisions of window rows [end - n, end), with the flags in force now."""
        flags = ["bundle_mismatch"] if self.bundle.problems else []
        flags += self._read_blocked()
        flags += self.drift.flags() if self.drift is not None else []
        return self.decide(self.window.slice(0, end), n, self.blocked, tuple(flags))

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

    def _audit_days(self, today: str) -> None:
        """Audit every journaled day before `today` that has no audit yet (also those a kill interrupted)."""
        if self.audited is None:  # a fresh journal: its first decided day
            self.audited = self.journal.first_ts()[:10]
        for day in self.journal.days_between(self.audited, today):
            assert self.config.audit is not None
            result = self.config.audit(
                self.store, self.bundle, self.journal.decisions_on(day), revised_ts=self.journal.revised_ts()
            )
            keys = ("bars", "compared", "mismatches", "revised_by_source", "missing_from_store", "passed")
            detail = {
                "day": day,
                **{k: result[k] for k in keys},
                "first_mismatches": result["first_mismatches"][:5],
            }
            self.journal.event("parity", detail)
            if not result["passed"]:
                logger.warning("parity audit of %s: %s mismatches", day, result["mismatches"])
        self.audited = max(self.audited, today)

    def _count(self, decisions: list[Decision]) -> None:
        s = self.summary
        s.decided += len(decisions)
        s.predicted += sum(d.predicted for d in decisions)
        s.late += sum(d.late for d in decisions)
        s.degraded = s.degraded or any(d.degraded for d in decisions)
        s.first_ts = s.first_ts or decisions[0].ts
        s.last_ts = decisions[-1].ts
