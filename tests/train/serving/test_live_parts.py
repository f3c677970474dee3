"""The parts of `train live` that need no model: the followed file, the journal and signal file, and the
store's short lock waits."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from featurestore.errors import StoreBusyError
from featurestore.store.handle import Store
from train.serving.journal import SIGNAL_FILE, Decision, Journal
from train.serving.live_sources import FileSource

HEADER = b"<DATE>\t<TIME>\t<OPEN>\r\n"


def _line(i: int) -> bytes:
    return f"2025.06.26\t10:{i:02d}:00\t{3300 + i}.00\r\n".encode()


def test_a_partial_last_line_is_read_only_once_complete(tmp_path: Path) -> None:
    path = tmp_path / "f.tsv"
    source = FileSource(path)
    assert source.poll() is None  # no file yet
    path.write_bytes(HEADER[:7])
    assert source.poll() is None  # not even a whole header
    path.write_bytes(HEADER + _line(0) + _line(1)[:9])
    part = source.poll()
    assert part is not None and part.data == HEADER + _line(0) and part.lines == 1 and part.line_shift == 0
    assert source.poll() is None  # the partial line stays unread
    with open(path, "ab") as handle:
        handle.write(_line(1)[9:] + _line(2))
    part = source.poll()
    assert part is not None and part.data == HEADER + _line(1) + _line(2) and not part.rewritten
    assert part.line_shift == 1  # data line 2 is the file's line 3


def test_a_truncated_or_replaced_file_is_read_again_from_the_top(tmp_path: Path) -> None:
    path = tmp_path / "f.tsv"
    path.write_bytes(HEADER + _line(0) + _line(1))
    source = FileSource(path)
    assert source.poll().lines == 2
    path.write_bytes(HEADER + _line(0))  # truncated (a shorter re-export)
    part = source.poll()
    assert part.rewritten and part.data == HEADER + _line(0)
    other = tmp_path / "g.tsv"
    other.write_bytes(HEADER + _line(0) + _line(5) + _line(6))  # same start, a revised history
    os.replace(other, path)  # a new file renamed into place
    part = source.poll()
    assert part.rewritten and part.lines == 3
    with open(path, "r+b") as handle:  # the last line read changed in place
        handle.seek(len(HEADER + _line(0) + _line(5)))
        handle.write(_line(7))
    part = source.poll()
    assert part.rewritten and part.data.endswith(_line(7))


def _decision(ts: str, p: float | None = 0.6) -> Decision:
    return Decision(
        symbol="XAUUSD", ts=ts, bundle_id="b@1", reason="ELIGIBLE" if p else "HARD_SESSION_BLOCK",
        predicted=p is not None, p_long=p, p_early_move=p, quality=0.0 if p else None, p_xgb=0.5,
        contract_version="v2", feature_contract_hash="f", full_contract_hash="h", snapshot_id="s",
        source="file:x", bar_close=ts, decided_at="2026-01-01T00:00:00+00:00", lag_s=1.0, late=False,
        degraded=False,
    )  # fmt: skip


def test_a_bar_cannot_be_journaled_twice(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, "XAUUSD", "b@1")
    journal.record([_decision("2025-06-26T10:00:00Z"), _decision("2025-06-26T10:05:00Z", None)])
    with pytest.raises(sqlite3.IntegrityError):
        journal.record([_decision("2025-06-26T10:05:00Z")])
    assert journal.last_ts() == "2025-06-26T10:05:00Z"
    journal.close()
    lines = (tmp_path / SIGNAL_FILE).read_text().splitlines()
    assert len(lines) == 2 and '"p_long":null' in lines[1]  # the failed batch wrote no signal


def test_reopening_repairs_the_signal_file_after_a_kill(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, "XAUUSD", "b@1")
    journal.record([_decision("2025-06-26T10:00:00Z"), _decision("2025-06-26T10:05:00Z")])
    journal.close()
    signals = tmp_path / SIGNAL_FILE
    first = signals.read_bytes().splitlines(keepends=True)[0]
    signals.write_bytes(first + b'{"symbol":"XAU')  # killed mid-write of the second line
    with sqlite3.connect(tmp_path / "journal.sqlite") as con:  # and a third bar journaled, its line lost
        con.execute(
            "INSERT INTO decisions SELECT symbol, '2025-06-26T10:10:00Z', bundle_id, 3, reason, predicted, "
            "p_long, p_early_move, quality, p_xgb, contract_version, feature_contract_hash, "
            "full_contract_hash, snapshot_id, source, bar_close, decided_at, lag_s, late, degraded, flags, "
            "candle, inputs FROM decisions WHERE seq = 1"
        )
    Journal.open(tmp_path, "XAUUSD", "b@1").close()
    lines = signals.read_text().splitlines()
    assert [line[line.index('"ts"') : line.index('"ts"') + 27] for line in lines] == [
        f'"ts":"2025-06-26T10:{m}:00Z"' for m in ("00", "05", "10")
    ]


def test_one_follower_per_journal(tmp_path: Path) -> None:
    held = Journal.open(tmp_path, "XAUUSD", "b@1")
    with pytest.raises(StoreBusyError, match="another `train live`"):
        Journal.open(tmp_path, "XAUUSD", "b@1")
    held.close()
    Journal.open(tmp_path, "XAUUSD", "b@1").close()


def _hold(store: Store, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the store's write lock for `seconds`."""
    code = (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
        f"time.sleep({seconds}); con.close()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(store.db_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_commands_wait_briefly_for_a_short_write_lock(tmp_path: Path) -> None:
    store = Store.at(tmp_path)
    with store.connect():
        pass
    holder = _hold(store, 1.0)
    try:
        with pytest.raises(StoreBusyError, match="did not let go within 0.2 s"):
            with store.connect(read_only=True, wait=0.2):
                pass
        began = time.monotonic()
        with store.connect(read_only=True, wait=20) as con:
            assert con.execute("SELECT count(*) FROM candles").fetchone() == (0,)
        assert time.monotonic() - began < 15
    finally:
        holder.wait(timeout=30)


def test_oanda_faults_back_off_and_a_bad_token_stops(httpserver) -> None:
    from werkzeug import Response

    from featurestore.errors import InputError
    from train.serving.oanda import OandaSource

    path = "/v3/instruments/XAU_USD/candles"
    price = {"o": "1", "h": "1", "l": "1", "c": "1"}
    forming = {
        "complete": False,
        "time": "2025-06-26T10:00:00.000000000Z",
        "volume": 3,
        "bid": price,
        "ask": price,
    }
    httpserver.expect_ordered_request(path).respond_with_response(
        Response('{"errorMessage": "slow down"}', 429, headers={"Retry-After": "7"})
    )
    httpserver.expect_ordered_request(path).respond_with_json({"candles": [forming]})
    httpserver.expect_ordered_request(path).respond_with_json(
        {"errorMessage": "Insufficient authorization"}, 401
    )
    source = OandaSource("XAU_USD", "t", base_url=httpserver.url_for("/"), min_interval_s=0.0)
    assert source.poll() is None and source.errors == ["HTTP 429: slow down"]
    assert source.poll() is None  # still backing off: Retry-After 7 s, no request made
    source._next_at = 0.0  # the wait is over
    assert source.poll() is None and source.last is None  # only a forming candle: nothing taken
    with pytest.raises(InputError, match="OANDA answered 401: Insufficient authorization"):
        source.poll()
