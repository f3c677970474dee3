"""Benchmark the context-usage evidence of replay: ~3 test months of M5 bars (18,000
predicted cycles) with K = 5 permutations of each context group, both heads, the control run, then the
measures and their block-bootstrap intervals; target under 60 s on 2 cores.

By default on synthetic inputs through a v10_ctx of the seed's full size (ModelConfig defaults, random
weights: the cost does not depend on the weights): the part of replay this adds, the model over the rows with
every ablation (`predict_rows` with `context_swaps`) and `context_usage`. With --store/--bundle/--snapshot it
times the whole batch replay (`replay_snapshot`, snapshot load, base model, plots and report included) over
--date-range instead. Prints the median of --repeats runs and the ratio to the target.

    python benchmarks/bench_context_evidence.py [--rows 18000] [--repeats 3] [--permutations 5]
    python benchmarks/bench_context_evidence.py --store fsdata --bundle bundles/demo --snapshot ID \\
        --date-range 2025-09-01..2025-11-30
    python benchmarks/bench_context_evidence.py --smoke

`--smoke` is the smallest mode (synthetic inputs, 300 rows, one run, K = 1): it shows the script works, not
the target.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from featurestore.store.handle import Store
from train.evaluation.context_evidence import Replayed, VerdictConfig, context_usage
from train.evaluation.replay import ReplayConfig, replay_snapshot
from train.fitting.dataset import SEQ_LEN, Tensors
from train.fitting.model import ModelConfig, build_model
from train.serving.scoring import AblationPlan, ablation_outputs, context_swaps, predict_rows

logger = logging.getLogger("bench_context_evidence")
TARGET_S = 60.0
BARS_PER_DAY = 288


def synthetic(rows: int, seed: int = 0) -> tuple[Tensors, np.ndarray, np.ndarray]:
    """Inputs of `rows` predicted bars (plus their window history), labels, and M5 timestamps."""
    g = torch.Generator().manual_seed(seed)
    n = rows + SEQ_LEN
    cards = ModelConfig().ctx_cat_cardinalities
    tensors = Tensors(
        seq=torch.randn(n, 16, generator=g),
        snap=torch.randn(n, 88, generator=g),
        ctx_cat=torch.stack([torch.randint(0, c, (n,), generator=g) for c in cards], 1),
        ctx_cont=torch.randn(n, 2, generator=g),
        regime=torch.stack([torch.randint(0, k, (n,), generator=g) for k in (4, 4, 3)], 1),
        targets=(torch.rand(n, 3, generator=g) < 0.5).float(),
    )
    ts = np.datetime64("2025-09-01T00:00", "us") + np.arange(n) * np.timedelta64(5, "m")
    return tensors, ts, np.arange(SEQ_LEN, n)


def evidence_once(model: torch.nn.Module, tensors: Tensors, ts: np.ndarray, rows: np.ndarray, k: int) -> dict:
    config = VerdictConfig(repeats=k)
    plan = AblationPlan(repeats=k, seed=config.seed)
    began = time.perf_counter()
    outputs = predict_rows(model, "v10_ctx", tensors, rows, swaps=context_swaps(rows, "v10_ctx", plan))
    scored = time.perf_counter()
    y = tensors.targets[rows].double().numpy()
    replayed = Replayed(
        ts[rows],
        outputs["model"],
        ablation_outputs(outputs, "v10_ctx", plan),
        {"y_direction": y[:, 0], "y_early_move": y[:, 1]},
    )
    usage = context_usage(replayed, config, has_ctx_inputs=True)
    done = time.perf_counter()
    return {
        "total": done - began,
        "model_and_ablations": scored - began,
        "evidence": done - scored,
        "verdict": usage["verdict"],
    }


def synthetic_bench(args: argparse.Namespace) -> dict:
    tensors, ts, rows = synthetic(args.rows)
    model = build_model(ModelConfig())
    plain = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        predict_rows(model, "v10_ctx", tensors, rows)
        plain.append(time.perf_counter() - began)
    runs = [evidence_once(model, tensors, ts, rows, args.permutations) for _ in range(args.repeats)]
    median = statistics.median(r["total"] for r in runs)
    return {
        "rows": len(rows),
        "days": len(rows) // BARS_PER_DAY,
        "permutations": args.permutations,
        "runs": args.repeats,
        "model_only_median_s": round(statistics.median(plain), 2),
        "model_and_ablations_median_s": round(statistics.median(r["model_and_ablations"] for r in runs), 2),
        "evidence_median_s": round(statistics.median(r["evidence"] for r in runs), 2),
        "median_s": round(median, 2),
        "target_s": TARGET_S,
        "ratio_to_target": round(median / TARGET_S, 2),
    }


def replay_bench(args: argparse.Namespace) -> dict:
    first, _, last = args.date_range.partition("..")
    config = ReplayConfig(
        start=date.fromisoformat(first),
        end=date.fromisoformat(last),
        verdict=VerdictConfig(repeats=args.permutations),
    )
    runs, summary = [], {}
    for _ in range(args.repeats):
        began = time.perf_counter()
        summary = replay_snapshot(Store.at(args.store), args.bundle, args.snapshot, config).summary
        runs.append(time.perf_counter() - began)
    median = statistics.median(runs)
    return {
        "predicted": summary["funnel"]["predicted"],
        "permutations": args.permutations,
        "runs": args.repeats,
        "median_s": round(median, 2),
        "stage_s": summary["timings_s"],
        "verdict": summary["context_usage"]["verdict"],
        "target_s": TARGET_S,
        "ratio_to_target": round(median / TARGET_S, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=18_000, help="predicted cycles (synthetic mode)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (the median is reported)")
    parser.add_argument("--permutations", type=int, default=5, help="K permutations per context group")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the target assumes 2 cores)")
    parser.add_argument("--store", type=Path, help="time a whole batch replay instead (with --bundle ...)")
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--snapshot")
    parser.add_argument("--date-range", default="2025-09-01..2025-11-30")
    parser.add_argument("--smoke", action="store_true", help="smallest mode: 300 rows, one run, K = 1")
    args = parser.parse_args()
    if args.smoke:
        if args.store is not None:
            parser.error("--smoke runs on synthetic inputs: leave out --store")
        args.rows, args.repeats, args.permutations = 300, 1, 1
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    if args.store is not None:
        if args.bundle is None or args.snapshot is None:
            parser.error("--store needs --bundle and --snapshot")
        row = replay_bench(args)
        sys.stdout.write(f"batch replay with context evidence: {json.dumps(row)}\n")
    else:
        row = synthetic_bench(args)
        sys.stdout.write(f"context evidence (synthetic inputs, full-size v10_ctx): {json.dumps(row)}\n")


if __name__ == "__main__":
    main()
