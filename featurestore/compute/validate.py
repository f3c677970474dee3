"""`fs validate`: gate the materialized tables of a range and, if they pass, seal them in a snapshot.

Usage::

    result = validate(Store.at("./fsdata"), ValidateConfig("XAUUSD", date(2025, 2, 1), date(2025, 10, 27)))
    result.snapshot_id, result.docs_path

A user contract version is sealed only after a passing `fs contract check` of its current definition on
the symbol (`featurestore.store.checks`; the built-in versions are audited by the test suite). If any check
fails, no snapshot is written, the report is saved under `reports/`, and `ValidationFailed`
carries it. The same inputs always give the same snapshot id; a second run reports the existing snapshot.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from featurestore.compute.funnel import EligibilityFunnel, eligibility_funnel
from featurestore.compute.sql_registry import load_sql_version
from featurestore.errors import FeatureStoreError, MaterializeError
from featurestore.store.checks import require_passing_check
from featurestore.store.handle import Store, utc_day_range
from featurestore.store.lineage import Run, Segment, check_lineage, coverage, runs_of
from featurestore.store.snapshots import (
    SNAPSHOT_FORMAT,
    open_snapshot,
    snapshot_id,
    table_hash,
    write_snapshot,
)
from featurestore.store.versions import named_contract, stored_table
from schemas.contract import Contract, contract_hashes
from schemas.versions import DEFAULT_VERSION

logger = logging.getLogger(__name__)
TOOLS = ("duckdb", "polars", "pyarrow", "pandera", "great-expectations")


@dataclass(frozen=True)
class ValidateConfig:
    """What to validate: the materialized rows of UTC days start..end (inclusive)."""

    symbol: str
    start: date
    end: date
    timeframe: str = "M5"
    data_docs: bool = True


@dataclass(frozen=True)
class ValidateResult:
    snapshot_id: str
    created: bool
    snapshot_path: Path
    report: Any
    report_paths: tuple[Path, Path, Path]  # JSON, Markdown, HTML
    funnel: EligibilityFunnel
    docs_path: Path | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "created": self.created,
            "snapshot_path": str(self.snapshot_path),
            "validation": self.report.summary(),
            "report": [str(p) for p in self.report_paths],
            "funnel": self.funnel.to_dict(),
            "docs_path": str(self.docs_path) if self.docs_path else None,
            "seconds": round(self.seconds, 3),
        }


class ValidationFailed(FeatureStoreError):
    """The gate found problems; no snapshot was written."""

    exit_code = 7

    def __init__(self, report: Any, paths: tuple[Path, Path, Path]) -> None:
        self.report = report
        self.paths = paths
        shown = "\n".join(f"  - {issue.line()}" for issue in report.issues[:20])
        more = f"\n  ... and {len(report.issues) - 20} more" if len(report.issues) > 20 else ""
        super().__init__(
            f"validation failed with {len(report.issues)} issue(s); no snapshot was written.\n{shown}{more}\n"
            f"Full report (opens offline): {paths[2]}"
        )


def validate(
    store: Store,
    config: ValidateConfig,
    *,
    contract: Contract | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> ValidateResult:
    """Gate, snapshot and document the range. See the module docstring.

    `contract`: the contract to validate under; None: the version of the newest run behind the range.
    """
    from validation.gate import validate_tables

    started = time.perf_counter()
    stage = on_stage or (lambda _name: None)
    start, end = utc_day_range(config.start, config.end)
    with store.connect() as con:
        stage("lineage")
        if contract is None:
            contract = _range_contract(con, config, start, end)
        _require_tables(con, contract)
        segments = check_lineage(
            con, config.symbol, config.timeframe, start, end, contract, _materialize_command(store, config)
        )
        require_passing_check(con, contract, config.symbol)
        runs = _runs(segments)
        stage("read tables")
        tables = _read_tables(con, config, start, end, contract)
        stage("validate")
        frames = {name: pl.from_arrow(t) for name, t in tables.items()}
        report = validate_tables(frames, expected_rows=tables["candles"].num_rows, contract=contract)
        stem = f"validate-{config.symbol}-{config.start}-{config.end}"
        funnel = eligibility_funnel(tables["eligibility"], tables["labels"]) if report.ok else None
        paths = report.save(store.reports_dir, stem, funnel)
        if not report.ok:
            raise ValidationFailed(report, paths)
        content = _content(config, tables, contract, runs)
        snap_id = snapshot_id(content)
        existing = store.snapshots_dir / snap_id
        created = not existing.exists()
        stage("write snapshot")
        if created:
            manifest = {**content, **_manifest_extras(segments, tables, funnel, report, contract)}
            path = write_snapshot(store, snap_id, tables, manifest, contract)
        else:
            path = open_snapshot(store, snap_id, contract=contract).path
            logger.info("snapshot %s already exists; nothing written", snap_id)
    stage("data docs")
    docs_path = _docs(store, snap_id, tables, config.data_docs, created, contract)
    return ValidateResult(
        snap_id, created, path, report, paths, funnel, docs_path, time.perf_counter() - started
    )


def _range_contract(con: Any, config: ValidateConfig, start: datetime, end: datetime) -> Contract:
    """The registered contract of the newest materialize run owning part of the range (default if none)."""
    owners = [s.run for s in coverage(runs_of(con, config.symbol, config.timeframe), start, end) if s.run]
    if not owners:
        return named_contract(DEFAULT_VERSION)
    return named_contract(max(owners, key=lambda r: r.created_at).sql_version)


def _require_tables(con: Any, contract: Contract) -> None:
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    missing = [t.name for t in contract.tables if stored_table(contract, t) not in present]
    if missing:
        raise MaterializeError(
            f"the store has no {', '.join(missing)} table of contract {contract.version}: "
            f"run `fs materialize --contract {contract.version}` first"
        )


def _materialize_command(store: Store, config: ValidateConfig) -> str:
    """The `fs materialize` line that makes `{days}` current (store and timeframe named when not default)."""
    parts = ["fs materialize --date-range {days}", f"--symbol {config.symbol}"]
    if config.timeframe != "M5":
        parts.append(f"--timeframe {config.timeframe}")
    if store.root != Store.at().root:
        parts.append(f"--store {store.root}")
    return " ".join(parts)


def _runs(segments: list[Segment]) -> list[Run]:
    """The distinct runs behind the segments, in range order."""
    seen: dict[str, Run] = {}
    for seg in segments:
        if seg.run is not None:
            seen.setdefault(seg.run.run_id, seg.run)
    return list(seen.values())


def _read_tables(
    con: Any, config: ValidateConfig, start: datetime, end: datetime, contract: Contract
) -> dict[str, pa.Table]:
    candles = ", ".join(contract.candles.names)
    tables = {
        "candles": con.sql(
            f"SELECT {candles} FROM candles "
            "WHERE symbol = ? AND timeframe = ? AND ts >= ? AND ts < ? ORDER BY ts",
            params=[config.symbol, config.timeframe, start, end],
        ).to_arrow_table()
    }
    if tables["candles"].num_rows == 0:
        raise MaterializeError(
            f"no {config.timeframe} candles of {config.symbol} in {config.start}..{config.end}"
        )
    for table in contract.tables:
        stored = stored_table(contract, table)
        tables[table.name] = con.sql(
            f"SELECT * FROM {stored} WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts",
            params=[config.symbol, start, end],
        ).to_arrow_table()
    return tables


def _content(
    config: ValidateConfig, tables: dict[str, pa.Table], contract: Contract, runs: list[Run]
) -> dict[str, Any]:
    """Everything the snapshot's identity depends on: the runs behind its rows and their content."""
    return {
        "snapshot_format": SNAPSHOT_FORMAT,
        "symbol": config.symbol,
        "timeframe": config.timeframe,
        "date_range": [config.start.isoformat(), config.end.isoformat()],
        "sql_version": contract.version,
        **contract_hashes(contract),
        "table_hashes": {name: table_hash(t) for name, t in tables.items()},
        "lineage": {"materialize_runs": [r.run_id for r in runs]},
    }


