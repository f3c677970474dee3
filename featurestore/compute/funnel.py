"""Funnels: how many rows remain after each stage of a filter, the one builder (`funnel_stages`) used by
the store's eligibility report, the trainer's own filters and the replayed cycles.

The eligibility filter-rate report: a funnel from all bars to trainable rows, with per-reason counts.
Stages follow the contract's reason order: bars -> after each hard check -> after the soft check (eligible)
-> label available (the rows training can use). The report is plain data, stored in snapshot manifests and
bundles and printed by `fs materialize`, `fs validate` and `train run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from schemas.contract import CONTRACT

ELIGIBILITY_REASONS = CONTRACT.table("eligibility").column("reason").allowed or ()


@dataclass(frozen=True)
class FunnelStage:
    name: str
    remaining: int
    removed: int
    share_of_bars: float


@dataclass(frozen=True)
class EligibilityFunnel:
    bars: int
    stages: tuple[FunnelStage, ...]
    reason_counts: dict[str, int]
    reason_shares: dict[str, float]

    @property
    def eligible(self) -> int:
        return self.reason_counts.get("ELIGIBLE", 0)

    @property
    def trainable(self) -> int:
        return self.stages[-1].remaining if self.stages else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-shaped (lists, not tuples), so a stored funnel compares equal to a fresh one."""
        out = asdict(self)
        out["stages"] = list(out["stages"])
        return out


def funnel_stages(bars: int, remaining: Sequence[tuple[str, int]]) -> tuple[FunnelStage, ...]:
    """Stages from (name, rows remaining) in filter order: rows removed by each, share of all `bars`."""
    stages: list[FunnelStage] = []
    before = bars
    for name, left in remaining:
        stages.append(FunnelStage(name, int(left), int(before - left), _share(int(left), bars)))
        before = left
    return tuple(stages)


def is_monotone(stages: Sequence[FunnelStage]) -> bool:
    """True when no stage has more rows than the one before it (a funnel only ever removes rows)."""
    return all(stage.removed >= 0 for stage in stages)


def eligibility_funnel(eligibility: pa.Table, labels: pa.Table) -> EligibilityFunnel:
    """Build the funnel from the eligibility and labels tables of the same rows."""
    bars = eligibility.num_rows
    reasons = eligibility.column("reason").to_pylist()
    counts = {reason: 0 for reason in ELIGIBILITY_REASONS}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    remaining = [("bars", bars)]
    for reason in ELIGIBILITY_REASONS[:-1]:
        remaining.append((f"after {reason}", remaining[-1][1] - counts[reason]))
    eligible_mask = pc.equal(eligibility.column("reason"), "ELIGIBLE")
    available = pc.and_(eligible_mask, labels.column("label_available"))
    trainable = int(pc.sum(available.cast(pa.int64())).as_py() or 0)
    stages = funnel_stages(bars, [*remaining, ("label available", trainable)])
    shares = {reason: _share(n, bars) for reason, n in counts.items()}
    return EligibilityFunnel(bars, stages, counts, shares)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
