"""Tests for the synthetic demo candles: determinism, calendar, MT5 format and calibration.

The calibration bounds are deliberately loose: they pin the generator to the real XAUUSD M5 file's
ballpark (see ../shared/data/README.md) without making the tests brittle to small retuning.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from featurestore.app.synthetic import SyntheticConfig, generate_candles, session_of_hour, write_mt5_tsv

HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
ROW = re.compile(r"\d{4}\.\d{2}\.\d{2}\t\d{2}:\d{2}:\d{2}(\t\d+\.\d{2}){4}\t\d+\t0\t\d+")


@pytest.fixture(scope="module")
def candles() -> pl.DataFrame:
    return generate_candles(SyntheticConfig())


@pytest.fixture(scope="module")
def tsv(candles: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mt5_tsv(candles, tmp_path_factory.mktemp("synthetic") / "xauusd_m5.tsv")


@pytest.fixture(scope="module")
def ny(candles: pl.DataFrame) -> pl.Series:
    return candles["ts"].dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York")


@pytest.fixture(scope="module")
def server_times(tsv: Path) -> pl.Series:
    """Bar open times read back from the file exactly as written (EET server wall time)."""
    lines = tsv.read_bytes().decode("ascii").split("\r\n")[1:-1]
    return pl.Series([line[:19] for line in lines]).str.strptime(pl.Datetime, "%Y.%m.%d\t%H:%M:%S")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_config_gives_byte_identical_file(tsv: Path, tmp_path: Path) -> None:
    again = write_mt5_tsv(generate_candles(SyntheticConfig()), tmp_path / "again.tsv")
    assert _sha256(again) == _sha256(tsv)
    other = write_mt5_tsv(generate_candles(SyntheticConfig(seed=8)), tmp_path / "other.tsv")
    assert _sha256(other) != _sha256(tsv)


def test_schema_and_ohlc_invariants(candles: pl.DataFrame) -> None:
    assert candles.schema == pl.Schema(
        {
            "ts": pl.Datetime("us"),
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "tick_volume": pl.Int64,
            "spread_points": pl.Int64,
        }
    )
    o, h, lo, c = (candles[k].to_numpy() for k in ("open", "high", "low", "close"))
    for prices in (o, h, lo, c):
        assert np.abs(prices * 100 - np.rint(prices * 100)).max() < 1e-6
    assert (lo <= np.minimum(o, c)).all() and (np.maximum(o, c) <= h).all()
    assert (candles["tick_volume"] > 0).all() and (candles["spread_points"] > 0).all()
    assert candles["ts"].is_sorted() and candles["ts"].n_unique() == len(candles)
    step = np.diff(candles["ts"].to_numpy()) == np.timedelta64(5, "m")
    assert (o[1:][step] == c[:-1][step]).all()  # open = previous close inside a session
    assert o[0] == SyntheticConfig().start_price


def test_trading_calendar_follows_new_york_time(candles: pl.DataFrame, ny: pl.Series) -> None:
    assert candles["ts"][0] == datetime(2025, 1, 1, 23, 0)  # Jan 1 holiday: reopen 18:00 NY
    assert (candles["ts"].dt.weekday() != 6).all()  # no bars on Saturday
    hour, weekday = ny.dt.hour(), ny.dt.weekday()
    assert not (hour == 17).any()  # daily break 17:00-18:00 NY
    assert not ((weekday == 5) & (hour >= 17)).any() and not ((weekday == 7) & (hour < 18)).any()
    trading_day = (ny.dt.replace_time_zone(None) + timedelta(hours=6)).dt.date()
    assert not (trading_day == date(2025, 4, 18)).any()  # Good Friday closed
    assert trading_day.value_counts()["count"].mode().to_list() == [276]
    gaps = np.diff(candles["ts"].to_numpy()).astype("timedelta64[m]").astype(int)
    assert 1 <= (gaps == 10).sum() <= 3  # one or two single missing bars
    assert (gaps == 65).sum() > 150  # the daily break, ~every trading day
    utc_break = {
        d: candles.filter(pl.col("ts").dt.date() == d)["ts"].dt.hour().unique().to_list()
        for d in (date(2025, 1, 15), date(2025, 7, 15))
    }
    assert 22 not in utc_break[date(2025, 1, 15)] and 21 in utc_break[date(2025, 1, 15)]
    assert 21 not in utc_break[date(2025, 7, 15)] and 22 in utc_break[date(2025, 7, 15)]


def test_mt5_file_format(tsv: Path) -> None:
    raw = tsv.read_bytes()
    lines = raw.split(b"\r\n")
    assert lines[0].decode() == HEADER and lines[-1] == b""
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert all(ROW.fullmatch(line.decode()) for line in lines[1:-1])
    assert lines[1].startswith(b"2025.01.02\t01:00:00\t2625.00\t")  # same first bar as the real file


@pytest.mark.parametrize(
    ("day", "break_hour"),
    [(date(2025, 1, 15), 0), (date(2025, 7, 15), 0), (date(2025, 3, 12), 23)],
)
def test_daily_break_in_server_time(server_times: pl.Series, day: date, break_hour: int) -> None:
    """EET server time puts the break at 00:00-01:00, except when only the US is on DST."""
    hours = set(server_times.filter(server_times.dt.date() == day).dt.hour().to_list())
    assert break_hour not in hours
    assert set(range(24)) - hours == {break_hour}


def test_calibrated_to_real_statistics(candles: pl.DataFrame) -> None:
    h, lo, c = (candles[k].to_numpy() for k in ("high", "low", "close"))
    true_range = np.maximum(h[1:], c[:-1]) - np.minimum(lo[1:], c[:-1])
    atr_bps = np.convolve(true_range, np.ones(14) / 14, "valid") / c[14:] * 1e4
    assert 5 <= np.median(atr_bps) <= 10
    assert 3.5 <= np.percentile(atr_bps, 25) <= 7 and 12 <= np.percentile(atr_bps, 95) <= 25
    spread_bps = candles["spread_points"].to_numpy() / 100 / c * 1e4
    assert 0.35 <= np.median(spread_bps) <= 0.8 and 0.7 <= np.percentile(spread_bps, 90) <= 1.5
    assert 0 < (spread_bps > 3).mean() < 0.05
    tick_volume = candles["tick_volume"].to_numpy()
    assert 200 <= np.median(tick_volume) <= 2000
    assert np.corrcoef(np.log(tick_volume), np.log(h - lo + 0.01))[0, 1] > 0.3
    assert 2400 <= c.min() and c.max() <= 4800 and 3300 <= c[-1] <= 4300


def test_session_volatility_ordering(candles: pl.DataFrame) -> None:
    abs_ret = np.abs(np.diff(np.log(candles["close"].to_numpy())))
    session = session_of_hour(candles["ts"].dt.hour().to_numpy()[1:])
    mean = {name: abs_ret[session == name].mean() for name in ("ASIA", "EU", "OVERLAP", "US")}
    assert mean["OVERLAP"] > max(mean["EU"], mean["US"]) and min(mean["EU"], mean["US"]) > mean["ASIA"]


def test_default_config_gives_a_year_of_m5_bars() -> None:
    frame = generate_candles(SyntheticConfig(seed=11))
    assert 55_000 <= len(frame) <= 65_000


def test_short_and_invalid_ranges() -> None:
    one_day = generate_candles(SyntheticConfig(start=date(2025, 1, 7), end=date(2025, 1, 7)))
    assert 270 <= len(one_day) <= 276
    with pytest.raises(ValueError):
        generate_candles(SyntheticConfig(start=date(2025, 1, 4), end=date(2025, 1, 4)))  # Saturday
    with pytest.raises(ValueError):
        generate_candles(SyntheticConfig(start=date(2025, 2, 1), end=date(2025, 1, 1)))
