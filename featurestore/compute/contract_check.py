"""`fs contract check NAME`: audit a contract version on the store's candles and record the result.

Five audits (declaration vs SQL, leakage, lookback sufficiency, range independence, feature health; see
docs/contract_check.md) run on one symbol's stored bars, by default the last 365 days of them. The result is
recorded in the store (`featurestore.store.checks`), written as JSON and an offline HTML page under
`reports/`, and `fs validate` seals a user version only after a passing check of its current definition.

Usage::

    result = check_contract(Store.at("./fsdata"), named_contract("rsi7"), CheckConfig("XAUUSD"))
    result.passed, result.report_paths
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from featurestore.compute.contract_audit import (
    Audit,
    audit_declaration,
    audit_leakage,
    audit_range_independence,
    decision_tables,
    label_tables,
    pick_cuts,
)
from featurestore.compute.contract_health import audit_health
from featurestore.compute.contract_lookback import audit_lookback
from featurestore.compute.pipeline import run_pipeline
from featurestore.errors import MaterializeError
from featurestore.store.candles import SLICE_COLUMNS
from featurestore.store.checks import CheckRecord, record_check
from featurestore.store.handle import Store, utc_day_range
from schemas.contract import Contract, full_contract_hash

logger = logging.getLogger(__name__)
DEFAULT_DAYS = 365


@dataclass(frozen=True)
class CheckConfig:
    """What to check on: one symbol's bars of UTC days start..end (default: its last 365 days)."""

    symbol: str = "XAUUSD"
    start: date | None = None
    end: date | None = None
    cuts: int = 5
    seed: int = 7
    timeframe: str = "M5"


@dataclass(frozen=True)
class ContractAudit:
    """The five audits of one contract on one sample."""

    contract: str
    full_contract_hash: str
    audits: tuple[Audit, ...]
    bars: int
    first_ts: datetime
    last_ts: datetime
    seconds: float

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.audits)

    def summary(self) -> str:
        failed = [a.name for a in self.audits if not a.passed]
        return "all audits pass" if not failed else f"failed: {', '.join(failed)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "full_contract_hash": self.full_contract_hash,
            "passed": self.passed,
            "summary": self.summary(),
            "bars": self.bars,
            "first_ts": str(self.first_ts),
            "last_ts": str(self.last_ts),
            "seconds": round(self.seconds, 2),
            "audits": [a.to_dict() for a in self.audits],
        }


@dataclass(frozen=True)
class CheckResult:
    record: CheckRecord
    audit: ContractAudit
    report_paths: tuple[Path, Path]  # JSON, HTML

    @property
    def passed(self) -> bool:
        return self.audit.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.record.to_dict(),
            "result": self.audit.to_dict(),
            "report": [str(p) for p in self.report_paths],
        }


