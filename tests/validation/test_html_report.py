"""validation.html_report: one self-contained page, escaped, plots inline."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from tests.html_checks import assert_self_contained_report  # noqa: E402
from validation.html_report import (  # noqa: E402
    Figure,
    HtmlReport,
    Section,
    Table,
    Verdict,
    cell,
    png_of,
    write_html,
)


def a_plot() -> Figure:
    figure, axes = plt.subplots()
    axes.plot([0, 1], [0, 1])
    return Figure(png_of(figure), "a <line>")


def test_a_page_holds_verdict_tables_and_inline_plots(tmp_path: Path) -> None:
    report = HtmlReport(
        "Report <x>",
        Verdict("inconclusive: too few rows", "inconclusive", "n = 12, CI [0.1, 0.9]"),
        [Section("Numbers", ["why & how"], [Table(("a", "b"), [("<b>x</b>", cell(1234567))])], [a_plot()])],
        {"rows": 12},
        "report.json",
    )
    page = assert_self_contained_report(write_html(report, tmp_path / "report.html"), "inconclusive: too few")
    assert "n = 12, CI [0.1, 0.9]" in page and "1,234,567" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page  # cells are escaped
    assert 'href="report.json"' in page and "verdict-inconclusive" in page


def test_the_page_check_catches_a_network_reference(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    figure = a_plot()
    page.write_text(f'<img src="{figure.data_uri}"> ok <img src="https://example.org/x.png">')
    with pytest.raises(AssertionError, match="references the network"):
        assert_self_contained_report(page, "ok")


def test_only_png_figures_and_known_verdict_kinds() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        _ = Figure(b"GIF89a...", "gif").data_uri
    with pytest.raises(ValueError, match="verdict kind"):
        Verdict("fine", "great")


def test_cells() -> None:
    assert [cell(None), cell(True), cell(3), cell(0.5), cell(1e-5), cell([1, 2.5])] == [
        "-",
        "yes",
        "3",
        "0.5000",
        "1e-05",
        "1, 2.5000",
    ]
