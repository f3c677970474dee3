"""Helpers of the live tests: a store copy whose newest bars are held back for a feeder to bring, and the
`train live` process as a user starts it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from featurestore.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv

REPO = Path(__file__).resolve().parents[3]
# The trainer fixture's candles (tests/train/conftest.py); the bars from FEED_START on are fed live. They lie
# in the bundles' test split, so batch replay of the snapshot scores them too.
SYNTH = SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 6, 30), seed=21)
FEED_START = datetime(2025, 6, 26)
FEED_END = datetime(2025, 6, 28)


def held_back_store(root: Path, tmp: Path) -> Path:
    """A copy of the trainer fixture's store without its candles from FEED_START on."""
    copy = tmp / "store"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("reports", "validation"))
    with duckdb.connect(str(copy / "featurestore.duckdb")) as con:
        con.execute("DELETE FROM candles WHERE ts >= ?", [FEED_START])
    return copy


def feed_file(tmp: Path, start: datetime = FEED_START, end: datetime = FEED_END) -> tuple[Path, int]:
    """The MT5 export of the fed bars (header first) and how many bars it holds."""
    frame = generate_candles(SYNTH).filter((pl.col("ts") >= start) & (pl.col("ts") < end))
    return write_mt5_tsv(frame, tmp / "feed_source.tsv"), frame.height


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "FS_LOCK_WAIT": "20"}


def start_live(store: Path, bundle: Path, follow: Path, *extra: str) -> subprocess.Popen[str]:
    args = [
        sys.executable, "-m", "train.app.cli", "live", "--bundle", str(bundle), "--follow", str(follow),
        "--format", "mt5", "--source-tz", "EET", "--since", FEED_START.isoformat(), "--poll", "0.05",
        "--store", str(store), "--json", *extra,
    ]  # fmt: skip
    return subprocess.Popen(args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def decided(journal: Path) -> int:
    """Decisions journaled so far (0 before the journal exists)."""
    path = journal / "journal.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as con:
            return int(con.execute("SELECT count(*) FROM decisions").fetchone()[0])
    except sqlite3.OperationalError:  # created, schema not yet written
        return 0


def wait_until(check, timeout: float, what: str, process: subprocess.Popen[str] | None = None) -> None:
    """Poll `check()` until true; fail after `timeout` s (or when `process` died), never hang."""
    deadline = time.monotonic() + timeout
    while not check():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited {process.returncode}: {process.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
