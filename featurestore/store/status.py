"""`fs status`: per symbol, what is materialized under which contract, what is stale and why, which
snapshots and bundles rest on which materialize runs, and each contract version's `fs contract check`
state. Reads the logs only; recomputes nothing.

Usage::

    report = store_status(Store.at("./fsdata"), symbol="XAUUSD")
    report["symbols"]["XAUUSD"]["materialized"][0]["state"]      # "current" or "stale"

States: a materialized part is `current` when its run's full_contract_hash is the one of the contract in
force and no ingest wrote bars into its candle slice since (see featurestore.store.lineage), else `stale` with
the reason. A snapshot is `current` or `stale` by the runs its manifest names, or `untraced` when it was
sealed before snapshots recorded their runs.
"""

from __future__ import annotations

from typing import Any

import duckdb

from featurestore.store.checks import check_states, checks_of
from featurestore.store.handle import Store
from featurestore.store.lineage import Run, coverage, describe_marks, runs_of, stale_marks
from featurestore.store.snapshots import list_snapshots
from schemas.bundle_metadata import METADATA_FILE, BundleMetadataError, read_bundle_metadata
from schemas.contract import Contract, contract_hashes
from schemas.versions import DEFAULT_VERSION, known_contracts

UNTRACED = "sealed before lineage was recorded: the materialize runs behind its rows are unknown"


def store_status(store: Store, symbol: str | None = None) -> dict[str, Any]:
    """The status of every symbol of the store (or of `symbol`), as JSON-able data."""
    with store.connect() as con:
        symbols = sorted(
            {r[0] for r in con.execute("SELECT DISTINCT symbol FROM materialize_log").fetchall()}
            | {m.get("symbol") for m in list_snapshots(store)}
            | {r.symbol for r in checks_of(con)}
        )
        if symbol is not None:
            symbols = [symbol]
        runs = {(s, tf): runs_of(con, s, tf) for s, tf in _keys(con, symbols)}
        every = [r for rs in runs.values() for r in rs]
        marks = stale_marks(con, [r.run_id for r in every])
        checks = check_states(con, symbols)
    judge = _Judge(marks)
    bundles, unreadable = _bundles_by_snapshot(store)
    by_id = {r.run_id: r for r in every}
    report: dict[str, Any] = {
        "contracts": {v: contract_hashes(c) for v, c in known_contracts().items()},
        "default_version": DEFAULT_VERSION,
        "symbols": {},
        "unreadable_bundles": unreadable,
        "contract_checks": checks,
    }
    for name in symbols:
        parts = []
        for (sym, tf), rs in runs.items():
            if sym != name or not rs:
                continue
            span = [
                seg
                for version in sorted({r.sql_version for r in rs})
                for seg in _span([r for r in rs if r.sql_version == version])
            ]
            for seg in span:
                if seg.run is None:
                    continue
                state, why = judge.run(seg.run)
                parts.append(
                    {
                        "timeframe": tf,
                        "range": seg.days(),
                        "run_id": seg.run.run_id,
                        "sql_version": seg.run.sql_version,
                        "full_contract_hash": seg.run.full_contract_hash,
                        "created_at": seg.run.created_at.isoformat(),
                        "state": state,
                        "why": why,
                    }
                )
        snaps = []
        for manifest in list_snapshots(store):
            if manifest.get("symbol") != name:
                continue
            state, why = snapshot_state(manifest, by_id, judge)
            snaps.append(
                {
                    "id": manifest.get("id"),
                    "range": "..".join(manifest.get("date_range", [])),
                    "sql_version": manifest.get("sql_version"),
                    "full_contract_hash": manifest.get("full_contract_hash"),
                    "created_at": manifest.get("created_at"),
                    "state": state,
                    "why": why,
                    "materialize_runs": manifest.get("lineage", {}).get("materialize_runs"),
                    "bundles": bundles.get(manifest.get("id"), []),
                }
            )
        report["symbols"][name] = {"materialized": parts, "snapshots": snaps}
    return report


def snapshot_lineage(store: Store, manifests: list[dict[str, Any]]) -> list[str]:
    """The lineage state (current / stale / untraced) of each manifest, for `fs snapshots list`."""
    traced = [m for m in manifests if "lineage" in m]
    runs: dict[str, Run] = {}
    marks: dict[str, list[dict[str, Any]]] = {}
    if traced:
        with store.connect() as con:
            for key in _keys(con, sorted({m["symbol"] for m in traced})):
                runs.update({r.run_id: r for r in runs_of(con, *key)})
            marks = stale_marks(con, list(runs))
    judge = _Judge(marks)
    return [snapshot_state(m, runs, judge)[0] for m in manifests]


class _Judge:
    """Whether a run is current under its version's contract in force, and why not."""

    def __init__(self, marks: dict[str, list[dict[str, Any]]]) -> None:
        self.marks = marks
        self.contracts = known_contracts()
        self.hashes = {v: contract_hashes(c)["full_contract_hash"] for v, c in self.contracts.items()}

    def run(self, run: Run) -> tuple[str, str]:
        ran = f"run {run.run_id} ({run.created_at:%Y-%m-%d %H:%M} UTC)"
        now = self.hashes.get(run.sql_version)
        if now is None:
            return "stale", f"{ran} ran under contract {run.sql_version}, which this code does not know"
        if run.full_contract_hash != now:
            return "stale", (
                f"{ran} ran under {run.sql_version} full_contract_hash {run.full_contract_hash[:16]}; "
                f"the contract in force for {run.sql_version} has {now[:16]}"
                + _edited(self.contracts[run.sql_version])
            )
        if self.marks.get(run.run_id):
            return "stale", f"candles changed after {ran}: {describe_marks(self.marks[run.run_id])}"
        return "current", ""


def _edited(contract: Contract) -> str:
    if contract.origin != "user":
        return ""
    return (
        f" (its folder {contract.folder} changed after the run: "
        f"rerun `fs materialize --contract {contract.version}`)"
    )


def snapshot_state(manifest: dict[str, Any], runs: dict[str, Run], judge: _Judge) -> tuple[str, str]:
    lineage = manifest.get("lineage")
    if lineage is None:
        return "untraced", UNTRACED
    for run_id in lineage["materialize_runs"]:
        if run_id not in runs:
            return "stale", f"run {run_id} is not recorded in this store"
        state, why = judge.run(runs[run_id])
        if state != "current":
            return state, why
    return "current", ""


def _span(runs: list[Run]) -> list:
    """The parts of the runs' hull and their owners (one version's runs: they share tables)."""
    return coverage(runs, min(r.start for r in runs), max(r.end for r in runs))


def _keys(con: duckdb.DuckDBPyConnection, symbols: list[str]) -> list[tuple[str, str]]:
    rows = con.execute(
        "SELECT DISTINCT symbol, timeframe FROM materialize_log WHERE list_contains(?, symbol) ORDER BY 1, 2",
        [symbols],
    ).fetchall()
    return [(s, tf) for s, tf in rows]


def _bundles_by_snapshot(store: Store) -> tuple[dict[str, list[str]], list[str]]:
    """Bundle names per snapshot id (by the one metadata reader), and the bundles it cannot read, why."""
    found: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for path in sorted(store.bundles_dir.glob(f"*/{METADATA_FILE}")):
        try:
            snap = read_bundle_metadata(path.parent).snapshot_id
        except BundleMetadataError as exc:
            unreadable.append(f"{path.parent.name}: {exc}")
            continue
        found.setdefault(snap, []).append(path.parent.name)
    return found, unreadable
