"""report.html of `train evaluate`: the headline (SPA over every entry rule first, `evaluate_headline`),
pooled metrics with intervals beside the baselines, per-fold metrics with intervals, each seed alone, the
paired v10_ctx - v10 log loss, SPA / StepM of the entry rules against no position and always-enter, the
trade table against always-enter and random entry, the plots of `evaluate_plots` (inline), the bundle of
every fit and how to replay it, all in one offline page (`validation.html_report`). Written beside
report.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.evaluation.rule_family import BENCHMARKS, family_headline
from train.fitting.run import base_model_label
from validation.html_report import Figure, HtmlReport, Section, Table, Verdict, cell, write_html

REPORT_NAME = "report.html"
FIGURES = (
    (
        "per_fold_metrics",
        "Direction metrics per fold, each variant and baseline, 95% intervals",
        "direction log loss and AUC per fold",
    ),
    (
        "reliability",
        "Reliability of p_long on the pooled test blocks (per bin: n and 95% interval)",
        "reliability diagram",
    ),
    (
        "tau_curve",
        "The tau curve: mean realized_bps by threshold against the random-entry band",
        "mean realized_bps by tau",
    ),
)


def _interval(i: dict[str, Any] | None) -> str:
    return "-" if not i else f"{cell(i['estimate'])} [{cell(i['low'])}, {cell(i['high'])}]"


def paired_sentence(paired: dict[str, Any] | None) -> tuple[str, str]:
    """(verdict kind, sentence) for the pooled v10_ctx - v10 log loss difference and its interval."""
    if not paired:
        return "info", "No paired comparison (needs both v10 and v10_ctx)."
    i = paired["pooled"]["interval"]
    span = f"{i['estimate']:+.4f} [{i['low']:+.4f}, {i['high']:+.4f}], n {i['n']:,}, {i['n_days']} days"
    if i["high"] < 0:
        return "pass", f"v10_ctx has lower held-out log loss than v10: {span}."
    if i["low"] > 0:
        return "fail", f"v10_ctx has higher held-out log loss than v10: {span}."
    return "inconclusive", f"v10_ctx vs v10 held-out log loss: inconclusive, the interval covers 0: {span}."


def evaluate_headline(report: dict[str, Any]) -> dict[str, Any]:
    """The report's headline (terminal, HTML, report.json): the SPA result of every variant first, then the
    paired log loss. ``kind`` is "pass" only where SPA rejects for some variant."""
    trades = [family_headline(v, pooled["rule_family"]) for v, pooled in report["pooled"].items()]
    paired_kind, paired = paired_sentence(report["paired_log_loss"])
    kind = "pass" if any(k == "pass" for k, _ in trades) else "inconclusive"
    text = " ".join(sentence for _, sentence in trades)
    return {"kind": kind, "text": text, "trades": [s for _, s in trades], "paired": paired,
            "paired_kind": paired_kind}  # fmt: skip


def single_rule_sentence(pooled: dict[str, Any]) -> str:
    """How many rules' mean realized_bps lies above its own random-entry band: one test per rule, not
    corrected for the rules tried (the SPA line is the corrected one)."""
    table = pooled["trades"]["table"]
    above = [row["rule"] for row in table if row["above_random"]]
    return (
        f"Single-rule comparisons (one test per rule, not corrected for the {len(table) - 1} rules tried): "
        f"{len(above)} of {len(table) - 1} rules have a mean above their random-entry band"
        + (f" ({', '.join(above)})" if above else "")
        + ". Long only, after the spread (and configured commission)."
    )


def _family_section(variant: str, family: dict[str, Any]) -> Section:
    """SPA and StepM of the variant's entry rules against both benchmarks, with the block sensitivity."""
    rows = []
    for name in BENCHMARKS:
        test = family["benchmarks"][name]
        p = test["p_values"]
        rows.append(
            (
                name,
                f"{p['consistent']:.3f}",
                f"{p['lower']:.3f} / {p['upper']:.3f}",
                ", ".join(f"{b} days: {v:.3f}" for b, v in test["sensitivity"].items()) or "-",
                test["best_rule"] or "-",
                cell(test["best_mean_difference_bps"]),
                ", ".join(test["superior"]) or "none",
                cell(test["days"]),
            )
        )
    left_out = family["benchmarks"]["no position"]["identical_to_benchmark"]
    return Section(
        f"Every rule tried, {variant}: SPA and StepM against each benchmark (pooled test blocks)",
        [
            f"{family_headline(variant, family)[1]} {family['method']}. Series: {family['series']}.",
            f"Rules: {', '.join(family['rules'])}."
            + (f" Never traded, left out against no position: {', '.join(left_out)}." if left_out else ""),
        ],
        (
            Table(
                (
                    "benchmark",
                    "SPA p (consistent)",
                    "lower / upper",
                    "consistent p at half / double block",
                    "best rule",
                    "its mean daily bps minus the benchmark's",
                    "StepM superior at 5%",
                    "days",
                ),
                rows,
            ),  # fmt: skip
        ),
    )


