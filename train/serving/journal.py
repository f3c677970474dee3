"""The live journal and signal file: every decision of `train live`, exactly once, surviving kills.

The journal is one SQLite file (`journal.sqlite`, WAL mode, so `train live status` and `report` read it
while the loop writes). `decisions` is keyed by (symbol, ts, bundle_id): a second decision for a bar is an
integrity error, never a silent duplicate. `events` holds what is not a decision: rejected source rows
with their reason, source rewrites, bars the source revised after their decision, drift alarms, warnings.
`meta` keeps the loop's own state (the source, the last heartbeat).

The signal file (`signals.jsonl`) carries what an order program needs, one JSON line per decision,
appended with one `write` on an `O_APPEND` descriptor and fsynced, only after the journal's transaction
committed. A kill between the two leaves the journal ahead; `Journal.open` appends the missing lines (and
cuts a torn last line), so the signal file always ends up holding each journaled decision once, in order.

Usage::

    journal = Journal.open(Path("fsdata/live/XAUUSD-demo"), "XAUUSD", "demo@3f2a9c01b7d4")
    journal.last_ts()                     # None on a fresh journal
    journal.record([decision, ...])       # one transaction, then the signal lines
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from featurestore.errors import StoreBusyError

JOURNAL_FILE = "journal.sqlite"
SIGNAL_FILE = "signals.jsonl"
LOCK_FILE = "live.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    symbol TEXT NOT NULL,
    ts TEXT NOT NULL,
    bundle_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    reason TEXT NOT NULL,
    predicted INTEGER NOT NULL,
    p_long REAL,
    p_early_move REAL,
    quality REAL,
    p_xgb REAL,
    contract_version TEXT NOT NULL,
    feature_contract_hash TEXT NOT NULL,
    full_contract_hash TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    source TEXT NOT NULL,
    bar_close TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    lag_s REAL NOT NULL,
    late INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    flags TEXT NOT NULL,
    candle TEXT NOT NULL,
    inputs TEXT NOT NULL,
    PRIMARY KEY (symbol, ts, bundle_id)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts TEXT,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# The fields of a decision that go to the signal file (what an order program acts on).
SIGNAL_FIELDS = (
    "symbol",
    "ts",
    "bar_close",
    "bundle_id",
    "reason",
    "predicted",
    "p_long",
    "p_early_move",
    "quality",
    "decided_at",
    "lag_s",
    "late",
    "degraded",
    "flags",
)


@dataclass(frozen=True)
class Decision:
    """One journaled decision. Times are ISO 8601 UTC strings; p_* are None when not predicted."""

    symbol: str
    ts: str
    bundle_id: str
    reason: str
    predicted: bool
    p_long: float | None
    p_early_move: float | None
    quality: float | None
    p_xgb: float | None
    contract_version: str
    feature_contract_hash: str
    full_contract_hash: str
    snapshot_id: str
    source: str
    bar_close: str
    decided_at: str
    lag_s: float
    late: bool
    degraded: bool
    flags: tuple[str, ...] = ()  # why degraded: "bundle_mismatch", "drift:<input>", "blocked_unreadable"
    candle: dict[str, Any] = field(default_factory=dict)  # the decided bar as stored (o/h/l/c/spread/vol)
    inputs: dict[str, Any] = field(default_factory=dict)  # the decision row's feature values (parity audit)

    def signal(self) -> dict[str, Any]:
        """The signal-file record: what an order program needs."""
        record = asdict(self)
        return {key: (list(record[key]) if key == "flags" else record[key]) for key in SIGNAL_FIELDS}


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Journal:
    """The journal of one symbol and bundle in `directory`, held by one `train live` process at a time."""

    def __init__(self, directory: Path, symbol: str, bundle_id: str, con: sqlite3.Connection, lock: int):
        self.directory = directory
        self.symbol = symbol
        self.bundle_id = bundle_id
        self._con = con
        self._lock = lock

    @classmethod
    def open(cls, directory: Path, symbol: str, bundle_id: str) -> Journal:
        """Open (creating) the journal, take its process lock, and bring the signal file up to date.

        Raises:
            StoreBusyError: another `train live` holds this journal.
        """
        directory.mkdir(parents=True, exist_ok=True)
        lock = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            raise StoreBusyError(
                f"another `train live` is following into {directory} (see its {LOCK_FILE}); stop it first, "
                "or pass another --journal"
            ) from None
        con = connect(directory / JOURNAL_FILE)
        con.executescript(_SCHEMA)
        journal = cls(directory, symbol, bundle_id, con, lock)
        journal._sync_signals()
        return journal

    def close(self) -> None:
        self._con.close()
        os.close(self._lock)

    def last_ts(self) -> str | None:
        """The newest decided bar of this symbol and bundle (ISO string), None when none yet."""
        row = self._con.execute(
            "SELECT max(ts) FROM decisions WHERE symbol = ? AND bundle_id = ?", (self.symbol, self.bundle_id)
        ).fetchone()
        return row[0]

    def recent_predicted(self, n: int) -> list[Decision]:
        """The last `n` predicted decisions of this symbol and bundle, oldest first."""
        rows = self._con.execute(
            "SELECT * FROM decisions WHERE symbol = ? AND bundle_id = ? AND predicted = 1 ORDER BY ts DESC "
            "LIMIT ?",
            (self.symbol, self.bundle_id, n),
        ).fetchall()
        return [decision_of(r) for r in reversed(rows)]

    def first_ts(self) -> str:
        row = self._con.execute(
            "SELECT min(ts) FROM decisions WHERE symbol = ? AND bundle_id = ?", (self.symbol, self.bundle_id)
        ).fetchone()
        return str(row[0])

    def unaudited_from(self) -> str | None:
        """The day after the last audited one (parity events), else the first decided day, else None."""
        row = self._con.execute(
            "SELECT max(json_extract(detail, '$.day')) FROM events WHERE kind = 'parity'"
        ).fetchone()
        if row[0] is not None:
            return (date.fromisoformat(row[0]) + timedelta(days=1)).isoformat()
        first = self.first_ts()
        return None if first == "None" else first[:10]

    def days_between(self, first: str, before: str) -> list[str]:
        """The UTC days (YYYY-MM-DD) with decisions, from `first` on and before `before`."""
        rows = self._con.execute(
            "SELECT DISTINCT substr(ts, 1, 10) AS day FROM decisions WHERE symbol = ? AND bundle_id = ? "
            "AND ts >= ? AND ts < ? ORDER BY day",
            (self.symbol, self.bundle_id, first, before),
        ).fetchall()
        return [r["day"] for r in rows]

    def decisions_on(self, day: str) -> list[Decision]:
        rows = self._con.execute(
            "SELECT * FROM decisions WHERE symbol = ? AND bundle_id = ? AND substr(ts, 1, 10) = ? "
            "ORDER BY ts",
            (self.symbol, self.bundle_id, day),
        ).fetchall()
        return [decision_of(r) for r in rows]

    def revised_ts(self) -> list[str]:
        rows = self._con.execute("SELECT ts FROM events WHERE kind = 'revised' AND ts IS NOT NULL").fetchall()
        return [r["ts"] for r in rows]

    def record(self, decisions: Sequence[Decision]) -> None:
        """Journal `decisions` in one transaction, then append their signal lines."""
        if not decisions:
            return
        with self._transaction() as con:
            seq = con.execute("SELECT coalesce(max(seq), 0) FROM decisions").fetchone()[0]
            con.executemany(
                f"INSERT INTO decisions VALUES ({', '.join('?' * 23)})",
                [_row(d, seq + i + 1) for i, d in enumerate(decisions)],
            )
        _append_lines(self.directory / SIGNAL_FILE, [d.signal() for d in decisions])

    def event(self, kind: str, detail: dict[str, Any], ts: str | None = None) -> None:
        """Journal one event (rejected row, rewrite, revision, drift alarm, warning)."""
        with self._transaction() as con:
            con.execute(
                "INSERT INTO events (at, kind, ts, detail) VALUES (?, ?, ?, ?)",
                (utc_now(), kind, ts, json.dumps(detail, default=str)),
            )

    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, default=str)))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._con:  # commits, or rolls back on an exception
            yield self._con

    def _sync_signals(self) -> None:
        """Cut a torn last line and append the signal lines of journaled decisions the file lacks."""
        path = self.directory / SIGNAL_FILE
        last = _last_signal_key(path)
        after = "" if last is None else last
        rows = self._con.execute(
            "SELECT * FROM decisions WHERE symbol = ? AND bundle_id = ? AND ts > ? ORDER BY ts",
            (self.symbol, self.bundle_id, after),
        ).fetchall()
        if rows:
            _append_lines(path, [decision_of(row).signal() for row in rows])


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to a journal file (WAL; read-only ones for status and report)."""
    if read_only:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    else:
        con = sqlite3.connect(path, timeout=10)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
    con.row_factory = sqlite3.Row
    return con


