"""`train live` as a user runs it: a feeder process writes bars into a growing MT5 file (a line at a time,
each in two writes) while `train live` follows it as a real subprocess, killed with SIGKILL at three random
points and restarted. Every bar is decided exactly once, in the journal and in the signal file, with the
p_long of batch replay."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from featurestore.store import Store
from tests.train.serving.live_world import (
    decided,
    env,
    feed_file,
    held_back_store,
    start_live,
    wait_until,
)
from train.evaluation.replay import ReplayConfig, replay_snapshot

BUNDLE = "test_ctx_a"


@pytest.fixture(scope="module")
def followed(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
):
    """Feed, kill three times, restart, finish: (store, journal folder, bars fed, snapshot id, exit codes)."""
    root, snap = snapshot_store
    assert bundles["ctx_a"].name == BUNDLE
    tmp = tmp_path_factory.mktemp("live_follow")
    store = held_back_store(root, tmp)
    source, bars = feed_file(tmp)
    target = tmp / "XAUUSD_M5.tsv"
    journal = store / "live" / f"XAUUSD-{BUNDLE}"
    feeder = subprocess.Popen(
        [sys.executable, "-m", "tests.train.serving.feeder", str(source), str(target), "--pause", "0.03"],
        env=env(),
    )
    rng = random.Random(23)
    kill_at = sorted(rng.sample(range(10, bars - 60), 3))
    codes, others = [], {}
    try:
        for i, threshold in enumerate(kill_at):
            live = start_live(store, store / "bundles" / BUNDLE, target)
            if i == 1:  # the store's other commands while `train live` follows
                wait_until(lambda: decided(journal) > kill_at[0] + 2, 90, "deciding again", live)
                others = _other_commands(store, snap, journal)
                others["live_still_running"] = live.poll() is None
            wait_until(lambda t=threshold: decided(journal) >= t, 90, f"{threshold} decisions", live)
            live.kill()
            codes.append(live.wait(timeout=10))
        feeder.wait(timeout=120)
        others["decided_before_last_start"] = decided(journal)
        live = start_live(store, store / "bundles" / BUNDLE, target, "--exit-when-idle", "3")
        stdout, stderr = live.communicate(timeout=180)
        codes.append(live.returncode)
    finally:
        for process in (feeder, live):
            if process.poll() is None:
                process.kill()
    assert codes[-1] == 0, stderr
    return Store.at(store), journal, bars, snap, codes, json.loads(stdout), others


def _other_commands(store: Path, snap: str, journal: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """`fs status`, `fs snapshots list`, `train replay` and `train live status`, run while live follows."""
    at = ["--store", str(store)]
    commands = {
        "fs status": [sys.executable, "-m", "featurestore.cli", "status", *at],
        "fs snapshots list": [sys.executable, "-m", "featurestore.cli", "snapshots", "list", *at],
        "train replay": [
            sys.executable, "-m", "train.app.cli", "replay", "--bundle", BUNDLE, "--snapshot", snap,
            "--date-range", "2025-06-02..2025-06-06", "--json", *at,
        ],
        "train live status": [sys.executable, "-m", "train.app.cli", "live", "status", "--json", *at],
    }  # fmt: skip
    return {
        name: subprocess.run(args, env=env(), capture_output=True, text=True, timeout=180)
        for name, args in commands.items()
    }


def _journal(journal: Path) -> list[dict]:
    with sqlite3.connect(journal / "journal.sqlite") as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM decisions ORDER BY seq")]


def test_every_fed_bar_is_decided_exactly_once_across_kills(followed) -> None:
    _, journal, bars, _, codes, summary, _ = followed
    assert codes[:3] == [-9, -9, -9]
    rows = _journal(journal)
    stamps = [r["ts"] for r in rows]
    assert len(rows) == bars and len(set(stamps)) == bars
    assert stamps == sorted(stamps)  # decided in bar order, none skipped and filled in later
    assert summary["decided"] == bars - followed[-1]["decided_before_last_start"]
    signals = [json.loads(line) for line in (journal / "signals.jsonl").read_text().splitlines()]
    assert [s["ts"] for s in signals] == stamps  # once each, in order, none torn
    assert {s["p_long"] for s in signals if s["predicted"]} == {r["p_long"] for r in rows if r["predicted"]}


def test_live_p_long_equals_batch_replay(followed) -> None:
    store, journal, _, snap, _, _, _ = followed
    cycles = replay_snapshot(
        store, store.bundles_dir / BUNDLE, snap, ReplayConfig(start=date(2025, 6, 26), end=date(2025, 6, 27))
    ).cycles
    batch = {
        ts.strftime("%Y-%m-%dT%H:%M:%SZ"): row
        for ts, row in zip(cycles["ts"], cycles.iter_rows(named=True), strict=True)
    }
    rows = _journal(journal)
    scored = [r for r in rows if r["ts"] in batch]
    # the snapshot ends where its last labels resolve: only the final bars of the feed lie beyond it
    assert len(scored) > 0.9 * len(rows) and all(r["ts"] > max(batch) for r in rows if r["ts"] not in batch)
    assert sum(r["predicted"] for r in scored) > 50
    for row in scored:
        want = batch[row["ts"]]
        assert row["reason"] == want["reason"] and bool(row["predicted"]) == want["predicted"], row["ts"]
        if row["predicted"]:
            assert row["p_long"] == pytest.approx(want["p_long"], abs=1e-6), row["ts"]


def test_the_store_stays_usable_while_live_follows(followed) -> None:
    others = dict(followed[-1])
    assert others.pop("live_still_running")
    others.pop("decided_before_last_start")
    for name, done in others.items():
        assert done.returncode == 0, f"{name}: {done.stderr}"
    assert json.loads(others["train replay"].stdout)["bundle"]["variant"] == "v10_ctx"
    status = json.loads(others["train live status"].stdout)["journals"][0]
    assert status["running"] and status["last_decision"]["ts"] >= "2025-06-26"
    assert status["counts"]["decided"] > 0


def test_report_audits_every_decision_with_no_mismatch(followed) -> None:
    store, bars = followed[0], followed[2]
    done = subprocess.run(
        [sys.executable, "-m", "train.app.cli", "live", "report", "--json", "--store", str(store.root)],
        env=env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    parity = report["parity"]
    assert parity["bars"] == bars and parity["compared"] == bars and parity["mismatches"] == 0, parity
    assert parity["revised_by_source"] == 0 and parity["missing_from_store"] == 0 and parity["passed"]
    assert report["decisions"]["n"] == bars
    assert Path(report["report"]).is_file() and "Parity audit" in Path(report["report"]).read_text()


def test_the_loop_audits_each_finished_day_once(followed) -> None:
    with sqlite3.connect(followed[1] / "journal.sqlite") as con:
        audits = [json.loads(d) for (d,) in con.execute("SELECT detail FROM events WHERE kind = 'parity'")]
    assert [a["day"] for a in audits] == ["2025-06-26"]  # the 27th is not finished: no bar of the 28th came
    assert audits[0]["passed"] and audits[0]["mismatches"] == 0 and audits[0]["compared"] > 200
