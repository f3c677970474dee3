"""The `train` command line: `train run --snapshot <id>` and `train inspect <bundle>`. Thin by design."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from featurestore.console import (
    DebugOpt,
    JsonOpt,
    StageProgress,
    StoreOpt,
    SyntheticOpt,
    out,
    parse_date_range,
    print_error,
    setup_logging,
)
from featurestore.errors import FeatureStoreError
from featurestore.report import funnel_from_dict, funnel_table, key_value_table
from featurestore.store import Store

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Train ENTRY_V10 / ENTRY_V10_CTX from snapshots."
)


def _fail(debug: bool, exc: Exception, code: int) -> None:
    if debug:
        raise exc
    print_error(exc)
    raise typer.Exit(code) from None


def filter_rates(report: dict[str, Any]) -> Group:
    """The snapshot's eligibility funnel and the trainer's own filters, as printed by `train run`."""
    stages = Table(title="Trainer filters", title_justify="left")
    for column in ("stage", "rows left", "share of bars"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for stage in report["trainer_stages"]:
        stages.add_row(stage["name"], f"{stage['remaining']:,}", f"{stage['share_of_bars']:.1%}")
    samples = key_value_table("Samples per split", report["samples"])
    return Group(funnel_table(funnel_from_dict(report["snapshot_funnel"])), stages, samples)


def metrics_table(rows: dict[str, dict[str, float]]) -> Table:
    from train.fitting.run import SUMMARY_COLUMNS

    table = Table(title="Metrics (model vs baselines)", title_justify="left")
    for column in ("split / head", *SUMMARY_COLUMNS.values()):
        table.add_column(column, justify="right")
    for name, m in rows.items():
        table.add_row(name, *(f"{m[k]:.4f}" for k in SUMMARY_COLUMNS))
    return table


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
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train a model from a validated snapshot and write a bundle."""
    setup_logging(debug)
    from train.fitting.config import load_run_config
    from train.fitting.fit import TrainingFailed
    from train.fitting.run import summary_metrics, train_run

    overrides = {
        "variant": variant,
        "seed": seed,
        "epochs": epochs,
        "max_train_rows": max_train_rows,
        "threads": threads,
    }
    try:
        run_config = load_run_config(config, overrides)
    except ValueError as exc:
        _fail(debug, exc, 2)
    name = out_name or f"{run_config.variant}_{snapshot[:8]}_seed{run_config.seed}"
    try:
        with StageProgress() as progress:
            result = train_run(
                Store.at(store), snapshot, run_config, name, on_stage=progress.stage, on_step=progress.step
            )
    except (FeatureStoreError, TrainingFailed, ValueError) as exc:
        _fail(debug, exc, getattr(exc, "exit_code", 1))
    if result.bundle_path is None:  # a torchrun rank other than 0: rank 0 reports
        return
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
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
    of every bar ending with the context-usage verdict."""
    setup_logging(debug)
    from featurestore.report import ingest_summary, materialize_summary, validate_summary
    from train.app.demo import run_full_demo
    from train.app.replay_view import replay_view
    from train.fitting.fit import TrainingFailed
    from train.fitting.run import summary_metrics

    try:
        with StageProgress() as progress:
            result = run_full_demo(
                Store.at(store), synthetic=synthetic, on_stage=progress.stage, on_step=progress.step
            )
    except (FeatureStoreError, TrainingFailed, ValueError) as exc:
        _fail(debug, exc, getattr(exc, "exit_code", 1))
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
        return
    fs = result.feature_store
    out.print(f"Demo on {fs.data_kind} data: {fs.source_file}", highlight=False)
    out.print(ingest_summary(fs.ingest))
    out.print(materialize_summary(fs.materialize))
    out.print(validate_summary(fs.validate))
    out.print(metrics_table(summary_metrics(result.metrics)))
    verb = "Trained" if result.bundle_created else "Existing"
    out.print(f"{verb} bundle: {result.bundle_path}   (inspect it with: train inspect {result.bundle_path})")
    out.print(replay_view(result.replay.summary, str(result.replay.report_dir)))


def _bundle_path(store: Store, given: Path) -> Path:
    """A bundle directory as given, or relative to the store (`bundles/<name>`), or a name in its bundles/."""
    for candidate in (given, store.root / given, store.bundles_dir / given):
        if (candidate / "metadata.json").is_file():
            return candidate
    known = sorted(p.name for p in store.bundles_dir.glob("*") if (p / "metadata.json").is_file())
    raise FeatureStoreError(
        f"no bundle at {given} (looked in ., {store.root} and {store.bundles_dir}); "
        f"bundles in this store: {', '.join(known) or 'none'} (train one with `train run`)"
    )


@app.command()
def replay(
    bundle: Annotated[Path, typer.Option(help="Bundle directory, or its name under the store's bundles/.")],
    snapshot: Annotated[str | None, typer.Option(help="Snapshot id: batch replay of its bars.")] = None,
    date_range: Annotated[
        str | None, typer.Option(help="UTC days, inclusive: 2025-09-01..2025-09-30 (required with --online).")
    ] = None,
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
    symbol: Annotated[str, typer.Option(help="Symbol for --online.")] = "XAUUSD",
    blocked_intervals: Annotated[
        Path | None, typer.Option(help="Killswitch intervals file for --online (as for fs materialize).")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Evaluate every bar as a live cycle would; print the perf summary and the context-usage verdict."""
    setup_logging(debug)
    from featurestore.materialize import read_blocked_intervals
    from train.app.replay_view import replay_view
    from train.evaluation.replay import ReplayConfig, replay_online, replay_snapshot

    if (snapshot is None) == (not online):
        _fail(debug, typer.BadParameter("give either --snapshot ID (batch) or --online --date-range"), 2)
    start, end = parse_date_range(date_range) if date_range else (None, None)
    the_store = Store.at(store)
    try:
        config = ReplayConfig(load_mode=mode, start=start, end=end, per_cycle=per_cycle)
        model = _bundle_path(the_store, bundle)
        base = _bundle_path(the_store, baseline) if baseline else None
        with StageProgress() as progress:
            progress.stage("replay: bar by bar" if online else "replay")
            if online:
                intervals = read_blocked_intervals(blocked_intervals) if blocked_intervals else ()
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
    except (FeatureStoreError, ValueError) as exc:
        _fail(debug, exc, getattr(exc, "exit_code", 2 if isinstance(exc, ValueError) else 1))
    if as_json:
        sys.stdout.write(json.dumps(result.summary, indent=2, default=str) + "\n")
        return
    out.print(replay_view(result.summary, str(result.report_dir)))


