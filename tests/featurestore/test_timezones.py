"""Source time zones: parsing, conversion to UTC, DST faults, the daily-break fingerprint."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from featurestore.errors import SourceError
from featurestore.ingest.timezones import (
    SourceZone,
    daily_break_fingerprint,
    localize,
    parse_source_tz,
    parse_timestamps,
    to_utc,
)


@pytest.mark.parametrize(
    ("text", "name", "offset_hours"),
    [
        ("+02:00", "UTC+02:00", 2.0),
        ("-0530", "UTC-05:30", -5.5),
        ("UTC+2", "UTC+02:00", 2.0),
        ("GMT-3", "UTC-03:00", -3.0),
    ],
)
def test_fixed_offsets(text: str, name: str, offset_hours: float) -> None:
    zone = parse_source_tz(text)
    assert zone.name == name and zone.key is None
    assert zone.offset == timedelta(hours=offset_hours)


@pytest.mark.parametrize("text", ["EET", "Europe/Athens", "UTC", "America/New_York", "Etc/GMT-2"])
def test_iana_names(text: str) -> None:
    assert parse_source_tz(text) == SourceZone(name=text, key=text)


@pytest.mark.parametrize("text", ["Mars/Olympus", "+25:00", ""])
def test_unknown_zone_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_source_tz(text)


def test_parse_timestamp_formats() -> None:
    values = pl.Series(
        [
            "2025-01-02T00:05:00Z",
            "2025-01-02T02:05:00+02:00",
            "2025-01-02 02:05:00.000000000-0530",
            "2025.01.02 01:05",
            "2025-01-02 01:05:00",
            "02.01.2025 01:05:00.000",
            "1735776300",
            "1735776300000",
            "2025-13-02 00:00",
            "yesterday",
            None,
        ]
    )
    parsed = parse_timestamps(values)
    local, offset = parsed["local"].to_list(), parsed["offset_s"].to_list()
    assert local[:3] == [datetime(2025, 1, 2, 0, 5), datetime(2025, 1, 2, 2, 5), datetime(2025, 1, 2, 2, 5)]
    assert offset[:3] == [0, 7200, -19800]
    assert local[3:6] == [datetime(2025, 1, 2, 1, 5)] * 3 and offset[3:6] == [None] * 3
    assert local[6:8] == [datetime(2025, 1, 2, 0, 5)] * 2 and offset[6:8] == [0, 0]
    assert local[8:] == [None, None, None]


def test_parse_timestamps_of_typed_columns() -> None:
    aware = pl.Series([datetime(2025, 1, 2, 1, 0)]).dt.replace_time_zone("EET")
    parsed = parse_timestamps(aware)
    assert parsed["local"].to_list() == [datetime(2025, 1, 2, 1, 0)]
    assert parsed["offset_s"].to_list() == [7200]
    assert parse_timestamps(pl.Series([1735776300]))["local"].to_list() == [datetime(2025, 1, 2, 0, 5)]


def test_localize_eet_rejects_ambiguous_and_nonexistent_times() -> None:
    local = pl.Series(
        [datetime(2025, 10, 26, 3, 30), datetime(2025, 3, 30, 3, 30), datetime(2025, 7, 1, 10, 0)]
    )
    utc, reason = localize(local, parse_source_tz("EET"))
    assert utc.to_list() == [None, None, datetime(2025, 7, 1, 7, 0)]
    assert (
        reason[0] == "ambiguous local time 2025-10-26 03:30:00 in EET (the clock falls back, it occurs twice)"
    )
    assert reason[1].startswith("nonexistent local time 2025-03-30 03:30:00 in EET")
    assert reason[2] is None


def test_to_utc_without_zone_needs_offsets() -> None:
    parsed = parse_timestamps(pl.Series(["2025-01-02T01:00:00+02:00", "2025-01-02 01:05:00"]))
    with pytest.raises(SourceError) as caught:
        to_utc(parsed, None, pl.Series([2, 3]), Path("bars.csv"))
    assert caught.value.line == 3
    assert "timestamps carry no offset; declare the source time zone with --source-tz" in str(caught.value)
    assert "EET" in str(caught.value)


def test_to_utc_uses_embedded_offsets_or_lets_the_declared_zone_win() -> None:
    parsed = parse_timestamps(pl.Series(["2025-07-01T10:00:00+03:00"]))
    embedded = to_utc(parsed, None, pl.Series([2]), Path("f.csv"))
    assert embedded.utc.to_list() == [datetime(2025, 7, 1, 7, 0)]
    assert embedded.zone_label == "embedded +03:00" and embedded.warnings == ()
    declared = to_utc(parsed, parse_source_tz("UTC"), pl.Series([2]), Path("f.csv"))
    assert declared.utc.to_list() == [datetime(2025, 7, 1, 10, 0)]
    assert "--source-tz UTC overrides them" in declared.warnings[0]


def _winter_bars_utc(days: int) -> pl.Series:
    """M5 bars over `days` weekdays from Monday 2025-01-06, with the daily break at 22:00-23:00 UTC
    (17:00-18:00 New York in winter)."""
    start = datetime(2025, 1, 6)
    ts = pl.datetime_range(start, start + timedelta(days=days + 2), "5m", eager=True, time_unit="us")
    return ts.filter((ts.dt.hour() != 22) & (ts.dt.weekday() <= 5) & (ts < start + timedelta(days=days)))


def test_fingerprint_ok_when_the_break_sits_at_17_new_york() -> None:
    utc = _winter_bars_utc(10)
    report = daily_break_fingerprint(utc, utc + timedelta(hours=2), 5, "EET")
    assert report.ok is True and report.share == 1.0 and report.days_checked == 8


def test_fingerprint_warns_and_names_a_better_zone() -> None:
    eet_wall = _winter_bars_utc(10) + timedelta(hours=2)
    report = daily_break_fingerprint(eet_wall, eet_wall, 5, "UTC")  # EET data declared as UTC
    assert report.ok is False and report.share == 0.0
    assert "the daily break" in report.message and "00:00-01:00 UTC" in report.message
    assert "19:00 New York, not 17:00" in report.message
    assert "the declared source zone 'UTC' looks wrong" in report.message
    assert report.message.endswith("A zone that puts it at 17:00 New York: EET")


def test_fingerprint_with_too_few_breaks_is_not_a_verdict() -> None:
    utc = _winter_bars_utc(3)
    report = daily_break_fingerprint(utc, utc, 5, "UTC")
    assert report.ok is None and report.days_checked == 3
    assert "not enough daily breaks to check" in report.message
