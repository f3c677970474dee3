"""`fs contract diff A B [--data]`: the definition diff of v1 -> v2 is exactly what docs/contract_v2.md
lists, with what it forces; a user version's new snapshot column forces only its table; `--data` counts
the differing stored values column by column (on synthetic candles, and on the real year: slow)."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from featurestore.app.cli import app
from featurestore.app.synthetic import SyntheticConfig, generate_candles, write_mt5_tsv
from featurestore.compute.contract_diff import contract_diff, diff_definitions
from featurestore.compute.materialize import MaterializeConfig, materialize
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from schemas.versions import CONTRACT_V1, CONTRACT_V2
from tests.cli_checks import assert_exit
from tests.featurestore.planted_contracts import feature, user_version

runner = CliRunner()
THRESHOLDS = {"atr_bucket_thresholds", "spread_bucket_thresholds", "trend_threshold"}
REAL_M5 = Path(
    os.environ.get("FS_DEMO_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
) / ("xauusd_m5_2025_mt5.tsv")


def test_v1_to_v2_is_exactly_what_the_v2_page_lists() -> None:
    d = diff_definitions(CONTRACT_V1, CONTRACT_V2)
    assert d["tables"] == {
        "added": [],
        "removed": [],
        "columns": {
            "eligibility": {"added": ["minutes_since_prev"], "removed": [], "changed": {}},
            "labels": {"added": ["realized_bps"], "removed": [], "changed": {}},
        },
    }
    assert set(d["parameters"]["changed"]) == THRESHOLDS
    assert d["parameters"]["changed"]["trend_threshold"] == [1.25, 1.42]
    assert d["parameters"]["added"] == {"calibration_window": ["2025-02-01", "2025-07-31"]}
    assert d["parameters"]["removed"] == {}
    assert sorted(d["sql_files"]["changed"]) == ["40_eligibility.sql", "50_labels.sql"]
    assert "+    gap_minutes AS minutes_since_prev" in d["sql_files"]["changed"]["40_eligibility.sql"]
    forces = d["forces"]
    assert sorted(forces["rematerialize"]) == ["context", "eligibility", "labels"]  # not seq/snap features
    assert "trend_threshold" in forces["rematerialize"]["context"]
    assert forces["warmup_changes"] is False
    assert forces["model_inputs_change"] is False
    assert forces["model_inputs"].startswith("unchanged")


def test_a_user_column_forces_only_its_table(tmp_path: Path) -> None:
    user = user_version(tmp_path, "u1", "r1 AS ret_bps", [feature("ret_bps", 1)])
    d = diff_definitions(CONTRACT_V2, user)
    assert d["tables"] == {
        "added": [],
        "removed": [],
        "columns": {"snap_features": {"added": ["ret_bps"], "removed": [], "changed": {}}},
    }
    assert d["sql_files"]["added"] == [] and sorted(d["sql_files"]["changed"]) == ["30_snap_features.sql"]
    assert "u.* EXCLUDE (symbol, ts)" in d["sql_files"]["changed"]["30_snap_features.sql"]
    assert d["parameters"] == {"added": {}, "removed": {}, "changed": {}}
    assert d["forces"]["rematerialize"] == {
        "snap_features": "declaration changed; 30_snap_features.sql changed"
    }
    assert d["forces"]["warmup_changes"] is False
    assert d["forces"]["model_inputs_change"] is True  # a new input: v2's bundles cannot serve u1


def test_cli_diff_table_and_json() -> None:
    shown = runner.invoke(app, ["contract", "diff", "v1", "v2"])
    assert_exit(
        shown,
        0,
        "eligibility.minutes_since_prev",
        "labels.realized_bps",
        "parameter trend_threshold",
        "re-materialize context",
        "model inputs",
    )
    as_json = runner.invoke(app, ["contract", "diff", "v1", "v2", "--json"])
    assert_exit(as_json, 0)
    assert json.loads(as_json.output)["definition"]["forces"]["model_inputs_change"] is False


def _both_versions(store: Store, source: Path, start: date, end: date) -> None:
    ingest_file(store, source, IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    for contract in (CONTRACT_V1, CONTRACT_V2):
        materialize(store, MaterializeConfig("XAUUSD", start, end), contract=contract)


def _differing(data: dict, table: str) -> dict[str, int]:
    return {c: s["differing"] for c, s in data[table]["columns"].items() if s["differing"]}


def test_data_diff_counts_the_differing_context_values(tmp_path: Path) -> None:
    source = write_mt5_tsv(
        generate_candles(SyntheticConfig(start=date(2025, 1, 1), end=date(2025, 2, 20))), tmp_path / "c.tsv"
    )
    store = Store.at(tmp_path / "store")
    _both_versions(store, source, date(2025, 2, 3), date(2025, 2, 14))
    result = contract_diff(CONTRACT_V1, CONTRACT_V2, store, "XAUUSD", (date(2025, 2, 3), date(2025, 2, 14)))
    data = result["data"]
    assert set(_differing(data, "context")) <= {"spread_bucket", "atr_bucket", "trend_regime_id"}
    assert _differing(data, "context") and not _differing(data, "seq_features")
    assert not _differing(data, "snap_features")
    stats = data["context"]["columns"]["atr_bucket"]
    assert stats["rows"] == data["context"]["rows_compared"] == data["context"]["rows_a"] > 0
    cli = runner.invoke(
        app,
        [
            "contract",
            "diff",
            "v1",
            "v2",
            "--data",
            "--date-range",
            "2025-02-03..2025-02-14",
            "--store",
            str(store.root),
        ],
    )
    assert_exit(cli, 0, "stored values compared on 2025-02-03..2025-02-14", "context.atr_bucket")


@pytest.mark.slow
def test_data_diff_on_the_real_year_names_the_threshold_columns(tmp_path: Path) -> None:
    if not REAL_M5.is_file():
        pytest.skip(f"real data not found at {REAL_M5} (../shared/data): the year's diff needs it")
    store = Store.at(tmp_path / "store")
    days = (date(2025, 2, 1), date(2025, 10, 27))
    _both_versions(store, REAL_M5, *days)
    data = contract_diff(CONTRACT_V1, CONTRACT_V2, store, "XAUUSD", days)["data"]
    counts = _differing(data, "context")
    assert set(counts) == {"spread_bucket", "atr_bucket", "trend_regime_id"}, counts
    assert all(n > 1000 for n in counts.values()), counts
    for table in ("seq_features", "snap_features"):
        assert not _differing(data, table), table