def audit_contract(
    sample: pa.Table,
    contract: Contract,
    *,
    cuts: int = 5,
    seed: int = 7,
    tables: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    threads: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> ContractAudit:
    """Run the five audits on `sample` (one symbol's bars, pipeline slice columns, ordered by ts).

    `tables`: audit only these output tables (plus eligibility, which marks warmup); default all.
    `columns`: audit only these non-key columns of those tables (the declaration audit still covers the
    whole version); default all. `check_contract` (and so `fs contract check`) audits everything.
    """
    started = time.perf_counter()
    stage = on_stage or (lambda _name: None)
    sample = sample.select(list(SLICE_COLUMNS)).combine_chunks()
    ts = sample.column("ts")
    stage("declaration vs SQL")
    declaration = audit_declaration(sample, contract)
    audits = [declaration]
    if declaration.passed:
        start, end = ts[0].as_py(), ts[-1].as_py() + timedelta(microseconds=1)
        wanted = [*decision_tables(contract, tables), *label_tables(contract, tables)]
        stage("long run")
        base = run_pipeline(sample, start, end, contract=contract, tables=wanted, threads=threads)
        stage("leakage")
        audits.append(
            audit_leakage(
                sample,
                base,
                contract,
                pick_cuts(sample, contract, cuts, seed),
                seed,
                tables=tables,
                columns=columns,
                threads=threads,
            )
        )
        stage("lookback sufficiency")
        audits.append(audit_lookback(sample, base, contract, seed, tables=tables, columns=columns))
        stage("range independence")
        audits.append(
            audit_range_independence(
                sample, base, contract, seed, tables=tables, columns=columns, threads=threads
            )
        )
        stage("feature health")
        audits.append(audit_health(base, contract, tables=wanted, columns=columns))
    else:
        for name in ("leakage", "lookback sufficiency", "range independence", "feature health"):
            audits.append(
                Audit(
                    name,
                    False,
                    "not run: the SQL does not match its declaration",
                    skipped=True,
                    fix="fix the declaration first",
                )
            )
    return ContractAudit(
        contract.version,
        full_contract_hash(contract),
        tuple(audits),
        sample.num_rows,
        ts[0].as_py(),
        ts[-1].as_py(),
        time.perf_counter() - started,
    )


def check_contract(
    store: Store,
    contract: Contract,
    config: CheckConfig,
    *,
    on_stage: Callable[[str], None] | None = None,
) -> CheckResult:
    """Audit `contract` on the store's candles of `config`, record the check, write its reports.

    Raises:
        MaterializeError: no candles of the symbol in the range, or too few for the audits.
        StoreBusyError: another process holds the store.
    """
    with store.connect(read_only=True) as con:  # the audits run without holding the store
        start, end = _range(con, config)
        lo, hi = utc_day_range(start, end)
        sample = con.sql(
            f"SELECT {', '.join(SLICE_COLUMNS)} FROM candles WHERE symbol = ? AND timeframe = ? "
            "AND ts >= ? AND ts < ? ORDER BY ts",
            params=[config.symbol, config.timeframe, lo, hi],
        ).to_arrow_table()
        need = contract.warmup_bars + contract.label_margin_bars + 2 * config.cuts + 100
        if sample.num_rows < need:
            raise MaterializeError(
                f"{sample.num_rows} {config.timeframe} bars of {config.symbol} in {start}..{end}; the check "
                f"needs at least {need} (warmup {contract.warmup_bars} + label horizon + cuts): widen "
                "--date-range or ingest more candles"
            )
    audit = audit_contract(sample, contract, cuts=config.cuts, seed=config.seed, on_stage=on_stage)
    check_id = uuid.uuid4().hex[:16]
    paths = _write_reports(store, config, start, end, audit, check_id)
    with store.connect() as con:
        record = CheckRecord(
            check_id,
            contract.version,
            audit.full_contract_hash,
            config.symbol,
            config.timeframe,
            lo,
            hi,
            config.cuts,
            config.seed,
            audit.passed,
            audit.to_dict(),
            str(paths[1]),
            datetime.now(UTC).replace(tzinfo=None),
        )
        record_check(con, record)
    logger.info("contract check %s of %s: %s", check_id, contract.version, audit.summary())
    return CheckResult(record, audit, paths)


def _range(con: Any, config: CheckConfig) -> tuple[date, date]:
    first, last = con.execute(
        "SELECT min(ts), max(ts) FROM candles WHERE symbol = ? AND timeframe = ?",
        [config.symbol, config.timeframe],
    ).fetchall()[0]
    if last is None:
        raise MaterializeError(
            f"no {config.timeframe} candles of {config.symbol} in the store: run `fs ingest` first"
        )
    end = config.end or last.date()
    start = config.start or max(first.date(), end - timedelta(days=DEFAULT_DAYS - 1))
    if end < start:
        raise MaterializeError(f"empty date range {start}..{end}: the end is before the start")
    return start, end


def _write_reports(
    store: Store, config: CheckConfig, start: date, end: date, audit: ContractAudit, check_id: str
) -> tuple[Path, Path]:
    from featurestore.compute.contract_check_report import check_html
    from validation.html_report import write_html

    store.reports_dir.mkdir(parents=True, exist_ok=True)
    stem = f"contract-check-{audit.contract}-{config.symbol}-{start}-{end}"
    facts = {
        "check id": check_id,
        "contract": audit.contract,
        "full_contract_hash": audit.full_contract_hash,
        "symbol": config.symbol,
        "range": f"{start}..{end}",
        "bars": audit.bars,
        "cuts": config.cuts,
        "seed": config.seed,
        "seconds": round(audit.seconds, 1),
    }
    json_path = store.reports_dir / f"{stem}.json"
    json_path.write_text(json.dumps({**facts, **audit.to_dict()}, indent=2, default=str), encoding="utf-8")
    html_path = write_html(check_html(audit, facts, json_path.name), store.reports_dir / f"{stem}.html")
    return json_path, html_path
