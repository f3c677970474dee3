"""Human-readable summaries of ingest and materialize results (rich renderables for the CLI)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from featurestore.funnel import EligibilityFunnel


def funnel_table(funnel: EligibilityFunnel) -> Table:
    """The eligibility funnel: bars remaining after each stage, and what each stage removed."""
    table = Table(title="Eligibility funnel", title_justify="left")
    table.add_column("stage")
    table.add_column("rows left", justify="right")
    table.add_column("share of bars", justify="right")
    table.add_column("removed here", justify="right")
    for stage in funnel.stages:
        table.add_row(stage.name, f"{stage.remaining:,}", f"{stage.share_of_bars:.1%}", f"{stage.removed:,}")
    return table


def key_value_table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in rows.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    return table


def ingest_summary(result: Any) -> Group:
    """Rows read, accepted, rejected and new; the time range; the fingerprint verdict."""
    if result.already_ingested:
        headline = f"{result.source_file}: already ingested for {result.symbol}; nothing added."
    else:
        what = f"{result.symbol} {result.timeframe}"
        headline = f"Ingested {result.source_file} as {what} (ingest #{result.ingest_id})."
    rows = {
        "format": result.format,
        "source time zone": result.source_tz,
        "price basis": result.price_basis,
        "rows read": result.rows_read,
        "accepted": result.rows_accepted,
        "rejected": result.rows_rejected,
        "new bars": result.rows_new,
        "already stored": result.rows_already_stored,
        "first bar (UTC)": result.first_ts,
        "last bar (UTC)": result.last_ts,
        "daily-break check": result.fingerprint.message,
    }
    parts: list[Any] = [headline, key_value_table("Ingest", rows)]
    if result.rejected_examples:
        rejected = Table(title="First rejected rows (kept in candles_rejected)", title_justify="left")
        rejected.add_column("line", justify="right")
        rejected.add_column("reason")
        for line, reason in result.rejected_examples:
            rejected.add_row(str(line), reason)
        parts.append(rejected)
    return Group(*parts)


def materialize_summary(result: Any) -> Group:
    """Rows per table, the funnel, and the contract hashes of a materialize run."""
    rows = {f"{name} rows": n for name, n in result.rows.items()}
    rows.update(
        {
            "range (UTC days)": f"{result.start}..{result.end}",
            "candles read (with margins)": result.slice_rows,
            "feature_contract_hash": result.feature_contract_hash,
            "full_contract_hash": result.full_contract_hash[:16] + "...",
            "seconds": f"{result.seconds:.2f}",
        }
    )
    return Group(
        key_value_table(f"Materialized {result.symbol} (run {result.run_id})", rows),
        funnel_table(result.funnel),
    )
