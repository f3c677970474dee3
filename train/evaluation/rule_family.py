"""The trade verdict over the whole family of entry rules: Hansen's SPA and Romano-Wolf's StepM (``arch``).

Usage::

    family = rule_family(rows, reference_p, TradeConfig(), FamilyConfig())   # one variant's scored rows
    family["benchmarks"]["no position"]["p_values"]["consistent"], family["headline"]
    headline = family_headline("v10_ctx", family)                           # (verdict kind, sentence)

Why: the trade table compares each rule with random entry on its own, but the rules (thresholds on the
same p_long, nested, and the top-k% cuts) are tried together, so the best of them looks good by chance
alone. SPA asks whether the best of the k rules beats a benchmark given that k were tried; StepM names the
rules that beat it while controlling the family-wise error (docs/evaluate.md, "Rule family").

- **Series.** One per rule: its realized_bps summed per UTC trading day of the scored rows (0 on a day
  without a trade), on the same days for every rule (the trades of :func:`trades.one_position`, each
  counted on its decision day).
- **Benchmarks.** "no position" (0 every day) and "always enter" (every row signals, same position rule).
  A loss is minus the day's bps, so a rule is better when its mean daily bps is higher.
- **Bootstrap.** The stationary bootstrap over days with mean block ``block_days`` (default 5, a trading
  week), ``reps`` resamples, seeded; the consistent p-value decides, the lower and upper ones are kept, and
  the consistent p-value at half and double the block length is the sensitivity line.
- A rule whose series equals the benchmark's on every day (it never trades against "no position") cannot
  beat it; it is left out of the test (with it in, ``arch``'s p-value can reach 0 spuriously) and listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from arch.bootstrap import SPA

from train.evaluation.trades import TradeConfig, TradeRows, entry_rules, one_position

BENCHMARKS = ("no position", "always enter")
BENCHMARK_WORDS = {"no position": "staying flat", "always enter": "always entering"}


@dataclass(frozen=True)
class FamilyConfig:
    """SPA / StepM settings: mean block length in trading days, resamples, test size, seed."""

    block_days: float = 5.0
    reps: int = 1000
    size: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.block_days < 1.0:
            raise ValueError(f"block_days must be at least 1, got {self.block_days}")
        if self.reps < 100:
            raise ValueError(f"reps must be at least 100, got {self.reps}")
        if not 0.0 < self.size < 1.0:
            raise ValueError(f"size must lie in (0, 1), got {self.size}")


def daily_bps(rows: TradeRows, taken: np.ndarray, days: np.ndarray) -> np.ndarray:
    """realized_bps of the ``taken`` trades summed per day of ``days`` (sorted unique datetime64[D])."""
    out = np.zeros(len(days), dtype=np.float64)
    trade_days = rows.ts[taken].astype("datetime64[D]")
    np.add.at(out, np.searchsorted(days, trade_days), rows.realized_bps[taken])
    return out


def spa_test(
    models: np.ndarray,
    benchmark: np.ndarray,
    names: list[str],
    config: FamilyConfig,
    *,
    with_sensitivity: bool = True,
) -> dict[str, Any]:
    """SPA of the columns of ``models`` ([days, k] daily bps) against ``benchmark`` ([days]), and StepM.

    Returns the three p-values, whether the consistent one rejects at ``config.size``, StepM's superior
    rules, the best rule by mean daily bps, and the consistent p-value at half and double the block.
    """
    models = np.asarray(models, dtype=np.float64)
    benchmark = np.asarray(benchmark, dtype=np.float64)
    if models.ndim != 2 or models.shape[0] != len(benchmark) or models.shape[1] != len(names):
        raise ValueError(f"models {models.shape} must be [days, rules] with days {len(benchmark)}")
    differs = ~np.all(models == benchmark[:, None], axis=0)
    tested = [n for n, d in zip(names, differs, strict=True) if d]
    identical = [n for n, d in zip(names, differs, strict=True) if not d]
    mean_diff = np.where(differs, (models - benchmark[:, None]).mean(axis=0), -np.inf)  # best of the tested
    out: dict[str, Any] = {
        "days": len(benchmark),
        "rules": len(names),
        "tested": tested,
        "identical_to_benchmark": identical,
        "mean_daily_bps": {n: float(v) for n, v in zip(names, models.mean(axis=0), strict=True)},
        "benchmark_mean_daily_bps": float(benchmark.mean()) if len(benchmark) else float("nan"),
        "best_rule": names[int(np.argmax(mean_diff))] if tested else None,
        "best_mean_difference_bps": float(mean_diff.max()) if tested else float("nan"),
    }
    if not tested or len(benchmark) < 2:
        nothing = {"lower": 1.0, "consistent": 1.0, "upper": 1.0}
        return {**out, "p_values": nothing, "rejects": False, "superior": [], "sensitivity": {}}
    losses, bench_loss = -models[:, differs], -benchmark
    spa = _spa(bench_loss, losses, config.block_days, config)
    p_values = {name: float(value) for name, value in spa.pvalues.items()}
    superior = _stepm(spa, config.size)
    sensitivity = {
        f"{block:g}": float(_spa(bench_loss, losses, block, config).pvalues["consistent"])
        for block in ((config.block_days / 2, config.block_days * 2) if with_sensitivity else ())
        if block >= 1.0
    }
    return {
        **out,
        "p_values": p_values,
        "rejects": bool(p_values["consistent"] < config.size),
        "superior": [tested[i] for i in superior],
        "sensitivity": sensitivity,
    }


def _spa(bench_loss: np.ndarray, losses: np.ndarray, block: float, config: FamilyConfig) -> SPA:
    spa = SPA(
        bench_loss, losses, block_size=block, reps=config.reps, bootstrap="stationary", seed=config.seed
    )  # type: ignore[arg-type]
    spa.compute()
    return spa


def _stepm(spa: SPA, size: float) -> list[int]:
    """Romano-Wolf StepM on a computed SPA (its resamples): the rules whose mean beats the critical value
    are removed and the rest tested again, until no rule is added. ``arch.bootstrap.StepM`` (8.0) runs this
    loop but subsets to no rule at all, and fails, when the last remaining rules are all found superior in a
    later step; this is its loop, stopped there."""
    k = spa.k
    found: list[int] = []
    while len(found) < k:
        selector = np.ones(k, dtype=bool)
        selector[found] = False
        spa.subset(selector)
        spa.compute()
        new = [int(i) for i in spa.better_models(size) if int(i) not in found]
        if not new:
            break
        found.extend(new)
    spa.subset(np.ones(k, dtype=bool))
    return sorted(found)


def rule_family(
    rows: TradeRows, reference_p: np.ndarray, trades: TradeConfig, config: FamilyConfig
) -> dict[str, Any]:
    """SPA and StepM of every entry rule of ``trades`` on ``rows`` against both benchmarks.

    The rules are :func:`trades.entry_rules` (top-k% cut points from ``reference_p``, never the scored
    rows) under the one-position rule; ``train evaluate`` calls it per variant on the pooled test blocks.
    """
    days = np.unique(rows.ts.astype("datetime64[D]"))
    rules = entry_rules(rows.p, reference_p, trades)
    names = [name for name, _, _ in rules]
    models = np.column_stack([daily_bps(rows, one_position(rows, signal), days) for _, _, signal in rules])
    always = daily_bps(rows, one_position(rows, np.ones(len(rows), dtype=bool)), days)
    benchmarks = {"no position": np.zeros(len(days)), "always enter": always}
    family = {
        "method": "Hansen's SPA (consistent p-value decides) and Romano-Wolf StepM, arch.bootstrap, "
        f"stationary bootstrap over trading days, mean block {config.block_days:g} days, "
        f"{config.reps} resamples, seed {config.seed}, size {config.size:g}",
        "series": "per rule: realized_bps summed per UTC trading day of the scored rows, 0 on a day without "
        "a trade; the same days for every rule",
        "block_days": config.block_days,
        "reps": config.reps,
        "size": config.size,
        "seed": config.seed,
        "rules": names,
        "days": len(days),
        "benchmarks": {name: spa_test(models, series, names, config) for name, series in benchmarks.items()},
    }
    return family


def p_text(p: float, reps: int) -> str:
    """``= 0.41`` or, below the bootstrap's resolution, ``< 0.001``."""
    return f"< {1 / reps:.2g}" if p < 1 / reps else f"= {p:.3f}" if p < 0.01 else f"= {p:.2f}"


def family_headline(variant: str, family: dict[str, Any]) -> tuple[str, str]:
    """(verdict kind, sentence) for one variant: the SPA result against each benchmark, first.

    The words of a claim ("beats", the StepM rules) appear only where SPA rejects.
    """
    size = family["size"]
    parts = []
    for name in BENCHMARKS:
        test = family["benchmarks"][name]
        p = test["p_values"]["consistent"]
        words = BENCHMARK_WORDS[name]
        if test["rejects"]:
            rules = ", ".join(test["superior"]) or "none singled out by StepM"
            parts.append(
                f"vs {words}: SPA p {p_text(p, family['reps'])}, a rule beats it at {size:.0%} "
                f"(StepM: {rules})"
            )
        else:
            parts.append(f"vs {words}: SPA p {p_text(p, family['reps'])}, no rule shown to beat it")
    rejects = any(family["benchmarks"][name]["rejects"] for name in BENCHMARKS)
    sentence = (
        f"{variant}, best of {len(family['rules'])} entry rules over {family['days']} days: "
        + "; ".join(parts)
        + "."
    )
    return ("pass" if rejects else "inconclusive"), sentence
