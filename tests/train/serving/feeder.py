"""A feeder process for the live tests: copies a candle file into a growing file the way a terminal writes
one, a line at a time, each line in two writes with a pause between (a partial last line is visible), then
exits. Run as `python -m tests.train.serving.feeder SOURCE TARGET --pause 0.004 --seed 3`."""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path


def feed(source: Path, target: Path, pause: float, seed: int) -> int:
    rng = random.Random(seed)
    lines = source.read_bytes().splitlines(keepends=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for line in lines:
            cut = rng.randrange(1, len(line))
            os.write(fd, line[:cut])  # the partial line a reader may see
            time.sleep(pause)
            os.write(fd, line[cut:])
    finally:
        os.close(fd)
    return len(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--pause", type=float, default=0.004)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    feed(args.source, args.target, args.pause, args.seed)
