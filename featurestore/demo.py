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

from featurestore.ingest import IngestOptions, IngestResult, ingest_file
from featurestore.materialize import MaterializeConfig, MaterializeResult, materialize
from featurestore.store import Store
from featurestore.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.validate import ValidateConfig, ValidateResult, validate

logger = logging.getLogger(__name__)

REAL_M5_FILE = "xauusd_m5_2025_mt5.tsv"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEMO_SYMBOL = "XAUUSD"
DEMO_SOURCE_TZ = "EET"
# The contract needs 20 trading days of history (warmup), so the demo materializes from February on.
REAL_RANGE = (date(2025, 2, 1), date(2025, 10, 27))
SYNTHETIC = SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 10, 31))
SYNTHETIC_RANGE = (date(2025, 2, 1), date(2025, 10, 31))


@dataclass(frozen=True)
class DemoResult:
    data_kind: str
    source_file: Path
    ingest: IngestResult
    materialize: MaterializeResult
    validate: ValidateResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data_kind,
            "source_file": str(self.source_file),
            "ingest": self.ingest.to_dict(),
            "materialize": self.materialize.to_dict(),
            "validate": self.validate.to_dict(),
        }


def find_real_data() -> Path | None:
    """The shared real M5 file, if this checkout has it."""
    folder = Path(os.environ.get("FS_DEMO_DATA", SHARED_DATA))
    candidate = folder / REAL_M5_FILE
    return candidate if candidate.is_file() else None


def run_demo(
    store: Store, *, synthetic: bool = False, on_stage: Callable[[str], None] | None = None
) -> DemoResult:
    """Ingest real (or synthetic) candles into `store`, materialize every table and validate the range."""
    real = None if synthetic else find_real_data()
    if real is not None:
        source, kind, (start, end) = real, "real", REAL_RANGE
    else:
        source, kind, (start, end) = (
            store.root / "demo" / "xauusd_m5_synthetic_mt5.tsv",
            "synthetic",
            SYNTHETIC_RANGE,
        )
        if not source.exists():
            if on_stage is not None:
                on_stage("generate synthetic candles")
            source.parent.mkdir(parents=True, exist_ok=True)
            write_mt5_tsv(generate_candles(SYNTHETIC), source)
    logger.info("demo data: %s (%s)", source, kind)
    if on_stage is not None:
        on_stage("ingest")
    ingest = ingest_file(
        store, source, IngestOptions(symbol=DEMO_SYMBOL, fmt="mt5", source_tz=DEMO_SOURCE_TZ)
    )
    built = materialize(store, MaterializeConfig(DEMO_SYMBOL, start, end), on_stage=on_stage)
    checked = validate(store, ValidateConfig(DEMO_SYMBOL, start, end), on_stage=on_stage)
    return DemoResult(kind, source, ingest, built, checked)
