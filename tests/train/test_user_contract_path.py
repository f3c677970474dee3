"""The README's path for a new feature, end to end on synthetic candles, as a user runs it:
`fs contract new x --from v2`, one snapshot feature added in two files, materialize, `fs contract check`,
validate, train one epoch, replay batch and online. A version that removes a feature trains a narrower model
the same way. The bundle carries the definition it was built from: with the user's folder deleted it still
replays and serves; with the folder edited, replay mode refuses and live mode warns."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app as fs_app
from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.online import stored_candles
from featurestore.store.handle import Store
from tests.featurestore.test_contract_folders import add_snapshot_feature
from train.app.cli import app as train_app
from train.fitting.bundle import BundleMismatch, load_entry_v10_bundle
from train.serving.live import predict_latest

# Two materialize + validate + train runs and a day of online replay: minutes, so with the slow tests (CI).
pytestmark = pytest.mark.slow

RANGE = "2025-02-03..2025-04-25"
REPLAY_DAY = "2025-04-22..2025-04-22"
CONFIG = """variant = "v10_ctx"
seed = 7

[splits]
train = ["2025-02-03", "2025-03-31"]
val = ["2025-04-01", "2025-04-14"]
test = ["2025-04-15", "2025-04-25"]
embargo_bars = 30

[optim]
epochs = 1
batch_size = 128
max_train_rows = 800
threads = 1

[base_model]
n_folds = 2
n_estimators = 10
max_depth = 3
n_jobs = 1

[model]
d_model = 16
n_heads = 2
n_layers = 1
ff_dim = 32
snap_hidden = [32, 16]
regime_dim = 4
fusion_hidden = 16
head_hidden = 16
"""
REMOVED = (
    ",\n    (CASE WHEN gain14 + loss14 > 0 THEN gain14 / (gain14 + loss14) ELSE 0.5 END - 0.5)"
    " * atr14 / atr96\n        AS int_rsi14_atr_ratio"
)
runner = CliRunner()


def _ok(app, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def remove_last_snapshot_feature(folder: Path) -> None:
    """The two edits that drop int_rsi14_atr_ratio: its SQL expression and its declaration line."""
    sql = folder / "30_snap_features.sql"
    text = sql.read_text()
    assert REMOVED in text
    sql.write_text(text.replace(REMOVED, ""))
    decl = folder / "contract.toml"
    lines = decl.read_text().splitlines(keepends=True)
    kept = [line for line in lines if 'name = "int_rsi14_atr_ratio"' not in line]
    assert len(kept) == len(lines) - 1
    decl.write_text("".join(kept))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A store with candles, the user's feature repository with `x` (one feature more than v2) and `y` (one
    fewer), each materialized, validated and trained through the command lines."""
    root = tmp_path_factory.mktemp("user_path")
    store, repo = root / "store", root / "contracts"
    source = write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 4, 30), seed=21)),
        root / "c.tsv",
    )
    (root / "tiny.toml").write_text(CONFIG)
    mp = pytest.MonkeyPatch()
    mp.setenv("FS_CONTRACTS", str(repo))
    _ok(fs_app, ["ingest", str(source), "--format", "mt5", "--source-tz", "EET", "--store", str(store)])
    out: dict[str, object] = {"store": store, "repo": repo, "monkeypatch": mp}
    for name, edit in (("x", add_snapshot_feature), ("y", remove_last_snapshot_feature)):
        _ok(fs_app, ["contract", "new", name, "--from", "v2"])
        edit(repo / name)
        _ok(fs_app, ["materialize", "--contract", name, "--date-range", RANGE, "--store", str(store)])
        _ok(fs_app, ["contract", "check", name, "--cuts", "1", "--store", str(store)])  # validate needs it
        validated = json.loads(
            _ok(
                fs_app,
                [
                    "validate",
                    "--contract",
                    name,
                    "--date-range",
                    RANGE,
                    "--no-docs",
                    "--json",
                    "--store",
                    str(store),
                ],
            )
        )
        snapshot = validated["snapshot_id"]
        _ok(
            train_app,
            [
                "run",
                "--snapshot",
                snapshot,
                "--config",
                str(root / "tiny.toml"),
                "--out",
                f"b_{name}",
                "--store",
                str(store),
            ],
        )
        out[name] = (snapshot, store / "bundles" / f"b_{name}")
    yield out
    mp.undo()


