"""`fs --help` and `train --help` wall time (target < 0.5 s on 2 cores): median of N runs, and the ratio."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

TARGET_S = 0.5
RUNS = 9


def main() -> None:
    for module in ("featurestore.app.cli", "train.app.cli"):
        times = []
        for _ in range(RUNS):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", module, "--help"], check=True, capture_output=True)
            times.append(time.perf_counter() - began)
        median = statistics.median(times)
        print(
            f"{module} --help: median {median:.3f} s over {RUNS} runs (min {min(times):.3f}, "
            f"max {max(times):.3f}); {median / TARGET_S:.2f}x the {TARGET_S} s target"
        )


if __name__ == "__main__":
    main()
