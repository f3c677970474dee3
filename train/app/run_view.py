"""The training summary for the terminal (`train run`, `demo`, `inspect`, `verify-fullyear`): the
eligibility funnel with the trainer's own filters, and the metrics beside the baselines with their
intervals."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table


def filter_rates(report: dict[str, Any]) -> Group:
    """The snapshot's eligibility funnel and the trainer's own filters, as printed by `train run`."""
    from featurestore.app.report import funnel_from_dict, funnel_table, key_value_table

    stages = Table(title="Trainer filters", title_justify="left")
    for column in ("stage", "rows left", "share of bars"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for stage in report["trainer_stages"]:
        stages.add_row(stage["name"], f"{stage['remaining']:,}", f"{stage['share_of_bars']:.1%}")
    samples = key_value_table("Samples per split", report["samples"])
    return Group(funnel_table(funnel_from_dict(report["snapshot_funnel"])), stages, samples)


def metrics_table(rows: dict[str, dict[str, Any]]) -> Table:
    from train.fitting.run import SUMMARY_COLUMNS, summary_cell

    table = Table(
        title="Metrics: model vs baselines on the same rows, estimate [95% block-bootstrap interval by day]",
        title_justify="left",
    )
    for column in ("split / head", *SUMMARY_COLUMNS.values()):
        table.add_column(column, justify="right")
    for name, m in rows.items():
        table.add_row(name.split(":")[0], *(summary_cell(m[k]) for k in SUMMARY_COLUMNS))
    return table
