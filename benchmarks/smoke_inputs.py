"""The smallest inputs the benchmarks' `--smoke` mode runs on: three months of synthetic candles (always
synthetic, even where the real export exists), a store in a temporary folder holding their tables and a
snapshot, and a tiny bundle trained on it. A smoke run shows that a benchmark runs end to end and prints
its figures; its numbers say nothing about the targets.

The benchmark scripts import this module by name (`python benchmarks/bench_x.py` puts `benchmarks/` first
on the import path).
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from featurestore.app.demo import DEMO_SOURCE_TZ, DEMO_SYMBOL, DemoData
from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store

if TYPE_CHECKING:
    from train.fitting.config import RunConfig

logger = logging.getLogger("smoke_inputs")

# January is the contract's warmup (20 trading days), so the tables start in February.
SMOKE_CANDLES = SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 4, 30))
SMOKE_RANGE = (date(2025, 2, 1), date(2025, 4, 30))


def smoke_data(folder: Path) -> DemoData:
    """Write the smoke candles (MT5 export format) into `folder` and describe them as demo data."""
    source = folder / "xauusd_m5_smoke_mt5.tsv"
    folder.mkdir(parents=True, exist_ok=True)
    write_mt5_tsv(generate_candles(SMOKE_CANDLES), source)
    return DemoData("synthetic", source, *SMOKE_RANGE, "--smoke: the smallest synthetic candles")


def smoke_store(root: Path, *, data_docs: bool = False) -> tuple[Store, str]:
    """A store under `root` holding the smoke candles ingested, materialized (the default contract) and
    validated; returns it and the snapshot id. Data docs are skipped unless asked for (they cost seconds)."""
    data = smoke_data(root / "source")
    store = Store.at(root / "store")
    options = IngestOptions(symbol=DEMO_SYMBOL, fmt="mt5", source_tz=DEMO_SOURCE_TZ)
    ingest_file(store, data.source_file, options)
    materialize(store, MaterializeConfig(DEMO_SYMBOL, data.start, data.end))
    checked = validate(store, ValidateConfig(DEMO_SYMBOL, data.start, data.end, data_docs=data_docs))
    logger.info("smoke store %s: snapshot %s", store.root, checked.snapshot_id)
    return store, checked.snapshot_id


def smoke_run_config() -> RunConfig:
    """A tiny model of the seed's shape, and splits that fit the three months (train, val, then test)."""
    from train.fitting.base_model import BaseModelConfig  # torch: only the scripts that train pay for it
    from train.fitting.config import OptimConfig, RunConfig
    from train.fitting.model import ModelConfig
    from train.fitting.splits import SplitConfig, TimeSplit

    return RunConfig(
        variant="v10_ctx",
        seed=7,
        splits=SplitConfig(
            train=TimeSplit("train", date(2025, 2, 3), date(2025, 3, 21)),
            val=TimeSplit("val", date(2025, 3, 24), date(2025, 4, 4)),
            test=TimeSplit("test", date(2025, 4, 7), date(2025, 4, 30)),
            embargo_bars=30,
        ),
        optim=OptimConfig(epochs=1, batch_size=128, max_train_rows=1000, threads=1),
        base_model=BaseModelConfig(n_folds=2, n_estimators=10, max_depth=3, n_jobs=1),
        model=ModelConfig(
            d_model=16,
            n_heads=2,
            n_layers=1,
            ff_dim=32,
            snap_hidden=(32, 16),
            regime_dim=4,
            fusion_hidden=16,
            head_hidden=16,
        ),
    )


def smoke_bundle(store: Store, snapshot_id: str) -> Path:
    """Train the tiny smoke model on `snapshot_id` and return its bundle's folder."""
    from train.fitting.run import train_run

    return train_run(store, snapshot_id, smoke_run_config(), "smoke").bundle_path
