"""Z-score normalization fitted on training rows and stored, and applied, by feature name.

Why: the seed stored its feature list sorted while its scalers were fitted in the original column order, so
at runtime features got each other's centre and scale (seed lessons 18), and normalization fitted on all
data leaks the future into training (stack notes L6). Here statistics are computed only on the rows the
caller passes (the training split), kept as ``name -> (mean, std)``, and every application selects
columns by name instead of trusting positions.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class Normalization:
    """Per-feature mean and (population, ddof=0) standard deviation, in the order they were fitted."""

    names: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "mean", np.asarray(self.mean, dtype=np.float64))
        object.__setattr__(self, "std", np.asarray(self.std, dtype=np.float64))
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"duplicate feature names in normalization: {_duplicates(self.names)}")
        if not (len(self.names) == len(self.mean) == len(self.std)):
            raise ValueError(
                f"normalization has {len(self.names)} names, {len(self.mean)} means, {len(self.std)} stds"
            )
        for name, m, s in zip(self.names, self.mean, self.std, strict=True):
            if not (np.isfinite(m) and np.isfinite(s) and s > 0):
                raise ValueError(f"feature {name!r}: invalid statistics mean={m!r} std={s!r}")

    def apply(self, frame: pl.DataFrame, names: Sequence[str]) -> np.ndarray:
        """``(frame[name] - mean[name]) / std[name]`` for each of ``names``, as float32 ``[N, len(names)]``.

        Columns are looked up by name in ``frame`` and in the statistics, so neither the frame's column
        order nor the order of ``names`` can pair a column with another feature's statistics.
        """
        index = {name: i for i, name in enumerate(self.names)}
        unknown = [n for n in names if n not in index]
        if unknown:
            raise ValueError(f"no normalization statistics for features {unknown}")
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise ValueError(f"frame lacks feature columns {missing}")
        pick = np.array([index[n] for n in names], dtype=np.int64)
        values = frame.select(list(names)).to_numpy().astype(np.float64, copy=False)
        return ((values - self.mean[pick]) / self.std[pick]).astype(np.float32)


    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; Python's float repr round-trips exactly, so nothing is lost."""
        return {
            "format_version": FORMAT_VERSION,
            "method": "zscore",
            "names": list(self.names),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Normalization:
        if data.get("format_version") != FORMAT_VERSION or data.get("method") != "zscore":
            raise ValueError(
                f"unsupported normalization format {data.get('format_version')!r} / {data.get('method')!r}"
            )
        return cls(
            tuple(str(n) for n in data["names"]),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["std"], dtype=np.float64),
        )


def _duplicates(names: Sequence[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def fit_normalization(frame: pl.DataFrame, names: Sequence[str]) -> Normalization:
    """Fit mean/std of ``names`` on every row of ``frame`` (the caller passes the training rows only).

    Refuses (ValueError naming the feature) a non-finite value or a constant column: a zero std would
    otherwise become a silent division by zero or a made-up scale.
    """
    if frame.height == 0:
        raise ValueError("cannot fit normalization on zero rows")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks feature columns {missing}")
    values = frame.select(list(names)).to_numpy().astype(np.float64, copy=False)
    for j, name in enumerate(names):
        column = values[:, j]
        if not np.isfinite(column).all():
            bad = int((~np.isfinite(column)).sum())
            raise ValueError(f"feature {name!r} has {bad} non-finite values on the training rows")
        if column.min() == column.max():
            raise ValueError(f"feature {name!r} is constant on the training rows (std 0): cannot z-score it")
    norm = Normalization(tuple(names), values.mean(axis=0), values.std(axis=0))
    log.info("normalization fitted on %d rows x %d features", frame.height, len(names))
    return norm
