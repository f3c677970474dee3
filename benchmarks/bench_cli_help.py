"""`fs --help` and `train --help` wall time (target < 0.5 s on 2 cores): median of N runs, and the ratio.

    python benchmarks/bench_cli_help.py [--runs 9] [--smoke]

`--smoke` times one run of each (the smallest mode: it shows the script works, not the target).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_S = 0.5
RUNS = 9


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each command")
    parser.add_argument("--smoke", action="store_true", help="one run of each (smallest mode)")
    args = parser.parse_args()
    runs = 1 if args.smoke else args.runs
    for module in ("featurestore.app.cli", "train.app.cli"):
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", module, "--help"], check=True, capture_output=True)
            times.append(time.perf_counter() - began)
        median = statistics.median(times)
        print(
            f"{module} --help: median {median:.3f} s over {runs} runs (min {min(times):.3f}, "
            f"max {max(times):.3f}); {median / TARGET_S:.2f}x the {TARGET_S} s target"
        )


if __name__ == "__main__":
    main()
