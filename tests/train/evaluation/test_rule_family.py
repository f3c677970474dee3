"""SPA and StepM over the entry rules: size and power on simulated daily P&L, an injected edge against a
random walk, rules that never trade, reproducibility, and `train --help` without arch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from arch.bootstrap import StepM

from tests.train.evaluation.test_trades import _rows
from train.evaluation.rule_family import FamilyConfig, daily_bps, family_headline, rule_family, spa_test
from train.evaluation.trades import TradeConfig, TradeRows, one_position

NAMES = [f"rule {i}" for i in range(8)]
DAYS, RHO, SD_BPS = 250, 0.8, 10.0  # a trading year; correlation 0.8 between rules; 10 bps a day
MARGIN_BPS = 3.0  # the better rule's mean daily bps above the benchmark in the power draws (0.3 sd)
DRAWS = 100
FAST = FamilyConfig(reps=300, seed=0)  # fewer resamples than evaluate's 1000, to keep 200 tests fast


def _correlated_pnl(rng: np.random.Generator) -> np.ndarray:
    """[DAYS, 8] daily bps: a common factor with correlation RHO between rules, mean 0."""
    common = rng.standard_normal((DAYS, 1))
    own = rng.standard_normal((DAYS, len(NAMES)))
    return SD_BPS * (np.sqrt(RHO) * common + np.sqrt(1 - RHO) * own)


def test_spa_holds_its_size_and_finds_the_one_better_rule() -> None:
    """100 seeded draws: no rule better than staying flat -> SPA rejects at 5% in at most 8; rule 3 better
    by MARGIN_BPS a day -> it rejects in at least 90 and StepM names rule 3 (measured: 5 and 100)."""
    rng = np.random.default_rng(1)
    flat = np.zeros(DAYS)
    null_rejections = power_rejections = named = 0
    for _ in range(DRAWS):
        pnl = _correlated_pnl(rng)
        null_rejections += spa_test(pnl, flat, NAMES, FAST, with_sensitivity=False)["rejects"]
        pnl[:, 3] += MARGIN_BPS
        better = spa_test(pnl, flat, NAMES, FAST, with_sensitivity=False)
        power_rejections += better["rejects"]
        named += better["rejects"] and "rule 3" in better["superior"]
    assert null_rejections <= 8, null_rejections
    assert power_rejections >= 90, power_rejections
    assert named >= 90, named


def test_an_injected_edge_rejects_and_the_headline_says_so() -> None:
    rows = _rows(8000, seed=3, edge=800.0)  # the trade table's injected-edge setup
    family = rule_family(rows, rows.p, TradeConfig(), FamilyConfig())
    assert family["days"] == 40 and len(family["rules"]) == 8
    for name in ("no position", "always enter"):
        test = family["benchmarks"][name]
        assert test["rejects"] and test["p_values"]["consistent"] < 0.05
        assert "p_long >= 0.56" in test["superior"]
        assert set(test["sensitivity"]) == {"2.5", "10"} and max(test["sensitivity"].values()) < 0.05
    kind, sentence = family_headline("v10_ctx", family)
    assert kind == "pass"
    assert sentence.startswith("v10_ctx, best of 8 entry rules over 40 days: vs staying flat: SPA p < 0.001")
    assert "a rule beats it at 5% (StepM: " in sentence


def test_a_random_walk_does_not_reject_and_the_headline_claims_nothing() -> None:
    rows = _rows(8000, seed=4, edge=0.0)
    family = rule_family(rows, rows.p, TradeConfig(), FamilyConfig())
    for name in ("no position", "always enter"):
        test = family["benchmarks"][name]
        assert not test["rejects"] and test["p_values"]["consistent"] >= 0.05 and test["superior"] == []
        assert test["p_values"]["lower"] <= test["p_values"]["consistent"] <= test["p_values"]["upper"]
    kind, sentence = family_headline("v10", family)
    assert kind == "inconclusive"
    assert sentence.count("no rule shown to beat it") == 2
    assert "above" not in sentence and "edge" not in sentence and "beats" not in sentence


def test_the_daily_series_are_each_rules_trades_summed_per_day_on_the_same_days() -> None:
    rows = _rows(2000, seed=5, edge=0.0)
    days = np.unique(rows.ts.astype("datetime64[D]"))
    taken = one_position(rows, rows.p >= 0.54)
    series = daily_bps(rows, taken, days)
    assert len(series) == rows.n_days == 10
    for k, day in enumerate(days):
        on_day = taken[rows.ts[taken].astype("datetime64[D]") == day]
        assert series[k] == pytest.approx(rows.realized_bps[on_day].sum())
    family = rule_family(rows, rows.p, TradeConfig(), FamilyConfig())
    test = family["benchmarks"]["no position"]
    assert test["mean_daily_bps"]["p_long >= 0.54"] == pytest.approx(series.mean())
    assert test["days"] == family["days"] == 10


def test_rules_that_never_trade_are_left_out_instead_of_rejecting() -> None:
    """Against staying flat a rule without trades is 0 every day; kept in, arch's p-value is 0 when every
    other rule loses money (the max statistic sits at 0 and the resamples of losing rules fall below it)."""
    days = np.repeat(np.arange(30), 50)
    ts = np.datetime64("2025-03-03T00:00", "us") + (days * 288 + np.tile(np.arange(50), 30)) * np.timedelta64(
        5, "m"
    )
    rng = np.random.default_rng(0)
    p = np.clip(0.5 + 0.02 * rng.standard_normal(len(ts)), 0, 0.575)  # never 0.58
    rows = TradeRows.from_arrays(ts, ts + np.timedelta64(5, "m"), p, -3.0 + rng.standard_normal(len(ts)))
    family = rule_family(rows, rows.p, TradeConfig(top_shares=()), FamilyConfig())
    flat = family["benchmarks"]["no position"]
    assert not flat["rejects"] and flat["p_values"]["consistent"] > 0.5
    assert flat["identical_to_benchmark"] == ["p_long >= 0.58", "p_long >= 0.60"]
    assert flat["tested"] == ["p_long >= 0.50", "p_long >= 0.52", "p_long >= 0.54", "p_long >= 0.56"]
    assert flat["best_rule"] in flat["tested"] and flat["best_mean_difference_bps"] < 0
    losing = np.column_stack([-3.0 + rng.standard_normal((30, 4)), np.zeros((30, 2))])
    matrix = spa_test(losing, np.zeros(30), NAMES[:6], FamilyConfig())
    assert matrix["tested"] == NAMES[:4] and not matrix["rejects"]  # kept in: consistent p = 0.000
    assert matrix["p_values"]["consistent"] > 0.5
    nothing = spa_test(np.zeros((30, 2)), np.zeros(30), ["a", "b"], FamilyConfig())
    assert nothing["tested"] == [] and nothing["p_values"]["consistent"] == 1.0 and not nothing["rejects"]


def test_stepm_can_name_every_rule_and_a_seed_reproduces_the_result() -> None:
    rng = np.random.default_rng(12)
    pnl = _correlated_pnl(rng) + np.linspace(1.5, 8.0, 8)  # every rule better; found over several steps
    with pytest.raises(ValueError, match="zero-size"):  # arch's own StepM steps past the last rule here
        StepM(np.zeros(DAYS), -pnl, block_size=FAST.block_days, reps=FAST.reps, seed=FAST.seed).compute()
    first = spa_test(pnl, np.zeros(DAYS), NAMES, FAST)
    assert first["superior"] == NAMES
    again = spa_test(pnl, np.zeros(DAYS), NAMES, FAST)
    assert again == first
    other = spa_test(pnl - 8.0, np.zeros(DAYS), NAMES, FamilyConfig(reps=300, seed=1))
    assert other["p_values"] != spa_test(pnl - 8.0, np.zeros(DAYS), NAMES, FAST)["p_values"]


def test_family_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="block_days"):
        FamilyConfig(block_days=0.5)
    with pytest.raises(ValueError, match="size"):
        FamilyConfig(size=1.0)


def test_train_help_does_not_import_arch() -> None:
    code = "import sys, train.app.cli; print(any(m.split('.')[0] == 'arch' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
