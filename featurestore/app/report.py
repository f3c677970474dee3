"""Human-readable summaries of ingest and materialize results (rich renderables for the CLI)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from featurestore.compute.funnel import EligibilityFunnel


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
    table.add_column("value", overflow="fold")
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
        "format": result.format + (f" ({result.container})" if result.container else ""),
        **({"time column": result.time_column} if result.time_column else {}),
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
    """Rows per table, the funnel, and the contract hashes of a materialize run (None: nothing was run)."""
    if result is None:
        return Group(
            "Materialize: every row of the range is current (recorded run, same candles and contract)"
        )
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


def funnel_from_dict(data: dict[str, Any]) -> EligibilityFunnel:
    """Rebuild a funnel from its stored form (snapshot manifests, bundles)."""
    from featurestore.compute.funnel import FunnelStage

    stages = tuple(FunnelStage(**stage) for stage in data["stages"])
    return EligibilityFunnel(data["bars"], stages, data["reason_counts"], data["reason_shares"])


def validate_summary(result: Any) -> Group:
    """The snapshot id, what the gate checked, the funnel and where the docs are."""
    verb = "Wrote snapshot" if result.created else "Snapshot already exists (nothing written)"
    rows = {
        "snapshot id": result.snapshot_id,
        "path": result.snapshot_path,
        "checks passed": result.report.checks_run,
        "max |corr| between features": result.report.health.get("max_abs_corr"),
        "data docs": result.docs_path or "(not built: --no-docs)",
        "seconds": f"{result.seconds:.2f}",
    }
    return Group(
        key_value_table(f"Validation passed. {verb}", rows),
        funnel_table(result.funnel),
        Text(f"Report (opens offline): {result.report_paths[2]}"),
    )


def snapshot_summary(manifest: dict[str, Any]) -> Group:
    """`fs snapshots show`: range, hashes, row counts, funnel and validation result of one snapshot."""
    validation = manifest.get("validation", {})
    rows = {
        "snapshot id": manifest["id"],
        "symbol / timeframe": f"{manifest['symbol']} {manifest['timeframe']}",
        "date range (UTC days)": "..".join(manifest["date_range"]),
        "bars": f"{manifest.get('first_ts')} .. {manifest.get('last_ts')}",
        "created at": manifest.get("created_at"),
        "sql version": manifest["sql_version"],
        "feature_contract_hash": manifest["feature_contract_hash"],
        "full_contract_hash": manifest["full_contract_hash"],
        "validation": ("passed" if validation.get("ok") else "FAILED")
        + f", {validation.get('checks_run')} checks",
        **{f"{name} rows": n for name, n in manifest.get("row_counts", {}).items()},
    }
    return Group(
        key_value_table("Snapshot", rows), funnel_table(funnel_from_dict(manifest["eligibility_report"]))
    )


def snapshot_list(manifests: list[dict[str, Any]], states: list[str]) -> Table:
    table = Table(title="Snapshots", title_justify="left")
    table.add_column("id", no_wrap=True, min_width=20)
    for column in ("symbol", "range", "rows", "created at", "full_contract_hash", "lineage"):
        table.add_column(column)
    for m, state in zip(manifests, states, strict=True):
        table.add_row(
            m["id"],
            m["symbol"],
            "..".join(m["date_range"]),
            f"{m.get('row_counts', {}).get('context', 0):,}",
            str(m.get("created_at", ""))[:19],
            m["full_contract_hash"][:16],
            state,
        )
    return table


def status_tables(report: dict[str, Any]) -> list[Table]:
    """`fs status`: per symbol, its materialized parts and its snapshots, each with state and reason."""
    versions = ", ".join(f"{v} {h['full_contract_hash'][:16]}" for v, h in report["contracts"].items())
    tables = []
    for symbol, body in report["symbols"].items():
        parts = Table(title=f"{symbol}: materialized (contracts in force: {versions})", title_justify="left")
        for column in ("range", "tf", "run", "version", "full_contract_hash", "state", "why"):
            parts.add_column(column)
        for p in body["materialized"]:
            parts.add_row(
                p["range"],
                p["timeframe"],
                p["run_id"],
                p["sql_version"],
                p["full_contract_hash"][:16],
                p["state"],
                p["why"],
            )
        snaps = Table(title=f"{symbol}: snapshots", title_justify="left")
        for column in ("id", "range", "version", "full_contract_hash", "state", "why", "bundles"):
            snaps.add_column(column)
        for s in body["snapshots"]:
            snaps.add_row(
                s["id"],
                s["range"],
                s["sql_version"],
                (s["full_contract_hash"] or "")[:16],
                s["state"],
                s["why"],
                ", ".join(s["bundles"]) or "-",
            )
        tables += [parts, snaps]
    checks = Table(
        title="contract checks (fs contract check; fs validate seals passed and built-in ones)",
        title_justify="left",
    )
    for column in ("contract", "symbol", "state", "why"):
        checks.add_column(column)
    for c in report.get("contract_checks", []):
        checks.add_row(c["contract"], c["symbol"], c["state"], c["why"])
    return [*tables, checks]