def _reliance_section(report: dict[str, Any]) -> Section:
    """Per fold, variant and seed: does the model use context on the fold's test block (docs/replay.md)?"""
    rows = []
    for variant, folds in report["per_fold"].items():
        for fold in folds:
            for seed in fold["seeds"]:
                usage = seed["context_usage"]
                direction = usage["reliance"]["all_context"]["direction"]
                rows.append(
                    (
                        variant,
                        fold["fold"],
                        seed["seed"],
                        usage["verdict"],
                        _interval(direction),
                        _interval(usage["skill"]),
                        cell(direction["n"]),
                    )
                )
    return Section(
        "Reliance on context per fold (test block, all context permuted 5 times)",
        [
            "Reliance: how much the held-out direction log loss rises when all context inputs (v10: its "
            "regime ids) are permuted across the test block's bars; skill: the model's log loss minus the "
            "constant base rate's. 'uses context' needs both intervals on the right side of 0 "
            "(docs/replay.md)."
        ],
        (
            Table(
                ("variant", "fold", "seed", "verdict", "reliance [95%]", "skill [95%]", "n"),
                rows,
            ),
        ),
    )


def evaluate_report(report: dict[str, Any], report_dir: Path) -> HtmlReport:
    headline = report["headline"]
    paired_text = headline["paired"]
    verdict = Verdict(headline["text"], headline["kind"], paired_text)
    metric_rows = []
    for variant, pooled in report["pooled"].items():
        for head in ("direction", "early_move"):
            for metric in ("auc", "log_loss", "brier"):
                i = pooled["intervals"][head][metric]
                metric_rows.append((variant, head, metric, _interval(i), cell(i["n"]), cell(i["n_days"])))
    baseline_rows = []
    for variant, folds in report["per_fold"].items():
        for fold in folds:
            m = fold["metrics"]
            base = m["baseline_intervals"]
            baseline_rows.append(
                (
                    variant,
                    fold["fold"],
                    _interval(m["intervals"]["direction"]["log_loss"]),
                    _interval(m["intervals"]["direction"]["auc"]),
                    _interval(base["prior"]["direction"]["log_loss"]),
                    _interval(base["logistic"]["direction"]["log_loss"]),
                    _interval(base["base_model"]["direction"]["log_loss"]),
                    base_model_label(m["baseline_fit"].get("base_model")),
                    cell(m["test"]["direction"]["n"]),
                )
            )
    sections = [
        Section(
            "Pooled test metrics (95% block-bootstrap intervals by trading day)",
            ["Every row is a fold's test block, which that fold's models never trained or selected on."],
            (Table(("variant", "head", "metric", "estimate [95%]", "n", "days"), metric_rows),),
        ),
        Section(
            "Direction per fold against the baselines (same rows, 95% intervals by trading day)",
            [
                f"Seeds {', '.join(map(str, report['seeds']))}: {report['seed_pooling']}. The baselines are "
                "fitted once per fold on its training samples.",
                *_base_vs_prior_text(report),
            ],
            (
                Table(
                    (
                        "variant",
                        "fold",
                        "model log loss",
                        "model AUC",
                        "class prior log loss",
                        "logistic log loss",
                        "base model alone log loss",
                        "base model settings",
                        "n",
                    ),
                    baseline_rows,
                ),
            ),
        ),
        _seed_section(report),
        _reliance_section(report),
    ]
    if report["paired_log_loss"]:
        paired_rows = [
            (p["fold"], cell(p["difference"]), _interval(p["interval"]), cell(p["n"]))
            for p in report["paired_log_loss"]["per_fold"]
        ]
        pooled = report["paired_log_loss"]["pooled"]
        paired_rows.append(
            ("pooled", cell(pooled["difference"]), _interval(pooled["interval"]), cell(pooled["n"]))
        )
        sections.append(
            Section(
                "v10_ctx - v10 direction log loss (negative favours context)",
                [paired_text],
                (Table(("fold", "difference", "estimate [95%]", "n"), paired_rows),),
            )
        )
    for variant, pooled in report["pooled"].items():
        sections.append(_family_section(variant, pooled["rule_family"]))
        trades = pooled["trades"]
        rows = [
            (
                r["rule"],
                cell(r["signals"]),
                cell(int(r["trades"])),
                cell(r["trades_per_day"]),
                _interval(r.get("intervals", {}).get("hit_rate")),
                _interval(r.get("intervals", {}).get("mean_bps")),
                cell(r["total_bps"]),
                cell(r["random_band"]["mean_bps"]) if r["random_band"] else "-",
                cell(r["above_random"]),
            )
            for r in trades["table"]
        ]
        sections.append(
            Section(
                f"Trade table, {variant} (pooled test blocks)",
                [
                    f"Long only. {trades['cost']}. {trades['position_rule']}. "
                    f"Random entry: {trades['random_draws']} draws at the same signal count.",
                    single_rule_sentence(pooled),
                ],
                (
                    Table(
                        (
                            "rule",
                            "signals",
                            "trades",
                            "per day",
                            "hit rate [95%]",
                            "mean bps [95%]",
                            "total bps",
                            "random band (mean bps)",
                            "above band (single-rule test)",
                        ),
                        rows,
                    ),
                ),
            )
        )
    for key, title, alt in FIGURES:
        figure = Figure.from_png(Path(report_dir) / report["plots"][key], alt)
        sections.append(Section(title, figures=(figure,)))
    sections.append(_bundle_section(report))
    bound = report["training_bound"]
    facts = {
        "snapshot": report["snapshot_id"],
        "folds": len(report["folds"]),
        "variants": ", ".join(report["variants"]),
        "seeds": ", ".join(map(str, report["seeds"])),
        "training bound": f"at most {bound['max_epochs']} epochs, early stopping patience "
        f"{bound['early_stop_patience']}, max train rows {bound['max_train_rows'] or 'all'}, base model "
        f"{_base_model_bound(bound)}",
        "intervals": report["intervals"],
        "wall time": f"{report['seconds']['total']:.0f} s (per fold and fit in report.json)",
    }
    return HtmlReport(
        f"Walk-forward evaluation: {report['snapshot_id'][:12]}", verdict, sections, facts, "report.json"
    )


