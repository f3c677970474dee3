"""The `fs` command line. Thin: parse options, call one library function, print a summary.

Heavy libraries (torch, Great Expectations) are never imported on this path, so `fs --help` is instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

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
    out,
    parse_date_range,
    print_warning,
    store_at,
)
from featurestore.app.contract_check_cli import register as register_contract_check
from featurestore.app.contract_cli import ContractsOpt, contract_app, use_contracts

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="XAUUSD feature store: ingest, materialize."
)
app.add_typer(contract_app, name="contract")
register_contract_check(contract_app)

DateRangeOpt = Annotated[str, typer.Option(help="UTC days, inclusive: 2025-02-01..2025-10-27.")]
ContractOpt = Annotated[
    str | None, typer.Option("--contract", help="Contract version (v1, v2 or a user version); see README.")
]


def _run(debug: bool, action: Callable[[], Any]) -> Any:
    """Run `action` inside the one error layer of both CLIs (`featurestore.app.console.cli_errors`)."""
    with cli_errors(debug):
        return action()



@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="Candle file: MT5 export, CSV, Parquet or OANDA v20 JSON.")],
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    fmt: Annotated[
        str | None, typer.Option("--format", help="mt5, csv, parquet or oanda-json (default: detect).")
    ] = None,
    source_tz: Annotated[
        str | None,
        typer.Option(help="Time zone of naive timestamps: IANA name (EET), fixed offset (+02:00) or UTC."),
    ] = None,
    point_size: Annotated[float | None, typer.Option(help="Price of one spread point (XAUUSD 0.01).")] = None,
    timeframe: Annotated[
        str | None, typer.Option(help="State the timeframe (M5, H1, ...); default: infer.")
    ] = None,
    max_reject_share: Annotated[
        float, typer.Option(help="Exit non-zero above this share of rejected rows.")
    ] = 0.01,
    on_conflict: Annotated[
        str, typer.Option(help="When bars differ from stored ones: refuse, keep-existing or replace.")
    ] = "refuse",
    assume_spread: Annotated[
        float | None, typer.Option(help="Spread in points for sources without one (stated, never guessed).")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Ingest a candle file into the store (UTC, checked, bad rows kept in candles_rejected)."""
    from featurestore.app.report import ingest_summary
    from featurestore.ingest.ingest_file import IngestOptions, ingest_file

    try:
        options = IngestOptions(
            symbol=symbol,
            fmt=fmt,
            source_tz=source_tz,
            point_size=point_size,
            timeframe=timeframe,
            max_reject_share=max_reject_share,
            on_conflict=on_conflict,
            assume_spread_points=assume_spread,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    def action() -> None:
        from featurestore.errors import RejectThresholdError

        try:
            result = ingest_file(store_at(store), path, options)
        except RejectThresholdError as exc:
            _show(exc.result, as_json, ingest_summary)
            raise
        _show(result, as_json, ingest_summary)

    _run(debug, action)


@app.command()
def materialize(
    date_range: DateRangeOpt,
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    timeframe: Annotated[str, typer.Option(help="Bar timeframe the contract is defined on.")] = "M5",
    blocked: BlockedOpt = None,
    contract: ContractOpt = None,
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compute context, sequence and snapshot features, eligibility and labels for a date range."""
    from featurestore.app.report import materialize_summary
    from featurestore.compute.materialize import MaterializeConfig, materialize, read_blocked_intervals
    from featurestore.store.versions import named_contract
    from schemas.versions import DEFAULT_VERSION

    start, end = parse_date_range(date_range)
    use_contracts(contracts)

    def action() -> None:
        intervals = read_blocked_intervals(blocked) if blocked is not None else ()
        config = MaterializeConfig(symbol, start, end, timeframe, intervals)
        chosen = named_contract(contract or DEFAULT_VERSION)
        with StageProgress() as progress:
            result = materialize(store_at(store), config, contract=chosen, on_stage=progress.stage)
        _show(result, as_json, materialize_summary)

    _run(debug, action)


@app.command()
def demo(
    synthetic: SyntheticOpt = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The main job on an embedded default: shared real data if present, else synthetic candles."""
    from featurestore.app.demo import SYNTHETIC_NOTICE, choose_demo_data, run_demo
    from featurestore.app.report import ingest_summary, materialize_summary, validate_summary

    def action() -> None:
        data = choose_demo_data(store_at(store), synthetic=synthetic)
        if not as_json:
            out.print(data.describe(), highlight=False)
        with StageProgress() as progress:
            result = run_demo(store_at(store), data, on_stage=progress.stage)
        if as_json:
            emit_json(result.to_dict())
            return
        out.print(ingest_summary(result.ingest))
        out.print(materialize_summary(result.materialize))
        built = result.materialize.warnings if result.materialize else ()
        for warning in (*result.ingest.warnings, *built):
            print_warning(warning)
        if data.kind == "synthetic":
            out.print(SYNTHETIC_NOTICE, highlight=False)
        out.print(validate_summary(result.validate), soft_wrap=True)

    _run(debug, action)


@app.command()
def validate(
    date_range: DateRangeOpt,
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    timeframe: Annotated[str, typer.Option(help="Bar timeframe of the materialized tables.")] = "M5",
    docs: Annotated[
        bool, typer.Option("--docs/--no-docs", help="Build Great Expectations data docs.")
    ] = True,
    contract: Annotated[
        str | None,
        typer.Option(
            "--contract", help="Contract version; default: the one the range was materialized under."
        ),
    ] = None,
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Gate the materialized tables; if all checks pass, write an immutable snapshot and its data docs."""
    from featurestore.app.report import validate_summary
    from featurestore.compute.validate import ValidateConfig, validate
    from featurestore.store.versions import named_contract

    start, end = parse_date_range(date_range)
    use_contracts(contracts)

    def action() -> None:
        chosen = named_contract(contract) if contract else None
        with StageProgress() as progress:
            result = validate(
                store_at(store),
                ValidateConfig(symbol, start, end, timeframe, docs),
                contract=chosen,
                on_stage=progress.stage,
            )
        if as_json:
            emit_json(result.to_dict())
        else:
            out.print(validate_summary(result), soft_wrap=True)  # paths stay whole

    _run(debug, action)


snapshots_app = typer.Typer(no_args_is_help=True, help="List and inspect validated snapshots.")
app.add_typer(snapshots_app, name="snapshots")


@snapshots_app.command("list")
def snapshots_list(store: StoreOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False) -> None:
    """All snapshots of the store, newest first."""
    from featurestore.app.report import snapshot_list
    from featurestore.store.snapshots import list_snapshots
    from featurestore.store.status import snapshot_lineage

    def action() -> None:
        root = store_at(store)
        manifests = list_snapshots(root)
        states = snapshot_lineage(root, manifests)
        if as_json:
            emit_json(
                {
                    "snapshots": [
                        {
                            **{k: m.get(k) for k in ("id", "symbol", "date_range", "created_at")},
                            "lineage": state,
                        }
                        for m, state in zip(manifests, states, strict=True)
                    ]
                }
            )
        else:
            out.print(snapshot_list(manifests, states))

    _run(debug, action)


@snapshots_app.command("show")
def snapshots_show(
    snapshot_id: Annotated[str, typer.Argument(help="Snapshot id (see `fs snapshots list`).")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Verify a snapshot and show its range, hashes, row counts, funnel and validation result."""
    from featurestore.app.report import snapshot_summary
    from featurestore.store.snapshots import open_snapshot

    def action() -> None:
        snap = open_snapshot(store_at(store), snapshot_id, contract=None)
        if as_json:
            emit_json(snap.manifest)
        else:
            out.print(snapshot_summary(snap.manifest))

    _run(debug, action)




@app.command()
def calibrate(
    date_range: DateRangeOpt,
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    contract: ContractOpt = None,
    store: StoreOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Thresholds (atr_bucket, spread_bucket, trend) from the eligible rows of a calibration window, and the
    class shares they give there, as JSON (see docs/contract_v2.md)."""
    from featurestore.compute.calibrate import calibrate as run_calibration
    from featurestore.store.versions import named_contract
    from schemas.versions import NEWEST

    start, end = parse_date_range(date_range)

    def action() -> None:
        result = run_calibration(store_at(store), symbol, start, end, named_contract(contract or NEWEST))
        emit_json(result.to_dict())

    _run(debug, action)


@app.command()
def status(
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Per symbol: materialized ranges with their contract and hash, stale or current and why, snapshots
    and the bundles on each."""
    from featurestore.app.report import status_tables
    from featurestore.store.status import store_status

    use_contracts(contracts)

    def action() -> None:
        report = store_status(store_at(store), symbol)
        if as_json:
            emit_json(report)
        else:
            for table in status_tables(report):
                out.print(table)

    _run(debug, action)


@app.command()
def docs(
    snapshot_id: Annotated[str, typer.Argument(help="Snapshot id (see `fs snapshots list`).")],
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the docs in the default web browser.")
    ] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Print the path of the data docs index (the snapshot's results page on stderr); they open offline."""
    from featurestore.app.console import err, open_in_browser
    from featurestore.errors import FeatureStoreError
    from featurestore.store.snapshots import check_id, list_snapshots, recorded_contract
    from schemas.versions import DEFAULT_CONTRACT
    from validation.data_docs import docs_page, site_dir

    def action() -> None:
        root = store_at(store)
        wanted = check_id(snapshot_id)
        manifest = next((m for m in list_snapshots(root) if m.get("id") == wanted), None)
        # the page order follows the snapshot's own contract (the newest for docs whose snapshot is gone)
        folder = root.snapshots_dir / wanted
        contract = recorded_contract(manifest, folder) if manifest is not None else DEFAULT_CONTRACT
        page = docs_page(root.validation_dir, wanted, contract)
        if page is None:
            raise FeatureStoreError(
                f"no data docs for snapshot {snapshot_id}: run `fs validate` for its range"
            )
        index = site_dir(root.validation_dir) / "index.html"
        if as_json:
            emit_json({"snapshot_id": snapshot_id, "index": str(index), "data_docs": str(page)})
        else:
            sys.stdout.write(f"{index}\n")
            err.print(f"results of {snapshot_id}: {page}", highlight=False, markup=False, soft_wrap=True)
        if open_browser:
            open_in_browser(index)

    _run(debug, action)


def _show(result: Any, as_json: bool, render: Callable[[Any], Any]) -> None:
    if as_json:
        emit_json(result.to_dict())
    else:
        out.print(render(result))
    for warning in result.warnings:
        print_warning(warning)


if __name__ == "__main__":
    app()
