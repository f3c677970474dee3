"""The replay summary for the terminal (`train replay`, `demo` and `verify-fullyear`): the tables of
`train.evaluation.replay_tables` printed with rich, the verdict, then the report's path last."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table as RichTable
from rich.text import Text

from train.evaluation.context_evidence import USES
from train.evaluation.replay_tables import (
    all_summaries,
    bucket_pairs_table,
    buckets_table,
    describe,
    funnel_table,
    in_sample_note,
    metric_diff_table,
    online_line,
    usage_table,
    verdict_line,
)
from train.evaluation.telemetry import GROUPINGS
from validation.html_report import Table


def rich_table(table: Table) -> RichTable:
    """A plain table in rich: the first column left-aligned, the others right-aligned."""
    shown = RichTable(title=table.title or None, title_justify="left")
    for index, column in enumerate(table.columns):
        shown.add_column(column, justify="left" if index == 0 else "right")
    for row in table.rows:
        shown.add_row(*(str(value) for value in row))
    return shown


def replay_view(summary: dict[str, Any], report: str) -> Group:
    """Everything `train replay` prints: source and status, funnel, buckets, usage, A/B, the verdict, and
    the path of report.html last."""
    parts: list[Any] = [Text(describe(summary), style="bold red" if summary["degraded"] else "")]
    note = in_sample_note(summary)
    if note:
        parts.append(Text(note, style="bold red"))
    summaries = all_summaries(summary)
    tables = [funnel_table(summary["funnel"])]
    tables += [buckets_table(summaries, grouping) for grouping in GROUPINGS]
    tables.append(bucket_pairs_table(summary))
    tables.append(usage_table(summaries))
    if "comparison" in summary:
        tables.append(metric_diff_table(summary["comparison"]))
    parts += [rich_table(table) for table in tables]
    if online_line(summary):
        parts.append(Text(online_line(summary)))
    verdict = summary["context_usage"]["verdict"]
    parts.append(
        Text(f"Verdict: {verdict_line(summary)}", style="bold green" if verdict == USES else "bold yellow")
    )
    parts.append(Text(f"Report (opens offline): {report}"))
    return Group(*parts)
