"""report.html of `train evaluate`: pooled metrics with intervals beside the baselines, the paired
v10_ctx - v10 log loss, the trade table against always-enter and random entry, and the tau curve plot, all
in one offline page (`validation.html_report`). Written beside report.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.fitting.plots import plt, save_figure
from validation.html_report import Figure, HtmlReport, Section, Table, Verdict, cell, write_html

REPORT_NAME = "report.html"
TAU_PLOT = "tau_curve.png"


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


def edge_sentence(report: dict[str, Any]) -> str:
    """Whether any entry rule's mean realized_bps lies above its random-entry band, per variant."""
    parts = []
    for variant, pooled in report["pooled"].items():
        above = [row["rule"] for row in pooled["trades"]["table"] if row["above_random"]]
        n_rules = len(pooled["trades"]["table"]) - 1
        parts.append(
            f"{variant}: {len(above)} of {n_rules} entry rules above the random-entry band"
            + (
                f" ({', '.join(above)}; several trials, read the whole curve)"
                if above
                else " (no edge shown)"
            )
        )
    return "; ".join(parts) + ". Long only, after the spread (and configured commission)."


def plot_tau_curves(report: dict[str, Any], path: Path) -> Path:
    """Mean realized_bps per p_long threshold with its interval, against the random-entry band."""
    variants = list(report["pooled"])
    fig, axes = plt.subplots(1, len(variants), figsize=(6 * len(variants), 4), squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        rows = [r for r in report["pooled"][variant]["trades"]["table"] if r["rule"].startswith("p_long >=")]
        taus = [r["cut"] for r in rows]
        mean = [r["mean_bps"] for r in rows]
        low = [r.get("intervals", {}).get("mean_bps", {}).get("low", float("nan")) for r in rows]
        high = [r.get("intervals", {}).get("mean_bps", {}).get("high", float("nan")) for r in rows]
        band = [r["random_band"]["mean_bps"] if r["random_band"] else [float("nan")] * 2 for r in rows]
        ax.fill_between(
            taus,
            [b[0] for b in band],
            [b[1] for b in band],
            color="grey",
            alpha=0.3,
            label="random entry, same rate (2.5-97.5%)",
        )
        ax.fill_between(taus, low, high, color="C0", alpha=0.25, label="95% interval (days)")
        ax.plot(taus, mean, "o-", color="C0", label="mean realized_bps")
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set(title=f"{variant}: long entries at p_long >= tau", xlabel="tau", ylabel="mean realized_bps")
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def evaluate_report(report: dict[str, Any], report_dir: Path) -> HtmlReport:
    kind, paired_text = paired_sentence(report["paired_log_loss"])
    verdict = Verdict(paired_text, kind, edge_sentence(report))
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
            base = m["baselines"]["direction"]
            baseline_rows.append(
                (
                    variant,
                    fold["fold"],
                    cell(m["test"]["direction"]["log_loss"]),
                    cell(base["prior"]["log_loss"]),
                    cell(base["logistic"]["log_loss"]),
                    cell(base["base_model"]["log_loss"]),
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
            "Direction log loss per fold against the baselines (same rows)",
            tables=(
                Table(
                    ("variant", "fold", "model", "class prior", "logistic", "base model alone", "n"),
                    baseline_rows,
                ),
            ),
        ),
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
                    f"Random entry: {trades['random_draws']} draws at the same signal count."
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
                            "above band",
                        ),
                        rows,
                    ),
                ),
            )
        )
    plot = plot_tau_curves(report, Path(report_dir) / TAU_PLOT)
    sections.append(Section("The tau curve", figures=(Figure.from_png(plot, "mean realized_bps by tau"),)))
    facts = {
        "snapshot": report["snapshot_id"],
        "folds": len(report["folds"]),
        "variants": ", ".join(report["variants"]),
        "intervals": report["intervals"],
    }
    return HtmlReport(
        f"Walk-forward evaluation: {report['snapshot_id'][:12]}", verdict, sections, facts, "report.json"
    )


def write_evaluate_html(report: dict[str, Any], report_dir: Path) -> Path:
    return write_html(evaluate_report(report, report_dir), Path(report_dir) / REPORT_NAME)