def _base_vs_prior_text(report: dict[str, Any]) -> list[str]:
    """The pooled base model alone minus the class prior (reports written before it have none)."""
    pooled = report.get("base_model_vs_prior")
    if pooled is None:
        return []
    diff = pooled["base_model_minus_prior_log_loss"]
    return [
        f"Base model alone minus class prior, direction log loss pooled over the folds' test blocks: "
        f"{_interval(diff)} (n {cell(pooled['n'])}; negative favours the base model)."
    ]


def _base_model_bound(bound: dict[str, Any]) -> str:
    """The base model's bound as text; reports written before the grid name only the trees."""
    if "base_model_grid" not in bound:
        return f"{bound['base_model_trees']} trees"
    grid = " x ".join(f"{axis} {values}" for axis, values in bound["base_model_grid"].items())
    return (
        f"at most {bound['base_model_trees']} trees (early stopping after "
        f"{bound['base_model_early_stopping_rounds']}), grid {grid}, calibration "
        f"{bound['base_model_calibration']}"
    )


def _seed_section(report: dict[str, Any]) -> Section:
    rows = []
    for variant, seeds in report["per_seed"].items():
        for s in seeds:
            i = s["intervals"]["direction"]
            rows.append(
                (variant, s["seed"], _interval(i["log_loss"]), _interval(i["auc"]), cell(i["log_loss"]["n"]),
                 ", ".join(map(str, s["best_epochs"])))
            )  # fmt: skip
    paired = report["paired_log_loss"]
    text = ["Each seed's models alone on the pooled test blocks: the spread is the training noise."]
    if paired:
        text.append(
            "v10_ctx - v10 log loss per seed: "
            + "; ".join(f"seed {p['seed']} {_interval(p['interval'])}" for p in paired["per_seed"])
        )
    header = ("variant", "seed", "direction log loss", "direction AUC", "n", "best epoch per fold")
    return Section("Each seed alone (pooled test blocks)", text, (Table(header, rows),))


def _bundle_section(report: dict[str, Any]) -> Section:
    rows = [(b["fold"], b["variant"], b["seed"], b["path"], b["replay"]) for b in report["bundles"]]
    return Section(
        "The bundle of every fit (replay any fold)",
        ["Each is a full bundle; replaying it on the fold's test days gives that seed's test p_long."],
        (Table(("fold", "variant", "seed", "bundle", "replay"), rows),),
    )


def write_evaluate_html(report: dict[str, Any], report_dir: Path) -> Path:
    return write_html(evaluate_report(report, report_dir), Path(report_dir) / REPORT_NAME)
