"""Benchmark the training input pipeline: samples/s through the real pipeline (index-arithmetic windows
gathered from base tensors, batch by batch) against the same model on ready-made tensors.

DESIGN section 14 target: pipeline overhead under 10%, i.e. ratio pipeline / ready >= 0.9.

    python benchmarks/bench_train.py [--steps 40] [--variant v10_ctx] [--store fsdata]

Uses the newest snapshot of the store (run `make demo` first); the base model is fitted with fewer trees
than the default (it is not part of the measured step).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from featurestore.store.handle import Store
from featurestore.store.snapshots import list_snapshots, open_snapshot
from train.fitting.base_model import BaseModelConfig
from train.fitting.config import RunConfig
from train.fitting.dataset import Batch, gather
from train.fitting.fit import multitask_loss, set_seed
from train.fitting.model import build_model
from train.fitting.prepare import prepare


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
    args = parser.parse_args()
    store = Store.at(args.store)
    snapshots = list_snapshots(store)
    if not snapshots:
        sys.exit(f"no snapshot in {store.root}: run `make demo` first")
    config = RunConfig(
        variant=args.variant, base_model=dataclasses.replace(BaseModelConfig(), n_estimators=40)
    )
    prepared = prepare(open_snapshot(store, snapshots[0]["id"]), config)
    batch_size = config.optim.batch_size
    idx = prepared.idx["train"]
    set_seed(1)
    order = idx[torch.randperm(len(idx))][: args.steps * batch_size].reshape(args.steps, batch_size)
    ready = [gather(prepared.train_tensors, row) for row in order]  # materialized once, outside the timing
    model = build_model(config.model_config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def through_pipeline() -> None:
        for row in order:
            _step(model, opt, gather(prepared.train_tensors, row), args.variant)

    def on_ready() -> None:
        for batch in ready:
            _step(model, opt, batch, args.variant)

    on_ready()  # warm up allocator and kernels
    ready_rate = _rate(on_ready, args.steps, batch_size, args.repeats)
    pipeline_rate = _rate(through_pipeline, args.steps, batch_size, args.repeats)
    gather_ms = statistics.median(_time_gather(prepared.train_tensors, order) for _ in range(args.repeats))
    print(
        json.dumps(
            {
                "variant": args.variant,
                "batch_size": batch_size,
                "steps": args.steps,
                "threads": torch.get_num_threads(),
                "ready_samples_per_s": round(ready_rate),
                "pipeline_samples_per_s": round(pipeline_rate),
                "ratio": round(pipeline_rate / ready_rate, 3),
                "target_ratio": 0.9,
                "gather_ms_per_batch": round(gather_ms, 3),
            }
        )
    )


def _time_gather(tensors: object, order: torch.Tensor) -> float:
    began = time.perf_counter()
    for row in order:
        gather(tensors, row)  # type: ignore[arg-type]
    return (time.perf_counter() - began) * 1000 / len(order)


if __name__ == "__main__":
    main()
