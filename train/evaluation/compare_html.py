"""report.html of `train compare`: the verdict, the paired tables and the plots, one self-contained page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.evaluation.compare import BETTER, HEADS, INCONCLUSIVE
from validation.html_report import Figure, HtmlReport, Section, Table, Verdict, cell, write_html

REPORT_NAME = "report.html"


def interval_text(i: dict[str, Any] | None, signed: bool = False) -> str:
    if not i:
        return "n/a"
    f = "{:+.4f}" if signed else "{:.4f}"
    return f"{f.format(i['estimate'])} [{f.format(i['low'])}, {f.format(i['high'])}]"


def headline(record: dict[str, Any]) -> tuple[str, str]:
    d = record["pooled"]["direction"]["difference"]["log_loss"]
    kind = {BETTER: "pass", INCONCLUSIVE: "inconclusive"}.get(record["verdict"], "fail")
    text = (
        f"{record['verdict']}: B - A pooled direction log loss {interval_text(d, True)} "
        f"(n {d['n']} paired rows, {d['n_days']} days)"
    )
    return kind, text


def pooled_rows(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for head in HEADS:
        block = record["pooled"][head]
        for metric in ("log_loss", "auc"):
            rows.append(
                (
                    head,
                    metric,
                    interval_text(block["a"][metric]),
                    interval_text(block["b"][metric]),
                    interval_text(block["difference"][metric], True),
                    cell(block["a"][metric]["n"]),
                )
            )
    return rows


def fold_rows(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            f["fold"],
            f"{f['test'][0]}..{f['test'][1]}",
            cell(f["rows"]["paired"]),
            cell(f["rows"]["a_only"]),
            cell(f["rows"]["b_only"]),
            interval_text(f["direction"]["difference"]["log_loss"], True),
            interval_text(f["direction"]["difference"]["auc"], True),
            interval_text(f["early_move"]["difference"]["log_loss"], True),
        )
        for f in record["per_fold"]
    ]


def trade_section(record: dict[str, Any]) -> Section:
    trades = record["trades"]
    missing = ", ".join(s.upper() for s in trades["without_realized_bps"])
    paragraphs = [
        f"{trades['rules_tried']} entry rules were tried (and always-enter); no correction for trying "
        "several is applied: read the whole grid, not its best row.",
    ]
    if missing:
        paragraphs.append(f"Version {missing} has no realized_bps (its contract has none): no trade figures.")
    rows = []
    for d in trades["difference_mean_bps"] or []:
        rows.append((d["rule"], cell(d["trades_a"]), cell(d["trades_b"]), interval_text(d, True)))
    tables = (Table(("rule", "trades A", "trades B", "B - A mean realized_bps [95%]"), rows),) if rows else ()
    return Section("Trades at the documented rules (paired rows, long only)", paragraphs, tables)


def compare_report(record: dict[str, Any], report_dir: Path) -> HtmlReport:
    kind, text = headline(record)
    sections = [
        Section(
            "Pooled, paired (95% block-bootstrap intervals by trading day, the same days for A and B)",
            ["Every row is a fold's test block, which neither version's models trained or selected on."],
            (Table(("head", "metric", "A", "B", "B - A", "n"), pooled_rows(record)),),
        ),
        Section(
            "Per fold",
            ["Rows only one version predicted are left out of the paired figures; the counts say how many."],
            (
                Table(
                    (
                        "fold",
                        "test days",
                        "paired",
                        "A only",
                        "B only",
                        "B - A dir log loss",
                        "B - A dir AUC",
                        "B - A early log loss",
                    ),
                    fold_rows(record),
                ),
            ),
        ),
        trade_section(record),
        Section(
            "What could not be made the same",
            list(record["differences_noted"]) or ["Nothing: same rows, folds, seeds and configuration."],
        ),
        Section(
            "Plots", (), (), tuple(Figure.from_png(Path(report_dir) / n) for n in record["plots"].values())
        ),
        Section(
            "Fits",
            [f"{record['reused_fits']} of {len(record['fits'])} fits were reused from earlier runs."],
            (
                Table(
                    ("version", "fold", "seed", "reused", "key", "n", "seconds"),
                    [
                        (
                            f["version"].upper(),
                            f["fold"],
                            f["seed"],
                            cell(f["reused"]),
                            f["key"],
                            cell(f["n"]),
                            cell(f["seconds"]),
                        )
                        for f in record["fits"]
                    ],
                ),
            ),
        ),
    ]
    facts = {
        "A": f"{record['a']['id']} (contract {record['a']['contract']}, {record['a']['full_contract_hash']})",
        "B": f"{record['b']['id']} (contract {record['b']['contract']}, {record['b']['full_contract_hash']})",
        "shared range": " .. ".join(record["shared_range"]),
        "variant, seeds": f"{record['variant']}, {', '.join(map(str, record['seeds']))}",
        "seconds": record["seconds"],
    }
    return HtmlReport(
        title=f"Compare {record['a']['id'][:8]} (A) vs {record['b']['id'][:8]} (B)",
        verdict=Verdict(text, kind, record["intervals"]),
        sections=tuple(sections),
        facts=facts,
        json_name="record.json",
    )


def write_compare_html(record: dict[str, Any], report_dir: Path) -> Path:
    return write_html(compare_report(record, report_dir), Path(report_dir) / REPORT_NAME)
