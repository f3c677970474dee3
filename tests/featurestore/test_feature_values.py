"""Feature values against independent numpy computations on synthetic candles.

Each expected value below is computed from the raw OHLC arrays with numpy (sliding windows), not from the
SQL, so a wrong window, a lag in the wrong place or a unit slip shows up as a mismatch.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from numpy.lib.stride_tricks import sliding_window_view as windows

from featurestore.compute.pipeline import run_pipeline
from schemas.contract import CONTRACT
from tests.conftest import SYNTH_END, SYNTH_START


@pytest.fixture(scope="module")
def computed(synthetic_slice: pa.Table) -> dict[str, np.ndarray]:
    tables = run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END)
    ts = synthetic_slice.column("ts").to_numpy()
    first = int(np.searchsorted(ts, np.datetime64(SYNTH_START)))
    n = tables["context"].num_rows
    raw = {
        name: synthetic_slice.column(name).to_numpy().astype(float)
        for name in ("open", "high", "low", "close", "tick_volume", "spread")
    }
    raw["ts"] = ts
    out: dict[str, np.ndarray] = {f"raw_{k}": v for k, v in raw.items()}
    out["first"] = np.array(first)
    out["n"] = np.array(n)
    for name in ("context", "seq_features", "snap_features"):
        for col in tables[name].column_names[2:]:
            out[col] = tables[name].column(col).to_numpy(zero_copy_only=False).astype(float)
    return out


def trailing(values: np.ndarray, window: int, first: int, n: int) -> np.ndarray:
    """Windows of `window` values ending at each row first..first+n-1."""
    return windows(values, window)[first - window + 1 : first - window + 1 + n]


def test_true_range_and_atr_bps(computed: dict[str, np.ndarray]) -> None:
    h, lo, c, first, n = (computed[k] for k in ("raw_high", "raw_low", "raw_close", "first", "n"))
    prev = np.r_[np.nan, c[:-1]]
    tr = np.maximum(h, prev) - np.minimum(lo, prev)
    atr = trailing(tr, 14, first, n).mean(axis=1)
    expected = np.clip(atr / c[first : first + n] * 1e4, 0, 1000)
    np.testing.assert_allclose(computed["atr_bps"], expected, rtol=1e-12)
    atr48 = trailing(tr, 48, first, n).mean(axis=1)
    np.testing.assert_allclose(computed["atr_48_bps"], atr48 / c[first : first + n] * 1e4, rtol=1e-12)


def test_returns_and_rolling_std(computed: dict[str, np.ndarray]) -> None:
    c, first, n = computed["raw_close"], int(computed["first"]), int(computed["n"])
    r1 = np.log(c[1:] / c[:-1]) * 1e4
    r1 = np.r_[np.nan, r1]
    np.testing.assert_allclose(computed["ret_1_bps"], r1[first : first + n], rtol=1e-12)
    for k in (2, 12, 288):
        expected = np.log(c[first : first + n] / c[first - k : first - k + n]) * 1e4
        np.testing.assert_allclose(computed[f"ret_{k}_bps"], expected, rtol=1e-11, atol=1e-9)
    for w in (12, 48, 576):
        expected = trailing(r1, w, first, n).std(axis=1, ddof=1)
        np.testing.assert_allclose(computed[f"rv_{w}_bps"], expected, rtol=1e-9)


def test_snapshot_features_match_numpy(computed: dict[str, np.ndarray]) -> None:
    o, h, lo, c, tv, spread = (
        computed[f"raw_{k}"] for k in ("open", "high", "low", "close", "tick_volume", "spread")
    )
    first, n = int(computed["first"]), int(computed["n"])
    cur = slice(first, first + n)
    prev = np.r_[np.nan, c[:-1]]
    tr = np.maximum(h, prev) - np.minimum(lo, prev)
    atr14 = trailing(tr, 14, first, n).mean(axis=1)
    atr48 = trailing(tr, 48, first, n).mean(axis=1)
    rng = h - lo
    rw = trailing(rng, 48, first, n)
    check = np.testing.assert_allclose
    check(
        computed["range_z_48"], (rng[cur] - rw.mean(axis=1)) / rw.std(axis=1, ddof=1), rtol=1e-9, atol=1e-12
    )
    check(
        computed["dist_sma48_atr"],
        (c[cur] - trailing(c, 48, first, n).mean(axis=1)) / atr48,
        rtol=1e-7,
        atol=1e-9,
    )
    cw, x = trailing(c, 48, first, n), np.arange(48.0)
    slope = ((x - x.mean()) * (cw - cw.mean(axis=1, keepdims=True))).sum(axis=1) / ((x - x.mean()) ** 2).sum()
    check(computed["slope_48_atr"], slope * 48 / atr48, rtol=1e-7, atol=1e-9)
    corr = np.array([np.corrcoef(x, row)[0, 1] for row in cw])
    check(computed["r2_48"], corr**2, rtol=1e-7, atol=1e-9)
    moves = np.abs(np.diff(c, prepend=np.nan))
    check(
        computed["efficiency_24"],
        np.abs(c[cur] - c[first - 24 : first - 24 + n]) / trailing(moves, 24, first, n).sum(axis=1),
        rtol=1e-9,
    )
    delta = np.diff(c, prepend=np.nan)
    gains = trailing(np.maximum(delta, 0), 14, first, n).sum(axis=1)
    losses = trailing(np.maximum(-delta, 0), 14, first, n).sum(axis=1)
    check(computed["rsi_14"], 100 * gains / (gains + losses), rtol=1e-9)
    hh, ll = trailing(h, 48, first, n).max(axis=1), trailing(lo, 48, first, n).min(axis=1)
    check(computed["stoch_48"], (c[cur] - ll) / (hh - ll), rtol=1e-9)
    check(
        computed["body_share_12"],
        trailing(np.abs(c - o), 12, first, n).sum(axis=1) / trailing(rng, 12, first, n).sum(axis=1),
        rtol=1e-9,
    )
    check(computed["up_share_12"], trailing((c > o).astype(float), 12, first, n).mean(axis=1), rtol=1e-12)
    sbps = spread / c * 1e4
    sw = trailing(sbps, 144, first, n)
    check(
        computed["spread_z_144"], (sbps[cur] - sw.mean(axis=1)) / sw.std(axis=1, ddof=1), rtol=1e-7, atol=1e-9
    )
    check(
        computed["tv_ratio_12_48"],
        trailing(tv, 12, first, n).mean(axis=1) / trailing(tv, 48, first, n).mean(axis=1),
        rtol=1e-9,
    )
    check(computed["spread_atr"], spread[cur] / atr14, rtol=1e-9)
    check(computed["body_atr"], (c[cur] - o[cur]) / atr14, rtol=1e-9, atol=1e-12)


def test_calendar_and_return_z_features(computed: dict[str, np.ndarray]) -> None:
    ts = computed["raw_ts"]
    first, n = int(computed["first"]), int(computed["n"])
    cur = ts[first : first + n].astype("datetime64[m]")
    minutes_of_day = (cur - cur.astype("datetime64[D]")).astype(int)
    np.testing.assert_allclose(computed["tod_sin"], np.sin(2 * np.pi * minutes_of_day / 1440), atol=1e-12)
    days = cur.astype("datetime64[D]").astype(int)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    week = (weekday + minutes_of_day / 1440) / 7
    np.testing.assert_allclose(computed["week_sin"], np.sin(2 * np.pi * week), atol=1e-12)
    c = computed["raw_close"]
    r1 = np.r_[np.nan, np.log(c[1:] / c[:-1]) * 1e4]
    expected = r1[first : first + n] / trailing(r1, 48, first, n).std(axis=1, ddof=1)
    np.testing.assert_allclose(computed["ret_1_z_48"], expected, rtol=1e-9)


def test_h1_features_use_only_closed_hours(computed: dict[str, np.ndarray]) -> None:
    """h1_ret_1_bps at bar ts is the return of the last H1 bar that closed by ts + 5 min."""
    ts = computed["raw_ts"].astype("datetime64[m]")
    c = computed["raw_close"]
    first, n = int(computed["first"]), int(computed["n"])
    hours = ts.astype("datetime64[h]")
    last_close_of_hour = {
        hour: c[i] for i, hour in enumerate(hours)
    }  # later bars overwrite: the hour's close
    ordered = sorted(last_close_of_hour)
    for i in range(first, first + n, 37):
        known_at = ts[i] + np.timedelta64(5, "m")
        closed = [hr for hr in ordered if hr + np.timedelta64(1, "h") <= known_at]
        expected = np.log(last_close_of_hour[closed[-1]] / last_close_of_hour[closed[-2]]) * 1e4
        assert computed["h1_ret_1_bps"][i - first] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_every_contract_feature_is_finite_after_warmup(computed: dict[str, np.ndarray]) -> None:
    for table in ("context", "seq_features", "snap_features"):
        for col in CONTRACT.feature_columns(table):
            values = computed[col.name]
            assert np.isfinite(values).all(), f"{table}.{col.name} has non-finite values after warmup"
            lo, hi = col.range if col.range else (min(col.allowed), max(col.allowed))  # type: ignore[arg-type, type-var]
            assert values.min() >= lo and values.max() <= hi, f"{table}.{col.name} leaves its contract range"
