"""One self-contained HTML page per report: summary tables, the verdict with its numbers, plots inline.

Every report a person opens (validation, replay, verify-fullyear) is written as ``report.html`` (or
``<stem>.html``) beside its JSON by `write_html`, from the Jinja2 template ``templates/report.html.j2``.
The page carries its own CSS, embeds every plot as a ``data:image/png;base64`` URI and references nothing
on the network, so it opens the same on an offline machine, attached to a mail, or copied elsewhere.

Usage::

    rep = HtmlReport(
        title="Replay",
        verdict=Verdict("uses context", "pass", "spread 0.12 [0.09, 0.15] vs 0.01 shuffled, n=5,000"),
        sections=[Section("Funnel", tables=[Table(["stage", "rows"], rows)], figures=[Figure.from_png(f)])],
    )
    write_html(rep, out_dir / "report.html")
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"
VERDICT_KINDS = ("pass", "fail", "inconclusive", "info")


@dataclass(frozen=True)
class Verdict:
    """The headline: what the numbers say (`kind` colours it), and the numbers themselves."""

    text: str
    kind: str  # "pass" | "fail" | "inconclusive" | "info"
    numbers: str = ""

    def __post_init__(self) -> None:
        if self.kind not in VERDICT_KINDS:
            raise ValueError(f"verdict kind {self.kind!r} is not one of {', '.join(VERDICT_KINDS)}")


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells (see `cell`)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str = ""
    note: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], title: str = "", note: str = "") -> Table:
        """A two-column key/value table."""
        return cls(("", ""), [(key, cell(value)) for key, value in values.items()], title, note)


@dataclass(frozen=True)
class Figure:
    """One plot, embedded as a PNG data URI."""

    png: bytes
    caption: str = ""

    @classmethod
    def from_png(cls, path: Path, caption: str = "") -> Figure:
        return cls(Path(path).read_bytes(), caption or Path(path).stem.replace("_", " "))

    @property
    def data_uri(self) -> str:
        if self.png[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"figure {self.caption!r} is not a PNG image")
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: Sequence[str] = ()
    tables: Sequence[Table] = ()
    figures: Sequence[Figure] = ()


@dataclass(frozen=True)
class HtmlReport:
    title: str
    verdict: Verdict
    sections: Sequence[Section] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)  # shown under the verdict: range, hashes, ...
    json_name: str = ""  # the JSON file beside the page, linked from it


def cell(value: Any, digits: int = 4) -> str:
    """A table cell: floats rounded to `digits` significant decimals, ints with separators, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:,.{digits}f}"
    if isinstance(value, list | tuple):
        return ", ".join(cell(v, digits) for v in value)
    return str(value)


def png_of(figure: Any) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def figures(paths: Iterable[Path]) -> tuple[Figure, ...]:
    """The PNG files among `paths` as figures, in the given order."""
    return tuple(Figure.from_png(path) for path in paths if Path(path).suffix.lower() == ".png")


def render_html(report: HtmlReport) -> str:
    """The page as a string."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    facts = {key: cell(value) for key, value in report.facts.items()}
    return environment.get_template("report.html.j2").render(report=report, facts=facts, created=created)


def write_html(report: HtmlReport, path: Path) -> Path:
    """Write the page to `path` (its folder must exist); returns `path`."""
    path = Path(path)
    path.write_text(render_html(report), encoding="utf-8")
    return path
