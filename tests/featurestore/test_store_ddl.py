"""The store's candles table is generated from the contract's CANDLES declaration."""

from __future__ import annotations

import duckdb
import pytest

from featurestore.store.handle import Store
from schemas.contract import CONTRACT

CANDLES = CONTRACT.candles


def test_candles_table_types_and_nulls_follow_the_contract(tmp_path) -> None:
    store = Store.at(tmp_path / "fs")
    with store.connect() as con:
        described = con.execute("DESCRIBE candles").fetchall()
    columns = {name: (kind, null) for name, kind, null, *_ in described}
    assert list(columns) == [*CANDLES.names, "ingest_id"]
    for column in CANDLES.columns:
        assert columns[column.name][1] == ("NO" if column.nullable == "never" else "YES"), column.name
    assert columns["spread"] == ("DOUBLE", "NO")  # the contract: spread is never null
    assert columns["tick_volume"][1] == "YES"  # null when the source has none


def test_candles_table_refuses_a_null_spread_and_a_duplicate_bar(tmp_path) -> None:
    store = Store.at(tmp_path / "fs")
    row = "('XAUUSD', 'M5', TIMESTAMP '2025-01-02 00:00:00', 1, 2, 0.5, 1.5, NULL, {spread}, 1)"
    with store.connect() as con:
        with pytest.raises(duckdb.ConstraintException, match="spread"):
            con.execute(f"INSERT INTO candles VALUES {row.format(spread='NULL')}")
        con.execute(f"INSERT INTO candles VALUES {row.format(spread='0.3')}")
        with pytest.raises(duckdb.ConstraintException):
            con.execute(f"INSERT INTO candles VALUES {row.format(spread='0.3')}")
