"""The declaration file of a contract version (`contract.toml`), parsed strictly.

A version folder holds `contract.toml` and the SQL files. The declaration has three sections::

    [contract]                 description, and optionally the version's own context_contract
    [parameters]               every number the SQL reads as {{name}} and the gate reads by name
    [tables.<name>]            sql, description, optional grain, and columns = [ {one column per line}, ... ]

Every fault (a TOML syntax error, an unknown key, a missing field, a bad value) raises `DeclarationError`
naming the file, the line (or the key when no line can be told), the reason and the fix.

Usage::

    decl = parse_declaration(Path("contracts/rsi7/contract.toml"))
    decl.tables[2].by_role("feature")
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.columns import DTYPES, NULL_POLICIES, ROLES, Column, Table

DECLARATION_FILE = "contract.toml"
# The tables every version declares, in this order: the trainer, the gate and the store rely on them.
TABLE_NAMES = ("candles", "context", "seq_features", "snap_features", "eligibility", "labels")
# Parameters the code reads by name (the SQL's own {{placeholders}} are checked when it renders).
REQUIRED_PARAMETERS = (
    "timeframe",
    "timeframe_minutes",
    "sequence_length",
    "label_horizon_bars",
    "min_class_share",
    "max_abs_feature_corr",
    "class_coverage_min_rows",
)
_SECTIONS = ("contract", "parameters", "tables")
_CONTRACT_KEYS = ("description", "context_contract")
_TABLE_KEYS = ("sql", "description", "grain", "columns")
_COLUMN_REQUIRED = ("name", "dtype", "role", "unit", "description")
_COLUMN_OPTIONAL = ("range", "allowed", "nullable", "lookback", "value_names")


class DeclarationError(ValueError):
    """A declaration file cannot be used: carries the file, the line or key, the reason and the fix."""

    def __init__(self, path: Path, where: str, reason: str, fix: str) -> None:
        self.path, self.where, self.reason, self.fix = path, where, reason, fix
        super().__init__(f"{path}, {where}: {reason}\n  how to fix: {fix}")


@dataclass(frozen=True)
class Declaration:
    """What one declaration file declares."""

    path: Path
    description: str
    parameters: dict[str, Any]
    candles: Table
    tables: tuple[Table, ...]
    context_contract: dict[str, dict[str, Any]] | None = None
    value_names: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Locator:
    """Finds the line of a key in the file's text, so errors can point at it."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def line(self, pattern: str, after: str | None = None) -> int | None:
        start = 0
        if after is not None:
            start = next((i for i, s in enumerate(self.lines) if re.search(after, s)), 0)
        for i in range(start, len(self.lines)):
            if re.search(pattern, self.lines[i]):
                return i + 1
        return None

    def error(self, key: str, reason: str, fix: str, pattern: str | None = None, after: str | None = None):
        line = self.line(pattern, after) if pattern is not None else None
        where = f"line {line} ({key})" if line is not None else f"key {key}"
        return DeclarationError(self.path, where, reason, fix)


