"""The `train` command line: `train run --snapshot <id>`, `replay`, `verify-fullyear`, `inspect`, `demo`.

Thin by design: each command parses, calls one library function inside `cli_errors` (the error layer it
shares with `fs`) and prints a summary. torch, pyarrow, DuckDB and GE are imported inside the commands, so
`train --help` stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from featurestore.app.console import (
    DEFAULT_SYMBOL,
    BlockedOpt,
    DebugOpt,
    JsonOpt,
    StageProgress,
    StoreOpt,
    SymbolOpt,
    SyntheticOpt,
    cli_errors,
    emit_json,
    err,
    out,
    parse_date_range,
    store_at,
)
from train.app.bundle_path import bundle_path
from train.app.compare_cli import compare
from train.app.grid_options import SchedulerOpt, ShipSnapshotOpt, ThreadsPerWorkerOpt, WorkersOpt, grid_engine
from train.app.live_cli import live_app

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Train ENTRY_V10 / ENTRY_V10_CTX from snapshots."
)
app.add_typer(live_app, name="live")


@app.command()
def run(
    snapshot: Annotated[str, typer.Option(help="Snapshot id (see `fs snapshots list`).")],
    variant: Annotated[str | None, typer.Option(help="v10 or v10_ctx (default v10_ctx).")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML config; CLI options override it.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs (default 30).")] = None,
    max_train_rows: Annotated[int | None, typer.Option(help="Cap on training samples (most recent).")] = None,
    out_name: Annotated[
        str | None, typer.Option("--out", help="Bundle directory name under the store's bundles/.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 1337).")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu (default) or cuda.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train a model from a validated snapshot and write a bundle."""
    with cli_errors(debug):
        from train.app.run_view import filter_rates, metrics_table
        from train.fitting.config import load_run_config
        from train.fitting.run import summary_metrics, train_run

        overrides = {
            "variant": variant,
            "seed": seed,
            "epochs": epochs,
            "max_train_rows": max_train_rows,
            "threads": threads,
            "device": device,
        }
        run_config = load_run_config(config, overrides)
        name = out_name or f"{run_config.variant}_{snapshot[:8]}_seed{run_config.seed}"
        with StageProgress() as progress:
            result = train_run(
                store_at(store), snapshot, run_config, name, on_stage=progress.stage, on_step=progress.step
            )
        if result.bundle_path is None:  # a torchrun rank other than 0: rank 0 reports
            return
        if as_json:
            emit_json(result.to_dict())
            return
        out.print(filter_rates(result.filter_report))
        out.print(metrics_table(summary_metrics(result.metrics)))
        out.print(
            f"Bundle: {result.bundle_path}  ({len(result.history)} epochs, "
            f"best {result.metrics['best_epoch']}, {result.seconds:.0f} s)"
        )


