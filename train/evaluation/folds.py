"""Rolling-origin folds for walk-forward evaluation (docs/evaluate.md).

Usage::

    folds = rolling_folds(date(2025, 1, 2), date(2025, 12, 31), n_folds=4, embargo_bars=30)
    for fold in folds:
        config_k = dataclasses.replace(run_config, splits=fold.splits)   # train/prepare/run unchanged

Layout (docs/evaluate.md): the snapshot's UTC days ``[first, last]`` are cut in two. The first
``initial_train_share`` (default one half) is the initial training span; the rest is cut into
``n_folds + 1`` consecutive blocks of equal length in days (the last block takes the remainder). Fold k
(k = 0..n_folds-1) trains on every day before block k, validates on block k and tests on block k+1, so
each fold's origin T_k (its validation start) moves forward by one block, and fold k's test block is fold
k+1's validation block. On 2025 with 4 folds that is a July-December evaluation half in five blocks of
about 36 days.

Each fold is a :class:`SplitConfig`, so purge and embargo are the trainer's own
(:func:`train.fitting.splits.assign_splits`): one implementation. Passing the fold's SplitConfig to
``prepare`` refits the base model and its out-of-fold channels inside the fold's training span only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from train.fitting.splits import SplitConfig, TimeSplit


@dataclass(frozen=True)
class Fold:
    """One rolling-origin fold: its index and the trainer's split configuration."""

    index: int
    splits: SplitConfig

    @property
    def origin(self) -> date:
        """T_k: the first day the fold's model may not have seen (its validation start)."""
        return self.splits.val.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "fold": self.index,
            **{role: [str(block.start), str(block.end)] for role, block in self.splits.blocks().items()},
            "embargo_bars": self.splits.embargo_bars,
        }


def rolling_folds(
    first: date,
    last: date,
    n_folds: int,
    embargo_bars: int,
    initial_train_share: float = 0.5,
) -> list[Fold]:
    """The ``n_folds`` rolling-origin folds over the UTC days ``[first, last]`` (both inclusive).

    Raises:
        ValueError: fewer than one fold, a share outside (0, 1), or a range too short for a block of at
            least one day per fold.
    """
    if n_folds < 1:
        raise ValueError(f"--folds must be at least 1, got {n_folds}")
    if not 0.0 < initial_train_share < 1.0:
        raise ValueError(f"initial_train_share must lie in (0, 1), got {initial_train_share}")
    if last < first:
        raise ValueError(f"range end {last} is before its start {first}")
    days = (last - first).days + 1
    train_days = int(days * initial_train_share)
    block_days = (days - train_days) // (n_folds + 1)
    if train_days < 1 or block_days < 1:
        raise ValueError(
            f"{days} days from {first} to {last} cannot hold an initial training span and "
            f"{n_folds + 1} evaluation blocks for {n_folds} folds: use fewer folds or a longer snapshot"
        )
    starts = [first + timedelta(days=train_days + b * block_days) for b in range(n_folds + 1)]
    ends = [s + timedelta(days=block_days - 1) for s in starts[:-1]] + [last]
    folds = []
    for k in range(n_folds):
        splits = SplitConfig(
            train=TimeSplit("train", first, starts[k] - timedelta(days=1)),
            val=TimeSplit("val", starts[k], ends[k]),
            test=TimeSplit("test", starts[k + 1], ends[k + 1]),
            embargo_bars=embargo_bars,
        )
        folds.append(Fold(k, splits))
    return folds
