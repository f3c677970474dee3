"""`train compare`: two snapshots (contract versions) on the same walk-forward folds, and its records.

Registered on the `train` app by `train/app/cli.py`. Thin: parses, calls `compare_snapshots` (or
`list_records` under ``--list``) inside `cli_errors`, prints the summary. The libraries load inside the
command, so `train --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from featurestore.app.console import DebugOpt, JsonOpt, StoreOpt, cli_errors, emit_json, err, out, store_at


def compare(
    snapshots: Annotated[
        str | None, typer.Option(help="A,B: the baseline snapshot id, then the new version's (same symbol).")
    ] = None,
    list_records: Annotated[
        bool, typer.Option("--list", help="List past decision records, newest first.")
    ] = False,
    variant: Annotated[str, typer.Option(help="v10 or v10_ctx (the same for both versions).")] = "v10_ctx",
    folds: Annotated[int, typer.Option(help="Rolling-origin folds on the range both cover.")] = 4,
    seeds: Annotated[int, typer.Option(help="Fits per version and fold, seeds S, S+1, ...")] = 1,
    config: Annotated[
        Path | None, typer.Option(help="Training TOML; its splits are replaced by the folds.")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="2 folds, 1 epoch, 3000 training rows, 50-tree base model."),
    ] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Is B better than A out of sample? Paired walk-forward comparison, intervals and a decision record."""
    with cli_errors(debug):
        from featurestore.app.report import key_value_table
        from train.evaluation.compare_record import list_records as records

        if list_records:
            rows = records(store_at(store))
            if as_json:
                emit_json(rows)
                return
            for row in rows:
                out.print(" · ".join(f"{k} {v}" for k, v in row.items()), highlight=False, soft_wrap=True)
            if not rows:
                out.print("No decision records yet (run `train compare --snapshots A,B`).")
            return
        from train.evaluation.compare_run import CompareConfig, compare_snapshots
        from train.evaluation.walkforward import QUICK_FOLDS, evaluate_run_config

        ids = [s.strip() for s in (snapshots or "").split(",") if s.strip()]
        if len(ids) != 2:
            raise ValueError(f"--snapshots needs two ids, A,B (baseline first); got {snapshots!r}")
        run_config = evaluate_run_config(config, {}, quick=quick)
        settings = CompareConfig(n_folds=QUICK_FOLDS if quick else folds, variant=variant, seeds=seeds)

        def progress(i: int, total: int, spec: Any, reused: bool) -> None:
            if not as_json:
                what = "reused" if reused else "fitting"
                err.print(
                    f"[{i + 1}/{total}] {spec.snapshot_id[:8]} fold {spec.fold.index} seed "
                    f"{spec.config.seed}: {what}",
                    highlight=False,
                )

        record = compare_snapshots(store_at(store), ids[0], ids[1], run_config, settings, on_fit=progress)
        if as_json:
            emit_json(record)
            return
        out.print(
            key_value_table("Compare (B - A on paired rows; 95% intervals by trading day)", _rows(record))
        )
        out.print(f"Report (opens offline): {record['report_html']}", highlight=False, soft_wrap=True)


def _rows(record: dict[str, Any]) -> dict[str, str]:
    def text(i: dict[str, Any]) -> str:
        return f"{i['estimate']:+.4f} [{i['low']:+.4f}, {i['high']:+.4f}]"

    pooled = record["pooled"]
    rows = {
        "A": f"{record['a']['id'][:12]} (contract {record['a']['contract']})",
        "B": f"{record['b']['id'][:12]} (contract {record['b']['contract']})",
        "paired rows": f"{pooled['rows']['paired']} (A only {pooled['rows']['a_only']}, "
        f"B only {pooled['rows']['b_only']})",
    }
    for head in ("direction", "early_move"):
        for metric in ("log_loss", "auc"):
            rows[f"B - A {head} {metric}"] = text(pooled[head]["difference"][metric])
    for fold in record["per_fold"]:
        rows[f"fold {fold['fold']} B - A dir log loss"] = text(fold["direction"]["difference"]["log_loss"])
    rows["verdict (direction log loss)"] = record["verdict"]
    for side in ("a", "b"):
        table = record["trades"][side]
        rows[f"{side.upper()} entry rules (SPA)"] = (
            table["rule_family_headline"] if table else "no realized_bps in this version: no trade test"
        )
    rows["fits reused"] = f"{record['reused_fits']} of {len(record['fits'])}"
    rows["seconds"] = f"{record['seconds']:.0f}"
    return rows
