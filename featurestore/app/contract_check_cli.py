"""`fs contract check` and `fs contract diff`: thin commands over featurestore.compute.contract_check and
featurestore.compute.contract_diff, attached to the `fs contract` sub-app by `register`.

Only typer and the console helpers are imported at module level, so `fs --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from featurestore.app.console import (
    DEFAULT_SYMBOL,
    DebugOpt,
    JsonOpt,
    StageProgress,
    StoreOpt,
    SymbolOpt,
    cli_errors,
    emit_json,
    out,
    parse_date_range,
    store_at,
)
from featurestore.app.contract_cli import ContractsOpt, use_contracts

NameArg = Annotated[str, typer.Argument(help="Contract version name (v1, v2, or a user version).")]
RangeOpt = Annotated[
    str | None, typer.Option(help="UTC days, inclusive: 2025-01-01..2025-12-31 (default: the last 365 days).")
]


def check(
    name: NameArg,
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    date_range: RangeOpt = None,
    cuts: Annotated[int, typer.Option(min=1, help="Seeded cut bars of the leakage audit.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the cut bars, probes, month and random walks.")] = 7,
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Audit a contract version on the stored candles: declaration vs SQL, leakage, lookback sufficiency,
    range independence, feature health. Exit 0 only when all pass (11 otherwise); the check is recorded."""
    from featurestore.compute.contract_check import CheckConfig, check_contract
    from featurestore.errors import ContractCheckFailed
    from featurestore.store.versions import named_contract

    use_contracts(contracts)
    start, end = parse_date_range(date_range) if date_range else (None, None)

    def action() -> None:
        contract = named_contract(name)
        with StageProgress() as progress:
            result = check_contract(
                store_at(store),
                contract,
                CheckConfig(symbol, start, end, cuts, seed),
                on_stage=progress.stage,
            )
        if as_json:
            emit_json(result.to_dict())
        else:
            out.print(check_summary(result), soft_wrap=True)
        if not result.passed:
            raise ContractCheckFailed(
                f"contract {name} failed its check ({result.audit.summary()}); see {result.report_paths[1]}"
            )

    with cli_errors(debug):
        action()


def diff(
    a: Annotated[str, typer.Argument(help="The version to compare from.")],
    b: Annotated[str, typer.Argument(help="The version to compare to.")],
    data: Annotated[
        bool, typer.Option("--data", help="Also compare the two versions' stored tables.")
    ] = False,
    symbol: SymbolOpt = DEFAULT_SYMBOL,
    date_range: RangeOpt = None,
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """What changed between two contract versions (columns, parameters, SQL) and what it forces; with
    --data, which stored values differ, column by column."""
    from featurestore.compute.contract_diff import contract_diff
    from featurestore.store.versions import named_contract

    use_contracts(contracts)
    days = parse_date_range(date_range) if date_range else None

    def action() -> None:
        ca, cb = named_contract(a), named_contract(b)
        result = contract_diff(ca, cb, store_at(store) if data else None, symbol, days)
        if as_json:
            emit_json(result)
        else:
            out.print(diff_summary(result), soft_wrap=True)

    with cli_errors(debug):
        action()


def register(contract_app: typer.Typer) -> None:
    """Attach `check` and `diff` to the `fs contract` sub-app."""
    contract_app.command("check")(check)
    contract_app.command("diff")(diff)


def check_summary(result: Any) -> Group:
    from featurestore.compute.contract_check_report import audit_rows

    audit = result.audit
    table = Table(
        title=f"contract check {audit.contract} ({audit.full_contract_hash[:16]}) on "
        f"{result.record.symbol}, {audit.bars:,} bars, {audit.seconds:.1f} s",
        title_justify="left",
    )
    for column in ("audit", "result", "checked", "columns"):
        table.add_column(column)
    for row in audit_rows(audit):
        table.add_row(*row)
    lines: list[Any] = [table]
    for a in audit.audits:
        if not a.passed and not a.skipped:
            lines.append(f"[bold]{a.name}[/bold]: how to fix: {a.fix}")
            lines += [f"  - {f.line()}" for f in a.findings[:20]]
    lines.append(f"Report (opens offline): {result.report_paths[1]}")
    return Group(*lines)


def diff_summary(result: dict[str, Any]) -> Group:
    d = result["definition"]
    rows = Table(title=f"contract diff {d['a']} -> {d['b']}", title_justify="left")
    for column in ("what", "change"):
        rows.add_column(column)
    for kind in ("added", "removed"):
        for t in d["tables"][kind]:
            rows.add_row(f"table {t}", kind)
    for t, entry in d["tables"]["columns"].items():
        for kind in ("added", "removed"):
            for c in entry[kind]:
                rows.add_row(f"{t}.{c}", f"column {kind}")
        for c, fields in entry["changed"].items():
            rows.add_row(f"{t}.{c}", "; ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in fields.items()))
    for kind in ("added", "removed"):
        for k, v in d["parameters"][kind].items():
            rows.add_row(f"parameter {k}", f"{kind}: {v}")
    for k, (va, vb) in d["parameters"]["changed"].items():
        rows.add_row(f"parameter {k}", f"{va} -> {vb}")
    for name in d["sql_files"]["changed"]:
        rows.add_row(f"sql {name}", "changed (unified diff in --json)")
    forces = d["forces"]
    for t, why in forces["rematerialize"].items():
        rows.add_row(f"re-materialize {t}", why)
    rows.add_row("warmup", f"{forces['warmup_bars'][0]} -> {forces['warmup_bars'][1]} bars")
    rows.add_row("model inputs", forces["model_inputs"])
    parts: list[Any] = [rows]
    if result.get("data") is not None:
        parts.append(_data_table(result["data"], result["data_range"]))
    return Group(*parts)


def _data_table(data: dict[str, Any], span: str) -> Table:
    table = Table(title=f"stored values compared on {span}", title_justify="left")
    for column in ("table.column", "rows", "differing", "max abs", "max rel", "first differing ts"):
        table.add_column(column)
    for name, body in data.items():
        if "error" in body:
            table.add_row(name, "-", body["error"], "", "", "")
            continue
        same = [c for c, s in body["columns"].items() if s["differing"] == 0]
        for c, s in body["columns"].items():
            if s["differing"]:
                table.add_row(
                    f"{name}.{c}",
                    f"{s['rows']:,}",
                    f"{s['differing']:,}",
                    _num(s["max_abs_diff"]),
                    _num(s["max_rel_diff"]),
                    s["first_differing_ts"] or "-",
                )
        table.add_row(
            f"{name}: {len(same)} of {len(body['columns'])} columns",
            f"{body['rows_compared']:,}",
            "0 (identical)",
            "",
            "",
            "",
        )
    return table


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}"
