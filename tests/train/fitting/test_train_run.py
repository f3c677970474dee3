"""`train run` end to end on a tiny config: refusals, filter rates, determinism, bundle checks, no pickle."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from featurestore.app.console import out
from featurestore.store.handle import Store
from featurestore.store.snapshots import write_snapshot
from schemas.bundle_metadata import SCHEMA_VERSION, BundleMetadata, BundleMetadataError, read_bundle_metadata
from schemas.versions import DEFAULT_VERSION
from tests.cli_checks import assert_exit
from tests.train.conftest import TINY, edited_bundle
from train.app.cli import app
from train.fitting.base_model import GRID_AXES
from train.fitting.baselines import C_GRID
from train.fitting.bundle import METADATA, BundleMismatch, load_entry_v10_bundle
from train.fitting.config import load_run_config
from train.fitting.hybrid import EMA_SPAN, EMA_WINDOW
from train.fitting.run import summary_metrics

runner = CliRunner()
REPO = Path(__file__).resolve().parents[3]


def test_run_reports_filter_rates_and_stores_them(snapshot_store: tuple[Path, str], tmp_path: Path) -> None:
    root, snap = snapshot_store
    result = runner.invoke(
        app, ["run", "--snapshot", snap, "--config", str(TINY), "--out", "cli_run", "--store", str(root)]
    )
    assert result.exit_code == 0, result.output
    for text in (
        "Eligibility funnel",
        "after HARD_SESSION_BLOCK",
        "Trainer filters",
        "Samples per split",
        "Bundle:",
    ):
        assert text in result.output
    meta = json.loads((root / "bundles" / "cli_run" / METADATA).read_text())
    report = meta["eligibility_report"]
    assert report["snapshot_funnel"]["reason_counts"]["HARD_SESSION_BLOCK"] > 0
    assert report["samples"]["train"] > 0 and report["splits"]["train"]["purged"] >= 0
    assert meta["feature_contract_hash"] == "93ab1d31534f2dc7" and meta["snapshot_id"] == snap
    assert meta["full_contract_hash"] and meta["supports_context_features"] is True


def test_metrics_have_intervals_and_baselines_on_the_same_rows(bundles: dict[str, Path]) -> None:
    """The shape documented in train.fitting.metrics: every figure with n, days and a 95% interval."""
    metrics = json.loads((bundles["ctx_a"] / METADATA).read_text())["metrics"]
    for split in ("val", "test"):
        rows = metrics[split]["n"]
        assert rows > 0 and metrics[split]["n_days"] > 1
        expected = {"direction": {"prior", "logistic", "base_model"}, "early_move": {"prior", "logistic"}}
        for head, names in expected.items():
            model = metrics[split][head]
            assert set(metrics["baselines"][split][head]) == names
            for m in (model, *metrics["baselines"][split][head].values()):
                assert m["n"] == rows
                for figure in ("auc", "log_loss", "brier"):
                    interval = m["intervals"][figure]
                    assert interval["low"] <= m[figure] <= interval["high"], (split, head, figure)
                    assert interval["n"] == rows and interval["n_days"] == metrics[split]["n_days"]
            for base in metrics["baselines"][split][head].values():
                paired = base["model_minus_baseline_log_loss"]
                assert paired["estimate"] == pytest.approx(model["log_loss"] - base["log_loss"], abs=1e-9)
                assert base["model_vs_baseline"] in ("model better", "model worse", "inconclusive")
        prior = metrics["baselines"][split]["direction"]["prior"]
        assert prior["intervals"]["auc"]["low"] == prior["intervals"]["auc"]["high"] == 0.5
    assert metrics["baseline_fit"]["logistic"]["direction"]["C"] in C_GRID


def test_inspect_prints_metrics_with_intervals(
    bundles: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(out, "width", 180)  # a wide terminal: the table's cells unwrapped
    shown = runner.invoke(app, ["inspect", str(bundles["ctx_a"])])
    assert shown.exit_code == 0, shown.output
    for text in (
        "95% block-bootstrap interval",
        "class prior",
        "logistic (C=",
        "base model alone",
        "model - it",
    ):
        assert text in shown.output, shown.output
    assert len(re.findall(r"0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]", shown.output)) >= 4 * 6, shown.output


def test_refuses_unknown_modified_or_foreign_snapshots(
    snapshot_store: tuple[Path, str], tmp_path: Path
) -> None:
    root, snap = snapshot_store
    store = tmp_path / "store"
    shutil.copytree(root, store)
    args = ["run", "--config", str(TINY), "--store", str(store), "--out", "x"]
    unknown = runner.invoke(app, [*args, "--snapshot", "0" * 20])
    assert_exit(unknown, 6, "no snapshot 00000000000000000000")
    parquet = store / "snapshots" / snap / "labels.parquet"
    parquet.write_bytes(parquet.read_bytes() + b"\0")
    modified = runner.invoke(app, [*args, "--snapshot", snap])
    assert_exit(modified, 6, "labels.parquet was modified")
    manifest = json.loads((store / "snapshots" / snap / "manifest.json").read_text())
    manifest.pop("files")
    manifest["full_contract_hash"] = "f" * 64
    write_snapshot(Store.at(store), "f" * 20, {"labels": __import__("pyarrow").table({"a": [1]})}, manifest)
    foreign = runner.invoke(app, [*args, "--snapshot", "f" * 20])
    assert_exit(foreign, 6, "built under full_contract_hash")


def test_same_seed_gives_identical_weights_and_metrics(bundles: dict[str, Path]) -> None:
    a, b = (
        load_file(str(bundles["ctx_a"] / "model.safetensors")),
        load_file(str(bundles["ctx_b"] / "model.safetensors")),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    meta_a, meta_b = (json.loads((bundles[k] / METADATA).read_text()) for k in ("ctx_a", "ctx_b"))
    assert meta_a["metrics"] == meta_b["metrics"]
    assert (bundles["ctx_a"] / "base_model.json").read_bytes() == (
        bundles["ctx_b"] / "base_model.json"
    ).read_bytes()


def test_bundle_loads_in_replay_mode_and_holds_plots(bundles: dict[str, Path]) -> None:
    loaded = load_entry_v10_bundle(bundles["ctx_a"], variant="v10_ctx", mode="replay")
    assert loaded.status == "ok" and loaded.model is not None and not loaded.problems
    assert (bundles["ctx_a"] / "plots" / "loss_curves.png").stat().st_size > 1000
    assert (bundles["ctx_a"] / "plots" / "calibration.png").stat().st_size > 1000
    plain = load_entry_v10_bundle(bundles["plain"], variant="v10", mode="replay")
    assert not any("ctx" in name or "context" in name for name, _ in plain.model.named_parameters())


@pytest.mark.parametrize(
    ("variant", "changes", "expected"),
    [
        ("v10", {}, "variant is 'v10_ctx', expected 'v10'"),
        ("v10_ctx", {"supports_context_features": False}, "supports_context_features is False"),
        ("v10_ctx", {"snap_dim": 85}, "snap_dim is 85, expected 88"),
        ("v10_ctx", {"seq_dim": 13}, "seq_dim is 13, expected 16"),
        (
            "v10_ctx",
            {"feature_contract_hash": "0123456789abcdef"},
            "feature_contract_hash is '0123456789abcdef'",
        ),
        ("v10_ctx", {"full_contract_hash": "0" * 64}, "full_contract_hash is '000"),
        ("v10_ctx", {"hybrid": {"ema_span": 8, "ema_window": 30}}, "hybrid ema_span is 8, but this code"),
        ("v10_ctx", {"hybrid": {"ema_span": 5, "ema_window": 20}}, "hybrid ema_window is 20, but this code"),
        ("v10_ctx", {"contract_version": "v9"}, "unknown contract version 'v9'"),
        ("v10_ctx", {"seeds": {"torch": 1}}, "seeds: missing key(s) ['base_model']"),
        ("v10_ctx", {"seq_len": "30"}, "seq_len must be int, got str"),
    ],
)
def test_replay_refuses_and_live_degrades(
    bundles: dict[str, Path], tmp_path: Path, variant: str, changes: dict, expected: str
) -> None:
    bundle = edited_bundle(bundles["ctx_a"], tmp_path, **changes) if changes else bundles["ctx_a"]
    with pytest.raises(BundleMismatch, match=re.escape(expected)):
        load_entry_v10_bundle(bundle, variant=variant, mode="replay")
    live = load_entry_v10_bundle(bundle, variant=variant, mode="live")
    assert live.status == "degraded" and any(expected in p for p in live.problems)


def test_bundle_records_contract_version_hybrid_settings_and_both_seeds(bundles: dict[str, Path]) -> None:
    meta = read_bundle_metadata(bundles["ctx_a"])
    assert meta.contract_version == DEFAULT_VERSION
    assert (meta.hybrid.ema_span, meta.hybrid.ema_window) == (EMA_SPAN, EMA_WINDOW)
    run_seed = meta.run_config["seed"]
    assert meta.seeds.torch == meta.seeds.base_model == run_seed
    assert meta.base_model_span and meta.base_model_span[1] < meta.split_ranges["val"][0]


def test_bundle_records_and_applies_the_base_models_chosen_settings_and_calibration(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    meta = read_bundle_metadata(bundles["ctx_a"])
    config = load_run_config(TINY)
    record = meta.base_model
    assert {k: record.settings[k] for k in GRID_AXES} in config.base_model.grid()
    assert 1 <= record.settings["trees"] <= config.base_model.n_estimators
    assert record.calibration.method == "platt" and record.calibration.n == record.selection["held_out_rows"]
    assert len(record.selection["grid"]) == len(config.base_model.grid())
    assert record.selection["held_out_from"] < meta.split_ranges["val"][0]  # never the validation split
    assert len(record.out_of_fold) == config.base_model.n_folds and record.out_of_fold[0] == {}
    loaded = load_entry_v10_bundle(bundles["ctx_a"], variant="v10_ctx")
    assert loaded.base_model.calibration.slope == record.calibration.slope  # the loader applies it
    fit = meta.metrics["baseline_fit"]["base_model"]
    assert fit["settings"] == record.settings
    label = f"base model alone (depth {record.settings['max_depth']}, min child"
    assert label in summary_metrics(meta.metrics)["test direction: base_model"]["predictor"]
    # a schema-2 bundle (before the grid) loads as what it was: fixed settings, uncalibrated
    data = json.loads((bundles["ctx_a"] / METADATA).read_text())
    old = {k: v for k, v in data.items() if k != "base_model"} | {"schema_version": "entry_v10_bundle/2"}
    upgraded = BundleMetadata.from_dict(old).base_model
    assert upgraded.calibration.method == "none" and upgraded.out_of_fold == []
    assert upgraded.settings["trees"] == config.base_model.n_estimators


def test_the_run_seed_reaches_the_base_model(tmp_path: Path) -> None:
    config = load_run_config(TINY, {"seed": 11})
    assert config.seed == config.base_model.seed == 11
    assert config.base_model.xgb_params(config.base_model.grid()[0])["seed"] == 11
    own = tmp_path / "own.toml"
    own.write_text(TINY.read_text().replace("[base_model]\n", "[base_model]\nseed = 3\n"))
    with pytest.raises(ValueError, match=r"\[base_model\]: seed is not a base-model setting"):
        load_run_config(own)


def test_metadata_is_parsed_strictly(bundles: dict[str, Path], tmp_path: Path) -> None:
    data = json.loads((bundles["ctx_a"] / METADATA).read_text())
    assert BundleMetadata.from_dict(data).to_dict() == data
    with pytest.raises(BundleMetadataError, match=r"unknown key\(s\) \['extra'\]"):
        BundleMetadata.from_dict({**data, "extra": 1})
    with pytest.raises(BundleMetadataError, match="supports_context_features must be bool"):
        BundleMetadata.from_dict({**data, "supports_context_features": 1})
    with pytest.raises(BundleMetadataError, match="saved by an older version of the trainer"):
        BundleMetadata.from_dict({**data, "schema_version": "entry_v10_bundle/0"})


@pytest.mark.parametrize(
    ("stored", "who"),
    [
        ("entry_v10_bundle/0", "an older version of the trainer"),  # /1 still loads (upgraded)
        (None, "a version of the trainer this code does not know"),
        ("entry_v10_bundle/99", "a version of the trainer this code does not know"),
    ],
)
def test_a_bundle_of_another_schema_version_must_be_retrained(
    bundles: dict[str, Path], tmp_path: Path, stored: str | None, who: str
) -> None:
    meta = json.loads((bundles["ctx_a"] / METADATA).read_text())
    assert meta["schema_version"] == SCHEMA_VERSION == "entry_v10_bundle/3"
    bundle = edited_bundle(bundles["ctx_a"], tmp_path, schema_version=stored)
    with pytest.raises(BundleMismatch) as refused:
        load_entry_v10_bundle(bundle, variant="v10_ctx", mode="replay")
    message = str(refused.value)
    assert f"it was saved by {who}" in message and "must be retrained" in message
    assert f"`train run --snapshot {meta['snapshot_id']} --variant v10_ctx`" in message
    live = load_entry_v10_bundle(bundle, variant="v10_ctx", mode="live")
    assert live.status == "degraded" and any("must be retrained" in p for p in live.problems)


def test_any_changed_file_is_caught(bundles: dict[str, Path], tmp_path: Path) -> None:
    for name in ("model.safetensors", "normalization.json", "base_model.json", "plots/calibration.png"):
        copy = tmp_path / name.replace("/", "_")
        shutil.copytree(bundles["ctx_a"], copy)
        target = copy / name
        target.write_bytes(target.read_bytes()[:-1] + bytes([target.read_bytes()[-1] ^ 1]))
        with pytest.raises(BundleMismatch, match=f"file {name} changed after saving"):
            load_entry_v10_bundle(copy, variant="v10_ctx", mode="replay")
        assert load_entry_v10_bundle(copy, variant="v10_ctx", mode="live").status == "degraded"


def test_reordered_inputs_are_caught(bundles: dict[str, Path], tmp_path: Path) -> None:
    meta = json.loads((bundles["ctx_a"] / METADATA).read_text())
    names = meta["input_names"]
    names["snap"] = [names["snap"][1], names["snap"][0], *names["snap"][2:]]
    bundle = edited_bundle(bundles["ctx_a"], tmp_path, input_names=names)
    with pytest.raises(
        BundleMismatch,
        match="snap inputs differ at position 0: the bundle was trained with 'ret_3_bps', "
        "the contract gives 'ret_2_bps'",
    ):
        load_entry_v10_bundle(bundle, variant="v10_ctx", mode="replay")


def test_no_pickle_in_bundles_or_code(bundles: dict[str, Path]) -> None:
    for path in bundles["ctx_a"].rglob("*"):
        if path.is_file():
            assert path.suffix in (".json", ".safetensors", ".png", ".sql", ".toml"), path
            assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"
    banned = ("import pickle", "torch.save(", "torch.load(", "joblib", "cloudpickle", "dill")
    for folder in ("train", "featurestore", "schemas", "validation"):
        for source in (REPO / folder).rglob("*.py"):
            text = source.read_text()
            assert not any(b in text for b in banned), f"{source} uses a pickle-based API"


@pytest.mark.slow
def test_torchrun_two_processes_write_a_loadable_bundle(
    snapshot_store: tuple[Path, str], tmp_path: Path
) -> None:
    """torch.distributed (gloo on CPU) with 2 ranks: one short epoch, one bundle, loadable in replay mode."""
    import subprocess
    import sys

    root, snap = snapshot_store
    config = tmp_path / "one_epoch.toml"
    config.write_text(TINY.read_text().replace("epochs = 2", "epochs = 1"))
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "train.app.cli", "run", "--snapshot", snap,
         "--config", str(config), "--out", "ddp_test", "--store", str(root)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Bundle:") == 1
    loaded = load_entry_v10_bundle(root / "bundles" / "ddp_test", variant="v10_ctx", mode="replay")
    assert loaded.status == "ok" and len(json.loads((loaded.path / METADATA).read_text())["history"]) == 1


def test_every_training_window_is_finite_without_a_row_cap(snapshot_store: tuple[Path, str]) -> None:
    """Regression: the EMA channel needs 30 bars of base-model history, so the first windows of the first
    out-of-fold block must not become samples (they once did and gave a NaN loss on a full run)."""
    from featurestore.store.snapshots import open_snapshot
    from train.fitting.dataset import gather
    from train.fitting.prepare import prepare

    root, snap = snapshot_store
    config = load_run_config(TINY)
    config = dataclasses.replace(config, optim=dataclasses.replace(config.optim, max_train_rows=None))
    prepared = prepare(open_snapshot(Store.at(root), snap), config)
    batch = gather(prepared.train_tensors, prepared.idx["train"])
    assert len(prepared.idx["train"]) > 3000
    assert torch.isfinite(batch.seq_x).all() and torch.isfinite(batch.snap_x).all()


def test_prepare_checks_the_embargo_against_the_snapshot_contracts_horizon(
    snapshot_store: tuple[Path, str],
) -> None:
    from featurestore.store.snapshots import open_snapshot
    from train.fitting.prepare import prepare

    root, snap = snapshot_store
    snapshot = open_snapshot(Store.at(root), snap)
    longer = {**snapshot.contract.parameters, "label_horizon_bars": 48}
    contract = dataclasses.replace(snapshot.contract, parameters=longer)
    snapshot = dataclasses.replace(snapshot, contract=contract)
    expected = r"embargo_bars = 30 is below max\(sequence length 30, label horizon 48\) = 48 bars"
    with pytest.raises(ValueError, match=expected):
        prepare(snapshot, load_run_config(TINY))


def test_inspect_shows_metadata_and_verifies_files(bundles: dict[str, Path], tmp_path: Path) -> None:
    shown = runner.invoke(app, ["inspect", str(bundles["ctx_a"])])
    assert shown.exit_code == 0, shown.output
    for text in ("93ab1d31534f2dc7", "status", "ok", "Metrics: model vs baselines", "Eligibility funnel"):
        assert text in shown.output
    assert "base model fitted on" in shown.output
    copy = tmp_path / "changed"
    shutil.copytree(bundles["ctx_a"], copy)
    (copy / "normalization.json").write_text("{}")
    degraded = runner.invoke(app, ["inspect", str(copy), "--json"])
    payload = json.loads(degraded.stdout)
    assert payload["status"] == "degraded" and any("normalization.json" in p for p in payload["problems"])


def test_torchrun_backend_follows_the_model_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from train.fitting.fit import training_device
    from train.fitting.run import process_group_backend

    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert process_group_backend("cpu") == "gloo"  # a GPU in the machine is not a model on the GPU
    assert process_group_backend("cuda") == "nccl"
    assert training_device("cpu").type == "cpu"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA device is available"):
        training_device("cuda")
    with pytest.raises(ValueError, match="device must be one of cpu, cuda"):
        load_run_config(None, {"device": "tpu"})
