"""The sandbox a contract version's SQL runs in, and its errors in the SQL file's own terms.

A contract version's SQL files define features; they may read their inputs and return rows, nothing else
(docs/sql_sandbox.md):

- each file is exactly one SELECT (`WITH ... SELECT` included), as DuckDB's own parser reads it; anything
  else (`DROP`, `COPY`, `ATTACH`, `SET`, `PRAGMA`, `INSTALL`/`LOAD`, a second statement) is refused before
  any file of the version runs;
- the files run on a private in-memory DuckDB (`open_sandbox`) that holds only what the pipeline registers
  (the candle slice, the blocked intervals, the earlier files' tables), with file and network access off,
  no extension install or load, no reads of Python variables, no spilling to disk, and the configuration
  locked, so no query can turn any of it back on;
- the pipeline's own code, not the SQL, takes the rows out; the store is never reachable from the sandbox.

A parse error, an unknown function or any other DuckDB error in a file becomes one `ContractSqlError` line
naming the version, the file, the line and column in the file (mapped back from the rendered query that
DuckDB saw) and DuckDB's message.

Usage::

    sandbox = open_sandbox()
    con = sandbox.cursor()
    queries = checked_queries(con, files, parameters)  # refuses anything but one SELECT per file
    run_file(con, sql_file, queries[sql_file.name], parameters)   # CREATE TEMP TABLE <name> AS <it>
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb

from featurestore.compute.sql_registry import SqlFile
from featurestore.errors import ContractSqlError

# Every setting is fixed when the database opens; `lock_configuration` then refuses any `SET`.
SANDBOX_CONFIG: dict[str, Any] = {
    "enable_external_access": False,  # no file or network reads and writes, no ATTACH, no extension install
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,  # no scans of the Python variables of the calling frames
    "temp_directory": "",  # never spill to disk: the sandbox writes no file
    "errors_as_json": True,  # errors carry the query position, mapped back to the file's line
    "lock_configuration": True,
}
SELECT = "SELECT"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PERMISSION_HINT = (
    "contract SQL reads only the candle slice, the blocked intervals and the tables of the version's "
    "earlier files"
)


class Sandbox:
    """A private in-memory DuckDB with `SANDBOX_CONFIG`. Each pipeline run takes a cursor of its own, whose
    registered inputs and temporary tables stay private and go with it."""

    def __init__(self, threads: int | None = None) -> None:
        config = dict(SANDBOX_CONFIG)
        if threads is not None:
            config["threads"] = int(threads)
        self._database = duckdb.connect(config=config)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._database.cursor()

    def close(self) -> None:
        self._database.close()


def open_sandbox(threads: int | None = None) -> Sandbox:
    """A fresh sandbox; `threads` DuckDB threads per query (default: DuckDB's, one per core)."""
    return Sandbox(threads)


def checked_queries(
    con: duckdb.DuckDBPyConnection, files: Sequence[SqlFile], parameters: dict[str, Any]
) -> dict[str, str]:
    """Each file's rendered query by its name, once every file is known to be exactly one SELECT (parsed,
    not run, on the sandbox cursor `con`).

    Raises:
        ContractSqlError: a file is not one SELECT, does not parse, names an unknown parameter, or its
            name is not an identifier.
    """
    queries = {}
    for sql_file in files:
        if not _IDENTIFIER.match(sql_file.name):
            raise ContractSqlError(
                f"{_where(sql_file)}: refused: the name {sql_file.name!r} in its header is not a SQL "
                "identifier (letters, digits and underscores, not starting with a digit)"
            )
        for name, offset in sql_file.placeholders():
            if name not in parameters:
                raise ContractSqlError(
                    f"{_where(sql_file, sql_file.file_position(offset))}: unknown parameter '{name}' in "
                    f"{{{{{name}}}}}; the contract's parameters are {', '.join(sorted(parameters))}"
                )
        query = sql_file.render(parameters)
        types, error = _statements(con, query)
        if error is not None:
            raise _mapped(sql_file, parameters, query, error, prefix_bytes=0)
        if [kind for kind, _ in types] != [SELECT]:
            raise _refusal(sql_file, parameters, query, types)
        queries[sql_file.name] = query
    return queries


def run_file(
    con: duckdb.DuckDBPyConnection, sql_file: SqlFile, query: str, parameters: dict[str, Any]
) -> None:
    """Run one checked file as `CREATE TEMP TABLE <name> AS <query>` on a sandbox cursor.

    Raises:
        ContractSqlError: DuckDB refused or failed the query (the file's line and column when DuckDB gives
            a position).
    """
    prefix = f"CREATE TEMP TABLE {sql_file.name} AS "
    try:
        con.execute(prefix + query)
    except duckdb.Error as exc:
        raise _mapped(sql_file, parameters, query, str(exc), prefix_bytes=len(prefix.encode())) from None


@contextmanager
def reading(sql_file: SqlFile, what: str) -> Iterator[None]:
    """Around the pipeline's own query of a file's table: a DuckDB error there is the file's fault (a
    missing `ts` column, say), reported as such."""
    try:
        yield
    except duckdb.Error as exc:
        _, message = _duckdb_message(str(exc))
        raise ContractSqlError(f"{_where(sql_file)}: {what}: {message}") from None


def _where(sql_file: SqlFile, position: tuple[int, int] | None = None) -> str:
    where = f"contract {sql_file.version}: {sql_file.path}"
    return where if position is None else f"{where}, line {position[0]}, column {position[1]}"


# Statement types by query text: the online featurizer renders the same queries every cycle, so each is
# parsed once per process (parsing the built-in files costs ~25 ms).
_CHECKED: dict[str, tuple[tuple[tuple[str, int], ...], str | None]] = {}
_CHECKED_MAX = 256


def _statements(con: duckdb.DuckDBPyConnection, query: str) -> tuple[tuple[tuple[str, int], ...], str | None]:
    """The type and start offset (characters) of each statement of `query`, or DuckDB's parse error."""
    if query in _CHECKED:
        return _CHECKED[query]
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        return (), str(exc)
    found, at = [], 0
    for statement in statements:
        text = statement.query.strip().rstrip(";").strip()
        start = query.find(text, at) if text else -1
        found.append((statement.type.name, max(start, 0)))
        at = max(start, at) + len(text)
    if len(_CHECKED) >= _CHECKED_MAX:
        _CHECKED.clear()
    _CHECKED[query] = (tuple(found), None)
    return _CHECKED[query]


def _refusal(
    sql_file: SqlFile, parameters: dict[str, Any], query: str, types: tuple[tuple[str, int], ...]
) -> ContractSqlError:
    rule = "a contract SQL file must be exactly one SELECT (WITH ... SELECT included)"
    if not types:
        return ContractSqlError(f"{_where(sql_file)}: refused: the file holds no statement; {rule}")
    names = ", ".join(kind for kind, _ in types)
    offending = next(((kind, at) for kind, at in types if kind != SELECT), types[-1])
    position = sql_file.file_position(sql_file.body_offset(parameters, offending[1]))
    what = f"one {names} statement" if len(types) == 1 else f"{len(types)} statements ({names})"
    return ContractSqlError(f"{_where(sql_file, position)}: refused: the file holds {what}; {rule}")


def _mapped(
    sql_file: SqlFile, parameters: dict[str, Any], query: str, error: str, *, prefix_bytes: int
) -> ContractSqlError:
    """DuckDB's `error` on `query` (run after `prefix_bytes` bytes of the pipeline's own text) as one line
    at the file's line and column."""
    position, message = _duckdb_message(error)
    if message.startswith("Permission Error"):
        message += f" ({_PERMISSION_HINT})"
    at = None
    if position is not None and position >= prefix_bytes:
        rendered = len(query.encode()[: position - prefix_bytes].decode(errors="ignore"))
        at = sql_file.file_position(sql_file.body_offset(parameters, rendered))
    return ContractSqlError(f"{_where(sql_file, at)}: {message}")


def _duckdb_message(error: str) -> tuple[int | None, str]:
    """The byte position (if any) and the one-line message of a DuckDB error raised with errors_as_json."""
    kind, _, rest = error.partition(": ")
    try:
        data = json.loads(rest)
    except ValueError:
        return None, " ".join(error.split("\nLINE ")[0].split())
    text = " ".join(str(data.get("exception_message", "")).split())
    position = data.get("position")
    return (int(position) if str(position).isdigit() else None), f"{kind}: {text}"
