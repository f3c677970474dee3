"""`fs validate`: the gate catches injected faults; snapshots are content-addressed, immutable, verified."""

from __future__ import annotations

import os
import shutil
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
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, ValidationFailed, validate
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from featurestore.store.snapshots import SnapshotError, list_snapshots, open_snapshot, write_snapshot
from schemas.contract import SQL_ROOT
from tests.cli_checks import assert_exit
from tests.conftest import stored
from tests.html_checks import assert_self_contained_report

START, END = date(2025, 2, 3), date(2025, 3, 28)
CONFIG = ValidateConfig("XAUUSD", START, END, data_docs=False)
runner = CliRunner()


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean")
    source = write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 3, 31))), root / "c.tsv"
    )
    store = Store.at(root / "store")
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    materialize(store, MaterializeConfig("XAUUSD", START, END))
    return root / "store"


@pytest.fixture()
def store(clean_store: Path, tmp_path: Path) -> Store:
    shutil.copytree(clean_store, tmp_path / "store")
    return Store.at(tmp_path / "store")


def test_clean_tables_pass_and_rerun_reports_the_same_snapshot(store: Store) -> None:
    first = validate(store, CONFIG)
    assert first.created and first.report.ok and first.snapshot_path.is_dir()
    assert first.snapshot_path.parent == store.snapshots_dir
    manifest = open_snapshot(store, first.snapshot_id).manifest
    assert manifest["eligibility_report"] == first.funnel.to_dict()
    assert manifest["validation"]["ok"] and manifest["feature_contract_hash"] == "93ab1d31534f2dc7"
    tables = {f"{t}.parquet" for t in manifest["row_counts"]}
    definition = {
        f"definition/v2/{p.name}" for p in (SQL_ROOT / "v2").iterdir() if p.suffix in (".sql", ".toml")
    }
    assert set(manifest["files"]) == tables | definition
    json_path, _, html_path = first.report_paths
    assert html_path == json_path.with_suffix(".html")
    page = assert_self_contained_report(html_path, "PASSED: the range is sealed as a snapshot")
    assert f"{first.report.checks_run} checks run" in page and "Eligibility funnel" in page
    mtime = first.snapshot_path.stat().st_mtime_ns
    second = validate(store, CONFIG)
    assert second.snapshot_id == first.snapshot_id and not second.created
    assert first.snapshot_path.stat().st_mtime_ns == mtime and len(list_snapshots(store)) == 1