def parse_declaration(path: Path) -> Declaration:
    """Parse and check one declaration file.

    Raises:
        DeclarationError: the file is missing or unreadable TOML, or a key is unknown, missing or bad.
    """
    if not path.is_file():
        raise DeclarationError(
            path,
            "file",
            "the version folder has no declaration file",
            f"create {DECLARATION_FILE} there (`fs contract new NAME --from v2` writes a complete one)",
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(path, "TOML syntax", str(exc), "correct the TOML at that line") from None
    loc = _Locator(path, text)
    _only_keys(loc, data, _SECTIONS, "", "top-level sections are [contract], [parameters] and [tables.NAME]")
    contract = _section(loc, data, "contract")
    _only_keys(
        loc, contract, _CONTRACT_KEYS, "contract.", "[contract] holds description and context_contract"
    )
    description = _string(loc, contract, "description", "contract.", required=True)
    parameters = _parameters(loc, _section(loc, data, "parameters"))
    tables_data = _section(loc, data, "tables")
    if tuple(tables_data) != TABLE_NAMES:
        raise loc.error(
            "tables",
            f"the tables are {list(tables_data)}",
            f"declare exactly {', '.join(TABLE_NAMES)}, in this order",
            r"^\[tables\.",
        )
    tables = tuple(_table(loc, name, tables_data[name]) for name in TABLE_NAMES)
    names = {
        col.name: tuple(spec["value_names"])
        for name in TABLE_NAMES
        for col, spec in zip(
            tables[TABLE_NAMES.index(name)].columns, tables_data[name]["columns"], strict=True
        )
        if "value_names" in spec
    }
    context_contract = contract.get("context_contract")
    if context_contract is not None and not isinstance(context_contract, dict):
        raise loc.error(
            "contract.context_contract", "must be a table", "write [contract.context_contract.NAME]"
        )
    return Declaration(path, description, parameters, tables[0], tables[1:], context_contract, names)


def _only_keys(loc: _Locator, data: dict[str, Any], allowed: tuple[str, ...], prefix: str, fix: str) -> None:
    for key in data:
        if key not in allowed:
            raise loc.error(
                f"{prefix}{key}",
                f"unknown key {key!r}",
                f"{fix}; remove or rename {key!r}",
                rf"\b{re.escape(key)}\b",
            )


def _section(loc: _Locator, data: dict[str, Any], name: str) -> dict[str, Any]:
    if name not in data:
        raise loc.error(name, f"missing section [{name}]", f"add a [{name}] section (see docs/contracts.md)")
    if not isinstance(data[name], dict):
        raise loc.error(name, f"{name} must be a section", f"write it as [{name}]", rf"^\s*{name}\s*=")
    return data[name]


def _string(loc: _Locator, data: dict[str, Any], key: str, prefix: str, *, required: bool) -> str:
    if key not in data:
        if required:
            raise loc.error(
                f"{prefix}{key}", f"missing {key!r}", f'add {key} = "..." to [{prefix.rstrip(".")}]'
            )
        return ""
    if not isinstance(data[key], str):
        raise loc.error(
            f"{prefix}{key}", f"{key} must be a string", f'write {key} = "..."', rf"^\s*{key}\s*="
        )
    return data[key]


def _parameters(loc: _Locator, params: dict[str, Any]) -> dict[str, Any]:
    missing = [p for p in REQUIRED_PARAMETERS if p not in params]
    if missing:
        raise loc.error(
            "parameters",
            f"missing parameters {missing}",
            "add them to [parameters] (copy them from sql/v2)",
            r"^\[parameters\]",
        )
    if "sql_version" in params:
        raise loc.error(
            "parameters.sql_version",
            "the version is the folder's name, not a parameter",
            "remove sql_version; rename the folder to rename the version",
            r"^\s*sql_version\s*=",
        )
    for key, value in params.items():
        if not _plain_value(value):
            raise loc.error(
                f"parameters.{key}",
                f"parameter {key!r} must be a number, a string, a list of those, or a table of numbers",
                f"change the value of {key}",
                rf"^\s*{re.escape(key)}\s*=",
            )
    return dict(params)


def _plain_value(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())
    if isinstance(value, list):
        return all(isinstance(v, int | float | str) and not isinstance(v, bool) for v in value)
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _table(loc: _Locator, name: str, spec: Any) -> Table:
    header = rf"^\[tables\.{name}\]"
    if not isinstance(spec, dict):
        raise loc.error(f"tables.{name}", "must be a section", f"write [tables.{name}]")
    for key in spec:
        if key not in _TABLE_KEYS:
            raise loc.error(
                f"tables.{name}.{key}",
                f"unknown key {key!r}",
                f"a table holds {', '.join(_TABLE_KEYS)}; remove {key!r}",
                rf"^\s*{re.escape(key)}\s*=",
                header,
            )
    sql = spec.get("sql")
    if name == "candles" and sql is not None:
        raise loc.error(
            "tables.candles.sql", "candles are ingested, not computed", "remove sql", r"^\s*sql\s*=", header
        )
    if name != "candles" and (not isinstance(sql, str) or not sql.endswith(".sql")):
        raise loc.error(
            f"tables.{name}.sql",
            "missing or not a .sql file name",
            f'add sql = "NN_{name}.sql" (a file of the folder)',
            header,
        )
    description = _string(loc, spec, "description", f"tables.{name}.", required=True)
    grain = spec.get("grain", ["symbol", "ts"])
    if not isinstance(grain, list) or not all(isinstance(g, str) for g in grain):
        raise loc.error(
            f"tables.{name}.grain", "grain must be a list of column names", 'write grain = ["symbol", "ts"]'
        )
    columns = spec.get("columns")
    if not isinstance(columns, list) or not columns:
        raise loc.error(
            f"tables.{name}.columns", "missing or empty columns list", "add columns = [ {...}, ... ]", header
        )
    cols = tuple(_column(loc, name, i, c) for i, c in enumerate(columns))
    seen: set[str] = set()
    for col in cols:
        if col.name in seen:
            raise loc.error(
                f"tables.{name}.columns",
                f"column {col.name!r} is declared twice",
                "remove one of them",
                rf'name\s*=\s*"{re.escape(col.name)}"',
                header,
            )
        seen.add(col.name)
    return Table(name, sql, description, cols, tuple(grain))


def _column(loc: _Locator, table: str, index: int, spec: Any) -> Column:
    header = rf"^\[tables\.{table}\]"
    key = f"tables.{table}.columns[{index}]"
    if not isinstance(spec, dict):
        raise loc.error(
            key, "a column must be an inline table", 'write { name = "...", dtype = "float64", ... }'
        )
    name = spec.get("name")
    pattern = rf'name\s*=\s*"{re.escape(name)}"' if isinstance(name, str) else None
    if isinstance(name, str):
        key = f"{key} {name}"

    def fail(reason: str, fix: str) -> DeclarationError:
        return loc.error(key, reason, fix, pattern, header)

    for k in spec:
        if k not in _COLUMN_REQUIRED + _COLUMN_OPTIONAL:
            raise fail(
                f"unknown key {k!r}", f"a column holds {', '.join(_COLUMN_REQUIRED + _COLUMN_OPTIONAL)}"
            )
    missing = [k for k in _COLUMN_REQUIRED if k not in spec]
    if missing:
        raise fail(
            f"missing {', '.join(missing)}", "declare every column with name, dtype, role, unit, description"
        )
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise fail(f"column name {name!r} is not a lower-case SQL identifier", "use letters, digits and _")
    for k, choices in (("dtype", DTYPES), ("role", ROLES), ("nullable", NULL_POLICIES)):
        if k in spec and spec[k] not in choices:
            raise fail(f"{k} {spec[k]!r} is not one of {', '.join(choices)}", f"set {k} to one of those")
    rng = spec.get("range")
    if rng is not None and not (
        isinstance(rng, list) and len(rng) == 2 and all(_number(v) for v in rng) and rng[0] < rng[1]
    ):
        raise fail(f"range {rng!r} is not [low, high] with low < high", "write range = [low, high]")
    allowed = spec.get("allowed")
    if allowed is not None and (not isinstance(allowed, list) or not allowed):
        raise fail("allowed must be a non-empty list", "write allowed = [0, 1, 2]")
    lookback = spec.get("lookback", 0)
    if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 0:
        raise fail(
            f"lookback {lookback!r} is not a whole number >= 0", "write the earlier bars the value reads"
        )
    if spec["role"] == "feature" and (rng is None or spec["dtype"] != "float64"):
        raise fail("a feature is a float64 with a range", 'declare dtype = "float64" and range = [low, high]')
    if spec["role"] == "categorical" and (allowed is None or spec["dtype"] not in ("int8", "int64")):
        raise fail(
            "a categorical is an integer id with allowed values", 'declare dtype = "int8" and allowed = [...]'
        )
    names = spec.get("value_names")
    if names is not None and (allowed is None or len(names) != len(allowed)):
        raise fail("value_names needs one name per allowed value", "list as many names as allowed values")
    return Column(
        name,
        spec["dtype"],
        spec["role"],
        _text(fail, spec, "unit"),
        _text(fail, spec, "description"),
        tuple(rng) if rng is not None else None,
        tuple(allowed) if allowed is not None else None,
        spec.get("nullable", "never"),
        lookback,
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(fail: Any, spec: dict[str, Any], key: str) -> str:
    if not isinstance(spec[key], str):
        raise fail(f"{key} must be a string", f'write {key} = "..."')
    return spec[key]
