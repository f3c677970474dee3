"""The validation report: what failed, where, and examples; saved as JSON, Markdown and HTML under reports/.

The HTML page (`validation.html_report`) shows the verdict with its numbers, the rows per table, every
failure with examples, the feature health figures and a plot: the eligibility funnel of a range that
passed, the failures per table of one that did not.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from validation.html_report import Figure, HtmlReport, Section, Table, Verdict, cell, png_of, write_html


@dataclass(frozen=True)
class ValidationIssue:
    """One failed check: table, column (or "*" for the whole table), check name, detail and examples."""

    table: str
    column: str
    check: str
    detail: str
    count: int = 1
    examples: tuple[str, ...] = ()

    def line(self) -> str:
        examples = f" e.g. {', '.join(self.examples)}" if self.examples else ""
        return f"{self.table}.{self.column}: {self.check} failed ({self.count}x): {self.detail}{examples}"


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of the gate over one set of tables."""

    issues: tuple[ValidationIssue, ...]
    rows: dict[str, int]
    checks_run: int
    seconds: float
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.issues

    def summary(self) -> dict[str, Any]:
        """The compact form stored in snapshot manifests."""
        return {
            "ok": self.ok,
            "issues": len(self.issues),
            "checks_run": self.checks_run,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "health": self.health,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "failures": [asdict(i) for i in self.issues]}

    def to_markdown(self, title: str) -> str:
        lines = [
            f"# {title}",
            "",
            f"Result: {'PASSED' if self.ok else 'FAILED'} ({self.checks_run} checks)",
            "",
        ]
        lines += ["| table | rows |", "|---|---|", *[f"| {t} | {n:,} |" for t, n in self.rows.items()], ""]
        if self.issues:
            lines += ["| table | column | check | count | detail | examples |", "|---|---|---|---|---|---|"]
            for i in self.issues:
                lines.append(
                    f"| {i.table} | {i.column} | {i.check} | {i.count} | {i.detail} "
                    f"| {'; '.join(i.examples)} |"
                )
        return "\n".join(lines) + "\n"

    def save(self, reports_dir: Path, stem: str, funnel: Any = None) -> tuple[Path, Path, Path]:
        """Write `<stem>-<UTC time>.json`, `.md` and `.html` under `reports_dir`; returns the three paths.

        `funnel`: the range's `EligibilityFunnel`, shown in the HTML page (only a range that passed has one).
        """
        reports_dir.mkdir(parents=True, exist_ok=True)
        moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        base = reports_dir / f"{stem}-{moment}"
        json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
        json_path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        md_path.write_text(self.to_markdown(f"Validation report {stem}"), encoding="utf-8")
        html_path = write_html(
            self.to_html(f"Validation report {stem}", funnel, json_path.name), base.with_suffix(".html")
        )
        return json_path, md_path, html_path

    def to_html(self, title: str, funnel: Any = None, json_name: str = "") -> HtmlReport:
        """The report as an HTML page: verdict, rows, failures, health, and a plot."""
        failed_tables = sorted({issue.table for issue in self.issues})
        rows = sum(self.rows.values())
        numbers = (
            f"{self.checks_run} checks run over {rows:,} rows in {len(self.rows)} tables; "
            f"{len(self.issues)} failed" + (f" (in {', '.join(failed_tables)})" if failed_tables else "")
        )
        verdict = Verdict(
            "PASSED: the range is sealed as a snapshot" if self.ok else "FAILED: no snapshot was written",
            "pass" if self.ok else "fail",
            numbers,
        )
        sections = [
            Section(
                "Rows per table",
                tables=(Table(("table", "rows"), [(t, cell(n)) for t, n in self.rows.items()]),),
            )
        ]
        if self.issues:
            failures = Table(
                ("table", "column", "check", "count", "detail", "examples"),
                [
                    (i.table, i.column, i.check, cell(i.count), i.detail, "; ".join(i.examples))
                    for i in self.issues
                ],
            )
            sections.append(Section("Failures", tables=(failures,), figures=(_failures_plot(self.issues),)))
        if self.health:
            sections.append(Section("Feature health", tables=(Table.from_mapping(self.health),)))
        if funnel is not None:
            stages = Table(
                ("stage", "rows left", "share of bars", "removed here"),
                [
                    (s.name, cell(s.remaining), f"{s.share_of_bars:.1%}", cell(s.removed))
                    for s in funnel.stages
                ],
            )
            sections.append(Section("Eligibility funnel", tables=(stages,), figures=(_funnel_plot(funnel),)))
        facts = {"checks run": self.checks_run, "seconds": round(self.seconds, 2)}
        return HtmlReport(title, verdict, sections, facts, json_name)


def _failures_plot(issues: tuple[ValidationIssue, ...]) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts: dict[str, int] = {}
    for issue in issues:
        counts[issue.table] = counts.get(issue.table, 0) + 1
    figure, axes = plt.subplots(figsize=(6, 0.5 + 0.4 * len(counts)))
    axes.barh(list(counts), list(counts.values()), color="#c0392b")
    axes.set_xlabel("failed checks")
    axes.invert_yaxis()
    return Figure(png_of(figure), "failed checks per table")


def _funnel_plot(funnel: Any) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [stage.name for stage in funnel.stages]
    figure, axes = plt.subplots(figsize=(7, 0.6 + 0.4 * len(names)))
    axes.barh(names, [stage.remaining for stage in funnel.stages], color="#2c7fb8")
    axes.set_xlabel(f"rows left (of {funnel.bars:,} bars)")
    axes.invert_yaxis()
    return Figure(png_of(figure), "eligibility funnel: rows left after each stage")
