"""Which replayed bars a bundle has already seen: the test-split default of batch replay and in-sample shares.

A bundle was fitted in three stages, each on its own span of bars (all in its metadata):

- `base_model`: the rows the shipped base model (XGBoost) was fitted on (`base_model_span`; the
  out-of-fold models of the training split train on subsets of them);
- `train`: the network's training samples (`split_ranges.train`; with `max_train_rows` only the most
  recent part of the training days);
- `val`: the validation samples that chose the epoch (early stopping; `split_ranges.val`).

A bar inside one of these spans is in-sample for that stage. Batch replay scores by default only the test
split (`split_ranges.test`), where every share is 0; `--all-bars` scores the whole snapshot and the shares
say how much of it is in-sample.

Usage::

    rows, scored = select_bars(ts, bundle.metadata, all_bars=False, start=None, end=None)
    in_sample(bundle.metadata, cycles_ts)["shares"]
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from featurestore.api import utc_day_range
from schemas.bundle_metadata import BundleMetadata

STAGES = ("base_model", "train", "val")
TEST_SPLIT, ALL_BARS = "test split", "all bars"


def _span(pair: Any) -> tuple[np.datetime64, np.datetime64] | None:
    if not pair or len(pair) != 2:
        return None
    return np.datetime64(pair[0], "us"), np.datetime64(pair[1], "us")


def stage_spans(meta: BundleMetadata) -> dict[str, dict[str, Any]]:
    """Per fitting stage: its span [first, last] (inclusive, UTC) and where the span comes from."""
    spans = {"base_model": {"span": list(meta.base_model_span), "from": "base_model_span"}}
    for stage in ("train", "val"):
        spans[stage] = {"span": list(meta.split_ranges.get(stage) or []), "from": f"split_ranges.{stage}"}
    return spans


def in_sample(meta: BundleMetadata, ts: np.ndarray) -> dict[str, Any]:
    """The share of `ts` (predicted cycles) inside each fitting stage's span, and whether any is > 0."""
    stamps = np.asarray(ts).astype("datetime64[us]")
    spans = stage_spans(meta)
    shares: dict[str, float] = {}
    for stage in STAGES:
        span = _span(spans[stage]["span"])
        if span is None:
            inside = np.zeros(len(stamps), dtype=bool)
        else:
            inside = (stamps >= span[0]) & (stamps <= span[1])
        shares[stage] = float(inside.mean()) if len(stamps) else 0.0
    return {
        "any": any(share > 0 for share in shares.values()),
        "shares": shares,
        "spans": spans,
        "n": int(len(stamps)),
    }


def select_bars(
    ts: np.ndarray, meta: BundleMetadata, *, all_bars: bool, start: date | None, end: date | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """The bars batch replay scores: the bundle's test split (or every bar), narrowed by a date range.

    Returns the row mask and a description of the choice for the summary. Raises ValueError when nothing
    is left, naming what was asked and what the data covers.
    """
    stamps = np.asarray(ts).astype("datetime64[us]")
    test = meta.split_ranges.get("test") or []
    if all_bars:
        chosen = np.ones(len(stamps), dtype=bool)
    else:
        span = _span(test)
        if span is None:
            raise ValueError("the bundle records no test split (split_ranges.test); pass --all-bars")
        chosen = (stamps >= span[0]) & (stamps <= span[1])
    if start is not None or end is not None:
        first = start or stamps[0].astype("datetime64[D]").item()
        last = end or stamps[-1].astype("datetime64[D]").item()
        lo, hi = (np.datetime64(moment, "us") for moment in utc_day_range(first, last))
        chosen &= (stamps >= lo) & (stamps < hi)
    selection = ALL_BARS if all_bars else TEST_SPLIT
    asked = f" within {start or '...'}..{end or '...'}" if start or end else ""
    if not chosen.any():
        where = "the snapshot" if all_bars else f"the bundle's test split {test[0]} .. {test[1]}"
        raise ValueError(
            f"no bars of {where}{asked} (the snapshot covers {stamps[0]} .. {stamps[-1]})"
            + ("" if all_bars else "; pass --all-bars to score bars outside the test split")
        )
    return chosen, {
        "selection": selection + asked,
        "test_split": list(test),
        "date_range": [str(start) if start else None, str(end) if end else None],
    }
