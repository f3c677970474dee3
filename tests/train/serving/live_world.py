"""Helpers of the live tests: a store copy whose newest bars are held back for a feeder to bring, and the
`train live` process as a user starts it."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv

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


def start_live(
    store: Path, bundle: Path, follow: Path, *extra: str, since: datetime = FEED_START
) -> subprocess.Popen[str]:
    args = [
        sys.executable, "-m", "train.app.cli", "live", "--bundle", str(bundle), "--follow", str(follow),
        "--format", "mt5", "--source-tz", "EET", "--since", since.isoformat(), "--poll", "0.05",
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


def follow_with_kills(
    store: Path,
    bundle: str,
    source: Path,
    bars: int,
    *,
    since: datetime = FEED_START,
    pause: float = 0.03,
    during: Callable[[Path], dict[str, Any]] | None = None,
    timeout: float = 90,
) -> tuple[list[int], dict[str, Any], dict[str, Any]]:
    """A feeder writes `source` into a growing file while `train live` follows it; SIGKILL at three random
    numbers of decisions, then a last run to the end. `during(journal)` runs while the second run follows.
    Returns the exit codes, the last run's JSON summary and what `during` returned (plus
    `decided_before_last_start`)."""
    target = source.with_name("XAUUSD_M5.tsv")
    journal = store / "live" / f"XAUUSD-{bundle}"
    feeder = subprocess.Popen(
        [sys.executable, "-m", "tests.train.serving.feeder", str(source), str(target), "--pause", str(pause)],
        env=env(),
    )
    kill_at = sorted(random.Random(23).sample(range(10, bars - 60), 3))
    codes: list[int] = []
    others: dict[str, Any] = {}
    live = None
    try:
        for i, threshold in enumerate(kill_at):
            live = start_live(store, store / "bundles" / bundle, target, since=since)
            if i == 1 and during is not None:
                wait_until(lambda: decided(journal) > kill_at[0] + 2, timeout, "deciding again", live)
                others = during(journal)
                others["live_still_running"] = live.poll() is None
            wait_until(lambda t=threshold: decided(journal) >= t, timeout, f"{threshold} decisions", live)
            live.kill()
            codes.append(live.wait(timeout=10))
        feeder.wait(timeout=300)
        others["decided_before_last_start"] = decided(journal)
        live = start_live(store, store / "bundles" / bundle, target, "--exit-when-idle", "3", since=since)
        stdout, stderr = live.communicate(timeout=600)
        codes.append(live.returncode)
    finally:
        for process in (feeder, live):
            if process is not None and process.poll() is None:
                process.kill()
    assert codes[-1] == 0, stderr
    return codes, json.loads(stdout), others
