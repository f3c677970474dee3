"""The verify-fullyear report: report.json (everything), report.md and report.html (readable), its PNGs.

The document is built once as a list of blocks (markdown text, `Table`, `Image`); `markdown` and `html`
render the same blocks, report.html with every plot inline (`validation.html_report`), so it opens alone.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from featurestore.api import Store
from train.evaluation.replay_tables import shares_text
from train.evaluation.telemetry import GROUPINGS
from train.fitting.run import SUMMARY_COLUMNS, summary_cell
from validation.html_report import Figure, HtmlReport, Section, Table, Verdict, write_html

HTML_NAME = "report.html"


@dataclass(frozen=True)
class Image:
    alt: str
    file: str  # beside the report


Block = str | Table | Image | list[Image]


def write_report(store: Store, report: dict[str, Any], replay_dir: Path, bundles: dict[str, Path]) -> Path:
    """Write the report into a new directory under the store's reports/ and return it."""
    stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M%S")
    out = store.reports_dir / f"verify-fullyear-{stamp}"
    out.mkdir(parents=True, exist_ok=False)
    for png in sorted(replay_dir.glob("*.png")):
        shutil.copyfile(png, out / png.name)
    for variant, bundle in bundles.items():
        for png in sorted((bundle / "plots").glob("*.png")):
            shutil.copyfile(png, out / f"{png.stem}_{variant}.png")
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    blocks = document(report, list(bundles))
    (out / "report.md").write_text(markdown(blocks), encoding="utf-8")
    write_html(html(report, blocks, out), out / HTML_NAME)
    return out


def _table(header: list[str], rows: list[list[Any]]) -> Table:
    return Table(header, rows)


def _markdown_table(table: Table) -> str:
    def line(cells: Any) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    head = [line(table.columns), "|" + "|".join("---" for _ in table.columns) + "|"]
    return "\n".join([*head, *(line(row) for row in table.rows)])


def markdown(blocks: list[Block]) -> str:
    """The document as Markdown, images by file name."""

    def text(block: Block) -> str:
        if isinstance(block, Table):
            return _markdown_table(block)
        if isinstance(block, Image):
            return f"![{block.alt}]({block.file})"
        if isinstance(block, list):
            return " ".join(text(image) for image in block)
        return block

    return "\n\n".join(text(block) for block in blocks) + "\n"


def html(report: dict[str, Any], blocks: list[Block], folder: Path) -> HtmlReport:
    """The document as one page: a section per heading, images from `folder` inline."""
    sections: list[Section] = []
    heading, paragraphs, tables, figures = "", [], [], []

    def close() -> None:
        if heading or paragraphs or tables or figures:
            sections.append(Section(heading, list(paragraphs), list(tables), list(figures)))

    for block in blocks[1:]:  # the first block is the title
        if isinstance(block, str) and block.startswith("#"):
            close()
            heading, paragraphs, tables, figures = _plain(block.lstrip("#").strip()), [], [], []
        elif isinstance(block, Table):
            tables.append(Table(block.columns, [[_plain(str(c)) for c in row] for row in block.rows]))
        elif isinstance(block, Image | list):
            images = block if isinstance(block, list) else [block]
            figures += [Figure.from_png(folder / image.file, image.alt) for image in images]
        else:
            paragraphs.append(_plain(block))
    close()
    usage = report["replay"]["context_usage"]
    failed = [name for name, i in report["invariants"].items() if not i["passed"]]
    passed = len(report["invariants"]) - len(failed)
    verdict = Verdict(
        "PASSED: every invariant holds" if report["passed"] else f"FAILED: {', '.join(failed)}",
        "pass" if report["passed"] else "fail",
        f"{passed} of {len(report['invariants'])} invariants hold; replay verdict: "
        f"{report['replay']['bundle']['variant']} {usage['verdict']}",
    )
    data = report["data"]
    facts = {
        "candles": data["file"],
        "usable days": " .. ".join(str(d) for d in data["usable_days"]),
        "snapshot": report["validation"]["snapshot_id"],
    }
    return HtmlReport("Full-year verification", verdict, sections, facts, "report.json")


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")


