"""`fs contract check` on a store: the check is recorded, `fs validate` seals a user version only after a
passing check of its current definition (editing its SQL makes the check stale), `fs status` shows each
version's check state, and the CLI prints one table, the report path, and exits 0 / 11 / 12."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app
from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.contract_check import CheckConfig, check_contract
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.errors import EXIT_CODES, ContractNotChecked
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.checks import checks_of
from featurestore.store.handle import Store
from featurestore.store.status import store_status
from tests.cli_checks import assert_exit
from tests.featurestore.planted_contracts import contracts_dir, feature, user_version, write_user_sql
from tests.html_checks import assert_self_contained_report

START, END = date(2025, 2, 3), date(2025, 2, 14)
SMA = (
    "(close - avg(close) OVER (ORDER BY pos ROWS BETWEEN 19 PRECEDING AND CURRENT ROW)) / close * 1e4"
    " AS dist_bps"
)
runner = CliRunner()


@pytest.fixture(scope="module")
def candle_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("check")
    source = write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 2, 20), seed=11)),
        root / "c.tsv",
    )
    ingest_file(Store.at(root / "store"), source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    return root / "store"


@pytest.fixture()
def store(candle_store: Path, tmp_path: Path) -> Store:
    shutil.copytree(candle_store, tmp_path / "store")
    return Store.at(tmp_path / "store")


def test_validate_seals_a_user_version_only_after_a_passing_check(store: Store, tmp_path: Path) -> None:
    contract = user_version(tmp_path, "u_sma", SMA, [feature("dist_bps", 19)])
    materialize(store, MaterializeConfig("XAUUSD", START, END), contract=contract)
    config = ValidateConfig("XAUUSD", START, END, data_docs=False)
    with pytest.raises(ContractNotChecked, match="fs contract check u_sma --symbol XAUUSD") as refused:
        validate(store, config, contract=contract)
    assert refused.value.exit_code == 12 and "unchecked" in str(refused.value)
    assert not store.snapshots_dir.exists() and not store.reports_dir.exists()  # nothing written

    result = check_contract(store, contract, CheckConfig("XAUUSD"))
    assert result.passed, result.audit.summary()
    (record,) = checks_of_store(store)
    assert (record.contract, record.symbol, record.cuts, record.seed, record.passed) == (
        "u_sma",
        "XAUUSD",
        5,
        7,
        True,
    )
    assert record.full_contract_hash == result.audit.full_contract_hash
    assert validate(store, config, contract=contract).created

    write_user_sql(tmp_path, "u_sma", SMA.replace("19 PRECEDING", "18 PRECEDING"))  # the folder is edited
    materialize(store, MaterializeConfig("XAUUSD", START, END), contract=contract)
    with pytest.raises(ContractNotChecked, match="stale: checked under full_contract_hash"):
        validate(store, config, contract=contract)


def checks_of_store(store: Store) -> list:
    with store.connect(read_only=True) as con:
        return checks_of(con)


def test_a_failing_check_is_recorded_and_does_not_unlock_validate(store: Store, tmp_path: Path) -> None:
    contract = user_version(
        tmp_path, "u_lead", "lead(r1) OVER (ORDER BY pos) AS next_r1", [feature("next_r1", 0)]
    )
    materialize(store, MaterializeConfig("XAUUSD", START, END), contract=contract)
    result = check_contract(store, contract, CheckConfig("XAUUSD", cuts=2))
    assert not result.passed
    assert "snap_features.next_r1" in {
        f"{f.table}.{f.column}" for a in result.audit.audits for f in a.findings
    }
    assert [r.passed for r in checks_of_store(store)] == [False]
    html = assert_self_contained_report(result.report_paths[1], "contract u_lead: failed", min_images=0)
    assert "snap_features" in html and "next_r1" in html and "How to fix" in html
    with pytest.raises(ContractNotChecked, match="failed"):
        validate(store, ValidateConfig("XAUUSD", START, END, data_docs=False), contract=contract)


def test_cli_check_passes_v2_records_it_and_status_shows_it(store: Store) -> None:
    result = runner.invoke(app, ["contract", "check", "v2", "--cuts", "1", "--store", str(store.root)])
    assert_exit(
        result,
        0,
        "declaration vs SQL",
        "leakage",
        "lookback sufficiency",
        "range independence",
        "feature health",
        "Report (opens offline):",
    )
    report = Path(result.output.split("Report (opens offline):")[1].split()[0])
    assert report.is_file() and report.suffix == ".html"
    states = {c["contract"]: (c["symbol"], c["state"]) for c in store_status(store)["contract_checks"]}
    assert states == {"v1": ("XAUUSD", "built-in"), "v2": ("XAUUSD", "passed")}
    shown = runner.invoke(app, ["status", "--store", str(store.root)])
    assert_exit(shown, 0, "contract checks", "passed", "built-in")


def test_cli_check_of_a_user_version_in_its_feature_repository(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FS_CONTRACTS", raising=False)  # restored after the test (--contracts sets it)
    user_version(tmp_path, "u_cli", SMA, [feature("dist_bps", 19)])
    repo = contracts_dir(tmp_path)
    base = ["contract", "check", "u_cli", "--cuts", "1", "--store", str(store.root)]
    assert_exit(runner.invoke(app, base), 1, "unknown contract version 'u_cli'")  # not in ./contracts
    result = runner.invoke(app, [*base, "--contracts", str(repo), "--json"])
    assert_exit(result, 0)
    body = json.loads(result.output)
    assert (body["contract"], body["passed"]) == ("u_cli", True)
    assert str(repo / "u_cli") in body["result"]["audits"][0]["checked"]  # the folder's SQL was audited
    (record,) = checks_of_store(store)
    assert (record.contract, record.passed) == ("u_cli", True)
    states = {c["contract"]: c["state"] for c in store_status(store)["contract_checks"]}
    assert states["u_cli"] == "passed"


def test_cli_check_json_and_the_exit_codes(store: Store) -> None:
    result = runner.invoke(
        app, ["contract", "check", "v1", "--cuts", "1", "--json", "--store", str(store.root)]
    )
    assert_exit(result, 0)
    body = json.loads(result.output)
    assert body["passed"] is True and body["contract"] == "v1" and body["cuts"] == 1
    assert [a["name"] for a in body["result"]["audits"]][0] == "declaration vs SQL"
    unknown = runner.invoke(app, ["contract", "check", "nope", "--store", str(store.root)])
    assert_exit(unknown, 1, "unknown contract version 'nope'")
    assert 11 in EXIT_CODES and 12 in EXIT_CODES


def test_cli_check_refuses_a_missing_store_and_a_too_short_range(store: Store, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["contract", "check", "v2", "--store", str(tmp_path / "nowhere")])
    assert_exit(missing, 2, "no store here")
    short = ["contract", "check", "v2", "--date-range", "2025-02-03..2025-02-05", "--store", str(store.root)]
    assert_exit(runner.invoke(app, short), 1, "the check needs at least 5655", "widen --date-range")
    assert checks_of_store(store) == []  # nothing recorded
