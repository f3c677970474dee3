"""The store's record of `fs contract check` runs, and the rule `fs validate` applies with it: a contract
version is sealed into a snapshot only when its current full hash has a passing check on record for the
symbol. The built-in versions (v1, v2) are audited by the test suite on every commit instead (see
docs/contract_check.md).

Usage::

    record_check(con, CheckRecord(...))
    require_passing_check(con, contract, "XAUUSD")     # raises ContractNotChecked
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from featurestore.errors import ContractError, ContractNotChecked
from schemas.contract import Contract, full_contract_hash
from schemas.versions import CONTRACTS

_COLUMNS = (
    "check_id, contract, full_contract_hash, symbol, timeframe, range_start, range_end, cuts, seed, passed, "
    "result, report_path, created_at"
)


@dataclass(frozen=True)
class CheckRecord:
    """One recorded check: which contract (name and full hash), on which candles, with which cuts and seed,
    and its result (the audits as JSON-able data)."""

    check_id: str
    contract: str
    full_contract_hash: str
    symbol: str
    timeframe: str
    range_start: datetime
    range_end: datetime
    cuts: int
    seed: int
    passed: bool
    result: dict[str, Any]
    report_path: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("range_start", "range_end", "created_at"):
            out[key] = out[key].isoformat()
        return out


def record_check(con: duckdb.DuckDBPyConnection, record: CheckRecord) -> None:
    values = dict(record.__dict__, result=json.dumps(record.result, default=str))
    con.execute(
        f"INSERT INTO contract_checks ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",
        [values[k.strip()] for k in _COLUMNS.split(",")],
    )


def checks_of(
    con: duckdb.DuckDBPyConnection, contract: str | None = None, symbol: str | None = None
) -> list[CheckRecord]:
    """Recorded checks, newest first (of one contract name and/or symbol when given)."""
    present = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'contract_checks'"
    ).fetchall()[0]
    if not present or not present[0]:
        return []
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM contract_checks WHERE (? IS NULL OR contract = ?) "
        "AND (? IS NULL OR symbol = ?) ORDER BY created_at DESC",
        [contract, contract, symbol, symbol],
    ).fetchall()
    out = []
    for row in rows:
        values = dict(zip([k.strip() for k in _COLUMNS.split(",")], row, strict=True))
        values["result"] = json.loads(values["result"])
        out.append(CheckRecord(**values))
    return out


def is_builtin(contract: Contract) -> bool:
    """A version this code ships (v1, v2) with its shipped definition, audited by the test suite."""
    shipped = CONTRACTS.get(contract.version)
    return shipped is not None and full_contract_hash(shipped) == full_contract_hash(contract)


def check_state(con: duckdb.DuckDBPyConnection, contract: Contract, symbol: str) -> tuple[str, str]:
    """(state, why) of `contract` for `symbol`: built-in, passed, failed, stale or unchecked."""
    now = full_contract_hash(contract)
    records = checks_of(con, contract.version, symbol)
    current = [r for r in records if r.full_contract_hash == now]
    if any(r.passed for r in current):
        r = next(r for r in current if r.passed)
        return "passed", f"check {r.check_id} ({r.created_at:%Y-%m-%d %H:%M} UTC) on {_span(r)}"
    if is_builtin(contract):
        return "built-in", "shipped version: audited by the test suite on every commit"
    if current:
        return "failed", f"check {current[0].check_id} failed: {current[0].result.get('summary', '')}"
    if records:
        return "stale", (
            f"checked under full_contract_hash {records[0].full_contract_hash[:16]}; the definition now "
            f"has {now[:16]} (edited since)"
        )
    return "unchecked", "no check on record"


def require_passing_check(con: duckdb.DuckDBPyConnection, contract: Contract, symbol: str) -> None:
    """Refuse to seal `contract` for `symbol` without a passing check of its current definition.

    Raises:
        ContractNotChecked: no passing check of the current full hash is on record (names the command).
    """
    state, why = check_state(con, contract, symbol)
    if state in ("passed", "built-in"):
        return
    raise ContractNotChecked(
        f"contract {contract.version} (full_contract_hash {full_contract_hash(contract)[:16]}) has no "
        f"passing check on record for {symbol} ({state}: {why}); nothing was written.\n"
        f"  how to fix: run `fs contract check {contract.version} --symbol {symbol}` and fix what it reports"
    )


def check_states(con: duckdb.DuckDBPyConnection, symbols: list[str]) -> list[dict[str, Any]]:
    """`fs status`: the check state of each known version (built-in and recorded ones) per symbol."""
    from featurestore.store.versions import named_contract

    recorded = checks_of(con)
    names = sorted(set(CONTRACTS) | {r.contract for r in recorded})
    out = []
    for name in names:
        try:
            contract = named_contract(name)
        except ContractError:
            contract = None
        for symbol in symbols:
            if contract is None:
                state, why = "unknown", f"version {name} is no longer defined"
            else:
                state, why = check_state(con, contract, symbol)
            last = next((r for r in recorded if r.contract == name and r.symbol == symbol), None)
            out.append(
                {
                    "contract": name,
                    "symbol": symbol,
                    "state": state,
                    "why": why,
                    "last_check": last.check_id if last else None,
                    "last_report": last.report_path if last else None,
                }
            )
    return out


def _span(record: CheckRecord) -> str:
    """The checked UTC days, inclusive (the record holds the half-open [start, end) of the sample)."""
    last = record.range_end - timedelta(days=1)
    return f"{record.symbol} {record.range_start:%Y-%m-%d}..{last:%Y-%m-%d}"