def _n(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def document(report: dict[str, Any], variants: list[str]) -> list[Block]:
    replay = report["replay"]
    verdict = replay["context_usage"]
    ingest = report["data"]["ingest"]
    parity = report["parity"]
    parts: list[Block] = [
        f"# Full-year verification: {'PASSED' if report['passed'] else 'FAILED'}",
        f"Data: `{report['data']['file']}` ({ingest['symbol']} {ingest['timeframe']}, source zone "
        f"{ingest['source_tz']}); usable days {report['data']['usable_days'][0]} .. "
        f"{report['data']['usable_days'][1]}; snapshot `{report['validation']['snapshot_id']}`.",
        f"**Verdict: {replay['bundle']['variant']} {verdict['verdict']}.** {verdict['reason']}.",
        "## Invariants",
        _table(
            ["invariant", "result", "detail"],
            [
                [name, "pass" if i["passed"] else "**FAIL**", i["detail"]]
                for name, i in report["invariants"].items()
            ],
        ),
        "## Ingest and eligibility funnel",
        _table(
            ["rows read", "accepted", "rejected", "new", "first bar (UTC)", "last bar (UTC)"],
            [
                [
                    _n(ingest["rows_read"]),
                    _n(ingest["rows_accepted"]),
                    _n(ingest["rows_rejected"]),
                    _n(ingest["rows_new"]),
                    ingest["first_ts"],
                    ingest["last_ts"],
                ]
            ],
        ),
        _table(
            ["stage", "rows left", "share of bars"],
            [
                [s["name"], _n(s["remaining"]), f"{s['share_of_bars']:.1%}"]
                for s in report["materialize"]["funnel"]["stages"]
            ],
        ),
        "## Validation and hashes",
        f"Validation: {json.dumps(report['validation']['validation'], default=str)}",
        _table(
            ["where", "feature_contract_hash", "full_contract_hash"],
            [
                [where, h["feature_contract_hash"], f"`{h['full_contract_hash'][:16]}...`"]
                for where, h in report["hashes"].items()
            ],
        ),
        "## Training (model against baselines)",
        "Splits: " + ", ".join(f"{k} {v[0]} .. {v[1]}" for k, v in report["splits"].items()) + ".",
    ]
    for variant, run in report["training"].items():
        parts.append(f"### {variant} ({run['epochs_run']} epochs, bundle `{run['bundle']}`)")
        parts.append(
            _table(
                ["split / head", *SUMMARY_COLUMNS.values()],
                [
                    [name.split(":")[0], *(summary_cell(m[k]) for k in SUMMARY_COLUMNS)]
                    for name, m in run["summary"].items()
                ],
            )
        )
    parts.append([Image(f"loss curves {v}", f"loss_curves_{v}.png") for v in variants])
    parts.append([Image(f"calibration {v}", f"calibration_{v}.png") for v in variants])
    parts += _replay_section(replay)
    parts += [
        "## Online/offline parity",
        f"{parity['bars']} random bars ({parity['predicted_bars']} predicted): "
        f"{parity['feature_mismatches']} feature mismatches over {parity['feature_columns']} columns "
        f"(max relative difference {parity['max_rel_diff_features']:.1e}, tolerance "
        f"{parity['config']['feature_rtol']:g}); online p_long vs batch replay max |diff| "
        f"{parity['max_abs_diff_p_long']:.1e} (tolerance {parity['config']['p_long_atol']:g}); "
        f"{parity['predicted_status_differs']} bars predicted on one side only. Online cycle (featurize "
        f"+ predict): median {parity['per_bar_ms']['median']:.0f} ms, "
        f"p99 {parity['per_bar_ms']['p99']:.0f} ms.",
        *(f"- {m}" for m in parity["first_mismatches"]),
        "## Timings",
        _table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in report["timings_s"].items()]),
    ]
    return parts


def _replay_section(replay: dict[str, Any]) -> list[Block]:
    funnel = replay["funnel"]
    parts: list[Block] = [
        "## Replay telemetry (batch, the test split: out-of-sample)",
        f"Scored: {replay['source']['selection']}, {replay['range'][0]} .. {replay['range'][1]}.",
        _table(
            ["cycles", "hard-eligible", "eligible", "predicted", "eligible rate", "in-sample share"],
            [
                [
                    _n(funnel["cycles"]),
                    _n(funnel["hard_eligible"]),
                    _n(funnel["eligible"]),
                    _n(funnel["predicted"]),
                    f"{funnel['eligible_rate']:.1%}",
                    shares_text(replay["in_sample"]["shares"]),
                ]
            ],
        ),
        Image("eligibility funnel", "eligibility_funnel.png"),
    ]
    summaries = {"model": replay, "baseline": replay["baseline"]}
    for name in GROUPINGS:
        rows = []
        for bucket, d in replay[f"p_long_by_{name}"].items():
            base = replay["baseline"][f"p_long_by_{name}"][bucket]
            rows.append([bucket, _n(d["n"]), _n(d["mean"]), _n(d["std"]), _n(base["mean"]), _n(base["std"])])
        parts += [
            f"### p_long by {name.replace('_', ' ')}",
            _table(["bucket", "n", "mean v10_ctx", "std v10_ctx", "mean v10", "std v10"], rows),
            Image(f"p_long by {name}", f"p_long_by_{name}.png"),
        ]
    side = replay["comparison"]["side_by_side"]
    keys = [k for k in side["model"] if k != "variant"]
    parts += [
        "### Context usage (A/B)",
        _table(
            ["", *(f"{r} ({s['variant']})" for r, s in side.items())],
            [[k, *(_cell(side[r][k]) for r in side)] for k in keys],
        ),
        "Benefit of v10_ctx over v10 on the same held-out cycles (paired log loss v10_ctx - v10, 95% "
        "interval from a block bootstrap by trading day; negative favours v10_ctx): "
        + "; ".join(
            f"{head} {b['estimate']:+.4f} [{b['low']:+.4f}, {b['high']:+.4f}] (n = {b['n']:,})"
            for head, b in (replay["comparison"]["benefit_model_minus_baseline"] or {}).items()
        ),
        _table(
            ["head", "AUC diff", "log loss diff", "Brier diff"],
            [
                [head, *(f"{d[k]:+.4f}" for k in ("auc", "log_loss", "brier"))]
                for head, d in replay["comparison"]["test_metric_diff_model_minus_baseline"].items()
            ],
        ),
        "Verdict per model: "
        + "; ".join(
            f"{r}: {s['context_usage']['verdict']} ({s['context_usage']['reason']})"
            for r, s in summaries.items()
        ),
        Image("p_long and the ablation", "p_long_ablation.png"),
    ]
    return parts


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else _n(value)
