"""Benchmark the training input pipeline: samples/s through the real pipeline (index-arithmetic windows
gathered from base tensors, batch by batch) against the same model on ready-made tensors.

Target: pipeline overhead under 10%, i.e. ratio pipeline / ready >= 0.9.

    python benchmarks/bench_train.py [--steps 40] [--variant v10_ctx] [--store fsdata] [--smoke]

Uses the newest snapshot of the store, running the feature-store part of the demo first (ingest,
materialize, validate: real data where the demo finds it, else synthetic) when the store has none; the base
model is fitted with fewer trees than the default (it is not part of the measured step). `--smoke` is the
smallest mode: three months of synthetic candles (even where real data exists) in a temporary store, the
tiny smoke model, 2 steps, one run; it shows the script works, not the target.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from smoke_inputs import smoke_run_config, smoke_store

from featurestore.app.demo import choose_demo_data, run_demo
from featurestore.store.handle import Store
from featurestore.store.snapshots import list_snapshots, open_snapshot
from train.fitting.base_model import BaseModelConfig
from train.fitting.config import RunConfig
from train.fitting.dataset import Batch, gather
from train.fitting.fit import multitask_loss, set_seed
from train.fitting.model import build_model
from train.fitting.prepare import Prepared, prepare


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: Batch, variant: str) -> None:
    loss = multitask_loss(model(**batch.model_inputs(variant)), batch.targets, (0.5, 0.3, 0.2))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _rate(run: object, steps: int, batch_size: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()  # type: ignore[operator]
        rates.append(steps * batch_size / (time.perf_counter() - began))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variant", default="v10_ctx")
    parser.add_argument("--store", type=Path, default=Path("fsdata"))
    parser.add_argument("--smoke", action="store_true", help="smallest mode: tiny model, 2 steps, one run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            args.steps, args.repeats = 2, 1
            store, snapshot_id = smoke_store(Path(tmp))
            config = dataclasses.replace(smoke_run_config(), variant=args.variant)
        else:
            store, snapshot_id = Store.at(args.store), newest_snapshot(Store.at(args.store))
            config = RunConfig(
                variant=args.variant, base_model=dataclasses.replace(BaseModelConfig(), n_estimators=40)
            )
        prepared = prepare(open_snapshot(store, snapshot_id), config)
        row = measure(prepared, config, args.steps, args.repeats)
    sys.stdout.write(("synthetic (smoke): " if args.smoke else "") + json.dumps(row) + "\n")


def newest_snapshot(store: Store) -> str:
    """The newest snapshot of `store`, after the feature-store demo when it has none."""
    if not list_snapshots(store):
        run_demo(store, choose_demo_data(store))
    return list_snapshots(store)[0]["id"]


def measure(prepared: Prepared, config: RunConfig, steps: int, repeats: int) -> dict:
    """Samples/s of `steps` training steps through the pipeline and on ready tensors (median of repeats)."""
    variant = config.variant
    batch_size = config.optim.batch_size
    idx = prepared.idx["train"]
    set_seed(1)
    order = idx[torch.randperm(len(idx))][: steps * batch_size].reshape(steps, batch_size)
    ready = [gather(prepared.train_tensors, row) for row in order]  # materialized once, outside the timing
    model = build_model(config.model_config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def through_pipeline() -> None:
        for row in order:
            _step(model, opt, gather(prepared.train_tensors, row), variant)

    def on_ready() -> None:
        for batch in ready:
            _step(model, opt, batch, variant)

    on_ready()  # warm up allocator and kernels
    ready_rate = _rate(on_ready, steps, batch_size, repeats)
    pipeline_rate = _rate(through_pipeline, steps, batch_size, repeats)
    gather_ms = statistics.median(_time_gather(prepared.train_tensors, order) for _ in range(repeats))
    return {
        "variant": variant,
        "batch_size": batch_size,
        "steps": steps,
        "runs": repeats,
        "threads": torch.get_num_threads(),
        "ready_samples_per_s": round(ready_rate),
        "pipeline_samples_per_s": round(pipeline_rate),
        "ratio": round(pipeline_rate / ready_rate, 3),
        "target_ratio": 0.9,
        "gather_ms_per_batch": round(gather_ms, 3),
    }


def _time_gather(tensors: object, order: torch.Tensor) -> float:
    began = time.perf_counter()
    for row in order:
        gather(tensors, row)  # type: ignore[arg-type]
    return (time.perf_counter() - began) * 1000 / len(order)


if __name__ == "__main__":
    main()
