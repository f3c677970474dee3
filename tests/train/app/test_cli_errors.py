"""Bad input to every `train` command: one `Error:` message, the exit code of the README's table, a clean
exit (no escaped exception); each case here was a traceback or a wrong exit code before the error layer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli_checks import assert_exit
from tests.train.conftest import TINY
from train.app.cli import app

runner = CliRunner()


def test_run_refuses_a_config_value_of_the_wrong_type_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[optim]\nepochs = "3"\n')
    result = runner.invoke(
        app, ["run", "--snapshot", "0" * 20, "--config", str(config), "--store", str(tmp_path)]
    )
    assert_exit(result, 2, "bad.toml [optim]: epochs must be an integer", "how to fix")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("embargo_bars = 30", "embargo_bars = 12"), "max(sequence length 30, label horizon 12) = 30 bars"),
        (("[model]\n", "[model]\nseq_len = 40\n"), "embargo_bars = 30 is below max(sequence length 40,"),
    ],
    ids=["below_window", "below_a_longer_window"],
)
def test_run_refuses_an_embargo_shorter_than_the_window_or_the_label_horizon(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    config = tmp_path / "short.toml"
    config.write_text(TINY.read_text().replace(*edit))
    result = runner.invoke(
        app, ["run", "--snapshot", "0" * 20, "--config", str(config), "--store", str(tmp_path)]
    )
    assert_exit(result, 2, "short.toml: [splits] embargo_bars", expected, "how to fix")
    assert len(result.output.splitlines()) <= 6, result.output


def test_run_with_a_config_that_is_not_toml(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[optim\n")
    result = runner.invoke(app, ["run", "--snapshot", "0" * 20, "--config", str(config)])
    assert_exit(result, 2, "broken.toml: not valid TOML", "at line 1")


def test_run_with_a_missing_config_file_names_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--snapshot", "0" * 20, "--config", str(tmp_path / "no.toml")])
    assert_exit(result, 2, "no.toml")


def test_run_value_errors_exit_as_bad_usage_like_replay(
    snapshot_store: tuple[Path, str], tmp_path: Path
) -> None:
    # Valid, ordered splits that lie outside the snapshot: the ValueError comes from inside the run (it
    # exited 1 there, but 2 in `train replay`), and the message names the split and what the data covers.
    root, snap = snapshot_store
    config = tmp_path / "outside.toml"
    text = TINY.read_text()
    for old, new in (
        ('train = ["2025-02-03", "2025-04-30"]', 'train = ["2030-01-01", "2030-01-31"]'),
        ('val = ["2025-05-01", "2025-05-31"]', 'val = ["2030-02-01", "2030-02-28"]'),
        ('test = ["2025-06-01", "2025-06-27"]', 'test = ["2030-03-01", "2030-03-31"]'),
    ):
        assert old in text
        text = text.replace(old, new)
    config.write_text(text)
    result = runner.invoke(app, ["run", "--snapshot", snap, "--config", str(config), "--store", str(root)])
    assert_exit(result, 2, "the train split 2030-01-01..2030-01-31 holds no usable sample", "how to fix")


def test_replay_with_a_missing_killswitch_file(bundles: dict[str, Path], tmp_path: Path) -> None:
    args = ["replay", "--bundle", str(bundles["ctx_a"]), "--online", "--date-range", "2025-06-02..2025-06-02"]
    result = runner.invoke(app, [*args, "--blocked", str(tmp_path / "missing.csv"), "--store", str(tmp_path)])
    assert_exit(result, 2, "missing.csv", "how to fix")


def test_online_replay_on_a_missing_store_is_not_store_busy(bundles: dict[str, Path], tmp_path: Path) -> None:
    args = ["replay", "--bundle", str(bundles["ctx_a"]), "--online", "--date-range", "2025-06-02..2025-06-02"]
    result = runner.invoke(app, [*args, "--store", str(tmp_path / "nothing")])
    assert_exit(result, 2, "no store here", "fs ingest")
    assert "busy" not in result.output


def test_replay_of_a_live_mode_bundle_that_cannot_load(
    bundles: dict[str, Path], snapshot_store: tuple[Path, str], tmp_path: Path
) -> None:
    root, snap = snapshot_store
    broken = tmp_path / "broken"
    shutil.copytree(bundles["ctx_a"], broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    args = ["replay", "--bundle", str(broken), "--snapshot", snap, "--mode", "live", "--store", str(root)]
    assert_exit(runner.invoke(app, args), 8, "Error:", str(broken))


def test_inspect_a_bundle_missing_a_metadata_key(bundles: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "partial"
    shutil.copytree(bundles["ctx_a"], copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta.pop("seq_len")
    (copy / "metadata.json").write_text(json.dumps(meta))
    assert_exit(runner.invoke(app, ["inspect", str(copy)]), 8, "missing key(s) ['seq_len']", "retrain")


def test_inspect_where_there_is_no_bundle(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", "nope", "--store", str(tmp_path), "--json"])
    assert_exit(result, 2, "no bundle here", "train run")


def test_verify_fullyear_with_a_missing_candle_file(tmp_path: Path) -> None:
    args = ["verify-fullyear", "--candles", str(tmp_path / "year.tsv"), "--source-tz", "EET"]
    assert_exit(runner.invoke(app, [*args, "--store", str(tmp_path / "s")]), 2, "year.tsv")


def test_demo_with_a_store_path_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = runner.invoke(app, ["demo", "--synthetic", "--store", str(blocker / "store")])
    assert_exit(result, 2, "Error:", "how to fix")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--snapshot", "x", "--config", str(tmp_path / "no.toml"), "--debug"])
    assert result.exit_code == 1 and not isinstance(result.exception, SystemExit)  # raised, with traceback


@pytest.mark.parametrize("command", ["run", "demo", "replay", "verify-fullyear", "inspect"])
def test_every_command_takes_store_json_and_debug(command: str) -> None:
    text = runner.invoke(app, [command, "--help"], terminal_width=200).output
    assert "--store" in text and "--json" in text and "--debug" in text
