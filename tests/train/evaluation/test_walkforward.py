"""`train evaluate` end to end on the small synthetic v2 snapshot (tiny config): seeds, bundles, plots,
progress, and evaluate's bounded training defaults."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from featurestore.store.handle import Store
from tests.html_checks import assert_self_contained_report
from tests.train.conftest import TINY
from train.app.cli import app
from train.evaluation.context_evidence import VERDICTS
from train.evaluation.trades import TradeConfig
from train.evaluation.walkforward import (
    EVALUATE_OPTIM,
    QUICK_BASE_TREES,
    EvaluateConfig,
    Stage,
    evaluate_run_config,
    evaluate_snapshot,
)
from train.fitting import prepare as prepare_module


def test_two_seeds_two_variants_give_per_seed_rows_bundles_plots_and_stages(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str
) -> None:
    config = evaluate_run_config(TINY, {"epochs": 1, "max_train_rows": 600})
    evaluate = EvaluateConfig(n_folds=2, seeds=2, trades=TradeConfig(random_draws=20))
    stages: list[Stage] = []
    report = evaluate_snapshot(
        Store.at(snapshot_store[0]), v2_snapshot_id, config, evaluate, on_stage=stages.append
    )
    assert report["seeds"] == [7, 8]
    total = 2 * 2 * (1 + 2)  # folds x seeds x (preparation + one fit per variant)
    assert [s.done for s in stages] == list(range(total)) and {s.total for s in stages} == {total}
    assert sum(s.text == "fold 2/2 · v10_ctx · seed 8" for s in stages) == 1

    for variant in ("v10", "v10_ctx"):
        for fold in report["per_fold"][variant]:
            assert [s["seed"] for s in fold["seeds"]] == [7, 8]  # the same seeds for every variant
            for seed in fold["seeds"]:  # reliance on context, each fit on its fold's test block
                usage = seed["context_usage"]
                assert usage["verdict"] in VERDICTS
                direction = usage["reliance"]["all_context"]["direction"]
                assert direction["n"] == fold["metrics"]["test"]["direction"]["n"]
                assert direction["low"] <= direction["estimate"] <= direction["high"]
                assert ("ctx_cat" in usage["reliance"]) == (variant == "v10_ctx")
            m = fold["metrics"]
            assert m["intervals"]["direction"]["auc"]["n"] == m["test"]["direction"]["n"]
            logistic = m["baseline_intervals"]["logistic"]["direction"]["log_loss"]
            assert logistic["estimate"] == pytest.approx(m["baselines"]["direction"]["logistic"]["log_loss"])
            assert logistic["low"] <= logistic["estimate"] <= logistic["high"]
        per_seed = report["per_seed"][variant]
        assert [s["seed"] for s in per_seed] == [7, 8]
        seed_losses = [s["direction"]["log_loss"] for s in per_seed]
        assert seed_losses[0] != seed_losses[1]
        table = report["pooled"][variant]["reliability_direction"]
        assert sum(r["n"] for r in table) == report["pooled"][variant]["direction"]["n"]
        assert all(r["low"] <= r["observed"] <= r["high"] for r in table)
    assert [p["seed"] for p in report["paired_log_loss"]["per_seed"]] == [7, 8]
    _assert_no_claim_on_a_random_walk(report)

    out = Path(report["report_dir"])
    assert len(report["bundles"]) == 2 * 2 * 2
    for bundle in report["bundles"]:
        path = Path(bundle["path"])
        assert path.parent == out / "bundles" and (path / "metadata.json").is_file()
        assert f"--bundle {path} " in bundle["replay"]
    meta = json.loads((Path(report["bundles"][-1]["path"]) / "metadata.json").read_text())
    assert meta["split_ranges"]["test"][0].startswith(report["folds"][1]["test"][0])
    assert set(report["plots"]) == {"per_fold_metrics", "reliability", "tau_curve"}
    assert all((out / name).stat().st_size > 1000 for name in report["plots"].values())
    page = assert_self_contained_report(Path(report["report_html"]), "v10_ctx", min_images=3)
    assert "Each seed alone" in page and "replay any fold" in page
    assert "Reliance on context per fold" in page
    assert "Every rule tried, v10_ctx: SPA and StepM" in page and "above band (single-rule test)" in page
    assert page.index("vs staying flat: SPA p") < page.index(
        "Pooled test metrics"
    )  # the headline comes first
    saved = json.loads((out / "report.json").read_text())
    assert saved["training_bound"] == {
        "max_epochs": 1,
        "early_stop_patience": EVALUATE_OPTIM["early_stop_patience"],
        "max_train_rows": 600,
        "base_model_trees": 15,
        "base_model_blocks": 3,
        "base_model_grid": {
            "max_depth": [3],
            "min_child_weight": [10.0, 100.0],
            "subsample": [0.8],
            "learning_rate": [0.05],
        },
        "base_model_early_stopping_rounds": 20,
        "base_model_calibration": "platt",
    }
    # the base model alone against the prior, pooled over the folds' test blocks (same rows as the models)
    pooled_base = saved["base_model_vs_prior"]
    assert pooled_base["n"] == report["pooled"]["v10"]["direction"]["n"]
    diff = pooled_base["base_model_minus_prior_log_loss"]
    assert diff["low"] <= diff["estimate"] <= diff["high"]
    assert diff["estimate"] == pytest.approx(
        pooled_base["base_model"]["log_loss"] - pooled_base["prior_log_loss"], abs=1e-9
    )
    assert "Base model alone minus class prior" in page and "base model settings" in page
    assert np.isfinite(saved["seconds"]["total"])


def test_evaluate_bounds_training_unless_the_file_or_the_cli_says_otherwise(tmp_path: Path) -> None:
    default = evaluate_run_config(None, {})
    assert (default.optim.epochs, default.optim.early_stop_patience) == (6, 2)
    assert evaluate_run_config(None, {"epochs": 3, "early_stop_patience": None}).optim.epochs == 3
    tiny = evaluate_run_config(TINY, {})  # the file sets epochs = 2, not the patience
    assert (tiny.optim.epochs, tiny.optim.early_stop_patience) == (2, 2)
    quick = evaluate_run_config(None, {}, quick=True)
    assert (quick.optim.epochs, quick.optim.max_train_rows) == (1, 3000)
    assert quick.base_model.n_estimators == QUICK_BASE_TREES
    assert evaluate_run_config(TINY, {}, quick=True).base_model.n_estimators == 15


def test_cli_progress_is_on_stderr_and_quiet_under_json(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str
) -> None:
    args = ["evaluate", "--snapshot", v2_snapshot_id, "--folds", "1", "--variants", "v10", "--epochs", "1"]
    args += ["--max-train-rows", "300", "--config", str(TINY), "--store", str(snapshot_store[0])]
    quiet = CliRunner().invoke(app, [*args, "--json"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == "" and json.loads(quiet.stdout)["seeds"] == [7]
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0, shown.output
    lines = shown.stderr.splitlines()
    assert lines[0].startswith("[1/2] fold 1/1: base model and inputs (seed 7)")
    assert lines[1].startswith("[2/2] fold 1/1 · v10 · seed 7")
    assert "Fold bundles" in shown.stdout
    assert shown.stdout.lstrip().startswith("v10, best of 8 entry rules over ")  # the SPA headline first


def _assert_no_claim_on_a_random_walk(report: dict) -> None:
    """The synthetic candles are a random walk: no variant's SPA rejects, and the headline says nothing of
    beating, an edge or rules above a band."""
    for variant in report["variants"]:
        family = report["pooled"][variant]["rule_family"]
        assert family["days"] == report["pooled"][variant]["trades"]["days"]
        for test in family["benchmarks"].values():
            assert not test["rejects"] and test["superior"] == []
    headline = report["headline"]
    assert headline["kind"] == "inconclusive" and len(headline["trades"]) == len(report["variants"])
    for word in ("above", "edge", "beats"):
        assert word not in headline["text"]


def _with_an_edge(frame: pl.DataFrame) -> pl.DataFrame:
    """Labels that follow a feature the model sees: y_direction = 1 where ret_12_bps > 0, and the long
    trade makes 8 bps there and loses 8 bps elsewhere (plus noise)."""
    noise = np.random.default_rng(0).standard_normal(frame.height)
    up = pl.col("ret_12_bps") > 0
    labelled = pl.col("y_direction").is_not_null()
    return frame.with_columns(
        pl.when(labelled).then(up.cast(frame["y_direction"].dtype)).alias("y_direction"),
        pl.when(pl.col("realized_bps").is_not_null())
        .then(pl.when(up).then(8.0).otherwise(-8.0) + pl.Series(noise))
        .cast(frame["realized_bps"].dtype)
        .alias("realized_bps"),
    )


def test_an_injected_edge_gets_a_rejecting_spa_and_a_headline_saying_so(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_frame = prepare_module.snapshot_frame
    monkeypatch.setattr(
        prepare_module, "snapshot_frame", lambda snapshot: _with_an_edge(real_frame(snapshot))
    )
    config = evaluate_run_config(TINY, {"epochs": 1, "max_train_rows": 600})
    trades = TradeConfig(random_draws=20)
    evaluate = EvaluateConfig(n_folds=1, variants=("v10",), trades=trades, keep_bundles=False)
    report = evaluate_snapshot(Store.at(snapshot_store[0]), v2_snapshot_id, config, evaluate, on_stage=None)
    family = report["pooled"]["v10"]["rule_family"]
    for name in ("no position", "always enter"):
        assert family["benchmarks"][name]["rejects"], family["benchmarks"][name]
        assert family["benchmarks"][name]["superior"]
    assert report["headline"]["kind"] == "pass"
    assert report["headline"]["text"].startswith("v10, best of 8 entry rules over ")
    assert "vs staying flat: SPA p " in report["headline"]["text"]
    assert "a rule beats it at 5% (StepM: " in report["headline"]["text"]