def _metadata(bundle: Path) -> dict:
    return json.loads((bundle / "metadata.json").read_text())


def test_one_feature_more_gives_89_snapshot_inputs_ending_with_it(world) -> None:
    meta = _metadata(world["x"][1])
    assert meta["contract_version"] == "x" and meta["snap_dim"] == 89 and meta["seq_dim"] == 16
    assert meta["input_names"]["snap"][-4:] == ["move_24_atr", "p_long_xgb", "margin_xgb", "p_hat_xgb"]
    assert (meta["ctx_cat_dim"], meta["ctx_cont_dim"]) == (5, 2)
    config = json.loads((world["x"][1] / "config.json").read_text())
    assert config["snap_dim"] == 89


def test_one_feature_fewer_trains_a_narrower_model(world) -> None:
    meta = _metadata(world["y"][1])
    assert meta["snap_dim"] == 87 and "int_rsi14_atr_ratio" not in meta["input_names"]["snap"]
    assert meta["input_names"]["snap"][-4] == "int_mom24_r2"


def _replay(world, name: str, *extra: str) -> object:
    snapshot, bundle = world[name]
    return runner.invoke(
        train_app,
        [
            "replay",
            "--bundle",
            str(bundle),
            "--date-range",
            REPLAY_DAY,
            "--json",
            "--store",
            str(world["store"]),
            *extra,
        ],
    )


def test_the_user_versions_replay_batch_and_online(world) -> None:
    for name in ("x", "y"):
        batch = _replay(world, name, "--snapshot", world[name][0])
        assert batch.exit_code == 0, batch.output
        assert json.loads(batch.output)["bundle"]["contract_version"] == name
    online = _replay(world, "x", "--online")
    assert online.exit_code == 0, online.output
    summary = json.loads(online.output)
    assert summary["bundle"]["contract_version"] == "x" and summary["funnel"]["predicted"] > 0


def _live_cycle(world, mode: str) -> tuple[float, float]:
    """One live cycle of bundle x on the candles up to the end of the replay day: (p_xgb, p_long)."""
    bundle = load_entry_v10_bundle(world["x"][1], variant="v10_ctx", mode=mode)
    candles = stored_candles(Store.at(world["store"]), "XAUUSD", "M5")
    ts = candles.column("ts").to_numpy()
    end = int(np.searchsorted(ts, np.datetime64("2025-04-23T00:00")))
    decision = predict_latest(bundle, candles.slice(0, end))
    assert np.isfinite(decision.p_xgb)
    return decision.p_xgb, decision.p_long


def test_the_bundle_serves_from_its_own_copy_when_the_folder_is_gone(world, tmp_path) -> None:
    repo: Path = world["repo"]
    before = _live_cycle(world, "replay")
    shutil.move(repo / "x", tmp_path / "x")
    try:
        result = _replay(world, "x", "--snapshot", world["x"][0])
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(_live_cycle(world, "replay"), before)
    finally:
        shutil.move(tmp_path / "x", repo / "x")


def test_an_edited_folder_of_the_same_name_is_refused_in_replay_mode_and_warned_in_live(
    world, caplog
) -> None:
    before = _live_cycle(world, "replay")
    sql = world["repo"] / "x" / "30_snap_features.sql"
    original = sql.read_text()
    sql.write_text(original.replace("(close - c_lag24) / atr48", "(close - c_lag24) / atr96"))
    try:
        refused = _replay(world, "x", "--snapshot", world["x"][0])
        assert refused.exit_code == 8
        assert f"the user folder {world['repo'] / 'x'} of contract x differs from the copy" in refused.output
        assert "replay mode does not mix definitions" in refused.output
        with pytest.raises(BundleMismatch, match="differs from the copy bundle b_x carries"):
            load_entry_v10_bundle(world["x"][1], variant="v10_ctx", mode="replay")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            live = _live_cycle(world, "live")
        assert any("differs from the copy" in r.getMessage() for r in caplog.records)
        np.testing.assert_array_equal(live, before)  # served from the copy, not from the edited folder
    finally:
        sql.write_text(original)
