"""The terminal summary of `train evaluate`: the headline (SPA over every entry rule first), then each
variant's pooled direction metrics with intervals and the paired v10_ctx - v10 log loss."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

TITLE = "Walk-forward evaluation (long only; realized_bps after spread cost)"


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
    rows["seconds"] = f"{report['seconds']['total']:.0f}"
    headline = report["headline"]
    lines = [Text(sentence) for sentence in headline["trades"]]
    return Group(*lines, Text(headline["paired"]), key_value_table(TITLE, rows))
