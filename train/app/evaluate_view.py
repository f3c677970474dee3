"""The summary `train evaluate` prints: the headline (SPA over every entry rule first), then each variant's
pooled direction metrics with intervals, the paired v10_ctx - v10 log loss, where the grid ran, the time,
and the report and bundle paths."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.text import Text

TITLE = "Walk-forward evaluation (long only; realized_bps after spread cost)"


def engine_text(engine: dict[str, Any]) -> str:
    """One line: this process, or the Dask cluster with its workers, threads per fit and data access."""
    if engine["kind"] == "this process":
        return f"this process ({engine['threads']})"
    where = engine.get("scheduler") or "local"
    threads = engine["threads_per_worker"]
    threads = "/".join(map(str, threads)) if isinstance(threads, list) else threads
    return (
        f"{engine['kind']} ({where}): {engine['workers']} workers x {threads} torch/XGBoost threads per fit; "
        f"snapshot {engine['data']}"
    )


def evaluate_view(report: dict[str, Any]) -> Group:
    """The headline sentences, one per variant, above the key/value table of the pooled figures."""
    from featurestore.app.report import key_value_table

    rows = {}
    for variant, pooled in report["pooled"].items():
        i = pooled["intervals"]["direction"]
        rows[f"{variant} pooled direction"] = (
            f"AUC {i['auc']['estimate']:.4f} [{i['auc']['low']:.4f}, {i['auc']['high']:.4f}]  "
            f"log loss {i['log_loss']['estimate']:.4f} [{i['log_loss']['low']:.4f}, "
            f"{i['log_loss']['high']:.4f}]  n {i['log_loss']['n']}"
        )
    if report["paired_log_loss"]:
        p = report["paired_log_loss"]["pooled"]["interval"]
        rows["v10_ctx - v10 log loss"] = f"{p['estimate']:+.4f} [{p['low']:+.4f}, {p['high']:+.4f}]"
    rows["ran on"] = engine_text(report["engine"])
    rows["seconds"] = f"{report['seconds']['total']:.0f}"
    headline = report["headline"]
    lines = [Text(sentence) for sentence in headline["trades"]]
    return Group(*lines, Text(headline["paired"]), key_value_table(TITLE, rows))


def print_evaluate_summary(out: Console, report: dict[str, Any]) -> None:
    """The view, then where the report and the fold bundles are."""
    out.print(evaluate_view(report), soft_wrap=True)
    out.print(f"Report (opens offline): {report['report_html']}", highlight=False, soft_wrap=True)
    bundles = f"{report['report_dir']}/bundles"
    out.print(f"Fold bundles (train replay --bundle ...): {bundles}", highlight=False, soft_wrap=True)
