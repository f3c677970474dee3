"""Drift of the live inputs against the rows the bundle was trained on: PSI on reference deciles, with
alarm thresholds calibrated on the reference's own week-to-week variation.

- Bins: the reference's deciles of each input (the distinct values themselves for an input with at most
  `CATEGORICAL_MAX` of them: ids, buckets). The reference share of every bin is kept; empty bins get a
  floor of `SHARE_FLOOR` on both sides, so PSI stays finite.
- PSI = sum over bins of (live - ref) * ln(live / ref). For orientation: < 0.1 small, 0.1-0.25 moderate,
  > 0.25 large. These bands assume independent rows; M5 features are strongly autocorrelated, so a week
  of bars varies far more than an iid sample of its size, and a fixed 0.1 / 0.25 alarms all the time.
- Threshold: the reference is cut into trading weeks (ISO weeks; a week with fewer than half the median
  rows is left out). Each week's PSI against the rest of the reference (leave-one-week-out) gives the
  statistic's own null distribution; an input alarms when its live PSI exceeds exp(mean + 3 sd) of the
  log weekly PSI (the reference-chunk rule of NannyML, on the log scale because PSI is positive and
  right-skewed: a few regime weeks would otherwise set the sd), at least `MIN_THRESHOLD`.
- The stated false-alarm rate: the same rule applied to each reference week with the threshold of the
  other weeks (leave-one-out), per input (mean over inputs) and for "any input alarms".
- The live window: the last `window` eligible bars, `window` = the median eligible rows of a reference
  week (so the live statistic has the noise the threshold was calibrated on).

Usage::

    reference = fit_reference(train_rows, columns=("atr_bps", "spread_bps", "p_long"))
    checks = check_window(reference, {"atr_bps": values, ...})     # [{input, psi, threshold, alarm}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

CATEGORICAL_MAX = 12
SHARE_FLOOR = 1e-4
SIGMAS = 3.0
MIN_THRESHOLD = 0.01
MIN_WEEKS = 4
DECILES = np.linspace(0.1, 0.9, 9)


class DriftUncalibrated(ValueError):
    """The reference is too short to calibrate thresholds on (fewer than MIN_WEEKS weeks)."""


@dataclass(frozen=True)
class DriftReference:
    """Bins, reference shares and calibrated thresholds per input, and how they were calibrated."""

    columns: tuple[str, ...]
    edges: dict[str, list[float]]  # cut points between bins (bin i: edges[i-1] <= x < edges[i])
    expected: dict[str, list[float]]  # reference share per bin
    thresholds: dict[str, float]
    weekly_psi: dict[str, list[float]]  # leave-one-week-out PSI of each reference week
    window: int  # live window: median eligible rows of a reference week
    weeks: int
    rows: int
    false_alarm_rate: dict[str, float]  # leave-one-out: "per_input" (mean) and "any_input"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "columns": list(self.columns)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReference:
        return cls(**{**data, "columns": tuple(data["columns"])})


def bin_edges(values: np.ndarray) -> np.ndarray:
    """Cut points: the deciles, or midpoints between the distinct values of a categorical input."""
    values = values[np.isfinite(values)]
    distinct = np.unique(values)
    if distinct.size <= CATEGORICAL_MAX:
        return (distinct[:-1] + distinct[1:]) / 2
    return np.unique(np.quantile(values, DECILES))


def counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    values = values[np.isfinite(values)]
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two share vectors (floored at SHARE_FLOOR)."""
    e = np.maximum(np.asarray(expected, float), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, float), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _shares(c: np.ndarray) -> np.ndarray:
    total = c.sum()
    return c / total if total else np.full(c.shape, 1.0 / c.size)


def fit_reference(rows: pl.DataFrame, columns: Sequence[str]) -> DriftReference:
    """Calibrate on `rows` (the bundle's eligible training rows: `ts` and each of `columns`).

    Raises:
        DriftUncalibrated: fewer than MIN_WEEKS usable weeks.
    """
    week = rows["ts"].dt.strftime("%G-%V").to_numpy()
    keys, sizes = np.unique(week, return_counts=True)
    median = int(np.median(sizes)) if sizes.size else 0
    usable = keys[sizes >= median / 2]
    if usable.size < MIN_WEEKS:
        raise DriftUncalibrated(
            f"the reference holds {usable.size} usable weeks of training rows; thresholds need {MIN_WEEKS}"
        )
    z = SIGMAS
    edges, expected, thresholds, weekly = {}, {}, {}, {}
    loo_alarms = np.zeros((len(columns), usable.size), dtype=bool)
    for i, name in enumerate(columns):
        values = rows[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        cuts = bin_edges(values)
        total = counts(values, cuts)
        in_week = [counts(values[week == k], cuts) for k in usable]
        per_week = np.array([psi(_shares(total - c), _shares(c)) for c in in_week])  # leave one week out
        edges[name], expected[name] = cuts.tolist(), _shares(total).tolist()
        thresholds[name] = _threshold(per_week, z)
        weekly[name] = per_week.tolist()
        for j in range(usable.size):
            loo_alarms[i, j] = per_week[j] > _threshold(np.delete(per_week, j), z)
    return DriftReference(
        columns=tuple(columns),
        edges=edges,
        expected=expected,
        thresholds=thresholds,
        weekly_psi=weekly,
        window=median,
        weeks=int(usable.size),
        rows=rows.height,
        false_alarm_rate={
            "per_input": float(loo_alarms.mean()),
            "any_input": float(loo_alarms.any(axis=0).mean()),
        },
    )


def _threshold(weekly: np.ndarray, z: float) -> float:
    """exp(mean + z sd) of the log weekly PSI (PSI is positive and right-skewed), at least MIN_THRESHOLD."""
    logs = np.log(np.maximum(weekly, 1e-6))
    return max(float(np.exp(logs.mean() + z * logs.std(ddof=1))), MIN_THRESHOLD)


def check_window(reference: DriftReference, window: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """PSI of each input's live values against the reference, its threshold and whether it alarms."""
    out = []
    for name in reference.columns:
        if name not in window:
            continue
        cuts = np.asarray(reference.edges[name])
        value = psi(
            np.asarray(reference.expected[name]), _shares(counts(np.asarray(window[name], float), cuts))
        )
        threshold = reference.thresholds[name]
        out.append({"input": name, "psi": value, "threshold": threshold, "alarm": value > threshold})
    return out
