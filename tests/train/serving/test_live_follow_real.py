"""`train live` on the real year's September (slow; needs the shared XAUUSD M5 export): a small bundle trained
on Feb-Jun, the store holding the candles up to August, a feeder writing September's lines of the MT5
export into a growing file while `train live` follows it, killed with SIGKILL three times. Every bar is
decided once, with batch replay's p_long, and the parity audit finds no mismatch."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from tests.conftest import real_m5_or_skip
from tests.train.conftest import TINY
from tests.train.serving.live_world import env, follow_with_kills
from train.evaluation.replay import ReplayConfig, replay_snapshot
from train.fitting.config import load_run_config
from train.fitting.run import train_run

pytestmark = pytest.mark.slow
BUNDLE = "real_tiny"


def _september(export: Path, out: Path) -> tuple[Path, int, datetime]:
    """The export's header and its September lines (server time), how many, and the first one's UTC time."""
    lines = export.read_bytes().splitlines(keepends=True)
    chosen = [line for line in lines[1:] if line.startswith(b"2025.09.")]
    day, clock = chosen[0].decode().split("\t")[:2]
    local = datetime.strptime(f"{day} {clock}", "%Y.%m.%d %H:%M:%S").replace(tzinfo=ZoneInfo("EET"))
    out.write_bytes(lines[0] + b"".join(chosen))
    return out, len(chosen), local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@pytest.fixture(scope="module")
def real_follow(tmp_path_factory: pytest.TempPathFactory):
    export = real_m5_or_skip()
    tmp = tmp_path_factory.mktemp("live_real")
    store = Store.at(tmp / "store")
    ingest_file(store, export, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    materialize(store, MaterializeConfig("XAUUSD", date(2025, 2, 3), date(2025, 9, 30)))
    snap = validate(store, ValidateConfig("XAUUSD", date(2025, 2, 3), date(2025, 9, 30), data_docs=False))
    train_run(store, snap.snapshot_id, load_run_config(TINY, {"variant": "v10_ctx"}), BUNDLE)
    source, bars, since = _september(export, tmp / "september.tsv")
    with duckdb.connect(str(store.db_path)) as con:  # September comes back through the followed file
        con.execute("DELETE FROM candles WHERE ts >= ?", [since])
    codes, summary, _ = follow_with_kills(
        store.root, BUNDLE, source, bars, since=since, pause=0.001, timeout=300
    )
    return store, snap.snapshot_id, bars, codes, summary


def test_september_is_decided_once_with_batch_replays_p_long(real_follow) -> None:
    store, snap, bars, codes, _ = real_follow
    assert codes[:3] == [-9, -9, -9]
    with sqlite3.connect(store.root / "live" / f"XAUUSD-{BUNDLE}" / "journal.sqlite") as con:
        rows = con.execute("SELECT ts, reason, predicted, p_long FROM decisions ORDER BY seq").fetchall()
    stamps = [r[0] for r in rows]
    assert len(rows) == bars == len(set(stamps)) and stamps == sorted(stamps)
    config = ReplayConfig(all_bars=True, start=date(2025, 9, 1), end=date(2025, 9, 30))
    cycles = replay_snapshot(store, store.bundles_dir / BUNDLE, snap, config).cycles
    batch = {row["ts"].strftime("%Y-%m-%dT%H:%M:%SZ"): row for row in cycles.iter_rows(named=True)}
    scored = [r for r in rows if r[0] in batch]
    assert len(scored) > 0.95 * bars and sum(r[2] for r in scored) > 1000
    for ts, reason, predicted, p_long in scored:
        assert (reason, bool(predicted)) == (batch[ts]["reason"], batch[ts]["predicted"]), ts
        if predicted:
            assert p_long == pytest.approx(batch[ts]["p_long"], abs=1e-6), ts


def test_the_parity_audit_of_september_finds_no_mismatch(real_follow) -> None:
    store, _, bars, _, _ = real_follow
    done = subprocess.run(
        [sys.executable, "-m", "train.app.cli", "live", "report", "--json", "--store", str(store.root)],
        env=env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    parity = json.loads(done.stdout)["parity"]
    assert parity["bars"] == bars and parity["compared"] == bars and parity["mismatches"] == 0, parity
