"""Errors of the feature store. Each message says what went wrong, where, and how to fix it.

The CLI maps every `FeatureStoreError` to `Error: <message>` on stderr and a non-zero exit code;
no traceback reaches the user unless `--debug` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class FeatureStoreError(Exception):
    """Base class of every error the feature store raises on purpose."""

    exit_code = 1


class StoreBusyError(FeatureStoreError):
    """Another process holds the DuckDB store (DuckDB allows one writer per file)."""

    exit_code = 3


class SourceError(FeatureStoreError):
    """A candle source cannot be read at all (file-level fault). Carries the file and line."""

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


class RejectThresholdError(FeatureStoreError):
    """Too many rows of a source were rejected; the good rows were still stored.

    `result` carries the `featurestore.ingest.IngestResult` of the ingest that stored them.
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
