"""A small validated snapshot of synthetic candles and three tiny bundles, shared by the trainer tests."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from train.fitting.bundle import LOCK, METADATA
from train.fitting.config import load_run_config
from train.fitting.run import train_run

TINY = Path(__file__).with_name("tiny.toml")
RANGE = (date(2025, 2, 3), date(2025, 6, 27))


@pytest.fixture(scope="session")
def snapshot_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(store root, snapshot id) of Feb-Jun synthetic M5 data, validated (no data docs)."""
    root = tmp_path_factory.mktemp("train_store")
    source = write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 6, 30), seed=21)),
        root / "c.tsv",
    )
    store = Store.at(root / "store")
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    materialize(store, MaterializeConfig("XAUUSD", *RANGE))
    result = validate(store, ValidateConfig("XAUUSD", *RANGE, data_docs=False))
    return store.root, result.snapshot_id


@pytest.fixture(scope="session")
def bundles(snapshot_store: tuple[Path, str]) -> dict[str, Path]:
    """Two runs of v10_ctx with the same seed, and one v10 run."""
    root, snap = snapshot_store
    out = {}
    for name, variant in (("ctx_a", "v10_ctx"), ("ctx_b", "v10_ctx"), ("plain", "v10")):
        result = train_run(Store.at(root), snap, load_run_config(TINY, {"variant": variant}), f"test_{name}")
        out[name] = result.bundle_path
    return out


def _relock(bundle: Path) -> None:
    """Re-seal a bundle after a deliberate edit, so only the semantic check can object."""
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and p.name != LOCK)
    lock = {str(p.relative_to(bundle)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    (bundle / LOCK).write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")


def edited_bundle(bundle: Path, tmp_path: Path, **changes: object) -> Path:
    copy = tmp_path / f"edited_{len(list(tmp_path.iterdir()))}"
    shutil.copytree(bundle, copy)
    meta = json.loads((copy / METADATA).read_text())
    meta.update(changes)
    (copy / METADATA).write_text(json.dumps(meta))
    _relock(copy)
    return copy