FIRST_ROW = "(SELECT ts FROM {t} ORDER BY ts LIMIT 1 OFFSET 200)"
FAULTS = {
    "nan_in_snapshot_feature": (
        [f"UPDATE snap_features SET rsi_14 = 'NaN'::DOUBLE WHERE ts = {FIRST_ROW.format(t='snap_features')}"],
        ("snap_features", "rsi_14", "in_range"),
    ),
    "atr_bps_out_of_range": (
        [f"UPDATE context SET atr_bps = 1500 WHERE ts = {FIRST_ROW.format(t='context')}"],
        ("context", "atr_bps", "in_range"),
    ),
    "unknown_category_id": (
        [f"UPDATE context SET trend_regime_id = 7 WHERE ts = {FIRST_ROW.format(t='context')}"],
        ("context", "trend_regime_id", "isin"),
    ),
    "duplicate_ts": (
        [f"INSERT INTO labels SELECT * FROM labels WHERE ts = {FIRST_ROW.format(t='labels')}"],
        ("labels", "ts", "strictly_increasing"),
    ),
    "row_missing_from_one_table": (
        [f"DELETE FROM seq_features WHERE ts = {FIRST_ROW.format(t='seq_features')}"],
        ("seq_features", "ts", "same_keys"),
    ),
    "extra_column": (
        ["ALTER TABLE snap_features ADD COLUMN bonus DOUBLE DEFAULT 1.0"],
        ("snap_features", "bonus", "column_in_schema"),
    ),
    "missing_column": (
        ["ALTER TABLE seq_features DROP COLUMN tod_cos"],
        ("seq_features", "tod_cos", "column_in_dataframe"),
    ),
    "wrong_dtype": (
        ["ALTER TABLE context ALTER atr_bucket TYPE INTEGER"],
        ("context", "atr_bucket", "dtype"),
    ),
    "constant_feature": (
        ["UPDATE snap_features SET week_sin = 0.5"],
        ("snap_features", "week_sin", "not_constant"),
    ),
    "constant_on_eligible_rows": (
        [
            "UPDATE snap_features SET bars_since_break_log = 1.0 "
            "WHERE ts IN (SELECT ts FROM eligibility WHERE eligible)"
        ],
        ("snap_features", "bars_since_break_log", "not_constant_on_eligible"),
    ),
    "near_identical_features": (
        ["UPDATE snap_features SET ret_3_bps = ret_2_bps * 1.0001"],
        ("snap_features", "ret_3_bps", "not_near_duplicate"),
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_injected_fault_is_caught_and_no_snapshot_is_written(store: Store, fault: str) -> None:
    statements, (table, column, check) = FAULTS[fault]
    con = duckdb.connect(str(store.db_path))
    for sql in statements:
        con.execute(stored(sql))
    con.close()
    with pytest.raises(ValidationFailed) as caught:
        validate(store, CONFIG)
    hits = [
        i
        for i in caught.value.report.issues
        if i.table == table and i.column == column and i.check.startswith(check)
    ]
    assert hits, f"expected {table}.{column} {check}, got {[i.line() for i in caught.value.report.issues]}"
    assert not store.snapshots_dir.exists() or not any(store.snapshots_dir.iterdir())
    report = caught.value.paths[1].read_text()
    assert table in report and column in report


def test_cli_failure_exits_non_zero_and_prints_the_report(store: Store) -> None:
    con = duckdb.connect(str(store.db_path))
    con.execute(stored(f"UPDATE context SET atr_bps = 1500 WHERE ts = {FIRST_ROW.format(t='context')}"))
    con.close()
    result = runner.invoke(
        app,
        [
            "validate",
            "--date-range",
            "2025-02-03..2025-03-28",
            "--symbol",
            "XAUUSD",
            "--no-docs",
            "--store",
            str(store.root),
        ],
    )
    assert_exit(result, 7, "context.atr_bps: in_range", "no snapshot was written")
    html_path = Path("".join(result.output.split("Full report (opens offline):")[1].split()))  # unwrapped
    assert html_path.suffix == ".html" and "".join(result.output.split()).endswith(html_path.name)
    page = assert_self_contained_report(html_path, "FAILED: no snapshot was written")
    assert "atr_bps" in page and "failed checks per table" in page


def test_tampering_is_refused_naming_the_file(store: Store) -> None:
    snap = validate(store, CONFIG)
    for name in ("labels.parquet", "manifest.json"):
        path = snap.snapshot_path / name
        original = path.read_bytes()
        path.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
        with pytest.raises(SnapshotError, match=name.replace(".", r"\.")):
            open_snapshot(store, snap.snapshot_id)
        path.write_bytes(original)
    assert open_snapshot(store, snap.snapshot_id).table("labels").num_rows > 0


@pytest.mark.parametrize("bad_id", ["../snapshots", "a/b", "..", "", "4E8C233107490C74E762", "4e8c2331"])
def test_ids_that_are_not_ids_are_refused(store: Store, bad_id: str) -> None:
    with pytest.raises(SnapshotError, match="not a snapshot id"):
        open_snapshot(store, bad_id)


def test_a_snapshot_is_never_written_twice(store: Store) -> None:
    snap = validate(store, CONFIG)
    with pytest.raises(SnapshotError, match="never written twice"):
        write_snapshot(store, snap.snapshot_id, {}, {})


def test_snapshot_under_another_contract_is_refused(store: Store) -> None:
    snap = validate(store, CONFIG)
    manifest = dict(open_snapshot(store, snap.snapshot_id).manifest)
    manifest.pop("files")
    manifest["full_contract_hash"] = "0" * 64
    write_snapshot(
        store, "0" * 20, {"labels": open_snapshot(store, snap.snapshot_id).table("labels")}, manifest
    )
    with pytest.raises(SnapshotError, match="built under full_contract_hash 0000"):
        open_snapshot(store, "0" * 20)


@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4])
def test_sigkill_during_validate_leaves_no_partial_snapshot(store: Store, delay: float) -> None:
    cmd = [
        sys.executable,
        "-m",
        "featurestore.app.cli",
        "validate",
        "--date-range",
        "2025-02-03..2025-03-28",
        "--symbol",
        "XAUUSD",
        "--no-docs",
        "--store",
        str(store.root),
    ]
    victim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    for manifest in list_snapshots(store):
        open_snapshot(store, manifest["id"])  # anything visible is complete and verifies
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert len(list_snapshots(store)) == 1
    assert not list(store.snapshots_dir.glob(".tmp-*"))


def test_snapshots_list_show_and_docs_commands(store: Store) -> None:
    snap = validate(store, CONFIG)
    listed = runner.invoke(app, ["snapshots", "list", "--store", str(store.root)])
    assert listed.exit_code == 0 and snap.snapshot_id in listed.output
    shown = runner.invoke(app, ["snapshots", "show", snap.snapshot_id, "--store", str(store.root)])
    assert shown.exit_code == 0, shown.output
    for text in (
        "Eligibility funnel",
        "after HARD_SESSION_BLOCK",
        "93ab1d31534f2dc7",
        "passed",
        "2025-02-03",
    ):
        assert text in shown.output
    no_docs = runner.invoke(app, ["docs", snap.snapshot_id, "--store", str(store.root)])
    assert_exit(no_docs, 1, "no data docs")