def decision_of(row: sqlite3.Row) -> Decision:
    """A `decisions` row back as a Decision."""
    values = dict(row)
    values.pop("seq")
    values["predicted"], values["late"], values["degraded"] = (
        bool(values[k]) for k in ("predicted", "late", "degraded")
    )
    values["flags"] = tuple(json.loads(values["flags"]))
    values["candle"], values["inputs"] = json.loads(values["candle"]), json.loads(values["inputs"])
    return Decision(**values)


def _row(d: Decision, seq: int) -> tuple[Any, ...]:
    return (
        d.symbol, d.ts, d.bundle_id, seq, d.reason, int(d.predicted), d.p_long, d.p_early_move, d.quality,
        d.p_xgb, d.contract_version, d.feature_contract_hash, d.full_contract_hash, d.snapshot_id, d.source,
        d.bar_close, d.decided_at, d.lag_s, int(d.late), int(d.degraded), json.dumps(list(d.flags)),
        json.dumps(d.candle), json.dumps(d.inputs),
    )  # fmt: skip


def _append_lines(path: Path, records: list[dict[str, Any]]) -> None:
    """Append JSON lines with one write on an O_APPEND descriptor, then fsync."""
    payload = "".join(json.dumps(r, allow_nan=False, separators=(",", ":")) + "\n" for r in records)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, payload.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_signal_key(path: Path) -> str | None:
    """The ts of the signal file's last complete line; a torn last line (a kill mid-write) is cut off."""
    if not path.exists():
        return None
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)
        data = data[:end]
    if not data:
        return None
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    return str(json.loads(data[start:end])["ts"])


def read_journal(directory: Path) -> tuple[list[Decision], list[dict[str, Any]], dict[str, Any]]:
    """(decisions in bar order, events in order, meta) of a journal folder, read-only."""
    con = connect(directory / JOURNAL_FILE, read_only=True)
    try:
        decisions = [decision_of(r) for r in con.execute("SELECT * FROM decisions ORDER BY symbol, ts")]
        events = [
            {**dict(r), "detail": json.loads(r["detail"])}
            for r in con.execute("SELECT * FROM events ORDER BY id")
        ]
        meta = {r["key"]: json.loads(r["value"]) for r in con.execute("SELECT * FROM meta")}
    finally:
        con.close()
    return decisions, events, meta
