"""Immutable, content-addressed snapshots: the only data a trainer may open.

A snapshot is `snapshots/<id>/` holding one Parquet file per table, `manifest.json`, `manifest.sha256`
(the manifest's own hash) and, from format 3 on, `definition/<version>/`: a copy of the contract version's
declaration and SQL files it was built from, which opening it uses (docs/contracts.md). `<id>` is
derived from the content (contract hashes, symbol, range and the hash of every table's rows), so the same
inputs give the same id. A snapshot is written to a temporary directory, fsynced and renamed into place;
it is never modified after.

Usage::

    snap = open_snapshot(store, "3f2a...")      # verifies every file hash and the contract hashes
    snap.table("snap_features")                 # a pyarrow Table
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

from featurestore.errors import FeatureStoreError
from featurestore.store.handle import Store
from schemas.contract import Contract, contract_hashes
from schemas.hashing import canonical_sha256, file_sha256, sha256_hex
from schemas.versions import UnknownContractVersion, carried_contract, contract_for, copy_definition

MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
# 1: timestamps written as naive `timestamp[us]` (UTC wall time by convention only);
# 2: written as `timestamp[us, tz=UTC]` (Parquet isAdjustedToUTC), so pandas and polars read them as UTC;
# 3: also carries its contract's definition (`definition/<version>/`, every file hashed in the manifest).
SNAPSHOT_FORMAT = 3
FORMATS = (1, 2, 3)
_ID = re.compile(r"^[0-9a-f]{20}$")
_TMP_PREFIX = ".tmp-"
logger = logging.getLogger(__name__)


class SnapshotError(FeatureStoreError):
    """A snapshot is missing, modified, or built under another contract."""

    exit_code = 6


def table_hash(table: pa.Table) -> str:
    """sha256 of a table's rows and schema (Arrow IPC stream), independent of Parquet encoding."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sha256_hex(sink.getvalue().to_pybytes())


def snapshot_id(content: dict[str, Any]) -> str:
    """The id of a snapshot: a hash of the canonical JSON of its content description."""
    return canonical_sha256(content)[:20]


def check_id(snap_id: str) -> str:
    """Refuse anything but a bare 20-hex-digit id (no path separators, no `..`)."""
    if not _ID.match(snap_id):
        raise SnapshotError(
            f"{snap_id!r} is not a snapshot id (20 lowercase hex digits); see `fs snapshots list`"
        )
    return snap_id