@app.command()
def evaluate(
    snapshot: Annotated[str, typer.Option(help="Snapshot id of a contract v2 snapshot (has realized_bps).")],
    folds: Annotated[int, typer.Option(help="Rolling-origin folds (docs/evaluate.md).")] = 4,
    variants: Annotated[str, typer.Option(help="Comma-separated: v10, v10_ctx.")] = "v10,v10_ctx",
    seeds: Annotated[int, typer.Option(help="Seeds per variant (only 1 is supported yet).")] = 1,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per fit (default 30).")] = None,
    max_train_rows: Annotated[
        int | None, typer.Option(help="Training samples per fold, most recent.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Training TOML; its splits are replaced by the folds.")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="2 folds, 1 epoch, 3000 training rows.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Walk-forward evaluation: retrain every variant per fold; metrics vs baselines and the trade table."""
    setup_logging(debug)
    from train.evaluation.walkforward import EvaluateConfig, evaluate_snapshot
    from train.fitting.config import load_run_config
    from train.fitting.fit import TrainingFailed

    if quick:
        folds, epochs, max_train_rows = 2, epochs or 1, max_train_rows or 3000
    try:
        if seeds != 1:
            raise ValueError("--seeds: only 1 seed per variant is supported yet")
        run_config = load_run_config(config, {"epochs": epochs, "max_train_rows": max_train_rows})
        evaluate_config = EvaluateConfig(
            n_folds=folds, variants=tuple(v.strip() for v in variants.split(","))
        )
    except ValueError as exc:
        _fail(debug, exc, 2)
    try:
        with StageProgress() as progress:
            report = evaluate_snapshot(
                Store.at(store), snapshot, run_config, evaluate_config, on_stage=progress.stage
            )
    except (FeatureStoreError, TrainingFailed, ValueError) as exc:
        _fail(debug, exc, getattr(exc, "exit_code", 1))
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
        return
    rows = {}
    for variant, pooled in report["pooled"].items():
        d = pooled["direction"]
        rows[f"{variant} pooled direction"] = f"AUC {d['auc']:.4f}  log loss {d['log_loss']:.4f}  n {d['n']}"
    if report["paired_log_loss"]:
        rows["v10_ctx - v10 log loss"] = f"{report['paired_log_loss']['pooled']['difference']:+.4f}"
    rows["report"] = report["report_dir"]
    out.print(key_value_table("Walk-forward evaluation (long only; realized_bps after spread cost)", rows))


@app.command("verify-fullyear")
def verify_fullyear(
    candles: Annotated[
        Path, typer.Option(help="A year of M5 candles (MT5 export, CSV, Parquet, OANDA JSON).")
    ],
    source_tz: Annotated[
        str | None, typer.Option(help="Time zone of naive timestamps: IANA name (EET), offset or UTC.")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="mt5, csv, parquet or oanda-json.")] = None,
    symbol: Annotated[str, typer.Option(help="Instrument symbol.")] = "XAUUSD",
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
    setup_logging(debug)
    from train.app.verify import VerifyConfig
    from train.app.verify import verify_fullyear as run_verification
    from train.evaluation.parity import ParityConfig
    from train.fitting.config import load_run_config
    from train.fitting.fit import TrainingFailed

    try:
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
    except ValueError as exc:
        _fail(debug, exc, 2)
    try:
        with StageProgress() as progress:
            result = run_verification(Store.at(store), verify_config, on_stage=progress.stage)
    except (FeatureStoreError, TrainingFailed, ValueError) as exc:
        _fail(debug, exc, getattr(exc, "exit_code", 1))
    if as_json:
        sys.stdout.write(json.dumps(result.report, indent=2, default=str) + "\n")
        return
    rows = {
        name: ("pass: " if i["passed"] else "FAIL: ") + i["detail"] for name, i in result.invariants.items()
    }
    out.print(key_value_table("Invariants", rows))
    for variant, run in result.report["training"].items():
        out.print(f"{variant}:", highlight=False)
        out.print(metrics_table(run["summary"]))
    usage = result.report["replay"]["context_usage"]
    out.print(f"Verdict: v10_ctx {usage['verdict']}: {usage['reason']}", highlight=False)
    out.print(f"Report: {result.report_dir / 'report.md'}", highlight=False)


@app.command()
def inspect(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory, e.g. fsdata/bundles/<name>.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print metadata as JSON.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Show a bundle's metadata, hashes, metrics and eligibility report, and verify its files."""
    from train.fitting.bundle import METADATA, load_entry_v10_bundle

    try:
        meta = json.loads((bundle / METADATA).read_text(encoding="utf-8"))
        loaded = load_entry_v10_bundle(bundle, variant=meta["variant"], mode="live")
    except (OSError, KeyError, json.JSONDecodeError, FeatureStoreError) as exc:
        _fail(debug, FeatureStoreError(f"{bundle}: not a readable bundle ({exc})"), 1)
    if as_json:
        sys.stdout.write(
            json.dumps(
                {**meta, "status": loaded.status, "problems": list(loaded.problems)}, indent=2, default=str
            )
            + "\n"
        )
        return
    from train.fitting.run import summary_metrics

    rows = {
        "status": loaded.status + ("" if not loaded.problems else ": " + "; ".join(loaded.problems)),
        "variant": meta["variant"],
        "supports_context_features": meta["supports_context_features"],
        "dims (seq / snap / ctx)": (
            f"{meta['seq_len']}x{meta['seq_dim']} / {meta['snap_dim']} / "
            f"{meta['ctx_cat_dim']}+{meta['ctx_cont_dim']}"
        ),
        "feature_contract_hash": meta["feature_contract_hash"],
        "full_contract_hash": meta["full_contract_hash"],
        "snapshot id": meta["snapshot_id"],
        "splits": json.dumps(meta["split_ranges"]),
        "seed": meta["seed"],
    }
    out.print(key_value_table(f"Bundle {bundle}", rows))
    out.print(filter_rates(meta["eligibility_report"]))
    out.print(metrics_table(summary_metrics(meta["metrics"])))


if __name__ == "__main__":
    app()
