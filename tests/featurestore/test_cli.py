"""The `fs` command line as a user runs it: summaries, JSON, exit codes, a busy store, a killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app
from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from tests.cli_checks import assert_exit
from tests.conftest import stored

runner = CliRunner()
FS = [sys.executable, "-m", "featurestore.app.cli"]
RANGE = "2025-02-03..2025-03-28"


@pytest.fixture(scope="module")
def candles_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "xauusd_m5.tsv"
    return write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 3, 31), seed=5)), path
    )


@pytest.fixture()
def store(tmp_path: Path, candles_file: Path) -> Path:
    root = tmp_path / "store"
    result = runner.invoke(
        app, ["ingest", str(candles_file), "--symbol", "XAUUSD", "--source-tz", "EET", "--store", str(root)]
    )
    assert result.exit_code == 0, result.output
    return root


def test_fs_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, featurestore.app.cli; "
        "print(any(m.split('.')[0] in ('torch', 'great_expectations') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_materialize_prints_a_summary_and_json(store: Path) -> None:
    result = runner.invoke(
        app, ["materialize", "--date-range", RANGE, "--symbol", "XAUUSD", "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    assert "Eligibility funnel" in result.output and "snap_features rows" in result.output
    result = runner.invoke(
        app, ["materialize", "--date-range", RANGE, "--symbol", "XAUUSD", "--store", str(store), "--json"]
    )
    payload = json.loads(result.stdout)
    assert payload["rows"]["snap_features"] == payload["rows"]["labels"] > 10_000
    assert payload["feature_contract_hash"] == "93ab1d31534f2dc7"
    assert payload["funnel"]["stages"][0]["remaining"] == payload["rows"]["eligibility"]


def test_rerun_replaces_rows_instead_of_duplicating(store: Path) -> None:
    for _ in range(2):
        assert (
            runner.invoke(
                app, ["materialize", "--date-range", RANGE, "--symbol", "XAUUSD", "--store", str(store)]
            ).exit_code
            == 0
        )
    con = duckdb.connect(str(store / "featurestore.duckdb"), read_only=True)
    sql = stored("SELECT count(*), count(DISTINCT ts) FROM snap_features")
    total, distinct = con.execute(sql).fetchall()[0]
    con.close()
    assert total == distinct


def test_bad_requests_exit_non_zero_without_traceback(store: Path) -> None:
    bad_range = runner.invoke(
        app, ["materialize", "--date-range", "2025-02", "--symbol", "XAUUSD", "--store", str(store)]
    )
    assert_exit(bad_range, 2, "2025-02-01..2025-10-27")
    no_data = runner.invoke(
        app,
        [
            "materialize",
            "--date-range",
            "2024-01-01..2024-01-31",
            "--symbol",
            "XAUUSD",
            "--store",
            str(store),
        ],
    )
    assert_exit(no_data, 1, "no candles in 2024-01-01..2024-01-31")


def _materialize_process(store: Path) -> subprocess.Popen[str]:
    cmd = [*FS, "materialize", "--date-range", RANGE, "--symbol", "XAUUSD", "--store", str(store)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open (read from /proc, so the probe takes no lock itself)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if Path(os.readlink(fd)) == path:
                return True
        except OSError:
            continue
    return False


def test_second_writer_gets_store_busy(tmp_path: Path) -> None:
    """While `fs materialize` holds the store, a second command that may not wait (FS_LOCK_WAIT=0) is
    refused with exit 3, not a traceback."""
    source = write_mt5_tsv(generate_candles(SyntheticConfig(seed=5)), tmp_path / "year.tsv")
    store = tmp_path / "store"
    assert (
        runner.invoke(
            app, ["ingest", str(source), "--symbol", "XAUUSD", "--source-tz", "EET", "--store", str(store)]
        ).exit_code
        == 0
    )
    year = [
        "materialize",
        "--date-range",
        "2025-02-01..2025-10-31",
        "--symbol",
        "XAUUSD",
        "--store",
        str(store),
    ]
    for _attempt in range(5):
        first = subprocess.Popen([*FS, *year], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while first.poll() is None and not _has_open(first.pid, (store / "featurestore.duckdb").resolve()):
            time.sleep(0.02)
        second = subprocess.run(
            [*FS, *year], capture_output=True, text=True, env={**os.environ, "FS_LOCK_WAIT": "0"}
        )
        first.wait(timeout=120)
        assert first.returncode == 0
        if second.returncode != 0:
            break
    assert second.returncode == 3, second.stderr
    assert "store is busy" in second.stderr and "Traceback" not in second.stderr


@pytest.mark.parametrize("delay", [0.5, 1.5, 2.5])
def test_sigkill_mid_run_leaves_a_readable_store(store: Path, delay: float) -> None:
    assert (
        runner.invoke(
            app, ["materialize", "--date-range", RANGE, "--symbol", "XAUUSD", "--store", str(store)]
        ).exit_code
        == 0
    )
    victim = _materialize_process(store)
    time.sleep(delay)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    con = duckdb.connect(str(store / "featurestore.duckdb"))
    counts = [
        con.execute(stored(f"SELECT count(*) FROM {t}")).fetchall()[0][0]
        for t in ("context", "snap_features", "labels")
    ]
    con.close()
    assert len(set(counts)) == 1 and counts[0] > 10_000
    rerun = subprocess.run(
        [*FS, "materialize", "--date-range", RANGE, "--symbol", "XAUUSD", "--store", str(store)],
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
BAD_INPUT = {  # fixture -> exit code: 2 = file-level fault, 4 = row faults above --max-reject-share
    "empty.csv": 2, "header_only.csv": 2, "missing_column.csv": 2, "unknown_delimiter.csv": 2,
    "mixed_timeframes.csv": 2, "no_spread.csv": 2, "bad_timestamp.csv": 4, "high_below_low.csv": 4,
    "close_outside_range.csv": 4, "nonpositive_price.csv": 4, "nan_price.csv": 4,
    "duplicate_conflict.csv": 4, "off_grid.csv": 4, "dst_ambiguous.tsv": 4,
}  # fmt: skip


@pytest.mark.parametrize("fixture", sorted(BAD_INPUT))
def test_bad_input_through_the_cli_names_the_file_and_keeps_rejected_rows(
    fixture: str, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    path = FIXTURES / fixture
    result = runner.invoke(
        app, ["ingest", str(path), "--symbol", "XAUUSD", "--source-tz", "EET", "--store", str(store)]
    )
    assert_exit(result, BAD_INPUT[fixture], "Error:", fixture)
    if BAD_INPUT[fixture] == 4:
        con = duckdb.connect(str(store / "featurestore.duckdb"), read_only=True)
        kept, rejected = (
            con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("candles", "candles_rejected")
        )
        con.close()
        assert kept > 0 and rejected > 0
