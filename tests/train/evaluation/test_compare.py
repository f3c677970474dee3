"""`train compare` on the synthetic store: a version against itself, a planted feature only B has, a pure
noise feature, and the reuse of fits (from `train evaluate` and from an earlier compare)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import train.evaluation.compare_run as compare_run
import train.evaluation.fit_cache as fit_cache
import train.fitting.prepare as prepare_module
from featurestore.compute.validate import ValidateConfig, validate
from featurestore.store.handle import Store
from schemas.versions import CONTRACT_V2
from tests.html_checks import assert_self_contained_report
from tests.train.conftest import RANGE, TINY
from train.app.cli import app
from train.evaluation.compare import BETTER, INCONCLUSIVE
from train.evaluation.compare_run import CompareConfig, compare_snapshots
from train.evaluation.trades import TradeConfig
from train.evaluation.walkforward import EvaluateConfig, evaluate_run_config, evaluate_snapshot

PLANTED = "ret_288_bps"  # a snap input of both versions; the tests decide what it holds in each


@pytest.fixture(scope="module")
def shorter_v2_snapshot(snapshot_store: tuple[Path, str], v2_snapshot_id: str) -> str:
    """A second v2 snapshot of the same bars, one day shorter: the same data under another id."""
    store = Store.at(snapshot_store[0])
    config = ValidateConfig("XAUUSD", RANGE[0], date(2025, 6, 26), data_docs=False)
    return validate(store, config, contract=CONTRACT_V2).snapshot_id


@pytest.fixture
def counted_fits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Fits kept in this test's own folder; returns the list each new fit appends its snapshot id to."""
    monkeypatch.setattr(fit_cache, "fits_dir", lambda store: tmp_path / "fits")
    calls: list[str] = []
    real = compare_run.fit_fold_seed

    def counting(snapshot: Any, config: Any, fold: Any) -> Any:
        calls.append(snapshot.id)
        return real(snapshot, config, fold)

    monkeypatch.setattr(compare_run, "fit_fold_seed", counting)
    return calls


def _config(seed: int = 7) -> Any:
    return evaluate_run_config(TINY, {"epochs": 1, "max_train_rows": 600, "seed": seed})


LEARNS = evaluate_run_config(TINY, {"epochs": 4, "max_train_rows": 3000})  # enough to pick the signal up
SETTINGS = CompareConfig(n_folds=1, trades=TradeConfig(random_draws=20))


def _differences(record: dict[str, Any]) -> list[float]:
    blocks = [record["pooled"], *record["per_fold"]]
    values = [
        b[h]["difference"][m][k]
        for b in blocks
        for h in ("direction", "early_move")
        for m in ("log_loss", "auc")
        for k in ("estimate", "low", "high")
    ]
    traded = [d for d in record["trades"]["difference_mean_bps"] if d["trades_a"]]  # no trades: no mean
    assert traded
    return values + [d[k] for d in traded for k in ("estimate", "low", "high")]


def test_a_version_against_itself_differs_by_exactly_zero_and_reuses_evaluates_fits(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str, counted_fits: list[str]
) -> None:
    store = Store.at(snapshot_store[0])
    evaluate = EvaluateConfig(n_folds=1, variants=("v10_ctx",), trades=TradeConfig(random_draws=20))
    evaluate_snapshot(store, v2_snapshot_id, _config(), evaluate)
    record = compare_snapshots(store, v2_snapshot_id, v2_snapshot_id, _config(), SETTINGS)
    assert counted_fits == []  # evaluate's fold fit serves both sides
    assert record["reused_fits"] == len(record["fits"]) == 2
    assert set(_differences(record)) == {0.0}
    assert record["verdict"] == INCONCLUSIVE
    assert record["pooled"]["rows"]["a_only"] == record["pooled"]["rows"]["b_only"] == 0
    assert record["pooled"]["direction"]["a"]["auc"]["n"] == record["pooled"]["rows"]["paired"] > 0
    assert len(record["trades"]["difference_mean_bps"]) == record["trades"]["rules_tried"] == 8
    out = Path(record["report_dir"])
    saved = json.loads((out / "record.json").read_text())
    assert (
        saved["verdict"] == INCONCLUSIVE
        and saved["a"]["full_contract_hash"] == saved["b"]["full_contract_hash"]
    )
    assert_self_contained_report(Path(record["report_html"]), "inconclusive", min_images=2)

    listed = CliRunner().invoke(app, ["compare", "--list", "--json", "--store", str(store.root)])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert rows[0]["report"] == record["report_html"] and rows[0]["verdict"] == INCONCLUSIVE


