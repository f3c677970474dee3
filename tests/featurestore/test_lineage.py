"""Lineage: `fs validate` seals only rows a recorded materialize run produced from the candles now stored,
under the contract in force. Each defect scenario: refusal (exit code, message naming the stale range and
the command), no snapshot written, then a clean seal after materializing again."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app
from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.errors import ContractNotChecked
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from featurestore.store.lineage import LineageError
from featurestore.store.snapshots import SnapshotError, list_snapshots, open_snapshot
from schemas.contract import CONTRACT, SQL_ROOT, contract_hashes

START, END = date(2025, 2, 3), date(2025, 3, 28)
RANGE = "2025-02-03..2025-03-28"
CONFIG = ValidateConfig("XAUUSD", START, END, data_docs=False)
runner = CliRunner()


@pytest.fixture(scope="module")
def candles() -> pl.DataFrame:
    return generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 3, 31)))


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory: pytest.TempPathFactory, candles: pl.DataFrame) -> Path:
    root = tmp_path_factory.mktemp("lineage")
    store = Store.at(root / "store")
    ingest_file(
        store, write_mt5_tsv(candles, root / "c.tsv"), IngestOptions("XAUUSD", fmt="mt5", source_tz="EET")
    )
    materialize(store, MaterializeConfig("XAUUSD", START, END), contract=CONTRACT)  # this module: v1
    return root / "store"


@pytest.fixture()
def store(clean_store: Path, tmp_path: Path) -> Store:
    shutil.copytree(clean_store, tmp_path / "store")
    return Store.at(tmp_path / "store")


def _validate_cli(store: Store, date_range: str = RANGE) -> object:
    return runner.invoke(
        app,
        [
            "validate",
            "--date-range",
            date_range,
            "--symbol",
            "XAUUSD",
            "--no-docs",
            "--store",
            str(store.root),
        ],
    )


def _no_snapshot(store: Store) -> bool:
    return not list_snapshots(store) and not list(store.reports_dir.glob("validate-*"))


def _edited_contract(tmp_path: Path):
    """The contract with one window of atr14 in the snapshot-features SQL changed (13 -> 12 preceding)."""
    copy = tmp_path / "sql"
    shutil.copytree(SQL_ROOT, copy)
    target = copy / CONTRACT.version / "30_snap_features.sql"
    text = target.read_text()
    edited = text.replace(
        "w14 AS (ORDER BY pos ROWS BETWEEN 13 PRECEDING", "w14 AS (ORDER BY pos ROWS BETWEEN 12 PRECEDING"
    )
    assert edited != text
    target.write_text(edited)
    return dataclasses.replace(CONTRACT, sql_root=copy)


def test_changed_sql_line_is_refused_then_seals_after_materializing_again(
    store: Store, tmp_path: Path
) -> None:
    edited = _edited_contract(tmp_path)
    new_hash = contract_hashes(edited)["full_contract_hash"]
    assert new_hash != contract_hashes()["full_contract_hash"]
    with pytest.raises(LineageError) as caught:
        validate(store, CONFIG, contract=edited)
    message = str(caught.value)
    assert caught.value.exit_code == 10
    assert f"{RANGE}: materialized by run" in message
    assert f"the contract in force (v1) has {new_hash[:16]}" in message
    assert f"fs materialize --date-range {RANGE} --symbol XAUUSD --store {store.root}" in message
    assert "nothing was written" in message and _no_snapshot(store)

    materialize(store, MaterializeConfig("XAUUSD", START, END), contract=edited)
    # an edited version is a new definition: it seals only with a passing `fs contract check` on record
    # (tests/featurestore/test_contract_check.py runs the check itself; here the record stands in for it)
    with pytest.raises(ContractNotChecked, match="fs contract check v1 --symbol XAUUSD"):
        validate(store, CONFIG, contract=edited)
    _record_passing_check(store, edited)
    sealed = validate(store, CONFIG, contract=edited)
    assert (
        sealed.created
        and open_snapshot(store, sealed.snapshot_id, contract=edited).manifest["full_contract_hash"]
        == new_hash
    )
    # and the code's own contract now refuses the range, which holds the edited SQL's features
    with pytest.raises(LineageError, match="materialized by run"):
        validate(store, CONFIG)


def _record_passing_check(store: Store, contract) -> None:
    from datetime import datetime

    from featurestore.store.checks import CheckRecord, record_check

    with store.connect() as con:
        record_check(
            con,
            CheckRecord(
                "lineage-test",
                contract.version,
                contract_hashes(contract)["full_contract_hash"],
                "XAUUSD",
                "M5",
                datetime(2025, 1, 1),
                datetime(2025, 4, 1),
                5,
                7,
                True,
                {"summary": "all audits pass"},
                None,
                datetime(2025, 4, 1),
            ),
        )


def _replace_ingest(store: Store, candles: pl.DataFrame, tmp_path: Path) -> int:
    """Ingest a file whose bars of 2025-03-04 10:00..10:10 UTC differ from the stored ones, with replace."""
    when = pl.col("ts").is_between(pl.datetime(2025, 3, 4, 10), pl.datetime(2025, 3, 4, 10, 10))
    changed = candles.filter(when).with_columns(pl.col(c) * 1.002 for c in ("open", "high", "low", "close"))
    assert changed.height == 3
    result = ingest_file(
        store,
        write_mt5_tsv(changed, tmp_path / "changed.tsv"),
        IngestOptions("XAUUSD", fmt="mt5", source_tz="EET", on_conflict="replace"),
    )
    assert any("stale" in w for w in result.warnings)
    return result.ingest_id


def test_replace_ingest_inside_the_range_is_refused_on_the_cli_then_seals(
    store: Store, candles: pl.DataFrame, tmp_path: Path
) -> None:
    ingest_id = _replace_ingest(store, candles, tmp_path)
    refused = _validate_cli(store)
    assert refused.exit_code == 10, refused.output
    assert f"{RANGE}: candles changed after run" in refused.output
    assert (
        f"ingest #{ingest_id}" in refused.output
        and "wrote 3 bar(s) 2025-03-04 10:00..2025-03-04 10:10" in refused.output
    )
    assert f"fs materialize --date-range {RANGE} --symbol XAUUSD" in refused.output
    assert "Traceback" not in refused.output and _no_snapshot(store)

    assert (
        runner.invoke(
            app, ["materialize", "--date-range", RANGE, "--symbol", "XAUUSD", "--store", str(store.root)]
        ).exit_code
        == 0
    )
    sealed = _validate_cli(store)
    assert sealed.exit_code == 0, sealed.output
    assert len(list_snapshots(store)) == 1


def test_never_materialized_part_is_named_alone(store: Store) -> None:
    with pytest.raises(LineageError) as caught:
        validate(store, ValidateConfig("XAUUSD", date(2025, 1, 27), END, data_docs=False))
    message = str(caught.value)
    assert "2025-01-27..2025-02-02: never materialized" in message
    assert "--date-range 2025-01-27..2025-02-02 " in message and "2025-02-03..2025-03-28:" not in message


def test_sub_range_of_a_run_and_a_later_partial_run_seal(store: Store) -> None:
    materialize(store, MaterializeConfig("XAUUSD", date(2025, 3, 3), date(2025, 3, 7)), contract=CONTRACT)
    sealed = validate(store, CONFIG)
    runs = sealed_runs = open_snapshot(store, sealed.snapshot_id).manifest["materialize_runs"]
    assert [r["rows_of"] for r in runs] == [
        "2025-02-03..2025-03-02",
        "2025-03-03..2025-03-07",
        "2025-03-08..2025-03-28",
    ]
    assert sealed_runs[0]["run_id"] == sealed_runs[2]["run_id"] != sealed_runs[1]["run_id"]


def test_stale_and_fresh_snapshots_of_one_range_are_told_apart(
    store: Store, candles: pl.DataFrame, tmp_path: Path
) -> None:
    first = validate(store, CONFIG)
    _replace_ingest(store, candles, tmp_path)
    materialize(store, MaterializeConfig("XAUUSD", START, END), contract=CONTRACT)
    second = validate(store, CONFIG)
    assert second.snapshot_id != first.snapshot_id
    old, new = (open_snapshot(store, s.snapshot_id).manifest for s in (first, second))
    assert old["lineage"]["materialize_runs"] != new["lineage"]["materialize_runs"]

    status = json.loads(runner.invoke(app, ["status", "--json", "--store", str(store.root)]).output)
    snaps = {s["id"]: s for s in status["symbols"]["XAUUSD"]["snapshots"]}
    assert snaps[second.snapshot_id]["state"] == "current"
    assert snaps[first.snapshot_id]["state"] == "stale"
    assert "candles changed after run" in snaps[first.snapshot_id]["why"]
    listed = runner.invoke(app, ["snapshots", "list", "--json", "--store", str(store.root)])
    states = {s["id"]: s["lineage"] for s in json.loads(listed.output)["snapshots"]}
    assert states == {first.snapshot_id: "stale", second.snapshot_id: "current"}


def test_untraced_snapshots_are_shown_as_such(store: Store) -> None:
    sealed = validate(store, CONFIG)
    path = sealed.snapshot_path / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.pop("lineage")  # as a snapshot sealed before lineage was recorded
    body = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    path.chmod(0o644)
    path.write_text(body)
    (sealed.snapshot_path / "manifest.sha256").write_text(hashlib.sha256(body.encode()).hexdigest() + "\n")
    listed = runner.invoke(app, ["snapshots", "list", "--store", str(store.root)], env={"COLUMNS": "200"})
    assert "untraced" in listed.output
    status = json.loads(runner.invoke(app, ["status", "--json", "--store", str(store.root)]).output)
    (snap,) = status["symbols"]["XAUUSD"]["snapshots"]
    assert snap["state"] == "untraced" and "sealed before lineage" in snap["why"]


def test_status_reports_current_stale_hash_and_stale_candles(
    store: Store, candles: pl.DataFrame, tmp_path: Path
) -> None:
    edited = _edited_contract(tmp_path)
    materialize(store, MaterializeConfig("XAUUSD", date(2025, 2, 3), date(2025, 2, 7)), contract=edited)
    when = pl.col("ts").is_between(pl.datetime(2025, 3, 25, 10), pl.datetime(2025, 3, 25, 10, 10))
    changed = candles.filter(when).with_columns(pl.col(c) * 1.002 for c in ("open", "high", "low", "close"))
    ingest_file(
        store,
        write_mt5_tsv(changed, tmp_path / "changed.tsv"),
        IngestOptions("XAUUSD", fmt="mt5", source_tz="EET", on_conflict="replace"),
    )
    materialize(store, MaterializeConfig("XAUUSD", date(2025, 3, 10), date(2025, 3, 14)), contract=CONTRACT)
    result = runner.invoke(app, ["status", "--symbol", "XAUUSD", "--json", "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    parts = json.loads(result.output)["symbols"]["XAUUSD"]["materialized"]
    assert [(p["range"], p["state"]) for p in parts] == [
        ("2025-02-03..2025-02-07", "stale"),
        ("2025-02-08..2025-03-09", "stale"),
        ("2025-03-10..2025-03-14", "current"),
        ("2025-03-15..2025-03-28", "stale"),
    ]
    assert (
        f"the contract in force for v1 has {contract_hashes()['full_contract_hash'][:16]}" in parts[0]["why"]
    )
    assert parts[0]["full_contract_hash"] == contract_hashes(edited)["full_contract_hash"]
    for stale in (parts[1], parts[3]):
        assert (
            stale["why"].startswith("candles changed after run")
            and "wrote 3 bar(s) 2025-03-25 10:00" in stale["why"]
        )
    assert parts[1]["run_id"] == parts[3]["run_id"] != parts[2]["run_id"]
    text = runner.invoke(app, ["status", "--store", str(store.root)], env={"COLUMNS": "250"})
    assert text.exit_code == 0 and "current" in text.output and "stale" in text.output


def test_v2_materialize_and_validate_and_open_under_its_own_version(store: Store) -> None:
    from schemas.versions import CONTRACT_V2

    args = ["--date-range", RANGE, "--symbol", "XAUUSD", "--store", str(store.root)]
    unknown = runner.invoke(app, ["materialize", *args, "--contract", "v9"])
    assert (
        unknown.exit_code == 1 and "unknown contract version 'v9'; this code knows v1, v2" in unknown.output
    )
    assert runner.invoke(app, ["materialize", *args, "--contract", "v2"]).exit_code == 0
    sealed = runner.invoke(app, ["validate", *args, "--no-docs", "--json"])
    assert sealed.exit_code == 0, sealed.output
    snap_id = json.loads(sealed.output)["snapshot_id"]
    snap = open_snapshot(store, snap_id, contract=None)
    assert snap.contract is CONTRACT_V2 and snap.manifest["sql_version"] == "v2"
    assert "realized_bps" in snap.table("labels").column_names
    with pytest.raises(SnapshotError, match="holds contract v2 data and was opened under contract v1"):
        open_snapshot(store, snap_id, contract=CONTRACT)
    # v1's rows of the range live beside v2's and are still current: both versions seal, apart
    v1 = validate(store, CONFIG, contract=CONTRACT)
    assert v1.snapshot_id != snap_id and open_snapshot(store, v1.snapshot_id).manifest["sql_version"] == "v1"
