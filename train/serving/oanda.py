"""OANDA v20 candles as a `train live` source: `GET /v3/instruments/{instrument}/candles`, polled.

Each poll asks for `granularity=M5`, `price=BA` from the last complete candle taken, with
`includeFirst=false` (so none comes twice), and keeps only `complete: true` candles: the forming candle is
skipped until a later poll returns it complete. Prices are the bid (as an MT5 export's are) and the spread
is ask - bid, computed in decimal from OANDA's price strings; the candles are handed on as CSV lines (UTC
times, `spread_price`) to the same ingest checks as `fs ingest`.

Errors never end the loop: a 429 (rate limit), a 5xx or a network fault is logged and retried after a
backoff (doubling from `BACKOFF_S` to `MAX_BACKOFF_S`, or the server's `Retry-After`). A 4xx that retrying
cannot fix (401 bad token, 404 unknown instrument, 400) stops with a clear error.

Usage::

    source = OandaSource.from_env("XAU_USD")       # OANDA_TOKEN, OANDA_URL (default: the practice API)
    source.resume(after=datetime(2025, 9, 1))      # poll from here (the loop passes its last decided bar)
    part = source.poll()                           # None, or CSV lines of new complete candles
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from featurestore.errors import InputError
from train.serving.live_sources import SourcePart

logger = logging.getLogger(__name__)

PRACTICE_URL = "https://api-fxpractice.oanda.com"
PAGE = 500  # candles per request (v20 allows up to 5,000)
BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
HEADER = b"time,open,high,low,close,tick_volume,spread_price\n"
_RETRY = {429, 500, 502, 503, 504}


class OandaSource:
    """Poll one instrument's M5 candles; see the module docstring."""

    def __init__(
        self,
        instrument: str,
        token: str,
        *,
        base_url: str = PRACTICE_URL,
        min_interval_s: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.instrument = instrument
        self.url = f"{base_url.rstrip('/')}/v3/instruments/{instrument}/candles"
        self.min_interval_s = min_interval_s
        self.client = client or httpx.Client(timeout=httpx.Timeout(10.0))
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Datetime-Format": "RFC3339"}
        self.last: str | None = None  # time of the last complete candle taken (RFC 3339)
        self._next_at = 0.0
        self._failures = 0
        self.errors: list[str] = []  # the faults survived, for the journal and tests

    @classmethod
    def from_env(cls, instrument: str) -> OandaSource:
        token = os.environ.get("OANDA_TOKEN")
        if not token:
            raise InputError(
                f"oanda:{instrument}",
                "no OANDA_TOKEN in the environment",
                fix="export OANDA_TOKEN=<your token>",
            )
        return cls(instrument, token, base_url=os.environ.get("OANDA_URL", PRACTICE_URL))

    @property
    def label(self) -> str:
        return f"oanda:{self.instrument}"

    @property
    def origin(self) -> Path:
        return Path(f"oanda-{self.instrument}-M5.csv")

    def resume(self, after: datetime | None) -> None:
        """Poll candles after `after` (UTC; None: the latest page)."""
        if after is not None and self.last is None:
            moment = after if after.tzinfo else after.replace(tzinfo=UTC)
            self.last = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")

    def poll(self) -> SourcePart | None:
        """New complete candles as CSV lines; None while there are none, or while backing off."""
        now = time.monotonic()
        if now < self._next_at:
            return None
        self._next_at = now + self.min_interval_s
        try:
            candles = self._fetch()
        except (httpx.TransportError, _Retry) as exc:
            self._back_off(exc)
            return None
        self._failures = 0
        complete = [c for c in candles if c.get("complete") is True]
        if not complete:
            return None
        self.last = complete[-1]["time"]
        lines = [_csv_line(c) for c in complete]
        return SourcePart(HEADER + b"".join(lines), line_shift=0, lines=len(lines), rewritten=False, offset=0)

    def _fetch(self) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"granularity": "M5", "price": "BA", "count": PAGE}
        if self.last is not None:
            params |= {"from": self.last, "includeFirst": "false"}
        response = self.client.get(self.url, params=params, headers=self.headers)
        if response.status_code in _RETRY:
            raise _Retry(response)
        if response.status_code != 200:
            raise InputError(
                self.label,
                f"OANDA answered {response.status_code}: {_message(response)}",
                fix="check OANDA_TOKEN, OANDA_URL (practice or live) and the instrument name (e.g. XAU_USD)",
            )
        candles = response.json().get("candles", [])
        return [c for c in candles if isinstance(c, dict)]

    def _back_off(self, exc: Exception) -> None:
        self._failures += 1
        delay = min(BACKOFF_S * 2 ** (self._failures - 1), MAX_BACKOFF_S)
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        self._next_at = time.monotonic() + delay
        self.errors.append(str(exc))
        logger.warning("%s: %s; retrying in %.1f s", self.label, exc, delay)


class _Retry(Exception):
    """A response worth retrying (rate limit, server fault)."""

    def __init__(self, response: httpx.Response) -> None:
        header = response.headers.get("Retry-After")
        self.retry_after = float(header) if header and header.replace(".", "", 1).isdigit() else None
        super().__init__(f"HTTP {response.status_code}: {_message(response)}")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("errorMessage", response.text[:200]))
    except ValueError:
        return response.text[:200]


def _csv_line(candle: dict[str, Any]) -> bytes:
    """One complete candle as `time,open,high,low,close,tick_volume,spread_price` (bid prices)."""
    bid, ask = candle.get("bid") or {}, candle.get("ask") or {}
    spread = (Decimal(ask["c"]) - Decimal(bid["c"])) if "c" in ask and "c" in bid else ""
    moment = str(candle.get("time", ""))
    fields = [
        moment,
        bid.get("o", ""),
        bid.get("h", ""),
        bid.get("l", ""),
        bid.get("c", ""),
        candle.get("volume", ""),
    ]
    return (",".join(str(f) for f in [*fields, spread]) + "\n").encode()
