"""Bad input to `train live` and its subcommands: one `Error:` message naming the fault, the README's exit
code, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli_checks import assert_exit
from train.app.cli import app

runner = CliRunner()


def test_live_needs_a_bundle_and_one_source(tmp_path: Path) -> None:
    result = runner.invoke(app, ["live", "--follow", str(tmp_path / "x.tsv"), "--store", str(tmp_path)])
    assert result.exit_code == 2 and "give --bundle and either --follow FILE or --oanda" in result.output


def test_live_with_an_unknown_bundle_names_where_it_looked(tmp_path: Path) -> None:
    args = ["live", "--bundle", "nope", "--follow", str(tmp_path / "x.tsv"), "--store", str(tmp_path)]
    assert_exit(runner.invoke(app, args), 2, "no bundle here", "how to fix")


def test_live_follows_only_line_formats(tmp_path: Path) -> None:
    args = ["live", "--bundle", "b", "--follow", "x.parquet", "--format", "parquet", "--store", str(tmp_path)]
    assert_exit(runner.invoke(app, args), 2, "a followed file is mt5 or csv")


def test_oanda_without_a_token_says_how_to_give_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OANDA_TOKEN", raising=False)
    result = runner.invoke(app, ["live", "--bundle", "b", "--oanda", "XAU_USD", "--store", str(tmp_path)])
    assert_exit(result, 2, "no OANDA_TOKEN in the environment", "export OANDA_TOKEN")


@pytest.mark.parametrize("command", ["status", "report"])
def test_status_and_report_of_a_store_without_journal(tmp_path: Path, command: str) -> None:
    result = runner.invoke(app, ["live", command, "--store", str(tmp_path)])
    assert_exit(result, 2, "no live journal in this store", "run `train live` first")
