"""Time splits (train < validation < test) with purge and embargo driven by label end times.

Why: a label is a claim about the future. A training row at 10:00 with a 1-hour horizon has a label that reads
bars up to 11:00; if the test block starts at 10:30, that label has seen test prices (AFML ch.7; mlfinlab
#295 left exactly such "train events ending during test events" in). So every training sample whose
interval ``[t0, t1]`` reaches into a later evaluation block is purged, and the guard starts ``embargo_bars``
bars *before* the block's first bar (docs/trainer.md). The embargo drops samples that start within
``embargo_bars`` bars after an evaluation block: their 30-bar input windows (and serially correlated
features) contain evaluation bars. With train < val < test only the purge bites, but the core
:func:`purge_and_embargo` handles any block order, so the same code serves other layouts.

Bars are counted on the snapshot's row index (``bar_ts``), never in wall-clock minutes, so a weekend gap
counts as one step, exactly as the sequence windows do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

log = logging.getLogger(__name__)

ROLES = ("train", "val", "test")


@dataclass(frozen=True)
class TimeSplit:
    """A named range of UTC days, both ends inclusive."""

    name: str
    start: date
    end: date

    def __post_init__(self) -> None:
        for field_name in ("start", "end"):
            value = getattr(self, field_name)
            if isinstance(value, datetime) or not isinstance(value, date):
                raise ValueError(f"split {self.name!r}: {field_name} must be a date (UTC day), got {value!r}")
        if self.start > self.end:
            raise ValueError(f"split {self.name!r}: start {self.start} is after end {self.end}")

    def contains(self, ts: np.ndarray) -> np.ndarray:
        """Boolean mask of the timestamps whose UTC day lies in this split."""
        days = ts.astype("datetime64[D]")
        return (days >= np.datetime64(self.start, "D")) & (days <= np.datetime64(self.end, "D"))


@dataclass(frozen=True)
class SplitConfig:
    """Train, validation and test day ranges (ordered, disjoint) and the embargo in bars."""

    train: TimeSplit
    val: TimeSplit
    test: TimeSplit
    embargo_bars: int = 30

    def __post_init__(self) -> None:
        if isinstance(self.embargo_bars, bool) or not isinstance(self.embargo_bars, int | np.integer):
            raise ValueError(f"embargo_bars must be an integer, got {self.embargo_bars!r}")
        if self.embargo_bars < 0:
            raise ValueError(f"embargo_bars must be >= 0, got {self.embargo_bars}")
        blocks = self.blocks()
        for earlier, later in (("train", "val"), ("val", "test")):
            if blocks[later].start <= blocks[earlier].end:
                raise ValueError(
                    f"{later} split {blocks[later].name!r} starts {blocks[later].start}, which is not after "
                    f"{earlier} split {blocks[earlier].name!r} ends {blocks[earlier].end}: splits must be "
                    "ordered train < val < test without overlap"
                )

    def blocks(self) -> dict[str, TimeSplit]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def check_embargo(self, seq_len: int, label_horizon: int) -> None:
        """Refuse an embargo shorter than max(sequence length, label horizon) bars (docs/trainer.md).

        Called where both are known: the run config (its model's ``seq_len``, the code's contract) and the
        preparation of a snapshot (that snapshot's contract). A shorter embargo lets a training row's input
        window or label reach into the next block.

        Raises:
            ValueError: naming ``embargo_bars``, both numbers and the smallest valid value.
        """
        need = max(seq_len, label_horizon)
        if self.embargo_bars < need:
            raise ValueError(
                f"[splits] embargo_bars = {self.embargo_bars} is below max(sequence length {seq_len}, "
                f"label horizon {label_horizon}) = {need} bars: a training row's input window or label would "
                f"reach into the next block; how to fix: set embargo_bars = {need} or more"
            )


@dataclass(frozen=True)
class PurgeResult:
    """Outcome of guarding one set of training rows against one evaluation block (boolean masks, [N])."""

    keep: np.ndarray
    purged: np.ndarray
    embargoed: np.ndarray  # dropped by the embargo only (not also purged)


@dataclass(frozen=True)
class SplitIndices:
    """Sorted row indices of the samples of each split, and how many candidates the guards removed."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    purged: dict[str, int]
    embargoed: dict[str, int]

    def report(self) -> dict[str, dict[str, int]]:
        """JSON-able per-split counts for the training report and the bundle metadata."""
        return {
            role: {
                "samples": int(len(getattr(self, role))),
                "purged": self.purged[role],
                "embargoed": self.embargoed[role],
            }
            for role in ROLES
        }


def _as_us(name: str, values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.datetime64):
        raise ValueError(f"{name} must be a datetime64 array, got dtype {arr.dtype}")
    return arr.astype("datetime64[us]")


def _check_bar_ts(bar_ts: np.ndarray) -> None:
    if bar_ts.ndim != 1 or len(bar_ts) == 0:
        raise ValueError("bar_ts must be a non-empty 1-D array")
    if np.isnat(bar_ts).any():
        raise ValueError("bar_ts contains NaT")
    if len(bar_ts) > 1 and not (np.diff(bar_ts) > np.timedelta64(0, "us")).all():
        raise ValueError("bar_ts must be strictly increasing (one row per bar, in time order)")


def purge_and_embargo(
    t0: np.ndarray,
    t1: np.ndarray,
    train_mask: np.ndarray,
    test_mask: np.ndarray,
    embargo_bars: int,
    bar_ts: np.ndarray,
) -> PurgeResult:
    """Remove from ``train_mask`` the rows that leak into the evaluation block ``test_mask``.

    The block is taken as one span ``[start, end]``: ``start`` = its earliest ``t0``, ``end`` = the latest
    ``t0`` or ``t1`` of its rows (the test labels' own horizon belongs to it, mlfinlab #494 / openquant #66).
    A row's interval is ``[t0, t1]``, or ``[t0, t0]`` where ``t1`` is NaT.

    - Purge: the row's interval intersects ``[guard, end]``, where ``guard`` lies ``embargo_bars`` bars of
      ``bar_ts`` before ``start`` (``start`` itself for 0). This catches rows starting inside the block,
      rows ending inside it (mlfinlab #295) and rows enveloping it.
    - Embargo: ``t0`` lies after ``end`` and at most ``embargo_bars`` bars of ``bar_ts`` follow ``end``
      up to and including ``t0``, i.e. ``t0`` in ``(end, end + embargo_bars bars]``.
    """
    t0, t1, bar_ts = _as_us("t0", t0), _as_us("t1", t1), _as_us("bar_ts", bar_ts)
    train_mask, test_mask = np.asarray(train_mask, dtype=bool), np.asarray(test_mask, dtype=bool)
    n = len(t0)
    if not (len(t1) == len(train_mask) == len(test_mask) == n):
        raise ValueError("t0, t1, train_mask and test_mask must have the same length")
    if embargo_bars < 0:
        raise ValueError(f"embargo_bars must be >= 0, got {embargo_bars}")
    _check_bar_ts(bar_ts)
    if np.isnat(t0).any():
        raise ValueError("t0 contains NaT")
    if (train_mask & test_mask).any():
        row = int(np.flatnonzero(train_mask & test_mask)[0])
        raise ValueError(f"row {row} is in both the train and the test mask")
    has_t1 = ~np.isnat(t1)
    if (t1[has_t1] < t0[has_t1]).any():
        raise ValueError(f"row {int(np.flatnonzero(has_t1 & (t1 < t0))[0])} has t1 before t0")
    none = np.zeros(n, dtype=bool)
    if not test_mask.any():
        return PurgeResult(train_mask.copy(), none, none.copy())

    end_of = np.where(has_t1, t1, t0)
    start, end = t0[test_mask].min(), end_of[test_mask].max()
    first = int(np.searchsorted(bar_ts, start, side="left"))
    if embargo_bars == 0:
        guard = start
    elif first >= embargo_bars:
        guard = min(start, bar_ts[first - embargo_bars])
    else:  # fewer bars than the embargo precede the block: everything before it is inside the guard
        guard = min(start, t0.min())
    purged = train_mask & (end_of >= guard) & (t0 <= end)

    bars_after_end = np.searchsorted(bar_ts, t0, side="right") - np.searchsorted(bar_ts, end, side="right")
    embargoed = train_mask & ~purged & (t0 > end) & (bars_after_end <= embargo_bars)
    return PurgeResult(train_mask & ~purged & ~embargoed, purged, embargoed)


def assign_splits(ts: np.ndarray, t1: np.ndarray, candidate: np.ndarray, config: SplitConfig) -> SplitIndices:
    """Sample indices of train/val/test: candidates inside each day range, guarded against later blocks.

    ``ts`` is the snapshot's full bar index (every row, eligible or not); ``candidate`` marks the rows that
    may be samples (eligible, labelled, full window). Each evaluation block is *all* bars of its day range
    (its first bar, and its latest ``t1``), not just its samples. Train is guarded against val and test, and
    val against test, through :func:`purge_and_embargo`; the config's order (train < val < test) means no
    evaluation block precedes the rows it guards, so only the purge (with its leading guard) removes rows.
    """
    ts, t1 = _as_us("ts", ts), _as_us("t1", t1)
    candidate = np.asarray(candidate, dtype=bool)
    if not (len(ts) == len(t1) == len(candidate)):
        raise ValueError(f"ts ({len(ts)}), t1 ({len(t1)}) and candidate ({len(candidate)}) differ in length")
    _check_bar_ts(ts)

    in_block = {role: split.contains(ts) for role, split in config.blocks().items()}
    kept: dict[str, np.ndarray] = {}
    purged: dict[str, int] = {}
    embargoed: dict[str, int] = {}
    for i, role in enumerate(ROLES):
        samples = candidate & in_block[role]
        keep, was_purged, was_embargoed = samples.copy(), np.zeros_like(samples), np.zeros_like(samples)
        for evaluation in ROLES[i + 1 :]:
            result = purge_and_embargo(ts, t1, samples, in_block[evaluation], config.embargo_bars, ts)
            keep &= result.keep
            was_purged |= result.purged
            was_embargoed |= result.embargoed
        kept[role] = np.flatnonzero(keep)
        purged[role] = int(was_purged.sum())
        embargoed[role] = int((was_embargoed & ~was_purged).sum())
        if len(kept[role]) == 0:
            log.warning("split %r (%s) has no samples", role, config.blocks()[role].name)
        log.info(
            "split %s: %d samples (%d candidates, %d purged, %d embargoed)",
            role,
            len(kept[role]),
            int(samples.sum()),
            purged[role],
            embargoed[role],
        )
    return SplitIndices(kept["train"], kept["val"], kept["test"], purged, embargoed)
