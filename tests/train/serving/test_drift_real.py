"""Drift alarms on the real year (slow; needs the shared XAUUSD M5 export): thresholds calibrated on the
training months (Feb-Jul), live windows over the test months (Sep-Oct), and planted changes from
mid-September. The figures go to docs/live.md."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime

import numpy as np
import polars as pl
import pytest

from featurestore.compute.online import stored_candles
from featurestore.ingest.ingest_file import IngestOptions, ingest_file
from featurestore.store.handle import Store
from tests.conftest import real_m5_or_skip
from tests.train.serving.drift_world import (
    alarmed,
    features,
    monitored,
    spread_times,
    volatility_times,
    windows,
)
from train.serving.drift import fit_reference

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

TRAIN = (datetime(2025, 2, 3), datetime(2025, 8, 1))
TEST = datetime(2025, 9, 1)
CHANGE = datetime(2025, 9, 15)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory):
    store = Store.at(tmp_path_factory.mktemp("drift_real"))
    ingest_file(store, real_m5_or_skip(), IngestOptions(symbol="XAUUSD", fmt="mt5", source_tz="EET"))
    candles = stored_candles(store, "XAUUSD", "M5", before=datetime(2025, 10, 28))
    base = features(candles, TRAIN[0])
    reference = fit_reference(base.filter(pl.col("ts") < TRAIN[1]), monitored(base))
    test = {
        "none": base,
        "spread": features(spread_times(candles, CHANGE, 3.0), TRAIN[0]),
        "volatility": features(volatility_times(candles, CHANGE, 2.0), TRAIN[0]),
    }
    return reference, {name: rows.filter(pl.col("ts") >= TEST) for name, rows in test.items()}


def test_real_test_months_and_planted_changes(real) -> None:
    reference, rows = real
    quiet = windows(reference, rows["none"])
    rate = float(np.mean([[c["alarm"] for c in w] for w in quiet]))
    any_rate = float(np.mean([bool(alarmed(w)) for w in quiet]))
    planted = {
        name: windows(reference, part.filter(pl.col("ts") >= CHANGE))[0] for name, part in rows.items()
    }
    figures = {
        "reference": {"weeks": reference.weeks, "rows": reference.rows, "window": reference.window,
                      "inputs": len(reference.columns), "false_alarm_rate": reference.false_alarm_rate},
        "test_months": {"windows": len(quiet), "per_input_alarm_rate": rate, "any_input_alarm_rate": any_rate,
                        "most_alarmed": Counter(i for w in quiet for i in alarmed(w)).most_common(8)},
        "planted": {name: sorted(alarmed(w)) for name, w in planted.items()},
    }  # fmt: skip
    logger.warning("drift figures: %s", json.dumps(figures))
    # no change: under the stated rates, per input and for "any input alarms"
    assert rate <= reference.false_alarm_rate["per_input"], figures
    assert any_rate <= reference.false_alarm_rate["any_input"], figures
    assert not alarmed(planted["none"])
    # doubled volatility: the volatility ratio alarms within one window. The spread x 3 does not alarm on
    # the real year: its training weeks already differ from each other as much (docs/live.md)
    assert "atr_ratio_14_96" in alarmed(planted["volatility"]), figures