@app.command()
def demo(
    synthetic: SyntheticOpt = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The main job: ingest, materialize, validate (snapshot + data docs), a small training run, then a replay
    of the bundle's test split ending with the context-usage verdict."""
    with cli_errors(debug):
        from featurestore.app.demo import SYNTHETIC_NOTICE, choose_demo_data
        from featurestore.app.report import ingest_summary, materialize_summary, validate_summary
        from train.app.demo import run_full_demo
        from train.app.replay_view import replay_view
        from train.app.run_view import metrics_table
        from train.fitting.run import summary_metrics

        data = choose_demo_data(store_at(store), synthetic=synthetic)
        if not as_json:
            out.print(data.describe(), highlight=False)
        with StageProgress() as progress:
            result = run_full_demo(store_at(store), data, on_stage=progress.stage, on_step=progress.step)
        if as_json:
            emit_json(result.to_dict())
            return
        fs = result.feature_store
        out.print(ingest_summary(fs.ingest))
        out.print(materialize_summary(fs.materialize))
        out.print(validate_summary(fs.validate), soft_wrap=True)
        out.print(metrics_table(summary_metrics(result.metrics)))
        verb = "Trained" if result.bundle_created else "Existing"
        out.print(
            f"{verb} bundle: {result.bundle_path}   (inspect it with: train inspect {result.bundle_path})"
        )
        out.print(data.describe(), highlight=False)
        if data.kind == "synthetic":
            out.print(SYNTHETIC_NOTICE, highlight=False)
        out.print(replay_view(result.replay.summary, str(result.replay.report_html)), soft_wrap=True)


@app.command()
def replay(
    bundle: Annotated[Path, typer.Option(help="Bundle directory, or its name under the store's bundles/.")],
    snapshot: Annotated[str | None, typer.Option(help="Snapshot id: batch replay of its bars.")] = None,
    date_range: Annotated[
        str | None,
        typer.Option(
            help="UTC days, inclusive: 2025-09-01..2025-09-30 (narrows a batch replay; needed with --online)."
        ),
    ] = None,
    all_bars: Annotated[
        bool,
        typer.Option(
            "--all-bars", help="Batch: score every bar of the snapshot, not only the bundle's test split."
        ),
    ] = False,
    online: Annotated[
        bool, typer.Option("--online", help="Featurize bar by bar from the stored candles, as live.")
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option(help="A second bundle (e.g. v10) replayed on the same bars for A/B.")
    ] = None,
    mode: Annotated[
        str, typer.Option(help="replay: any bundle mismatch is an error; live: warn and mark degraded.")
    ] = "replay",
    per_cycle: Annotated[
        bool, typer.Option("--per-cycle", help="Also write every cycle's p_long per bucket.")
    ] = False,
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    blocked: BlockedOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Evaluate bars as a live cycle would (batch: the bundle's test split unless --all-bars); print the perf
    summary, the in-sample shares and the context-usage verdict."""
    if (snapshot is None) == (not online):
        raise typer.BadParameter("give either --snapshot ID (batch) or --online --date-range")
    if online and all_bars:
        raise typer.BadParameter("--all-bars is for batch replay; online replay scores its --date-range")
    start, end = parse_date_range(date_range) if date_range else (None, None)
    with cli_errors(debug):
        from featurestore.api import read_blocked_intervals
        from train.app.replay_view import replay_view
        from train.evaluation.replay import ReplayConfig, replay_online, replay_snapshot

        the_store = store_at(store)
        config = ReplayConfig(load_mode=mode, start=start, end=end, all_bars=all_bars, per_cycle=per_cycle)
        model = bundle_path(the_store, bundle)
        base = bundle_path(the_store, baseline) if baseline else None
        intervals = read_blocked_intervals(blocked) if blocked else ()
        with StageProgress() as progress:
            progress.stage("replay: bar by bar" if online else "replay")
            if online:
                result = replay_online(
                    the_store,
                    model,
                    config,
                    symbol=symbol,
                    blocked_intervals=intervals,
                    baseline_path=base,
                    on_bar=progress.count,
                )
            else:
                result = replay_snapshot(the_store, model, str(snapshot), config, baseline_path=base)
        if as_json:
            emit_json(result.summary)
            return
        out.print(replay_view(result.summary, str(result.report_html)), soft_wrap=True)  # paths stay whole


@app.command()
def evaluate(
    snapshot: Annotated[str, typer.Option(help="Snapshot id of a contract v2 snapshot (has realized_bps).")],
    folds: Annotated[int, typer.Option(help="Rolling-origin folds (docs/evaluate.md).")] = 4,
    variants: Annotated[str, typer.Option(help="Comma-separated: v10, v10_ctx.")] = "v10,v10_ctx",
    seeds: Annotated[
        int, typer.Option(help="Fits per variant and fold, seeds S, S+1, ... (the same for every variant).")
    ] = 1,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per fit (evaluate's default 6).")] = None,
    patience: Annotated[
        int | None, typer.Option(help="Early-stopping patience in epochs (evaluate's default 2).")
    ] = None,
    max_train_rows: Annotated[
        int | None, typer.Option(help="Training samples per fold, most recent.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Training TOML; its splits are replaced by the folds.")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="A few minutes: 2 folds, 1 epoch, 3000 training rows, 50-tree base model."
        ),
    ] = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    threads_per_worker: ThreadsPerWorkerOpt = None,
    ship_snapshot: ShipSnapshotOpt = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Walk-forward evaluation: retrain every variant per fold; metrics vs baselines and the trade table."""
    with cli_errors(debug):
        from train.app.evaluate_progress import EvaluateProgress
        from train.app.evaluate_view import print_evaluate_summary
        from train.evaluation.walkforward import (
            QUICK_FOLDS,
            EvaluateConfig,
            evaluate_run_config,
            evaluate_snapshot,
        )

        overrides = {"epochs": epochs, "early_stop_patience": patience, "max_train_rows": max_train_rows}
        run_config = evaluate_run_config(config, overrides, quick=quick)
        evaluate_config = EvaluateConfig(
            n_folds=QUICK_FOLDS if quick else folds,
            variants=tuple(v.strip() for v in variants.split(",")),
            seeds=seeds,
        )
        grid = {"engine": grid_engine(workers, scheduler, threads_per_worker, ship_snapshot)}
        if as_json:  # stdout is the JSON, stderr stays quiet
            emit_json(evaluate_snapshot(store_at(store), snapshot, run_config, evaluate_config, **grid))
            return
        with EvaluateProgress(err) as progress:
            grid |= {"on_stage": progress.stage, "on_step": progress.step}
            report = evaluate_snapshot(store_at(store), snapshot, run_config, evaluate_config, **grid)
        print_evaluate_summary(out, report)


@app.command("verify-fullyear")
def verify_fullyear(
    candles: Annotated[
        Path, typer.Option(help="A year of M5 candles (MT5 export, CSV, Parquet, OANDA JSON).")
    ],
    source_tz: Annotated[
        str | None, typer.Option(help="Time zone of naive timestamps: IANA name (EET), offset or UTC.")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="mt5, csv, parquet or oanda-json.")] = None,
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    config: Annotated[
        Path | None, typer.Option(help="Training TOML (as for train run; its splits are replaced).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per variant (default 3).")] = None,
    max_train_rows: Annotated[
        int | None, typer.Option(help="Training samples per variant, most recent (default 6000).")
    ] = None,
    parity_bars: Annotated[int, typer.Option(help="Random bars for the online/offline parity check.")] = 500,
    seed: Annotated[int | None, typer.Option(help="Training seed (default 1337).")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """End to end on a year of candles: ingest, materialize, validate, train, replay, parity; exit 9 if an
    invariant fails. Writes a Markdown + JSON report with plots."""
    with cli_errors(debug):
        from featurestore.app.report import key_value_table
        from train.app.run_view import metrics_table
        from train.app.verify import VerifyConfig
        from train.app.verify import verify_fullyear as run_verification
        from train.evaluation.parity import ParityConfig
        from train.fitting.config import load_run_config

        small = {"epochs": 3, "max_train_rows": 6000} if config is None else {}  # minutes on 2 cores
        given = {"epochs": epochs, "max_train_rows": max_train_rows, "seed": seed}
        training = load_run_config(config, {**small, **{k: v for k, v in given.items() if v is not None}})
        verify_config = VerifyConfig(
            candles=candles,
            source_tz=source_tz,
            fmt=fmt,
            symbol=symbol,
            training=training,
            parity=ParityConfig(bars=parity_bars),
        )
        with StageProgress() as progress:
            result = run_verification(store_at(store), verify_config, on_stage=progress.stage)
        if as_json:
            emit_json(result.report)
            return
        rows = {
            name: ("pass: " if i["passed"] else "FAIL: ") + i["detail"]
            for name, i in result.invariants.items()
        }
        out.print(key_value_table("Invariants", rows))
        for variant, run in result.report["training"].items():
            out.print(f"{variant}:", highlight=False)
            out.print(metrics_table(run["summary"]))
        usage = result.report["replay"]["context_usage"]
        out.print(f"Verdict: v10_ctx {usage['verdict']}: {usage['reason']}", highlight=False)
        out.print(
            f"Report (opens offline): {result.report_dir / 'report.html'}", highlight=False, soft_wrap=True
        )


@app.command()
def inspect(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory, or its name under the store's bundles/.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show a bundle's metadata, hashes, metrics and eligibility report, and verify its files."""
    with cli_errors(debug):
        from featurestore.app.report import key_value_table
        from schemas.bundle_metadata import BundleMetadataError, read_bundle_metadata
        from train.app.run_view import filter_rates, metrics_table
        from train.fitting.bundle import BundleMismatch, load_entry_v10_bundle
        from train.fitting.run import summary_metrics

        path = bundle_path(store_at(store), bundle)
        try:
            meta = read_bundle_metadata(path)
        except BundleMetadataError as exc:
            raise BundleMismatch(path, [str(exc)]) from None
        loaded = load_entry_v10_bundle(path, variant=meta.variant, mode="live")
        if as_json:
            emit_json({**meta.to_dict(), "status": loaded.status, "problems": list(loaded.problems)})
            return
        rows = {
            "status": loaded.status + ("" if not loaded.problems else ": " + "; ".join(loaded.problems)),
            "variant": meta.variant,
            "supports_context_features": meta.supports_context_features,
            "dims (seq / snap / ctx)": (
                f"{meta.seq_len}x{meta.seq_dim} / {meta.snap_dim} / {meta.ctx_cat_dim}+{meta.ctx_cont_dim}"
            ),
            "contract": f"{meta.contract_version} (feature {meta.feature_contract_hash}, "
            f"full {meta.full_contract_hash})",
            "snapshot id": meta.snapshot_id,
            "splits": json.dumps(meta.split_ranges),
            "base model fitted on": " .. ".join(meta.base_model_span) or "no rows",
            "seeds": f"torch {meta.seeds.torch}, base model {meta.seeds.base_model}",
            "hybrid channels": f"EMA span {meta.hybrid.ema_span}, window {meta.hybrid.ema_window}",
        }
        out.print(key_value_table(f"Bundle {path}", rows))
        out.print(filter_rates(meta.eligibility_report))
        out.print(metrics_table(summary_metrics(meta.metrics)))



app.command()(compare)

if __name__ == "__main__":
    app()
