"""`train replay`: the batch perf summary, the A/B with a baseline, hash refusals, and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from featurestore.store.handle import Store
from featurestore.store.snapshots import open_snapshot
from tests.cli_checks import assert_exit
from tests.html_checks import assert_self_contained_report
from tests.train.conftest import edited_bundle
from train.app.cli import app
from train.evaluation.context_evidence import VERDICTS
from train.evaluation.replay import ReplayConfig, replay_online, replay_snapshot
from train.evaluation.replay_tables import in_sample_note
from train.fitting.bundle import BundleMismatch
from train.fitting.dataset import snapshot_frame

runner = CliRunner()
PLOTS = {
    "p_long_by_session.png",
    "p_long_by_vol_regime.png",
    "p_long_by_trend_regime.png",
    "eligibility_funnel.png",
    "p_long_ablation.png",
}


@pytest.fixture(scope="module")
def replayed(snapshot_store: tuple[Path, str], bundles: dict[str, Path]):
    root, snap = snapshot_store
    return replay_snapshot(
        Store.at(root), bundles["ctx_a"], snap, ReplayConfig(), baseline_path=bundles["plain"]
    )


def test_summary_counts_every_cycle_of_the_test_split(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path], replayed
) -> None:
    root, snap = snapshot_store
    frame = snapshot_frame(open_snapshot(Store.at(root), snap))
    first, last = json.loads((bundles["ctx_a"] / "metadata.json").read_text())["split_ranges"]["test"]
    frame = frame.filter(pl.col("ts").is_between(datetime.fromisoformat(first), datetime.fromisoformat(last)))
    funnel = replayed.summary["funnel"]
    assert funnel["cycles"] == frame.height
    assert funnel["eligible"] == int(frame["eligible"].sum())
    assert funnel["hard_eligible"] == int((frame["status"] != "HARD_BLOCK").sum())
    assert funnel["cycles"] >= funnel["hard_eligible"] >= funnel["eligible"] >= funnel["predicted"] > 0
    assert funnel["invariant_holds"]
    # every predicted cycle is eligible, has a finite p_long and sits in exactly one bucket per grouping
    cycles = replayed.cycles
    assert cycles.filter(pl.col("predicted") & ~pl.col("eligible")).is_empty()
    assert np.isfinite(cycles.filter("predicted")["p_long"].to_numpy()).all()
    assert cycles.filter(~pl.col("predicted"))["p_long"].is_nan().all()
    for grouping in ("session", "vol_regime", "trend_regime"):
        buckets = replayed.summary[f"p_long_by_{grouping}"]
        assert sum(b["n"] for b in buckets.values()) == funnel["predicted"]
    assert replayed.summary["p_long_by_session"]["ASIA"]["n"] == 0  # ASIA is a blocked session


def test_default_replay_is_the_test_split_and_out_of_sample(bundles: dict[str, Path], replayed) -> None:
    summary = replayed.summary
    test = json.loads((bundles["ctx_a"] / "metadata.json").read_text())["split_ranges"]["test"]
    assert summary["source"]["selection"] == "test split" and summary["source"]["test_split"] == test
    first, last = (np.datetime64(t.replace(" ", "T")) for t in summary["range"])
    assert np.datetime64(test[0]) == first <= last <= np.datetime64(test[1])
    for role in (summary, summary["baseline"]):
        assert role["in_sample"]["shares"] == {"base_model": 0.0, "train": 0.0, "val": 0.0}
        assert not role["in_sample"]["any"] and role["in_sample"]["n"] == summary["funnel"]["predicted"]
    assert in_sample_note(summary) == ""


def test_all_bars_replay_reports_each_in_sample_share_plainly(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path]
) -> None:
    """All bars of late April (base model and training split), May (validation) and early June (test)."""
    root, snap = snapshot_store
    config = ReplayConfig(start=date(2025, 4, 28), end=date(2025, 6, 4), all_bars=True)
    result = replay_snapshot(Store.at(root), bundles["ctx_a"], snap, config)
    summary = result.summary
    assert summary["source"]["selection"] == "all bars within 2025-04-28..2025-06-04"
    meta = json.loads((bundles["ctx_a"] / "metadata.json").read_text())
    ts = result.cycles.filter("predicted")["ts"].cast(pl.Datetime("us")).to_numpy()
    spans = {
        "base_model": meta["base_model_span"],
        "train": meta["split_ranges"]["train"],
        "val": meta["split_ranges"]["val"],
    }
    for stage, (first, last) in spans.items():
        expected = ((ts >= np.datetime64(first)) & (ts <= np.datetime64(last))).mean()
        assert summary["in_sample"]["shares"][stage] == pytest.approx(expected) and expected > 0, stage
    assert summary["in_sample"]["any"]
    assert summary["in_sample"]["spans"]["base_model"]["from"] == "base_model_span"
    assert "IN-SAMPLE replay (base model" in result.report_html.read_text()
    args = ["replay", "--store", str(root), "--snapshot", snap, "--bundle", "test_ctx_a", "--all-bars"]
    shown = runner.invoke(app, [*args, "--date-range", "2025-04-28..2025-06-04"])
    flat = " ".join(shown.output.split())  # rich wraps
    assert shown.exit_code == 0 and "IN-SAMPLE: this replay includes bars the bundle was fitted" in flat
    assert f"val {summary['in_sample']['shares']['val']:.1%}" in flat


def test_a_date_range_outside_the_test_split_needs_all_bars(snapshot_store: tuple[Path, str]) -> None:
    root, snap = snapshot_store
    args = ["replay", "--store", str(root), "--snapshot", snap, "--bundle", "test_ctx_a"]
    refused = runner.invoke(app, [*args, "--date-range", "2025-03-03..2025-03-07"])
    assert_exit(refused, 2, "test split", "--all-bars")
    online = runner.invoke(
        app, ["replay", "--store", str(root), "--bundle", "test_ctx_a", "--online", "--all-bars"]
    )
    assert_exit(online, 2, "--all-bars")


def test_report_files_hold_the_summary_and_the_plots(replayed) -> None:
    files = {p.name for p in replayed.report_dir.iterdir()}
    assert files == PLOTS | {"summary.json", "report.html"}
    stored = json.loads((replayed.report_dir / "summary.json").read_text())
    assert stored["context_usage"]["verdict"] == replayed.summary["context_usage"]["verdict"]
    assert stored["funnel"] == replayed.summary["funnel"]
    for name in PLOTS:
        assert (replayed.report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_html_is_one_offline_page_with_the_verdict_and_every_plot(replayed) -> None:
    usage = replayed.summary["context_usage"]
    page = assert_self_contained_report(
        replayed.report_html, f"Verdict: v10_ctx {usage['verdict']}", min_images=len(PLOTS)
    )
    predicted = replayed.summary["funnel"]["predicted"]
    assert f"n = {predicted:,} predicted cycles" in page
    floor = usage["noise_floor"]["p95_abs_delta"]
    assert f"mean |dp| {usage['sensitivity']['all_context']['mean_abs_delta']:.4f}" in page
    assert f"(noise floor {floor:.6f})" in page and "direction log loss increase" in page
    assert "benefit, direction log loss model - baseline" in page
    assert "Test metrics, model minus baseline" in page and "p_long by vol regime" in page


def test_reliance_counts_every_predicted_cycle_labelled_or_not(replayed) -> None:
    usage = replayed.summary["context_usage"]
    predicted = replayed.cycles.filter("predicted")
    labelled = int(predicted["y_direction"].is_not_null().sum())
    for group, heads in usage["reliance"].items():
        for head, reliance in heads.items():
            assert reliance["n"] == labelled > 0 and reliance["n_unlabelled"] == predicted.height - labelled
            assert len(reliance["per_repeat"]) == usage["config"]["repeats"], (group, head)
    ablated = predicted["p_long_all_context"].to_numpy()
    assert ablated.shape == (predicted.height, 5) and np.isfinite(ablated).all()
    assert usage["verdict"] in VERDICTS and usage["n_cycles"] == predicted.height


def test_replay_reproduces_the_bundles_test_metrics(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path]
) -> None:
    """Replay scores bars exactly as training evaluated them: by default it scores the test split, and its
    AUC comes out identical to the one stored at training."""
    root, snap = snapshot_store
    meta = json.loads((bundles["ctx_a"] / "metadata.json").read_text())
    result = replay_snapshot(Store.at(root), bundles["ctx_a"], snap, ReplayConfig())  # the test split
    frame = snapshot_frame(open_snapshot(Store.at(root), snap)).select("ts", "label_available", "y_direction")
    cycles = result.cycles.join(frame, on="ts").filter(pl.col("predicted") & pl.col("label_available"))
    stored = meta["metrics"]["test"]["direction"]
    assert cycles.height == stored["n"]
    auc = roc_auc_score(cycles["y_direction"].to_numpy(), cycles["p_long"].to_numpy())
    assert auc == pytest.approx(stored["auc"], abs=1e-9)


def test_baseline_is_replayed_side_by_side(replayed) -> None:
    summary = replayed.summary
    baseline = summary["baseline"]
    assert baseline["bundle"]["variant"] == "v10" and baseline["funnel"] == summary["funnel"]
    # v10's context is its regime ids: it gets the all-context measures only
    assert set(baseline["context_usage"]["sensitivity"]) == {"all_context"}
    assert "the regime ids (v10 has no ctx_cat/ctx_cont inputs)" in baseline["context_usage"]["reason"]
    assert set(summary["context_usage"]["sensitivity"]) == {"ctx_cat", "ctx_cont", "all_context"}
    benefit = summary["context_usage"]["benefit"]["direction"]
    assert benefit == summary["comparison"]["benefit_model_minus_baseline"]["direction"]
    assert benefit["low"] <= benefit["estimate"] <= benefit["high"] and benefit["n"] > 0
    diff = summary["comparison"]["test_metric_diff_model_minus_baseline"]["direction"]["auc"]
    expected = summary["test_metrics"]["direction"]["auc"] - baseline["test_metrics"]["direction"]["auc"]
    assert diff == pytest.approx(expected)
    assert set(summary["comparison"]["side_by_side"]) == {"model", "baseline"}


def test_per_cycle_values_only_on_request(snapshot_store: tuple[Path, str], bundles: dict[str, Path]) -> None:
    root, snap = snapshot_store
    config = ReplayConfig(start=date(2025, 6, 2), end=date(2025, 6, 6), per_cycle=True)
    result = replay_snapshot(Store.at(root), bundles["ctx_a"], snap, config)
    eu = result.summary["p_long_by_session"]["EU"]
    assert len(eu["values"]) == eu["n"] > 0
    assert np.mean(eu["values"]) == pytest.approx(eu["mean"])
    assert result.summary["range"][0].startswith("2025-06-02") and result.summary["range"][1] < "2025-06-07"


def test_doctored_contract_hash_fails_replay_and_degrades_live(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path], tmp_path: Path
) -> None:
    root, snap = snapshot_store
    doctored = edited_bundle(bundles["ctx_a"], tmp_path, full_contract_hash="f" * 64)
    with pytest.raises(BundleMismatch, match="full_contract_hash is 'ffff"):
        replay_snapshot(Store.at(root), doctored, snap, ReplayConfig())
    live = replay_snapshot(Store.at(root), doctored, snap, ReplayConfig(load_mode="live"))
    assert live.summary["degraded"] is True and live.summary["bundle"]["status"] == "degraded"
    assert any("full_contract_hash" in p for p in live.summary["bundle"]["problems"])
    assert live.summary["funnel"]["predicted"] > 0


def test_cli_replay_json_exit_codes_and_degraded_marking(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path], tmp_path: Path
) -> None:
    root, snap = snapshot_store
    base = ["replay", "--store", str(root), "--snapshot", snap, "--date-range", "2025-06-02..2025-06-13"]
    ok = runner.invoke(app, [*base[:5], "--bundle", "test_ctx_a", "--json"])  # the default: the test split
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.stdout)
    assert summary["context_usage"]["verdict"] in VERDICTS
    assert summary["in_sample"]["shares"] == {"base_model": 0.0, "train": 0.0, "val": 0.0}
    assert summary["source"]["selection"] == "test split" and summary["range"][0] < summary["range"][1]
    shown = runner.invoke(app, [*base, "--bundle", "bundles/test_ctx_a", "--baseline", "test_plain"])
    assert shown.exit_code == 0, shown.output
    assert "Verdict: v10_ctx" in shown.output and "baseline (v10)" in shown.output
    before, _, last = "".join(shown.output.split()).rpartition("Report(opensoffline):")  # rich wraps
    assert before and last.endswith("/report.html") and Path(last).is_file()  # the summary's last line
    doctored = edited_bundle(bundles["ctx_a"], tmp_path, full_contract_hash="f" * 64)
    refused = runner.invoke(app, [*base, "--bundle", str(doctored)])
    assert_exit(refused, 8, "full_contract_hash")
    live = runner.invoke(app, [*base, "--bundle", str(doctored), "--mode", "live"])
    assert live.exit_code == 0 and "DEGRADED" in live.output
    missing = runner.invoke(app, [*base, "--bundle", "nope"])
    assert_exit(missing, 2, "test_ctx_a")  # lists the bundles there are
    neither = runner.invoke(app, ["replay", "--store", str(root), "--bundle", "test_ctx_a"])
    assert_exit(neither, 2, "--online")


def test_online_replay_scores_bar_by_bar_like_batch(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path]
) -> None:
    """One day featurized from the stored candles one bar at a time, against batch replay of the same day.
    The day lies in the validation split: the summary says so, with the share of each stage."""
    root, snap = snapshot_store
    config = ReplayConfig(start=date(2025, 5, 6), end=date(2025, 5, 6))
    online = replay_online(Store.at(root), bundles["ctx_a"], config)
    assert online.summary["in_sample"]["shares"] == {"base_model": 0.0, "train": 0.0, "val": 1.0}
    assert online.summary["source"]["selection"] == "date range 2025-05-06..2025-05-06"
    assert "IN-SAMPLE" in in_sample_note(online.summary) and "after the validation" in in_sample_note(
        online.summary
    )
    check = online.summary["online_vs_batch"]
    assert (
        online.summary["source"]["kind"] == "online"
        and check["bars"] == online.summary["funnel"]["cycles"] > 0
    )
    assert check["same_bars_predicted"] and check["max_abs_diff_p_long"] <= 1e-6
    batch = replay_snapshot(Store.at(root), bundles["ctx_a"], snap, replace(config, all_bars=True))
    assert online.cycles["ts"].to_list() == batch.cycles["ts"].to_list()
    assert online.cycles["reason"].to_list() == batch.cycles["reason"].to_list()
    both = online.cycles.select("p_long").with_columns(batch=batch.cycles["p_long"]).drop_nans()
    assert both.height == online.summary["funnel"]["predicted"] > 0
    assert (both["p_long"] - both["batch"]).abs().max() <= 1e-6
