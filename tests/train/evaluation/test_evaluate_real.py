"""Acceptance on the real 2025 data: `train evaluate --folds 2 ... --json` (slow; skipped without data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from schemas.versions import CONTRACT_V2
from tests.conftest import real_m5_or_skip
from tests.html_checks import assert_self_contained_report
from train.app.cli import app

pytestmark = pytest.mark.slow


def test_evaluate_two_folds_on_the_real_year(tmp_path: Path) -> None:
    from datetime import date

    store = Store.at(tmp_path / "store")
    ingest_file(store, real_m5_or_skip(), IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    days = (date(2025, 2, 1), date(2025, 10, 27))
    materialize(store, MaterializeConfig("XAUUSD", *days), contract=CONTRACT_V2)
    snap = validate(store, ValidateConfig("XAUUSD", *days, data_docs=False), contract=CONTRACT_V2).snapshot_id
    args = ["evaluate", "--snapshot", snap, "--folds", "2", "--variants", "v10,v10_ctx", "--epochs", "1"]
    args += ["--max-train-rows", "3000", "--json", "--store", str(store.root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    for variant in ("v10", "v10_ctx"):
        assert len(report["per_fold"][variant]) == 2
        for fold in report["per_fold"][variant]:
            baselines = fold["metrics"]["baselines"]["direction"]
            assert set(baselines) == {"prior", "logistic", "base_model"}
            assert baselines["base_model"]["n"] == fold["metrics"]["test"]["direction"]["n"]
        rules = {row["rule"]: row for row in report["pooled"][variant]["trades"]["table"]}
        assert rules["always enter"]["trades"] > 0 and "top 10% of p_long" in rules
        for head in ("direction", "early_move"):
            for metric in ("log_loss", "brier", "auc"):
                interval = report["pooled"][variant]["intervals"][head][metric]
                assert interval["low"] <= interval["estimate"] <= interval["high"] and interval["n_days"] > 20
        assert rules["always enter"]["intervals"]["mean_bps"]["n"] == rules["always enter"]["trades"]
    assert len(report["paired_log_loss"]["per_fold"]) == 2
    paired = report["paired_log_loss"]["pooled"]
    assert paired["interval"]["estimate"] == pytest.approx(paired["difference"])
    assert all(fold["interval"]["n"] == fold["n"] for fold in report["paired_log_loss"]["per_fold"])
    out = Path(report["report_dir"])
    assert (out / "report.json").is_file()
    assert len(report["bundles"]) == 4 and all(
        (Path(b["path"]) / "metadata.json").is_file() for b in report["bundles"]
    )
    assert all((out / name).is_file() for name in report["plots"].values())
    assert result.stderr == ""  # progress is quiet under --json
    page = assert_self_contained_report(Path(report["report_html"]), "v10_ctx", min_images=3)
    assert "Trade table, v10_ctx" in page and "random band" in page
