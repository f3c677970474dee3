"""The validation report: what failed, where, and examples; saved as JSON and Markdown under reports/."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


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

    def save(self, reports_dir: Path, stem: str) -> tuple[Path, Path]:
        """Write `<stem>-<UTC time>.json` and `.md` under `reports_dir`; returns both paths."""
        reports_dir.mkdir(parents=True, exist_ok=True)
        moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        base = reports_dir / f"{stem}-{moment}"
        json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
        json_path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        md_path.write_text(self.to_markdown(f"Validation report {stem}"), encoding="utf-8")
        return json_path, md_path
