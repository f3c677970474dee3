"""Normalization: train-only statistics, mapping by name, refusal of constants and of reordered bundles."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from train.fitting.normalization import Normalization, fit_normalization

NAMES = ("a", "b", "c")


def drifting_frame(n: int = 1_000, seed: int = 3) -> pl.DataFrame:
    """Three features whose level and scale drift over time, so train-only and full statistics differ."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    return pl.DataFrame(
        {
            "a": rng.normal(size=n) + 5.0 * t,
            "b": rng.normal(size=n) * (1.0 + 3.0 * t) - 2.0,
            "c": rng.exponential(size=n) * 10.0 + 40.0 * t,
        }
    )


def test_statistics_equal_numpy_on_the_train_rows_and_differ_from_full_data():
    frame = drifting_frame()
    train = frame.head(600)
    norm = fit_normalization(train, NAMES)
    values = train.select(NAMES).to_numpy()
    np.testing.assert_array_equal(norm.mean, values.mean(axis=0))
    np.testing.assert_array_equal(norm.std, values.std(axis=0))
    full = frame.select(NAMES).to_numpy()
    mean_shift = np.abs(norm.mean - full.mean(axis=0)) / full.std(axis=0)
    assert mean_shift[0] > 0.3 and mean_shift[2] > 0.3  # level drift in a and c
    assert norm.std[1] < 0.8 * full.std(axis=0)[1]  # scale drift in b


def test_apply_maps_columns_by_name_whatever_the_order():
    frame = drifting_frame()
    norm = fit_normalization(frame.head(600), NAMES)
    expected = (frame.select(NAMES).to_numpy() - norm.mean) / norm.std
    shuffled_frame = frame.select(["c", "a", "b"])
    out = norm.apply(shuffled_frame, ("b", "c", "a"))
    assert out.dtype == np.float32 and out.shape == (frame.height, 3)
    np.testing.assert_allclose(out, expected[:, [1, 2, 0]].astype(np.float32), rtol=1e-6)
    np.testing.assert_array_equal(norm.apply(shuffled_frame, NAMES), norm.apply(frame, NAMES))


def test_constant_feature_is_refused_by_name():
    frame = drifting_frame().with_columns(pl.lit(7.25).alias("b"))
    with pytest.raises(ValueError, match="feature 'b' is constant"):
        fit_normalization(frame, NAMES)


def test_non_finite_and_unknown_features_are_refused():
    row_5_missing = pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise("c").alias("c")
    frame = drifting_frame().with_columns(row_5_missing)
    with pytest.raises(ValueError, match="feature 'c' has 1 non-finite"):
        fit_normalization(frame, NAMES)
    norm = fit_normalization(drifting_frame(), ("a", "b"))
    with pytest.raises(ValueError, match="no normalization statistics for features \\['c'\\]"):
        norm.apply(drifting_frame(), NAMES)


def test_round_trip_through_json_keeps_names_and_exact_statistics():
    norm = fit_normalization(drifting_frame(), NAMES)
    again = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again.names == NAMES
    np.testing.assert_array_equal(again.mean, norm.mean)
    np.testing.assert_array_equal(again.std, norm.std)
