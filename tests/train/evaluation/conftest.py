"""A contract v2 snapshot (with realized_bps) of the trainer tests' synthetic store, for `train evaluate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.store.handle import Store
from schemas.versions import CONTRACT_V2
from tests.train.conftest import RANGE


@pytest.fixture(scope="session")
def v2_snapshot_id(snapshot_store: tuple[Path, str]) -> str:
    """A contract v2 snapshot of the shared synthetic store's range."""
    store = Store.at(snapshot_store[0])
    materialize(store, MaterializeConfig("XAUUSD", *RANGE), contract=CONTRACT_V2)
    return validate(
        store, ValidateConfig("XAUUSD", *RANGE, data_docs=False), contract=CONTRACT_V2
    ).snapshot_id
