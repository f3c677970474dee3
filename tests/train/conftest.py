"""A small validated snapshot of synthetic candles, shared by the trainer tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from featurestore.ingest import IngestOptions, ingest_file
from featurestore.materialize import MaterializeConfig, materialize
from featurestore.store import Store
from featurestore.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.validate import ValidateConfig, validate

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
