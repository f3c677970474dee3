"""One live cycle: from the last candles of a symbol to the decision for its newest bar.

The online featurizer computes the newest `HISTORY_BARS` bars with the same SQL as materialization, then
`train.serving.scoring` applies eligibility, the bundle's base model, the hybrid channels and the model,
exactly as batch replay does over a snapshot. No state is kept between calls, so nothing can drift.

Usage::

    bundle = load_entry_v10_bundle(path, variant="v10_ctx", mode="live")
    decision = predict_latest(bundle, candles)      # candles: SLICE_COLUMNS, ordered by ts, oldest first
    if decision.predicted:
        decision.p_long
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
import pyarrow as pa
import torch
import xgboost as xgb

from featurestore.api import featurize_window
from train.fitting.bundle import LoadedBundle
from train.fitting.dataset import join_tables
from train.serving.scoring import HISTORY_BARS, score_frame


@dataclass(frozen=True)
class LiveDecision:
    """The newest bar's eligibility and model outputs (NaN when it was not predicted)."""

    ts: datetime
    reason: str  # the eligibility reason (ELIGIBLE or the first failing check)
    predicted: bool
    p_long: float
    p_early_move: float
    quality: float
    p_xgb: float
    frame: pl.DataFrame  # the featurized newest HISTORY_BARS bars the decision read


def predict_latest(
    bundle: LoadedBundle,
    candles: pa.Table,
    *,
    blocked_intervals: Sequence[tuple[datetime, datetime]] = (),
) -> LiveDecision:
    """Featurize the newest bar (with the history its inputs need) under the bundle's own contract version
    (the SQL it was trained on) and score it with `bundle`."""
    tables = featurize_window(
        candles, HISTORY_BARS, blocked_intervals=blocked_intervals, contract=bundle.contract
    )
    frame = join_tables(tables, "online")
    newest = np.zeros(frame.height, dtype=bool)
    newest[-1] = True
    with single_threaded():
        scores = score_frame(bundle, frame, within=newest)
    return LiveDecision(
        ts=frame["ts"][-1],
        reason=frame["reason"][-1],
        predicted=bool(scores.predicted[-1]),
        p_long=float(scores.p_long[-1]),
        p_early_move=float(scores.p_early_move[-1]),
        quality=float(scores.quality[-1]),
        p_xgb=float(scores.p_xgb[-1]),
        frame=frame,
    )


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch and XGBoost on one thread each for the duration (restoring torch's count after).

    One cycle scores 59 rows with the trees and one window with the transformer: too little work to split,
    so extra threads only add synchronization, and on a busy machine their waiting for a core multiplied
    the scoring time (measured ~15 ms single-threaded against 100-300 ms with 2 threads under load).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with xgb.config_context(nthread=1):
            yield
    finally:
        torch.set_num_threads(threads)
