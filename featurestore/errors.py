"""Errors of the feature store and the trainer. Each message says what went wrong, where, and how to fix it.

Both command lines (`fs`, `train`) run every command inside `featurestore.app.console.cli_errors`, which maps
each `FeatureStoreError` to `Error: <message>` on stderr and its class's exit code from `EXIT_CODES` (the
table the README shows); no traceback reaches the user unless `--debug` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "error (training failed, materialization cannot run, a contract or SQL fault, ...)",
    2: "bad usage or unreadable input: an option, a config value, a file or store that is not there",
    3: "store busy: another process holds the DuckDB file",
    4: "too many rejected rows (the good rows are still stored)",
    5: "conflict with stored bars",
    6: "snapshot missing, modified or foreign",
    7: "validation failed (no snapshot written)",
    8: "bundle mismatch or unreadable bundle",
    9: "a verify-fullyear invariant failed",
    10: "lineage: the range is not fully materialized from the stored candles under the contract in force "
    "(run the `fs materialize` command the message names; nothing written)",
    11: "contract check failed: an audit found leakage, a short lookback, range dependence, a declaration "
    "mismatch or unhealthy features (the table and the HTML report name the columns)",
    12: "the contract version has no passing `fs contract check` on record for the symbol "
    "(run the command the message names; nothing written)",
    13: "contract SQL refused or failed: a file is not exactly one SELECT, reads outside its inputs, does "
    "not parse, calls an unknown function or returns other columns than declared (nothing written)",
}


class FeatureStoreError(Exception):
    """Base class of every error the feature store raises on purpose."""

    exit_code = 1


class StoreBusyError(FeatureStoreError):
    """Another process holds the DuckDB store (DuckDB allows one writer per file)."""

    exit_code = 3


class InputError(FeatureStoreError):
    """An input the user gave cannot be used: a file option, a config value, a store path. Carries the
    file (and line when known), the reason and how to fix it."""

    exit_code = 2

    def __init__(self, path: Path | str, reason: str, *, line: int | None = None, fix: str = "") -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}" + (f", line {line}" if line is not None else "")
        message = f"{where}: {reason}"
        if fix:
            message += f"\n  how to fix: {fix}"
        super().__init__(message)


class StoreMissingError(InputError):
    """No store at the given path (nothing was ingested there)."""


class SourceError(InputError):
    """A candle source cannot be read at all (file-level fault). Carries the file and line."""


class RejectThresholdError(FeatureStoreError):
    """Too many rows of a source were rejected; the good rows were still stored.

    `result` carries the `featurestore.ingest.ingest_file.IngestResult` of the ingest that stored them.
    """

    exit_code = 4
    result: Any = None


class ConflictError(FeatureStoreError):
    """A source disagrees with bars already in the store."""

    exit_code = 5


class MaterializeError(FeatureStoreError):
    """Materialization cannot run on the requested range."""


class ContractError(FeatureStoreError):
    """The SQL files and the contract disagree, or a SQL file is malformed."""


class ContractCheckFailed(FeatureStoreError):
    """`fs contract check` found a failing audit (the check is recorded, the report written)."""

    exit_code = 11


class ContractNotChecked(FeatureStoreError):
    """`fs validate` refuses a contract version whose current definition has no passing check on record."""

    exit_code = 12


class ContractSqlError(ContractError):
    """A contract version's SQL was refused by the sandbox or failed in DuckDB; the message names the version,
    the file, its line and column where DuckDB gives one, and DuckDB's message (docs/sql_sandbox.md)."""

    exit_code = 13