def write_snapshot(
    store: Store,
    snap_id: str,
    tables: dict[str, pa.Table],
    manifest: dict[str, Any],
    contract: Contract | None = None,
) -> Path:
    """Write tables + manifest (+ a copy of `contract`'s definition) to a temporary directory, fsync, and
    rename to `snapshots/<id>`.

    The caller holds the store's writer lock, so no other snapshot write runs at the same time.

    Raises:
        SnapshotError: `snapshots/<id>` already exists (a snapshot is never written twice).
    """
    final = store.snapshots_dir / check_id(snap_id)
    if final.exists():
        raise SnapshotError(f"snapshot {snap_id} already exists at {final}; it is never written twice")
    store.snapshots_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(store)
    tmp = store.snapshots_dir / f"{_TMP_PREFIX}{snap_id}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files = {}
        for name, table in tables.items():
            path = tmp / f"{name}.parquet"
            pq.write_table(_utc_annotated(table), path, compression="zstd")
            _fsync(path)
            files[path.name] = file_sha256(path)
        for path in copy_definition(contract, tmp) if contract is not None else ():
            _fsync(path)
            files[path.relative_to(tmp).as_posix()] = file_sha256(path)
        body = (
            json.dumps({**manifest, "id": snap_id, "files": files}, indent=2, sort_keys=True, default=str)
            + "\n"
        )
        (tmp / MANIFEST).write_text(body, encoding="utf-8")
        (tmp / MANIFEST_HASH).write_text(sha256_hex(body.encode()) + "\n", encoding="utf-8")
        for name in (MANIFEST, MANIFEST_HASH):
            _fsync(tmp / name)
        _fsync(tmp)
        os.rename(tmp, final)
        _fsync(store.snapshots_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _utc_annotated(table: pa.Table) -> pa.Table:
    """Every naive timestamp column as `timestamp[us, tz=UTC]` (the store holds UTC wall time)."""
    fields = [
        f.with_type(pa.timestamp("us", tz="UTC"))
        if pa.types.is_timestamp(f.type) and f.type.tz is None
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _naive_utc(table: pa.Table) -> pa.Table:
    """The store's in-memory convention: naive UTC timestamps (format 2 files carry tz=UTC on disk)."""
    fields = [
        f.with_type(pa.timestamp(f.type.unit)) if pa.types.is_timestamp(f.type) and f.type.tz == "UTC" else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def remove_stale_temporaries(store: Store) -> None:
    """Delete half-written snapshot directories left by a killed run (never visible as snapshots)."""
    for path in store.snapshots_dir.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Snapshot:
    """An opened, verified snapshot."""

    id: str
    path: Path
    manifest: dict[str, Any]
    contract: Contract

    def table(self, name: str) -> pa.Table:
        if f"{name}.parquet" not in self.manifest["files"]:
            raise SnapshotError(
                f"snapshot {self.id} has no table {name!r}; it has {sorted(self.manifest['files'])}"
            )
        return _naive_utc(pq.read_table(self.path / f"{name}.parquet"))


def open_snapshot(store: Store, snap_id: str, *, contract: Contract | None = None) -> Snapshot:
    """Open a snapshot after re-checking every file hash, the manifest hash and the contract hashes.

    `contract`: the contract the caller computes with; the snapshot must hold that version's data under
    that version's hashes. None (the default): the registered contract of the version the snapshot names
    (the opened snapshot's `contract`); consumers then check that they can read that version.

    Raises:
        SnapshotError: unknown id, a changed or missing file, or a contract other than the code's.
    """
    path = store.snapshots_dir / check_id(snap_id)
    if not (path / MANIFEST).is_file():
        known = ", ".join(s["id"] for s in list_snapshots(store)) or "none"
        raise SnapshotError(f"no snapshot {snap_id} in {store.snapshots_dir} (known: {known})")
    body = (path / MANIFEST).read_bytes()
    recorded = (
        (path / MANIFEST_HASH).read_text(encoding="utf-8").strip() if (path / MANIFEST_HASH).is_file() else ""
    )
    if sha256_hex(body) != recorded:
        raise SnapshotError(
            f"snapshot {snap_id}: {path / MANIFEST} was modified (its hash differs from {MANIFEST_HASH})"
        )
    manifest = json.loads(body)
    if manifest.get("snapshot_format", 1) not in FORMATS:
        raise SnapshotError(
            f"snapshot {snap_id} has format {manifest.get('snapshot_format')}; this code reads formats "
            f"{', '.join(map(str, FORMATS))}: use the code version that wrote it"
        )
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {
        MANIFEST,
        MANIFEST_HASH,
    }
    if on_disk != set(manifest["files"]):
        raise SnapshotError(
            f"snapshot {snap_id}: files {sorted(on_disk ^ set(manifest['files']))} added or missing"
        )
    for name, expected in manifest["files"].items():
        if file_sha256(path / name) != expected:
            raise SnapshotError(
                f"snapshot {snap_id}: {path / name} was modified (sha256 differs from the manifest)"
            )
    chosen = recorded_contract(manifest, path) if contract is None else contract
    _check_contract(snap_id, manifest, chosen, path)
    return Snapshot(snap_id, path, manifest, chosen)


def recorded_contract(manifest: dict[str, Any], path: Path | None = None) -> Contract:
    """The contract of the version a snapshot names: the copy it carries (format 3, with `path` its folder),
    else the registered contract of that name. A same-named folder with other content is named in a
    warning; the snapshot's copy is what its rows were computed with, so it is the one used.

    Raises:
        SnapshotError: the version is unknown to this code and the snapshot carries no copy.
    """
    version = manifest.get("sql_version")
    carried = carried_contract(path, str(version), f"snapshot {manifest.get('id')}") if path else None
    if carried is not None:
        if carried.conflict:
            logger.warning("%s", carried.conflict)
        return carried.contract
    try:
        return contract_for(str(version))
    except UnknownContractVersion as exc:
        raise SnapshotError(
            f"snapshot {manifest.get('id')}: {exc}; use the code version that built it"
        ) from None


def _check_contract(snap_id: str, manifest: dict[str, Any], contract: Contract, path: Path) -> None:
    recorded_contract(manifest, path)
    if manifest.get("sql_version") != contract.version:
        raise SnapshotError(
            f"snapshot {snap_id} holds contract {manifest.get('sql_version')} data and was opened under "
            f"contract {contract.version}; open it under its own version "
            f"(open_snapshot(..., contract=contract_for({manifest.get('sql_version')!r})))"
        )
    code = contract_hashes(contract)
    for key, value in code.items():
        if manifest.get(key) != value:
            raise SnapshotError(
                f"snapshot {snap_id} was built under {key} {manifest.get(key)}, "
                f"the code's contract has {value}; "
                "materialize and validate again with this code, or use the code version that built it"
            )


def list_snapshots(store: Store) -> list[dict[str, Any]]:
    """Manifests of all snapshots (unverified; `open_snapshot` verifies), newest first."""
    return sorted(_manifests(store), key=lambda m: m.get("created_at", ""), reverse=True)


def _manifests(store: Store) -> Iterator[dict[str, Any]]:
    if not store.snapshots_dir.is_dir():
        return
    for path in store.snapshots_dir.iterdir():
        if _ID.match(path.name) and (path / MANIFEST).is_file():
            try:
                yield json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise SnapshotError(
                    f"{path / MANIFEST}, line {exc.lineno}: not valid JSON ({exc.msg}); the snapshot is "
                    f"damaged.\n  how to fix: restore {path.name} from a backup or remove the folder"
                ) from None
