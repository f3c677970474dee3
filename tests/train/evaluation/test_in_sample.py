"""Which bars a bundle has seen: the spans its metadata records, the shares, the test-split selection."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from schemas.bundle_metadata import BundleMetadata, read_bundle_metadata
from train.evaluation.in_sample import in_sample, select_bars, stage_spans

SPANS = {
    "base_model_span": ["2025-02-03T01:00:00", "2025-04-30T12:00:00"],
    "split_ranges": {
        "train": ["2025-04-10T00:00:00", "2025-04-30T12:00:00"],
        "val": ["2025-05-01T07:00:00", "2025-05-30T17:00:00"],
        "test": ["2025-06-02T07:00:00", "2025-06-27T19:55:00"],
    },
}


@pytest.fixture(scope="module")
def meta(bundles: dict[str, Path]) -> BundleMetadata:
    """A real bundle's metadata with known spans."""
    return dataclasses.replace(read_bundle_metadata(bundles["ctx_a"]), **SPANS)


def stamps(*days: str) -> np.ndarray:
    return np.array([np.datetime64(f"{d}T10:00:00", "us") for d in days])


def test_the_bundle_records_the_base_models_span_apart_from_the_training_split(
    bundles: dict[str, Path],
) -> None:
    """The base model fits every usable training-split day; the network only the most recent samples
    (max_train_rows), so the two spans differ and are reported apart."""
    meta = read_bundle_metadata(bundles["ctx_a"])
    base_first, base_last = (np.datetime64(t) for t in meta.base_model_span)
    train_first, train_last = (np.datetime64(t) for t in meta.split_ranges["train"])
    assert np.datetime64("2025-02-03") <= base_first < train_first <= train_last
    assert base_last < np.datetime64(meta.split_ranges["val"][0])
    assert stage_spans(meta)["base_model"] == {"span": meta.base_model_span, "from": "base_model_span"}


def test_shares_per_stage(meta: BundleMetadata) -> None:
    ts = stamps("2025-03-03", "2025-04-15", "2025-05-05", "2025-06-03")
    result = in_sample(meta, ts)
    assert result["shares"] == {"base_model": 0.5, "train": 0.25, "val": 0.25} and result["any"]
    assert not in_sample(meta, stamps("2025-06-03", "2025-06-04"))["any"]
    assert in_sample(meta, stamps())["shares"] == {"base_model": 0.0, "train": 0.0, "val": 0.0}


def test_selection_is_the_test_split_narrowed_by_a_date_range(meta: BundleMetadata) -> None:
    ts = np.arange(np.datetime64("2025-05-30T00:00", "us"), np.datetime64("2025-06-30", "us"), 300_000_000)
    rows, scored = select_bars(ts, meta, all_bars=False, start=None, end=None)
    assert ts[rows][0] == np.datetime64("2025-06-02T07:00") and ts[rows][-1] == np.datetime64(
        "2025-06-27T19:55"
    )
    assert scored["selection"] == "test split" and scored["test_split"] == SPANS["split_ranges"]["test"]
    rows, scored = select_bars(ts, meta, all_bars=False, start=date(2025, 6, 1), end=date(2025, 6, 2))
    assert ts[rows][0] == np.datetime64("2025-06-02T07:00") and ts[rows][-1] < np.datetime64("2025-06-03")
    assert scored["selection"] == "test split within 2025-06-01..2025-06-02"
    rows, _ = select_bars(ts, meta, all_bars=True, start=None, end=None)
    assert rows.all()
    with pytest.raises(ValueError, match="test split 2025-06-02.*--all-bars"):
        select_bars(ts, meta, all_bars=False, start=date(2025, 5, 30), end=date(2025, 5, 31))
    with pytest.raises(ValueError, match="records no test split"):
        no_test = dataclasses.replace(meta, split_ranges={"test": []})
        select_bars(ts, no_test, all_bars=False, start=None, end=None)
