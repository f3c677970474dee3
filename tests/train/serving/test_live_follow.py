"""`train live` as a user runs it: a feeder process writes bars into a growing MT5 file (a line at a time,
each in two writes) while `train live` follows it as a real subprocess, killed with SIGKILL at three random
points and restarted. Every bar is decided exactly once, in the journal and in the signal file, with the
p_long of batch replay."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from featurestore.store.handle import Store
from tests.train.serving.live_world import FEED_START, env, feed_file, follow_with_kills, held_back_store
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
    journal = store / "live" / f"XAUUSD-{BUNDLE}"
    codes, summary, others = follow_with_kills(
        store, BUNDLE, source, bars, during=lambda journal: _other_commands(store, snap, journal)
    )
    return Store.at(store), journal, bars, snap, codes, summary, others


def _other_commands(store: Path, snap: str, journal: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """`fs status`, `fs snapshots list`, `train replay` and `train live status`, run while live follows."""
    at = ["--store", str(store)]
    commands = {
        "fs status": [sys.executable, "-m", "featurestore.app.cli", "status", *at],
        "fs snapshots list": [sys.executable, "-m", "featurestore.app.cli", "snapshots", "list", *at],
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


def test_a_store_held_by_another_command_delays_but_loses_nothing(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path], tmp_path: Path
) -> None:
    """The store held past the wait: the lines are kept and taken later. Then one more line alone (a single
    new bar, whose timeframe ingest cannot infer from it) is decided too."""
    from dataclasses import replace

    from featurestore.api import IngestOptions
    from train.serving.live_loop import LiveConfig, LiveRunner
    from train.serving.live_sources import FileSource

    root, _ = snapshot_store
    store = held_back_store(root, tmp_path)
    source, bars = feed_file(tmp_path, FEED_START, FEED_START + timedelta(hours=2))
    lines = source.read_bytes().splitlines(keepends=True)
    source.write_bytes(b"".join(lines[:-1]))
    config = LiveConfig(
        bundle=store / "bundles" / BUNDLE, source=FileSource(source), since=FEED_START,
        ingest=IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"), max_decisions=bars - 1,
        lock_wait_s=0.3, drift=False,
    )  # fmt: skip
    runner = LiveRunner(Store.at(store), config)
    code = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(2)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(store / "featurestore.duckdb")], stdout=subprocess.PIPE
    )
    assert holder.stdout.readline().strip() == b"held"
    try:
        assert runner.run(lambda: False).decided == bars - 1
        with open(source, "ab") as handle:
            handle.write(lines[-1])
        runner.config = replace(config, max_decisions=bars)
        summary = runner.run(lambda: False)
    finally:
        runner.close()
        holder.wait(timeout=30)
    assert summary.decided == bars
    with sqlite3.connect(store / "live" / f"XAUUSD-{BUNDLE}" / "journal.sqlite") as con:
        busy = con.execute("SELECT count(*) FROM events WHERE kind = 'store_busy'").fetchone()[0]
    assert busy >= 1
