"""The HTML page of one `fs contract check` (the project's offline report style): the audit table, then
each failing audit's columns with their first differing ts and the size of the difference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from validation.html_report import HtmlReport, Section, Table, Verdict


def audit_rows(audit: Any) -> list[list[str]]:
    """One row per audit: name, result, what it checked, the columns involved (shared with the terminal)."""
    rows = []
    for a in audit.audits:
        result = "skipped" if a.skipped else ("pass" if a.passed else "FAIL")
        columns = ", ".join(sorted({f"{f.table}.{f.column}" for f in a.findings})) or "-"
        rows.append([a.name, result, a.checked, columns])
    return rows


def check_html(audit: Any, facts: Mapping[str, Any], json_name: str) -> HtmlReport:
    failed = [a for a in audit.audits if not a.passed and not a.skipped]
    verdict = Verdict(
        f"contract {audit.contract}: {audit.summary()}",
        "pass" if audit.passed else "fail",
        f"{len(audit.audits) - len(failed)} of {len(audit.audits)} audits pass on {audit.bars:,} bars "
        f"({audit.first_ts}..{audit.last_ts})",
    )
    sections = [
        Section("Audits", tables=[Table(["audit", "result", "checked", "columns"], audit_rows(audit))])
    ]
    for a in failed:
        rows = [
            [f.table, f.column, f.problem, f.first_ts or "-", "-" if f.size is None else f"{f.size:.6g}"]
            for f in a.findings
        ]
        sections.append(
            Section(
                a.name,
                paragraphs=[f"How to fix: {a.fix}"],
                tables=[Table(["table", "column", "problem", "first ts", "max |diff|"], rows)],
            )
        )
    return HtmlReport(f"Contract check: {audit.contract}", verdict, sections, dict(facts), json_name)
