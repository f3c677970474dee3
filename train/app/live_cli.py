"""`train live`: follow a candle source and decide each new bar (see `train.serving.live_loop`), and
`train live status` / `train live report` on its journal.

Thin like the rest of the CLI: each command parses its options and calls one library function inside
`cli_errors`; heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from featurestore.app.console import (
    DEFAULT_SYMBOL,
    BlockedOpt,
    DebugOpt,
    JsonOpt,
    StoreOpt,
    SymbolOpt,
    cli_errors,
    emit_json,
    out,
    store_at,
)

live_app = typer.Typer(
    add_completion=False,
    invoke_without_command=True,
    help="Follow a growing candle source (an MT5/CSV file, or OANDA v20) and decide each new bar once.",
)

JournalOpt = Annotated[
    Path | None,
    typer.Option("--journal", help="Journal folder (default <store>/live/<symbol>-<bundle name>)."),
]


@live_app.callback()
def live(
    ctx: typer.Context,
    bundle: Annotated[Path | None, typer.Option(help="Bundle directory, or its name in the store.")] = None,
    follow: Annotated[Path | None, typer.Option(help="Candle file another program appends to.")] = None,
    oanda: Annotated[str | None, typer.Option(help="OANDA v20 instrument (token: env OANDA_TOKEN).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Format of --follow: mt5 or csv.")] = "mt5",
    source_tz: Annotated[str | None, typer.Option(help="Time zone of --follow's times (e.g. EET).")] = None,
    point_size: Annotated[float | None, typer.Option(help="Price of one spread point.")] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Fresh journal: decide bars after this UTC time (default: new ones)."),
    ] = None,
    allowed_lag: Annotated[
        float | None, typer.Option(help="Seconds after a bar's close before it counts as late (one bar).")
    ] = None,
    on_drift: Annotated[str, typer.Option(help="warn: keep deciding, degraded; pause: stop.")] = "warn",
    poll: Annotated[float, typer.Option(help="Seconds between polls of the source.")] = 0.25,
    exit_when_idle: Annotated[
        float | None, typer.Option(help="Stop after the source brought nothing for this many seconds.")
    ] = None,
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    blocked: BlockedOpt = None,
    journal: JournalOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Follow --follow FILE (or --oanda INSTRUMENT) and decide each new complete bar exactly once."""
    if ctx.invoked_subcommand is not None:
        return
    if bundle is None or (follow is None) == (oanda is None):
        raise typer.BadParameter("give --bundle and either --follow FILE or --oanda INSTRUMENT")
    if on_drift not in ("warn", "pause"):
        raise typer.BadParameter(f"--on-drift must be warn or pause, got {on_drift!r}")
    with cli_errors(debug):
        from featurestore.api import IngestOptions
        from train.app.bundle_path import bundle_path
        from train.evaluation.live_audit import audit_decisions
        from train.serving.live_loop import LiveConfig, run_live
        from train.serving.live_sources import FileSource

        if fmt not in ("mt5", "csv"):
            raise ValueError(f"--format {fmt!r}: a followed file is mt5 or csv (line by line)")
        the_store = store_at(store)
        source = FileSource(follow) if follow is not None else _oanda_source(str(oanda))
        options = IngestOptions(  # OANDA candles come as CSV lines with UTC times (train.serving.oanda)
            symbol=symbol,
            fmt=fmt if follow is not None else "csv",
            source_tz=source_tz if follow is not None else None,
            point_size=point_size,
            timeframe="M5",
        )
        config = LiveConfig(
            bundle=bundle_path(the_store, bundle),
            source=source,
            ingest=options,
            journal_dir=journal,
            blocked=blocked,
            since=since,
            allowed_lag_s=allowed_lag,
            poll_s=poll,
            exit_when_idle_s=exit_when_idle,
            on_drift=on_drift,
            audit=audit_decisions,
        )
        summary = run_live(the_store, config, should_stop=_stop_on_signals())
        _emit(summary.to_dict(), as_json, "train live stopped")


@live_app.command()
def status(
    journal: JournalOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The last decision, its lag, alarms in force and counts, per journal of the store (or --journal)."""
    with cli_errors(debug):
        from train.serving.live_status import live_status

        payload = live_status(store_at(store), journal)
        if as_json:
            _emit(payload, True, "")
            return
        for one in payload["journals"]:
            _emit(_status_rows(one), False, f"train live: {one['journal']}")


@live_app.command()
def report(
    journal: JournalOpt = None,
    bundle: Annotated[
        Path | None, typer.Option(help="The journal's bundle (default: its name in the store).")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Offline HTML on a journal: decisions, lag, the parity audit against the batch path, drift alarms."""
    with cli_errors(debug):
        from train.app.bundle_path import bundle_path
        from train.evaluation.live_report import live_report
        from train.serving.live_status import journal_dirs

        the_store = store_at(store)
        folders = journal_dirs(the_store, journal)
        if len(folders) > 1:
            raise ValueError(f"the store has {len(folders)} live journals: pick one with --journal")
        model = bundle_path(the_store, bundle) if bundle is not None else None
        result = live_report(the_store, folders[0], model)
        payload = {**result.summary, "report": str(result.report_dir / "report.html")}
        if as_json:
            _emit(payload, True, "")
            return
        parity = result.summary["parity"]
        _emit(
            {
                "decisions": result.summary["decisions"]["n"],
                "parity": f"{parity['compared']} compared, {parity['mismatches']} mismatches, "
                f"{parity['revised_by_source']} revised by the source",
                "drift": _drift_line(result.summary),
                "report": payload["report"],
            },
            False,
            "train live report",
        )


def _status_rows(status: dict[str, Any]) -> dict[str, Any]:
    """One journal's status as table rows."""
    last = status["last_decision"] or {}
    p_long = "-" if last.get("p_long") is None else f"{last['p_long']:.4f}"
    audit = status["last_parity_audit"]
    return {
        "running": status["running"],
        "source": status["source"],
        "bundle": status["bundle_id"],
        "heartbeat": status["heartbeat"],
        "last decision": f"{last.get('ts')} {last.get('reason')} p_long {p_long}" if last else "none yet",
        "lag": f"{last.get('lag_s')} s" + (" (late)" if last.get("late") else "") if last else "-",
        "flags": ", ".join(last.get("flags", [])) or "none",
        "counts": ", ".join(f"{k} {v}" for k, v in status["counts"].items()),
        "drift alarms": ", ".join(
            f"{a['input']} (PSI {a['psi']:.3g} > {a['threshold']:.3g})" for a in status["drift_alarms"]
        )
        or "none",
        "last parity audit": "none yet"
        if audit is None
        else f"{audit['day']}: {audit['compared']} compared, {audit['mismatches']} mismatches",
    }


def _drift_line(summary: dict[str, Any]) -> str:
    if summary["drift_unavailable"] is not None:
        return f"off: {summary['drift_unavailable']['reason']}"
    alarms = (summary["drift"] or {}).get("alarms", [])
    return ", ".join(a["input"] for a in alarms) or "no alarm in force"


def _oanda_source(instrument: str) -> Any:
    from train.serving.oanda import OandaSource

    return OandaSource.from_env(instrument)


def _stop_on_signals() -> Any:
    """A `should_stop` that turns SIGTERM and SIGINT into a clean stop after the current batch."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop.is_set


def _emit(payload: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        emit_json(payload)
        return
    from featurestore.app.report import key_value_table

    rows = {
        k: json.dumps(v, default=str) if isinstance(v, dict | list) else str(v) for k, v in payload.items()
    }
    out.print(key_value_table(title, rows), soft_wrap=True)
