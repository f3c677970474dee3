"""`train live report`: one offline HTML page (and its JSON) on a live journal: the decisions, their lag,
the parity audit against the batch path, drift alarms, and what the source did (rejected rows, rewrites,
revised bars).

Usage::

    result = live_report(Store.at("fsdata"), Path("fsdata/live/XAUUSD-demo"), bundle=None)
    result.summary["parity"]["mismatches"], result.report_dir / "report.html"
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from featurestore.api import Store
from featurestore.errors import InputError
from train.evaluation.live_audit import audit_decisions
from train.serving.journal import Decision, read_journal
from train.serving.live_decide import bundle_id_of, load_live_bundle
from validation.html_report import HtmlReport, Section, Table, Verdict, cell, write_html

LAST_SHOWN = 30


@dataclass(frozen=True)
class LiveReport:
    summary: dict[str, Any]
    report_dir: Path


def live_report(store: Store, journal: Path, bundle: Path | None) -> LiveReport:
    """Audit and summarize the journal in `journal` (its bundle: `bundle`, else the one it names in the
    store's bundles/), and write `summary.json` and `report.html` under the store's reports/."""
    decisions, events, meta = read_journal(journal)
    bundle_id = meta.get("bundle_id") or (decisions[-1].bundle_id if decisions else None)
    if bundle_id is None:
        raise InputError(
            journal, "the journal names no bundle yet", fix="let `train live` decide a bar first"
        )
    path = bundle or store.bundles_dir / bundle_id.split("@")[0]
    loaded = load_live_bundle(path)
    ours = [d for d in decisions if d.bundle_id == bundle_id]
    revised = [e["ts"] for e in events if e["kind"] == "revised" and e["ts"]]
    summary = {
        "journal": str(journal),
        "source": meta.get("source"),
        "bundle_id": bundle_id,
        "bundle_used": bundle_id_of(path),
        "decisions": _decision_summary(ours),
        "parity": audit_decisions(store, loaded, ours, revised_ts=revised),
        "drift": _last(events, "drift"),
        "drift_unavailable": _last(events, "drift_unavailable"),
        "source_events": dict(Counter(e["kind"] for e in events if e["kind"] != "drift")),
        "rejected_rows": [{"ts": e["ts"], **e["detail"]} for e in events if e["kind"] == "rejected"][:50],
        "revised_bars": revised[:50],
    }
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = store.reports_dir / f"live-{journal.name}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    write_html(_page(summary, ours), out / "report.html")
    return LiveReport(summary, out)


def _decision_summary(decisions: list[Decision]) -> dict[str, Any]:
    lags = np.array([d.lag_s for d in decisions]) if decisions else np.array([0.0])
    p_long = np.array([d.p_long for d in decisions if d.predicted and d.p_long is not None])
    return {
        "n": len(decisions),
        "first": decisions[0].ts if decisions else None,
        "last": decisions[-1].ts if decisions else None,
        "predicted": sum(d.predicted for d in decisions),
        "late": sum(d.late for d in decisions),
        "degraded": sum(d.degraded for d in decisions),
        "by_reason": dict(Counter(d.reason for d in decisions).most_common()),
        "lag_s": {"median": float(np.median(lags)), "p99": float(np.quantile(lags, 0.99))},
        "p_long": {
            "n": int(p_long.size),
            "mean": float(p_long.mean()) if p_long.size else None,
            "p05": float(np.quantile(p_long, 0.05)) if p_long.size else None,
            "p95": float(np.quantile(p_long, 0.95)) if p_long.size else None,
        },
    }


def _last(events: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = [e for e in events if e["kind"] == kind]
    return None if not found else {"at": found[-1]["at"], **found[-1]["detail"]}


def _page(summary: dict[str, Any], decisions: list[Decision]) -> HtmlReport:
    parity, counts = summary["parity"], summary["decisions"]
    verdict = Verdict(
        "live decisions equal the batch path" if parity["passed"] else "parity mismatches found",
        "pass" if parity["passed"] else "fail",
        f"{parity['compared']:,} of {parity['bars']:,} journaled bars recomputed; {parity['mismatches']} "
        f"mismatches; {parity['revised_by_source']} revised by the source; max |dp_long| "
        f"{parity['max_abs_diff_p_long']:.2e}",
    )
    drift = summary["drift"] or {}
    alarms = drift.get("alarms") or drift.get("largest", [])
    sections = [
        Section(
            "Decisions", tables=[Table.from_mapping({k: v for k, v in counts.items() if k != "by_reason"})]
        ),
        Section("Eligibility reasons", tables=[Table(["reason", "bars"], list(counts["by_reason"].items()))]),
        Section(
            "Parity audit",
            paragraphs=["Each journaled bar recomputed from the stored candles with the batch path."],
            tables=[
                Table.from_mapping({k: v for k, v in parity.items() if not isinstance(v, list)}),
                Table(["first mismatches"], [[m] for m in parity["first_mismatches"]] or [["none"]]),
            ],
        ),
        Section(
            "Drift",
            paragraphs=[
                f"Last check: {drift.get('at', 'none yet')}; window {drift.get('window', '-')} bars."
            ],
            tables=[
                Table(
                    ["input", "PSI", "threshold", "alarm"],
                    [[a["input"], cell(a["psi"]), cell(a["threshold"]), cell(a["alarm"])] for a in alarms]
                    or [["-", "-", "-", "-"]],
                )
            ],
        ),
        Section("Source events", tables=[Table.from_mapping(summary["source_events"] or {"none": 0})]),
        Section(
            f"Last {LAST_SHOWN} decisions",
            tables=[
                Table(
                    ["bar (UTC)", "reason", "p_long", "lag s", "late", "flags"],
                    [
                        [d.ts, d.reason, cell(d.p_long), cell(d.lag_s), cell(d.late), ", ".join(d.flags)]
                        for d in decisions[-LAST_SHOWN:]
                    ],
                )
            ],
        ),
    ]
    facts = {"journal": summary["journal"], "source": summary["source"], "bundle": summary["bundle_id"]}
    return HtmlReport("Live journal", verdict, sections, facts, "summary.json")
