"""The README's main job on the embedded synthetic default: the unchanged gate passes on it, its context
classes look like the real year's, and the gate still refuses a store that leaves a class too thin.

A newcomer without `../shared/data` gets exactly this data from `make demo`, so these tests run without
the shared data; only the comparison with the real year needs it (and skips without it).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app as fs_app
from featurestore.app.demo import REAL_RANGE, SYNTHETIC, SYNTHETIC_NOTICE, SYNTHETIC_RANGE
from featurestore.app.synthetic import generate_candles, write_mt5_tsv
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.errors import FeatureStoreError
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from featurestore.store.versions import stored_table
from schemas.versions import DEFAULT_CONTRACT as CONTRACT
from tests.conftest import real_m5_or_skip

CATEGORICALS = ("session_id", "trend_regime_id", "vol_regime_id", "atr_bucket", "spread_bucket")
# How far the synthetic year may sit from the real one: class shares (absolute) and quantiles (relative).
SHARE_TOLERANCE = 0.10
QUANTILE_TOLERANCE = 0.20
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def hard_eligible_context(store: Store) -> pl.DataFrame:
    """Context rows of the bars that pass every hard eligibility rule: the rows the class-share gate reads."""
    context, eligibility = (stored_table(CONTRACT, CONTRACT.table(n)) for n in ("context", "eligibility"))
    with store.connect(read_only=True) as con:
        table = con.sql(
            f"SELECT c.* FROM {context} c JOIN {eligibility} e USING (symbol, ts) "
            "WHERE e.reason NOT LIKE 'HARD_%'"
        ).to_arrow_table()
    return pl.from_arrow(table)


def class_shares(context: pl.DataFrame, column: str) -> dict[int, float]:
    allowed = CONTRACT.table("context").column(column).allowed or ()
    return {int(v): float((context[column] == v).mean() or 0.0) for v in allowed}


def _ingested(root: Path, source: Path, start: date, end: date) -> Store:
    store = Store.at(root)
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    materialize(store, MaterializeConfig("XAUUSD", start, end))
    return store


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict]:
    """`fs demo --synthetic` on a fresh store, through the CLI a user runs."""
    root = tmp_path_factory.mktemp("synthetic_demo")
    result = CliRunner().invoke(fs_app, ["demo", "--synthetic", "--store", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return Store.at(root), json.loads(result.output)


def test_fs_demo_on_synthetic_data_passes_the_gate(demo_store: tuple[Store, dict]) -> None:
    _, summary = demo_store
    assert summary["data"] == "synthetic" and summary["notice"] == SYNTHETIC_NOTICE
    assert summary["validate"]["snapshot_id"]
    # the class-share check really ran (the range is long enough), it was not skipped
    assert summary["validate"]["validation"]["health"]["class_coverage"] == "checked"


def test_a_second_demo_reuses_the_current_rows_and_snapshot(demo_store: tuple[Store, dict]) -> None:
    """Materializing again would make a new run and so a new snapshot: a rerun finds the range current."""
    store, first = demo_store
    again = CliRunner().invoke(fs_app, ["demo", "--synthetic", "--store", str(store.root), "--json"])
    assert again.exit_code == 0, again.output
    second = json.loads(again.output)
    assert second["materialize"] == "current (reused)"
    assert second["validate"]["snapshot_id"] == first["validate"]["snapshot_id"]
    assert not second["validate"]["created"]


def test_synthetic_classes_clear_the_contract_minimums(demo_store: tuple[Store, dict]) -> None:
    """Every class the gate checks holds at least 1.5x its minimum share, so small retuning cannot tip it."""
    context = hard_eligible_context(demo_store[0])
    for column, minimum in CONTRACT.parameters["min_class_share"].items():
        shares = class_shares(context, column)
        assert min(shares.values()) >= 1.5 * minimum, (column, shares)
    assert min(v for k, v in class_shares(context, "session_id").items() if k != 0) > 0.2


def test_fs_demo_says_which_data_first(tmp_path: Path) -> None:
    """The demo's first line names the data and why; the summary says the candles are synthetic."""
    source = tmp_path / "demo" / "xauusd_m5_synthetic_mt5.tsv"
    write_mt5_tsv(generate_candles(SYNTHETIC), source)  # what the demo would write, made beforehand
    result = CliRunner().invoke(
        fs_app, ["demo", "--synthetic", "--store", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("Demo data: synthetic candles") and "--synthetic was given" in first
    assert SYNTHETIC_NOTICE in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("Report (opens offline):")


def test_gate_still_refuses_a_thin_spread_bucket(tmp_path: Path) -> None:
    """The same synthetic year with every spread at or above the contract's first spread threshold leaves
    spread_bucket 0 nearly empty: the unchanged gate must refuse it (exit 7) and write no snapshot."""
    frame = generate_candles(SYNTHETIC)
    first_threshold = CONTRACT.parameters["spread_bucket_thresholds"][0]  # bps
    floor = np.ceil(first_threshold * frame["close"].to_numpy() / 100)  # points: bps x close / 100
    frame = frame.with_columns(
        pl.Series("spread_points", np.maximum(frame["spread_points"].to_numpy(), floor).astype(np.int64))
    )
    store = _ingested(tmp_path / "store", write_mt5_tsv(frame, tmp_path / "wide.tsv"), *SYNTHETIC_RANGE)
    with pytest.raises(FeatureStoreError) as failed:
        validate(store, ValidateConfig("XAUUSD", *SYNTHETIC_RANGE, data_docs=False))
    assert failed.value.exit_code == 7
    assert "spread_bucket" in str(failed.value) and "class_coverage" in str(failed.value)
    assert not any(store.snapshots_dir.glob("*/manifest.json"))


@pytest.mark.slow
def test_synthetic_year_resembles_the_real_year(
    demo_store: tuple[Store, dict], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Per-class shares of every context categorical (hard-eligible rows) and the atr/spread quantiles of the
    synthetic year stay near the real 2025 year's, so the two cannot drift apart silently."""
    real = hard_eligible_context(
        _ingested(tmp_path_factory.mktemp("real_year"), real_m5_or_skip(), *REAL_RANGE)
    )
    synthetic = hard_eligible_context(demo_store[0])
    for column in CATEGORICALS:
        want, got = class_shares(real, column), class_shares(synthetic, column)
        worst = max(abs(want[k] - got[k]) for k in want)
        assert worst <= SHARE_TOLERANCE, (column, want, got)
    for column in ("atr_bps", "spread_bps"):
        want = np.quantile(real[column].to_numpy(), QUANTILES)
        got = np.quantile(synthetic[column].to_numpy(), QUANTILES)
        assert np.all(np.abs(got / want - 1) <= QUANTILE_TOLERANCE), (column, want, got)