def test_a_second_compare_of_the_same_pair_retrains_nothing_and_gives_the_same_numbers(
    snapshot_store: tuple[Path, str], v2_snapshot_id: str, shorter_v2_snapshot: str, counted_fits: list[str]
) -> None:
    store = Store.at(snapshot_store[0])
    first = compare_snapshots(store, v2_snapshot_id, shorter_v2_snapshot, _config(), SETTINGS)
    assert sorted(counted_fits) == sorted([v2_snapshot_id, shorter_v2_snapshot])
    assert first["reused_fits"] == 0 and first["shared_range"] == ["2025-02-03", "2025-06-26"]
    second = compare_snapshots(store, v2_snapshot_id, shorter_v2_snapshot, _config(), SETTINGS)
    assert len(counted_fits) == 2 and second["reused_fits"] == 2
    for key in ("pooled", "per_fold", "verdict", "trades", "folds"):
        same = json.dumps(second[key], sort_keys=True) == json.dumps(first[key], sort_keys=True)
        assert same, key  # compared as JSON: a rule without trades has NaN figures, and NaN != NaN
    assert Path(first["report_dir"]) != Path(second["report_dir"])


def _plant(b_id: str, noise_seed: int | None) -> Any:
    """Wrap the trainer's snapshot reader: the direction label follows a hidden signal s per bar; version B's
    PLANTED column holds s (``noise_seed`` None) or pure noise, version A's holds another noise."""
    real = prepare_module.snapshot_frame

    def planted(snapshot: Any) -> pl.DataFrame:
        frame = real(snapshot)
        ts = frame["ts"].cast(pl.Int64).to_numpy()
        s = _per_bar(ts, 1)
        y = (s + 0.3 * _per_bar(ts, 2) > 0).astype(np.float64)
        label = pl.when(frame["y_direction"].is_null()).then(None).otherwise(pl.Series(y))
        if snapshot.id != b_id:
            column = _per_bar(ts, 50)  # uninformative (the trainer refuses a constant column)
        else:
            column = s if noise_seed is None else _per_bar(ts, 100 + noise_seed)
        return frame.with_columns(
            label.alias("y_direction"), pl.Series(PLANTED, column, dtype=frame[PLANTED].dtype)
        )

    return planted


def _per_bar(ts: np.ndarray, stream: int) -> np.ndarray:
    """A standard normal value per bar that depends only on its ts and the stream (same in both snapshots)."""
    mixed = (ts // 300_000_000 * 2_654_435_761 + stream * 97_531) % (2**32)
    return np.array([np.random.default_rng(int(m)).standard_normal() for m in mixed])


@pytest.mark.slow
def test_a_feature_only_b_has_that_the_label_follows_makes_b_better(
    snapshot_store: tuple[Path, str],
    v2_snapshot_id: str,
    shorter_v2_snapshot: str,
    counted_fits: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prepare_module, "snapshot_frame", _plant(shorter_v2_snapshot, None))
    record = compare_snapshots(
        Store.at(snapshot_store[0]), v2_snapshot_id, shorter_v2_snapshot, LEARNS, SETTINGS
    )
    d = record["pooled"]["direction"]["difference"]["log_loss"]
    assert record["verdict"] == BETTER and d["high"] < 0, d
    assert record["pooled"]["direction"]["difference"]["auc"]["low"] > 0


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known defect, the compare issue stays open: on this code 15 of 20 seeds are inconclusive and 5 "
    "give a verdict (B worse among them), so the paired day-block interval is too narrow for a noise "
    "feature or the noise input really hurts; strict: it fails the suite once it starts passing",
)
def test_a_pure_noise_feature_is_inconclusive_in_at_least_18_of_20_seeds(
    snapshot_store: tuple[Path, str],
    v2_snapshot_id: str,
    shorter_v2_snapshot: str,
    counted_fits: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verdicts = []
    for seed in range(20):  # each seed: its own training seed (own fit keys) and its own noise
        monkeypatch.setattr(prepare_module, "snapshot_frame", _plant(shorter_v2_snapshot, seed))
        record = compare_snapshots(
            Store.at(snapshot_store[0]),
            v2_snapshot_id,
            shorter_v2_snapshot,
            _config(seed),
            CompareConfig(n_folds=1, trades=TradeConfig(random_draws=20)),
        )
        verdicts.append(record["verdict"])
    assert len(counted_fits) == 2 * 20
    assert verdicts.count(INCONCLUSIVE) >= 18, verdicts
