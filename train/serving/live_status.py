"""`train live status`: what each live journal of a store says now (read-only; safe while it runs).

Per journal: the source and bundle, the last decision (bar, reason, p_long, lag, flags), whether the loop
is running (its process lock is held) and its last heartbeat, counts (decided, predicted, late, degraded,
rejected rows, bars the source revised) and the drift alarms in force.

Usage::

    live_status(Store.at("fsdata"), None)["journals"][0]["last_decision"]
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from featurestore.api import Store
from featurestore.errors import InputError
from train.serving.journal import JOURNAL_FILE, LOCK_FILE, connect

_LAST = (
    "ts", "bar_close", "reason", "predicted", "p_long", "p_early_move", "quality", "decided_at", "lag_s",
    "late", "degraded", "flags",
)  # fmt: skip


def journal_dirs(store: Store, journal: Path | None) -> list[Path]:
    """The journal folder given, or every journal folder under the store's live/.

    Raises:
        InputError: the given folder holds no journal, or the store has none.
    """
    if journal is not None:
        if not (journal / JOURNAL_FILE).is_file():
            raise InputError(journal, f"no {JOURNAL_FILE} here", fix="pass the folder `train live` wrote")
        return [journal]
    found = sorted(p.parent for p in (store.root / "live").glob(f"*/{JOURNAL_FILE}"))
    if not found:
        raise InputError(store.root / "live", "no live journal in this store", fix="run `train live` first")
    return found


def live_status(store: Store, journal: Path | None) -> dict[str, Any]:
    return {"journals": [journal_status(d) for d in journal_dirs(store, journal)]}


def journal_status(directory: Path) -> dict[str, Any]:
    """One journal's state (see the module docstring)."""
    con = connect(directory / JOURNAL_FILE, read_only=True)
    try:
        meta = {row["key"]: json.loads(row["value"]) for row in con.execute("SELECT * FROM meta")}
        last = con.execute("SELECT * FROM decisions ORDER BY ts DESC LIMIT 1").fetchone()
        counts = dict(
            con.execute(
                "SELECT count(*) AS decided, coalesce(sum(predicted), 0) AS predicted, "
                "coalesce(sum(late), 0) AS late, coalesce(sum(degraded), 0) AS degraded FROM decisions"
            ).fetchone()
        )
        for kind, name in (("rejected", "rejected_rows"), ("revised", "revised_bars")):
            counts[name] = con.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]
        parity = con.execute(
            "SELECT detail FROM events WHERE kind = 'parity' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        alarm = con.execute(
            "SELECT detail FROM events WHERE kind = 'drift' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    last_decision = None
    if last is not None:
        last_decision = {k: last[k] for k in _LAST}
        last_decision["flags"] = json.loads(last_decision["flags"])
    drift = json.loads(alarm["detail"]) if alarm is not None else None
    return {
        "journal": str(directory),
        "running": _held(directory / LOCK_FILE),
        "source": meta.get("source"),
        "bundle_id": meta.get("bundle_id"),
        "heartbeat": meta.get("heartbeat"),
        "last_decision": last_decision,
        "counts": counts,
        "drift_alarms": [] if drift is None else drift.get("alarms", []),
        "last_parity_audit": None if parity is None else json.loads(parity["detail"]),
    }


def _held(lock: Path) -> bool:
    """Whether a `train live` process holds the journal's lock now."""
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
