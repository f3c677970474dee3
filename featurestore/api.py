"""The public API of the feature store for its consumers (the trainer): everything `train` may use.

`train` reads data only through this module: snapshots, the stored candles as Arrow, the online featurizer
and the pipeline steps a full-year verification drives. It never opens the DuckDB file itself; the linter
bans `duckdb` and the store's internal modules inside `train/` (see `train/ruff.toml`).

Usage::

    store = Store.at("./fsdata")
    snapshot = open_snapshot(store, "7b03...")
    candles = stored_candles(store, "XAUUSD", "M5")
"""

from __future__ import annotations

from featurestore.compute.funnel import funnel_stages, is_monotone
from featurestore.compute.materialize import MaterializeConfig, materialize, read_blocked_intervals
from featurestore.compute.online import DECISION_TABLES, featurize_window, stored_candles
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store, utc_day_range
from featurestore.store.snapshots import Snapshot, open_snapshot

__all__ = [
    "DECISION_TABLES",
    "IngestOptions",
    "MaterializeConfig",
    "Snapshot",
    "Store",
    "ValidateConfig",
    "featurize_window",
    "funnel_stages",
    "ingest_file",
    "is_monotone",
    "materialize",
    "open_snapshot",
    "read_blocked_intervals",
    "stored_candles",
    "utc_day_range",
    "validate",
]