def _manifest_extras(
    segments: list[Segment],
    tables: dict[str, pa.Table],
    funnel: EligibilityFunnel,
    report: Any,
    contract: Contract,
) -> dict[str, Any]:
    return {
        "created_at": datetime.now(UTC).isoformat(),
        "row_counts": {name: t.num_rows for name, t in tables.items()},
        "first_ts": str(tables["candles"].column("ts")[0]),
        "last_ts": str(tables["candles"].column("ts")[-1]),
        "source_candle_fingerprint": table_hash(tables["candles"]),
        "sql_files": {f.path.name: f.sha256 for f in load_sql_version(contract.version, contract.sql_root)},
        "parameters": contract.parameters,
        "eligibility_report": funnel.to_dict(),
        "validation": report.summary(),
        "materialize_runs": [
            {**seg.run.to_dict(), "rows_of": seg.days()} for seg in segments if seg.run is not None
        ],
        "tool_versions": {"python": platform.python_version(), **{t: _version(t) for t in TOOLS}},
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _docs(
    store: Store, snap_id: str, tables: dict[str, pa.Table], enabled: bool, created: bool, contract: Contract
) -> Path | None:
    """Build (or find) the data docs of the snapshot.

    Raises:
        FeatureStoreError: the docs could not be built; the snapshot stays sealed, a re-run retries them.
    """
    if not enabled:
        return None
    from validation.data_docs import build_data_docs, docs_page

    existing = docs_page(store.validation_dir, snap_id, contract)
    if existing is not None and not created:
        return existing
    try:
        result = build_data_docs(store.validation_dir, snap_id, tables, contract)
    except Exception as exc:  # noqa: BLE001 - GX raises many types; all mean the same to the user
        logger.exception("data docs failed")
        raise FeatureStoreError(
            f"snapshot {snap_id} is valid and sealed, but its data docs failed "
            f"({type(exc).__name__}: {exc}); "
            "run `fs validate` again to retry the docs, or pass --no-docs"
        ) from exc
    return result.snapshot_page or result.index_html
