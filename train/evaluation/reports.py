"""Report directories of the evaluation runs: one new, time-stamped folder under the store's reports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from featurestore.api import Store
from train.fitting.bundle import LoadedBundle


def replay_report_dir(store: Store, bundle: LoadedBundle, source: dict[str, Any]) -> Path:
    stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M%S%f")
    what = source.get("snapshot_id", "online")[:12]
    path = store.reports_dir / f"replay-{bundle.path.name}-{what}-{stamp}"
    path.mkdir(parents=True, exist_ok=False)
    return path
