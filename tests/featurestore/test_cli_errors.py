"""Bad input to every `fs` command: one-screen `Error:` message, the exit code of the README's table
(`featurestore.errors.EXIT_CODES`), a clean exit (no escaped exception), and a traceback only with --debug."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app
from featurestore.errors import EXIT_CODES, StoreMissingError
from tests.cli_checks import assert_exit

runner = CliRunner()
RANGE = "2025-02-03..2025-03-28"


def test_materialize_with_a_missing_killswitch_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    args = ["materialize", "--date-range", RANGE, "--blocked", str(missing), "--store", str(tmp_path / "s")]
    assert_exit(runner.invoke(app, args), 2, "Error:", "missing.csv", "how to fix")


def test_reading_candles_of_a_missing_store_is_not_store_busy(tmp_path: Path) -> None:
    from featurestore.api import stored_candles
    from featurestore.store.handle import Store

    with pytest.raises(StoreMissingError, match="no store here") as caught:
        stored_candles(Store.at(tmp_path / "nothing"), "XAUUSD", "M5")
    assert caught.value.exit_code == 2 and "busy" not in str(caught.value)


def test_validate_without_materialized_tables(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--date-range", RANGE, "--store", str(tmp_path)])
    assert_exit(result, 1, "Error:", "no context")


def test_ingest_of_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "none.tsv"), "--store", str(tmp_path / "s")])
    assert_exit(result, 2, "Error:", "none.tsv")


def test_demo_with_a_store_path_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = runner.invoke(app, ["demo", "--synthetic", "--store", str(blocker / "store")])
    assert_exit(result, 2, "Error:", "how to fix")


def test_snapshots_list_with_a_damaged_manifest_names_the_file(tmp_path: Path) -> None:
    damaged = tmp_path / "snapshots" / ("0" * 20)
    damaged.mkdir(parents=True)
    (damaged / "manifest.json").write_text("{ not json")
    result = runner.invoke(app, ["snapshots", "list", "--store", str(tmp_path), "--json"])
    assert_exit(result, 6, "manifest.json, line 1", "how to fix")


@pytest.mark.parametrize("command", [["snapshots", "show", "0" * 20], ["docs", "0" * 20]])
def test_snapshot_commands_on_an_unknown_snapshot(tmp_path: Path, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--store", str(tmp_path / "nothing"), "--json"])
    assert result.exit_code in (1, 6), result.output
    assert_exit(result, result.exit_code, "Error:")


@pytest.mark.parametrize("command", [["snapshots", "show", "not-an-id"], ["docs", "not-an-id"]])
def test_a_malformed_snapshot_id(tmp_path: Path, command: list[str]) -> None:
    assert_exit(runner.invoke(app, [*command, "--store", str(tmp_path)]), 6, "Error:")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    args = ["materialize", "--date-range", RANGE, "--blocked", str(tmp_path / "x.csv"), "--debug"]
    result = runner.invoke(app, [*args, "--store", str(tmp_path / "s")])
    assert result.exit_code == 1 and not isinstance(result.exception, SystemExit)


def test_every_command_takes_store_and_json() -> None:
    for command in (["ingest"], ["materialize"], ["demo"], ["validate"], ["snapshots", "list"],
                    ["snapshots", "show"], ["docs"]):  # fmt: skip
        text = runner.invoke(app, [*command, "--help"], terminal_width=200).output
        assert "--store" in text and "--json" in text, command


def test_readme_documents_the_exit_code_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", readme, re.MULTILINE), f"exit code {code} missing from README"
