"""The OANDA v20 path of `train live` against a local HTTP server answering in v20's shape: the forming
candle is skipped until it comes back complete, a 429 and a 503 are survived, and the decisions equal
those of the file path for the same bars."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from featurestore.api import IngestOptions, Store
from featurestore.app.synthetic import generate_candles
from tests.train.serving.live_world import FEED_START, SYNTH, feed_file, held_back_store
from train.serving.live_loop import LiveConfig, run_live
from train.serving.live_sources import FileSource
from train.serving.oanda import OandaSource

FEED_END = datetime(2025, 6, 26, 14)
BUNDLE = "test_ctx_a"
PATH = "/v3/instruments/XAU_USD/candles"


def _price(value: float) -> str:
    return f"{value:.2f}"


class FakeOanda:
    """v20's candles endpoint over a list of bars: each answered request closes `step` more bars; the
    next bar is returned forming (`complete: false`, with another close than its final one). Request 2
    is rate limited (429), request 5 a server fault (503)."""

    def __init__(self, bars: pl.DataFrame, step: int = 25) -> None:
        self.bars, self.step, self.requests, self.closed = bars.to_dicts(), step, 0, 10
        self.served_forming: set[str] = set()

    def candle(self, i: int, complete: bool) -> dict[str, Any]:
        bar = self.bars[i]
        spread = bar["spread_points"] * 0.01
        close = bar["close"] + (0 if complete else 1.0)
        bid = {"o": _price(bar["open"]), "h": _price(max(bar["high"], close)), "l": _price(bar["low"]),
               "c": _price(close)}  # fmt: skip
        ask = {k: _price(float(v) + spread) for k, v in bid.items()}
        stamp = bar["ts"].strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
        return {
            "complete": complete,
            "volume": int(bar["tick_volume"]),
            "time": stamp,
            "bid": bid,
            "ask": ask,
        }

    def __call__(self, request: Request) -> Response:
        self.requests += 1
        if self.requests == 2:
            return Response(json.dumps({"errorMessage": "rate limited"}), 429, headers={"Retry-After": "0"})
        if self.requests == 5:
            return Response(json.dumps({"errorMessage": "unavailable"}), 503)
        assert request.args["granularity"] == "M5" and request.args["price"] == "BA"
        assert request.headers["Authorization"] == "Bearer test-token"
        first = 0
        if "from" in request.args:
            assert request.args["includeFirst"] == "false"
            after = datetime.strptime(request.args["from"][:19], "%Y-%m-%dT%H:%M:%S")
            first = sum(1 for bar in self.bars if bar["ts"] <= after)
        out = [self.candle(i, True) for i in range(first, min(self.closed, len(self.bars)))]
        if self.closed < len(self.bars):
            forming = self.candle(self.closed, False)
            self.served_forming.add(forming["time"])
            out.append(forming)
        self.closed += self.step
        body = {"instrument": "XAU_USD", "granularity": "M5", "candles": out[: int(request.args["count"])]}
        return Response(json.dumps(body), 200, content_type="application/json")


def _decisions(journal: Path) -> dict[str, tuple]:
    with sqlite3.connect(journal / "journal.sqlite") as con:
        rows = con.execute(
            "SELECT ts, reason, predicted, p_long, candle FROM decisions ORDER BY ts"
        ).fetchall()
    return {
        ts: (reason, predicted, p_long, json.loads(candle)) for ts, reason, predicted, p_long, candle in rows
    }


def _run(store: Path, source: Any, options: IngestOptions, bars: int, journal: Path) -> dict:
    config = LiveConfig(
        bundle=store / "bundles" / BUNDLE, source=source, ingest=options, journal_dir=journal,
        since=FEED_START, poll_s=0.05, exit_when_idle_s=8, max_decisions=bars,
    )  # fmt: skip
    return run_live(Store.at(store), config, should_stop=lambda: False).to_dict()


def test_oanda_decisions_equal_the_file_path(
    snapshot_store: tuple[Path, str], bundles: dict[str, Path], tmp_path: Path, httpserver: HTTPServer
) -> None:
    root, _ = snapshot_store
    assert bundles["ctx_a"].name == BUNDLE
    bars = generate_candles(SYNTH).filter((pl.col("ts") >= FEED_START) & (pl.col("ts") < FEED_END))
    fake = FakeOanda(bars)
    httpserver.expect_request(PATH).respond_with_handler(fake)

    oanda_store = held_back_store(root, tmp_path / "oanda")
    source = OandaSource("XAU_USD", "test-token", base_url=httpserver.url_for("/"), min_interval_s=0.0)
    summary = _run(
        oanda_store, source, IngestOptions(symbol="XAUUSD", fmt="csv"), bars.height, tmp_path / "jo"
    )
    assert summary["decided"] == bars.height and summary["revised"] == 0
    assert [e.split(":")[0] for e in source.errors] == ["HTTP 429", "HTTP 503"]

    file_store = held_back_store(root, tmp_path / "file")
    export, n = feed_file(tmp_path, FEED_START, FEED_END)
    options = IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET")
    _run(file_store, FileSource(export), options, n, tmp_path / "jf")

    by_oanda, by_file = _decisions(tmp_path / "jo"), _decisions(tmp_path / "jf")
    assert len(by_oanda) == bars.height == n and by_oanda.keys() == by_file.keys()
    assert fake.served_forming and all(
        datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        in by_oanda
        for t in fake.served_forming
    )
    for ts, (reason, predicted, p_long, candle) in by_oanda.items():
        file_reason, file_predicted, file_p, file_candle = by_file[ts]
        assert candle["close"] == pytest.approx(file_candle["close"], abs=1e-9), (
            ts
        )  # the final close, not the forming one
        assert (reason, predicted) == (file_reason, file_predicted), ts
        if predicted:
            assert p_long == pytest.approx(file_p, abs=1e-6), ts
