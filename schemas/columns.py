"""Column and table declarations: the vocabulary of the contract.

A column declares everything the rest of the system needs to know about it: dtype, role, unit, valid range or
allowed values, when it may be null, how many earlier bars its value depends on, and a description.
Pandera schemas, Great Expectations suites, the dataset's column order and the contract hash are all derived
from these declarations; nothing about a column is written down a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DTYPES = ("str", "datetime", "bool", "int8", "int64", "float64")
ROLES = ("key", "categorical", "feature", "status", "label", "meta")
# When a column may be null: never; only in HARD_WARMUP rows; only where the label is unavailable.
NULL_POLICIES = ("never", "warmup", "label_unavailable")


@dataclass(frozen=True)
class Column:
    """One column of one table."""

    name: str
    dtype: str
    role: str
    unit: str
    description: str
    range: tuple[float, float] | None = None
    allowed: tuple[Any, ...] | None = None
    nullable: str = "never"
    lookback: int = 0

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"column {self.name}: dtype {self.dtype!r} not in {DTYPES}")
        if self.role not in ROLES:
            raise ValueError(f"column {self.name}: role {self.role!r} not in {ROLES}")
        if self.nullable not in NULL_POLICIES:
            raise ValueError(f"column {self.name}: nullable {self.nullable!r} not in {NULL_POLICIES}")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"column {self.name}: empty range {self.range}")

    def data_fields(self) -> dict[str, Any]:
        """Everything that changes the data, i.e. all fields but the description."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "role": self.role,
            "unit": self.unit,
            "range": list(self.range) if self.range is not None else None,
            "allowed": list(self.allowed) if self.allowed is not None else None,
            "nullable": self.nullable,
            "lookback": self.lookback,
        }


@dataclass(frozen=True)
class Table:
    """One table: its producing SQL file (None for stored inputs), grain and columns in order."""

    name: str
    sql: str | None
    description: str
    columns: tuple[Column, ...]
    grain: tuple[str, ...] = ("symbol", "ts")

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def by_role(self, *roles: str) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role in roles)

    @property
    def max_lookback(self) -> int:
        return max((c.lookback for c in self.columns), default=0)


SYMBOL = Column("symbol", "str", "key", "", "Instrument symbol as given at ingest, e.g. XAUUSD.")
TS = Column("ts", "datetime", "key", "UTC", "Bar OPEN time in UTC; the bar is knowable at ts + timeframe.")
