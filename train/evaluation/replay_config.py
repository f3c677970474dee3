"""How a replay runs (`ReplayConfig`): its own module, so the replay and its summary both import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from train.evaluation.bucket_tests import BucketTestConfig
from train.evaluation.context_evidence import VerdictConfig


@dataclass(frozen=True)
class ReplayConfig:
    """How to replay: bundle load mode, which bars (batch: the test split unless `all_bars`; a date range,
    inclusive UTC days, narrows it; online: the date range)."""

    load_mode: str = "replay"  # "replay": any bundle mismatch is an error; "live": warn and mark degraded
    start: date | None = None
    end: date | None = None
    all_bars: bool = False  # batch: every bar of the snapshot instead of the bundle's test split
    per_cycle: bool = False  # also write every cycle's p_long per bucket into the summary
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    buckets: BucketTestConfig = field(default_factory=BucketTestConfig)  # p_long across buckets, by day

    def __post_init__(self) -> None:
        if self.load_mode not in ("replay", "live"):
            raise ValueError(f"load mode must be 'replay' or 'live', got {self.load_mode!r}")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"the date range ends ({self.end}) before it starts ({self.start})")
