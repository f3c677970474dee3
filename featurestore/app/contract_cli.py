"""`fs contract list/new/show`: the contract versions, built-in and the user's (compute/contract_repo.py).

Thin, like the rest of the `fs` command line: each command calls one library function and prints it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from featurestore.app.console import DebugOpt, JsonOpt, StoreOpt, cli_errors, emit_json, out

contract_app = typer.Typer(
    no_args_is_help=True,
    help="Contract versions: the built-in ones and the user's (./contracts, --contracts, FS_CONTRACTS).",
)

ContractsOpt = Annotated[
    Path | None,
    typer.Option(
        "--contracts",
        help="The feature repository holding the user's versions (default: FS_CONTRACTS or ./contracts).",
    ),
]


def use_contracts(contracts: Path | None) -> None:
    """Make `--contracts DIR` the feature repository of this command (as FS_CONTRACTS does)."""
    from schemas.versions import CONTRACTS_ENV  # the versions load on use, not for `fs --help`

    if contracts is not None:
        os.environ[CONTRACTS_ENV] = str(contracts)



@contract_app.command("list")
def contract_list(
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Built-in and user versions, with their origin, folder and both hashes."""
    from rich.table import Table

    from featurestore.compute.contract_repo import list_versions

    with cli_errors(debug):
        rows = list_versions(contracts)
        if as_json:
            emit_json({"versions": rows})
            return
        table = Table("version", "origin", "feature hash", "full hash", "folder", title="contract versions")
        for row in rows:
            if "error" in row:
                table.add_row(
                    row["version"], row["origin"], "-", f"cannot load: {row['error']}", row["folder"]
                )
            else:
                table.add_row(
                    row["version"],
                    row["origin"],
                    row["feature_contract_hash"],
                    row["full_contract_hash"][:16],
                    row["folder"],
                )
        out.print(table)


@contract_app.command("new")
def contract_new(
    name: Annotated[str, typer.Argument(help="The new version's name (a folder of the feature repository).")],
    source: Annotated[str, typer.Option("--from", help="The version to copy.")] = "v2",
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Copy a version's declaration and SQL into a new folder of the feature repository."""
    from featurestore.compute.contract_repo import new_version

    with cli_errors(debug):
        folder = new_version(name, source, contracts)
        if as_json:
            emit_json({"version": name, "from": source, "folder": str(folder)})
        else:
            out.print(
                f"created {folder} from {source}: edit contract.toml and the SQL files there, then "
                f"`fs materialize --contract {name} --date-range ...`",
                highlight=False,
                soft_wrap=True,
            )


@contract_app.command("show")
def contract_show(
    name: Annotated[str, typer.Argument(help="A version (see `fs contract list`).")],
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Tables, columns, parameters, warmup and both hashes of a version (its SQL checked against it)."""
    from featurestore.compute.contract_repo import describe_version

    with cli_errors(debug):
        info = describe_version(name, contracts)
        if as_json:
            emit_json(info)
            return
        for table in _show_tables(info):
            out.print(table)


def _show_tables(info: dict[str, Any]) -> list[Any]:
    """The version's summary, parameters and one table per declared table (rich tables)."""
    from rich.table import Table

    head = Table(
        "version", "origin", "feature hash", "full hash", "warmup bars", "model inputs", title=info["folder"]
    )
    inputs = info["model_inputs"]
    head.add_row(
        info["version"],
        info["origin"],
        info["feature_contract_hash"],
        info["full_contract_hash"][:16],
        str(info["warmup_bars"]),
        f"seq {inputs['seq']}, snap {inputs['snap']}, ctx {inputs['ctx_cat']}+{inputs['ctx_cont']}",
    )
    params = Table("parameter", "value", title="parameters")
    for key, value in info["parameters"].items():
        params.add_row(key, json.dumps(value))
    tables = [head, params]
    for t in info["tables"]:
        cols = Table(
            "column",
            "dtype",
            "role",
            "unit",
            "range / allowed",
            "null",
            "lookback",
            title=f"{t['name']} ({t['sql']})",
        )
        for c in t["columns"]:
            bound = c["range"] if c["range"] is not None else c["allowed"]
            cols.add_row(
                c["name"],
                c["dtype"],
                c["role"],
                c["unit"],
                "" if bound is None else json.dumps(bound),
                c["nullable"],
                str(c["lookback"]),
            )
        tables.append(cols)
    return tables
