"""`train verify-fullyear`: every stage, the invariants, the report, and the failing exit code."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.store.handle import Store
from tests.conftest import real_m5_or_skip
from tests.html_checks import assert_self_contained_report
from tests.train.conftest import TINY
from train.app.cli import app
from train.app.verify import (
    VerificationFailed,
    VerifyConfig,
    out_of_sample_invariant,
    proportional_splits,
    verify_fullyear,
)
from train.evaluation.parity import ParityConfig
from train.fitting.config import load_run_config

runner = CliRunner()
INVARIANTS = {
    "one contract version and hash end to end",
    "no NaN in model inputs or outputs",
    "forward calls > 0",
    "eligibility rate in range",
    "funnel order",
    "replay is out-of-sample",
    "online/offline parity",
}


@pytest.fixture(scope="module")
def synthetic_year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, VerifyConfig]:
    root = tmp_path_factory.mktemp("verify")
    candles = write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 5, 31), seed=5)),
        root / "c.tsv",
    )
    config = VerifyConfig(
        candles=candles, source_tz="EET", training=load_run_config(TINY), parity=ParityConfig(bars=20)
    )
    return root / "store", config


def test_verification_passes_and_writes_a_readable_report(synthetic_year: tuple[Path, VerifyConfig]) -> None:
    store_root, config = synthetic_year
    result = verify_fullyear(Store.at(store_root), config)
    assert result.passed and set(result.invariants) == INVARIANTS
    report = json.loads((result.report_dir / "report.json").read_text())
    assert report["passed"] and report["parity"]["bars"] == 20
    assert set(report["timings_s"]) == {
        "ingest",
        "materialize",
        "validate",
        "train v10_ctx",
        "train v10",
        "replay",
        "parity",
    }
    assert report["replay"]["baseline"]["bundle"]["variant"] == "v10"
    for summary in (report["replay"], report["replay"]["baseline"]):  # the replay is the test split
        assert summary["in_sample"]["shares"] == {"base_model": 0.0, "train": 0.0, "val": 0.0}
    assert report["replay"]["source"]["selection"] == "test split"
    assert report["replay"]["range"][0] >= report["splits"]["test"][0]
    assert result.invariants["replay is out-of-sample"]["passed"]
    text = (result.report_dir / "report.md").read_text()
    assert text.startswith("# Full-year verification: PASSED")
    for image in re.findall(r"\]\(([^)]+\.png)\)", text):
        assert (result.report_dir / image).is_file(), image
    for needed in (
        "p_long_by_session.png",
        "p_long_by_vol_regime.png",
        "p_long_by_trend_regime.png",
        "eligibility_funnel.png",
        "loss_curves_v10_ctx.png",
    ):
        assert f"]({needed})" in text
    assert "**Verdict: v10_ctx" in text
    page = assert_self_contained_report(
        result.report_dir / "report.html",
        "PASSED: every invariant holds",
        min_images=len(images(text)),
    )
    assert f"{len(INVARIANTS)} of {len(INVARIANTS)} invariants hold" in page and "Verdict: v10_ctx" in page


def images(markdown_text: str) -> list[str]:
    return re.findall(r"\]\(([^)]+\.png)\)", markdown_text)


def test_a_failed_invariant_fails_after_writing_the_report(synthetic_year: tuple[Path, VerifyConfig]) -> None:
    store_root, config = synthetic_year
    strict = dataclasses.replace(config, eligible_rate_range=(0.99, 1.0))
    with pytest.raises(VerificationFailed, match="eligibility rate in range") as caught:
        verify_fullyear(Store.at(store_root), strict)
    assert caught.value.exit_code == 9
    page = Path(re.search(r"details in (\S+report\.html)", str(caught.value)).group(1))
    assert_self_contained_report(page, "FAILED: eligibility rate in range")
    report = page.with_name("report.md")
    assert "**FAIL**" in report.read_text() and report.read_text().startswith(
        "# Full-year verification: FAILED"
    )


def test_an_in_sample_replay_fails_the_out_of_sample_invariant() -> None:
    clean = {"in_sample": {"shares": {"base_model": 0.0, "train": 0.0, "val": 0.0}}}
    leaky = {"in_sample": {"shares": {"base_model": 0.0, "train": 0.0, "val": 0.25}}}
    summary = {**clean, "source": {"selection": "all bars"}, "range": ["a", "b"], "baseline": leaky}
    invariant = out_of_sample_invariant(summary)
    assert (
        not invariant["passed"] and "baseline: base model 0.0%, train 0.0%, val 25.0%" in invariant["detail"]
    )
    assert out_of_sample_invariant({**summary, "baseline": clean})["passed"]


def test_splits_are_consecutive_shares_of_the_days() -> None:
    splits = proportional_splits(date(2025, 2, 1), date(2025, 11, 30), 0.65, 0.15)
    assert splits.train.start == date(2025, 2, 1) and splits.test.end == date(2025, 11, 30)
    assert (splits.val.start - splits.train.end).days == 1 and (splits.test.start - splits.val.end).days == 1
    with pytest.raises(ValueError, match="too short"):
        proportional_splits(date(2025, 2, 1), date(2025, 2, 2), 0.65, 0.15)


@pytest.mark.slow
def test_verify_fullyear_passes_on_the_real_year(tmp_path: Path) -> None:
    """Acceptance on the shared 2025 data: 500 parity bars, the tiny model to keep CI short."""
    candles = real_m5_or_skip()
    args = ["verify-fullyear", "--candles", str(candles), "--source-tz", "EET", "--store", str(tmp_path)]
    result = runner.invoke(app, [*args, "--config", str(TINY), "--parity-bars", "500", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and report["parity"]["bars"] == 500
    assert report["parity"]["feature_mismatches"] == 0 and report["parity"]["max_abs_diff_p_long"] <= 1e-6
