"""Point in time and range independence: the two properties every feature must have (docs/contract_v1.md).

(a) Deleting every candle after a cut time T, or (b) replacing them with random prices, leaves every feature
and eligibility value at ts <= T bit-identical; only labels may change. And materializing a sub-range gives
the same rows as a larger run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from featurestore.compute.pipeline import run_pipeline
from schemas.contract import CONTRACT, Contract
from schemas.versions import CONTRACTS
from tests.conftest import SYNTH_END, SYNTH_START

DECISION_TABLES = ("context", "seq_features", "snap_features", "eligibility")


def cut_after(candles: pa.Table, cut: datetime) -> pa.Table:
    return candles.filter(pc.less_equal(candles.column("ts"), pa.scalar(cut, pa.timestamp("us"))))


def scramble_after(candles: pa.Table, cut: datetime, seed: int) -> pa.Table:
    """Replace every bar after `cut` with random but valid OHLC, spread and tick volume."""
    rng = np.random.default_rng(seed)
    after = (candles.column("ts").to_numpy() > np.datetime64(cut)).astype(bool)
    k = int(after.sum())
    base = candles.column("close").to_numpy()[~after][-1]
    close = base * np.exp(np.cumsum(rng.normal(0, 0.003, k)))
    opens = close * np.exp(rng.normal(0, 0.002, k))
    high = np.maximum(opens, close) * (1 + rng.uniform(0, 0.004, k))
    low = np.minimum(opens, close) * (1 - rng.uniform(0, 0.004, k))
    columns = {
        "open": opens,
        "high": high,
        "low": low,
        "close": close,
        "spread": rng.uniform(0.01, 3.0, k),
        "tick_volume": rng.integers(1, 5000, k),
    }
    table = candles
    for name, values in columns.items():
        col = table.column(name).to_numpy().copy()
        col[after] = values
        table = table.set_column(
            table.column_names.index(name), name, pa.array(col, table.schema.field(name).type)
        )
    return table


def assert_identical_up_to(
    base: dict[str, pa.Table],
    other: dict[str, pa.Table],
    cut: datetime,
    tables: tuple[str, ...] = DECISION_TABLES,
) -> None:
    limit = pa.scalar(cut, pa.timestamp("us"))
    for name in tables:
        a = base[name].filter(pc.less_equal(base[name].column("ts"), limit))
        b = other[name].filter(pc.less_equal(other[name].column("ts"), limit))
        assert a.num_rows == b.num_rows > 0
        for col in a.column_names:
            if not a.column(col).equals(b.column(col)):
                x, y = a.column(col).to_pylist(), b.column(col).to_pylist()
                first = next(i for i in range(len(x)) if x[i] != y[i] and not (x[i] != x[i] and y[i] != y[i]))
                raise AssertionError(
                    f"{name}.{col} changed at {a.column('ts')[first]}: {x[first]!r} -> {y[first]!r}"
                )


def assert_same_rows(
    full: dict[str, pa.Table],
    part: dict[str, pa.Table],
    rtol: float = 1e-9,
    atol: float = 1e-12,
    contract: Contract = CONTRACT,
) -> None:
    """Rows of `part` equal the same rows of `full`: categoricals exactly, continuous within rtol.

    Window sums start at different rows in the two runs, so floating-point rounding differs slightly; the
    absolute floor `atol` (far below any feature's resolution) covers values that are themselves ~0.
    """
    for name, table in part.items():
        lo, hi = table.column("ts")[0], table.column("ts")[-1]
        ref = full[name].filter(
            pc.and_(pc.greater_equal(full[name].column("ts"), lo), pc.less_equal(full[name].column("ts"), hi))
        )
        assert ref.num_rows == table.num_rows
        for col in contract.table(name).columns:
            x, y = ref.column(col.name), table.column(col.name)
            if col.dtype == "float64":
                a = x.to_numpy(zero_copy_only=False).astype(float)
                b = y.to_numpy(zero_copy_only=False).astype(float)
                np.testing.assert_allclose(
                    b, a, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{name}.{col.name}"
                )
            else:
                assert x.equals(y), f"{name}.{col.name} differs"


def random_cuts(candles: pa.Table, start: datetime, end: datetime, n: int, seed: int) -> list[datetime]:
    ts = candles.column("ts").to_pylist()
    inside = [t for t in ts if start + timedelta(days=1) <= t < end - timedelta(days=1)]
    rng = np.random.default_rng(seed)
    return [inside[i] for i in sorted(rng.choice(len(inside), size=n, replace=False))]


@pytest.mark.parametrize("version", sorted(CONTRACTS))
def test_point_in_time_synthetic(synthetic_slice: pa.Table, version: str) -> None:
    contract = CONTRACTS[version]
    base = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=contract)
    for i, cut in enumerate(random_cuts(synthetic_slice, SYNTH_START, SYNTH_END, 5, seed=3)):
        cut_run = run_pipeline(cut_after(synthetic_slice, cut), SYNTH_START, SYNTH_END, contract=contract)
        assert_identical_up_to(base, cut_run, cut)
        scrambled = run_pipeline(
            scramble_after(synthetic_slice, cut, seed=i), SYNTH_START, SYNTH_END, contract=contract
        )
        assert_identical_up_to(base, scrambled, cut)


def test_labels_do_change_when_the_future_changes(synthetic_slice: pa.Table) -> None:
    """The perturbation test is only meaningful if it can detect a change: labels must move."""
    cut = datetime(2025, 2, 10, 10, 0)
    base = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END)
    scrambled = run_pipeline(scramble_after(synthetic_slice, cut, seed=1), SYNTH_START, SYNTH_END)
    with pytest.raises(AssertionError):
        assert_identical_up_to(base, scrambled, cut, tables=("labels",))


@pytest.mark.parametrize("version", sorted(CONTRACTS))
def test_range_independence_synthetic(synthetic_slice: pa.Table, version: str) -> None:
    contract = CONTRACTS[version]
    full = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=contract)
    part_start, part_end = datetime(2025, 2, 10), datetime(2025, 2, 14)
    ts = synthetic_slice.column("ts").to_numpy()
    lo = int(np.searchsorted(ts, np.datetime64(part_start))) - contract.warmup_bars
    hi = int(np.searchsorted(ts, np.datetime64(part_end))) + contract.label_margin_bars
    part = run_pipeline(synthetic_slice.slice(lo, hi - lo), part_start, part_end, contract=contract)
    assert_same_rows(full, part, contract=contract)
