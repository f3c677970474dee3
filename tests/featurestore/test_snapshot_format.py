"""Snapshot format 2 writes UTC-annotated timestamps; format 1 snapshots (naive timestamps) still open."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from featurestore.store.snapshots import SNAPSHOT_FORMAT, file_sha256, open_snapshot

START, END = date(2025, 2, 3), date(2025, 2, 21)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    root = tmp_path_factory.mktemp("format")
    candles = generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 2, 28)))
    store = Store.at(root / "store")
    ingest_file(
        store, write_mt5_tsv(candles, root / "c.tsv"), IngestOptions("XAUUSD", fmt="mt5", source_tz="EET")
    )
    materialize(store, MaterializeConfig("XAUUSD", START, END))
    return store, validate(store, ValidateConfig("XAUUSD", START, END, data_docs=False)).snapshot_id


def test_files_carry_utc_and_pandas_polars_read_utc(sealed: tuple[Store, str]) -> None:
    store, snap_id = sealed
    snap = open_snapshot(store, snap_id)
    assert snap.manifest["snapshot_format"] == SNAPSHOT_FORMAT == 3
    # format 3 carries its contract's definition, every file hashed in the manifest
    copied = sorted(n for n in snap.manifest["files"] if n.startswith("definition/"))
    assert copied[0] == f"definition/{snap.contract.version}/00_bars.sql" and len(copied) == 7
    assert f"definition/{snap.contract.version}/contract.toml" in copied
    on_disk = pq.read_schema(snap.path / "labels.parquet")
    assert on_disk.field("ts").type == pa.timestamp("us", tz="UTC")
    assert on_disk.field("t1").type == pa.timestamp("us", tz="UTC")
    frame = pl.read_parquet(snap.path / "candles.parquet")
    assert frame.schema["ts"] == pl.Datetime("us", "UTC")
    assert str(pq.read_table(snap.path / "candles.parquet").to_pandas()["ts"].dt.tz) == "UTC"
    # in memory the store's convention stays: naive UTC wall time, the same instants
    table = snap.table("candles")
    assert table.schema.field("ts").type == pa.timestamp("us")
    assert table.column("ts")[0].as_py().isoformat() == frame["ts"][0].replace(tzinfo=None).isoformat()


def test_a_format_1_snapshot_with_naive_timestamps_still_opens(
    sealed: tuple[Store, str], tmp_path: Path
) -> None:
    store, snap_id = sealed
    snap = open_snapshot(store, snap_id)
    expected = {n: snap.table(n) for n in ("candles", "labels")}
    old = Store.at(tmp_path / "old")
    folder = old.snapshots_dir / snap_id
    folder.mkdir(parents=True)
    manifest = dict(snap.manifest)
    files = {}
    for name in [n for n in manifest["files"] if n.endswith(".parquet")]:  # format 1 carried no copy
        table = snap.table(name.removesuffix(".parquet"))  # naive, as format 1 wrote them
        pq.write_table(table, folder / name)
        files[name] = file_sha256(folder / name)
    manifest.update(files=files, snapshot_format=1)
    body = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (folder / "manifest.json").write_text(body)
    (folder / "manifest.sha256").write_text(hashlib.sha256(body.encode()).hexdigest() + "\n")
    reopened = open_snapshot(old, snap_id)
    assert pq.read_schema(folder / "labels.parquet").field("ts").type == pa.timestamp("us")
    for name, table in expected.items():
        assert reopened.table(name).equals(table)
