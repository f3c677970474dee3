"""The README's main job itself: `train demo` on the synthetic default, end to end (slow: it trains).

A newcomer without `../shared/data` runs exactly this through `make demo`; any stage that fails (the gate,
training, the replay) fails this test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurestore.app.demo import SYNTHETIC_NOTICE
from train.app.cli import app

pytestmark = pytest.mark.slow


def test_train_demo_on_synthetic_data_runs_every_stage(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--synthetic", "--store", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    assert lines[0].startswith("Demo data: synthetic candles")
    for stage in ("snapshot", "bundle:", "Cycles (one per bar)", "Verdict:"):
        assert stage in result.output, stage
    assert SYNTHETIC_NOTICE in result.output
    # the summary ends with the replay verdict, then the path of its report
    assert lines[-2].startswith("Verdict:") and lines[-1].startswith("Report (opens offline):")
    assert list((tmp_path / "bundles").glob("demo_v10_ctx_*/metadata.json"))
    assert list((tmp_path / "reports").glob("replay-*/summary.json"))
