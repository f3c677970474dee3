"""The embedded default job behind `fs demo` (the README's main command).

It uses the shared real data (`../shared/data`, or `$FS_DEMO_DATA`) when present, else writes deterministic
synthetic XAUUSD M5 candles in the same MT5 export format, then ingests, materializes and validates them
(snapshot + data docs).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, MaterializeResult, materialize
from featurestore.compute.validate import ValidateConfig, ValidateResult, validate
from featurestore.ingest.ingest_file import IngestOptions, IngestResult, ingest_file
from featurestore.store.handle import Store
from featurestore.store.lineage import range_is_current

logger = logging.getLogger(__name__)

REAL_M5_FILE = "xauusd_m5_2025_mt5.tsv"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # beside the checkout
DEMO_SYMBOL = "XAUUSD"
DEMO_SOURCE_TZ = "EET"
# The contract needs 20 trading days of history (warmup), so the demo materializes from February on.
REAL_RANGE = (date(2025, 2, 1), date(2025, 10, 27))
SYNTHETIC = SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 10, 31))
SYNTHETIC_RANGE = (date(2025, 2, 1), date(2025, 10, 31))


SYNTHETIC_NOTICE = (
    "These candles are synthetic (a seeded random price path with real sessions, breaks and spreads): "
    "the model is not expected to find an edge. The numbers show the pipeline working, not a strategy."
)


@dataclass(frozen=True)
class DemoData:
    """Which candles the demo runs on, and why: the shared real export if found, else synthetic ones."""

    kind: str  # "real" or "synthetic"
    source_file: Path
    start: date
    end: date
    reason: str

    def describe(self) -> str:
        span = f"{self.start}..{self.end}"
        return f"Demo data: {self.kind} candles, {span}, from {self.source_file} ({self.reason})"


def choose_demo_data(store: Store, *, synthetic: bool = False) -> DemoData:
    """The demo data: real where `../shared/data` (or `$FS_DEMO_DATA`) has the export, unless `synthetic`."""
    real = None if synthetic else find_real_data()
    if real is not None:
        return DemoData("real", real, *REAL_RANGE, "the shared real export was found")
    reason = "--synthetic was given" if synthetic else f"no {REAL_M5_FILE} in {_data_folder()}"
    source = store.root / "demo" / "xauusd_m5_synthetic_mt5.tsv"
    return DemoData("synthetic", source, *SYNTHETIC_RANGE, reason)


@dataclass(frozen=True)
class DemoResult:
    data: DemoData
    ingest: IngestResult
    materialize: MaterializeResult | None  # None: every row of the range was current, nothing recomputed
    validate: ValidateResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data.kind,
            "data_reason": self.data.reason,
            "source_file": str(self.data.source_file),
            "notice": SYNTHETIC_NOTICE if self.data.kind == "synthetic" else None,
            "ingest": self.ingest.to_dict(),
            "materialize": self.materialize.to_dict() if self.materialize else "current (reused)",
            "validate": self.validate.to_dict(),
        }


def _data_folder() -> Path:
    return Path(os.environ.get("FS_DEMO_DATA", SHARED_DATA))


def find_real_data() -> Path | None:
    """The shared real M5 file, if this checkout has it."""
    candidate = _data_folder() / REAL_M5_FILE
    return candidate if candidate.is_file() else None


def run_demo(store: Store, data: DemoData, *, on_stage: Callable[[str], None] | None = None) -> DemoResult:
    """Ingest the demo's candles into `store` (writing synthetic ones first if needed), materialize every
    table and validate the range."""
    if data.kind == "synthetic" and not data.source_file.exists():
        if on_stage is not None:
            on_stage("generate synthetic candles")
        data.source_file.parent.mkdir(parents=True, exist_ok=True)
        write_mt5_tsv(generate_candles(SYNTHETIC), data.source_file)
    logger.info(data.describe())
    if on_stage is not None:
        on_stage("ingest")
    ingest = ingest_file(
        store, data.source_file, IngestOptions(symbol=DEMO_SYMBOL, fmt="mt5", source_tz=DEMO_SOURCE_TZ)
    )
    config = MaterializeConfig(DEMO_SYMBOL, data.start, data.end)
    # A second demo reuses current rows: materializing again would make a new run, hence a new snapshot.
    built = None if range_is_current(store, config) else materialize(store, config, on_stage=on_stage)
    checked = validate(store, ValidateConfig(DEMO_SYMBOL, data.start, data.end), on_stage=on_stage)
    return DemoResult(data, ingest, built, checked)
