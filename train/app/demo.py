"""The README's main job end to end: the feature-store demo (ingest, materialize, validate), a small training
run on the snapshot it produced, and a batch replay of the bundle's test split (out-of-sample) with the
context-usage verdict. Re-running reuses what exists (same file, same snapshot, same bundle) instead of
writing anything twice; the replay report is written anew."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from featurestore.api import Store
from featurestore.app.demo import DemoData, DemoResult, run_demo
from train.evaluation.replay import ReplayConfig, ReplayResult, replay_snapshot
from train.fitting.bundle import METADATA
from train.fitting.config import load_run_config
from train.fitting.run import train_run

# A small default: the seed architecture, fewer epochs and samples, so the demo takes minutes on 2 cores.
DEMO_TRAINING = {"epochs": 3, "max_train_rows": 6000}


@dataclass(frozen=True)
class FullDemoResult:
    feature_store: DemoResult
    bundle_path: str
    bundle_created: bool
    metrics: dict[str, Any]
    replay: ReplayResult

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.feature_store.to_dict(),
            "bundle_path": self.bundle_path,
            "bundle_created": self.bundle_created,
            "metrics": self.metrics,
            "replay": self.replay.summary,
            "replay_dir": str(self.replay.report_dir),
        }


def run_full_demo(
    store: Store,
    data: DemoData,
    *,
    on_stage: Callable[[str], None] | None = None,
    on_step: Callable[[int, int, int], None] | None = None,
) -> FullDemoResult:
    fs = run_demo(store, data, on_stage=on_stage)
    snapshot_id = fs.validate.snapshot_id
    name = f"demo_v10_ctx_{snapshot_id[:12]}"
    bundle = store.bundles_dir / name
    created = not (bundle / METADATA).is_file()
    if created:
        # the default splits fit both the real and the synthetic data
        config = load_run_config(None, {**DEMO_TRAINING, "variant": "v10_ctx"})
        bundle = train_run(store, snapshot_id, config, name, on_stage=on_stage, on_step=on_step).bundle_path
    metrics = json.loads((bundle / METADATA).read_text(encoding="utf-8"))["metrics"]
    if on_stage is not None:
        on_stage("replay the test split")
    replay = replay_snapshot(store, bundle, snapshot_id, ReplayConfig())
    return FullDemoResult(fs, str(bundle), created, metrics, replay)
