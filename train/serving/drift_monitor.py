"""The drift watch of `train live`: the reference from the bundle's own training rows, and the check of
the last eligible decisions against it after every batch of decisions (see `train.serving.drift`).

The reference is the bundle's training split as it trained on it: the eligible rows of the snapshot the
bundle names, between the first and last training sample (`split_ranges.train`), each model input at the
decision bar (context, snapshot features, the sequence features of the bar itself), the base model's
p_long_xgb and the model's p_long, scored by the bundle. It is computed once per bundle and kept beside
the journal (`drift_reference.json`, with the bundle id it belongs to).

Alarms are journaled (`drift` events) when the set of alarming inputs changes, and at least once a day of
decisions; while any input alarms, decisions carry the flags `drift:<input>` and count as `degraded`.

Usage::

    monitor = DriftMonitor.start(store, bundle, bundle_id, journal)    # None when it cannot be calibrated
    monitor.flags()                     # ("drift:spread_bps", ...) in force now
    monitor.observe(decisions)          # after they were journaled
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from featurestore.api import Store, open_snapshot
from featurestore.errors import FeatureStoreError
from train.fitting.bundle import LoadedBundle
from train.fitting.dataset import snapshot_frame
from train.serving.drift import DriftReference, DriftUncalibrated, check_window, fit_reference
from train.serving.journal import Decision, Journal
from train.serving.live import single_threaded
from train.serving.scoring import score_frame

logger = logging.getLogger(__name__)

REFERENCE_FILE = "drift_reference.json"
OUTPUTS = ("p_xgb", "p_long")
DAILY_BARS = 288
LISTED = 10


def monitored_columns(bundle: LoadedBundle, available: Sequence[str]) -> list[str]:
    """The bundle's model inputs that a decision records (context, features at the decision bar), then
    the base model's and the model's p_long."""
    assert bundle.metadata is not None
    names = [n for group in bundle.metadata.input_names.values() for n in group]
    return [n for n in dict.fromkeys(names) if n in available] + list(OUTPUTS)


def reference_rows(store: Store, bundle: LoadedBundle) -> pl.DataFrame:
    """The bundle's eligible training rows with their inputs, p_xgb and p_long (module docstring).

    Raises:
        DriftUncalibrated: the training split spans fewer weeks than a calibration needs.
    """
    meta = bundle.metadata
    assert meta is not None
    frame = snapshot_frame(open_snapshot(store, meta.snapshot_id))
    first, last = (datetime.fromisoformat(t) for t in meta.split_ranges.get("train") or ["", ""])
    inside = ((frame["ts"] >= first) & (frame["ts"] <= last)).to_numpy()
    weeks = frame.filter(pl.Series(inside))["ts"].dt.strftime("%G-%V").n_unique()
    if weeks < 4:
        raise DriftUncalibrated(f"the bundle's training split spans {weeks} weeks; thresholds need 4")
    with single_threaded():
        scores = score_frame(bundle, frame, within=inside)
    scored = frame.with_columns(
        pl.Series("p_xgb", scores.p_xgb),
        pl.Series("p_long", scores.p_long),
        pl.Series("keep", scores.predicted),
    )
    return scored.filter(pl.col("keep"))


def load_or_fit(
    store: Store, bundle: LoadedBundle, bundle_id: str, directory: Path, columns: list[str]
) -> DriftReference:
    """The cached reference of this bundle beside the journal, else a freshly calibrated one (saved)."""
    path = directory / REFERENCE_FILE
    if path.is_file():
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("bundle_id") == bundle_id and cached["reference"]["columns"] == columns:
            return DriftReference.from_dict(cached["reference"])
    reference = fit_reference(reference_rows(store, bundle), columns)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"bundle_id": bundle_id, "reference": reference.to_dict()}), encoding="utf-8")
    tmp.replace(path)
    return reference


class DriftMonitor:
    """The last `reference.window` eligible decisions and the alarms in force."""

    def __init__(self, reference: DriftReference, journal: Journal, recent: Sequence[Decision]) -> None:
        self.reference = reference
        self.journal = journal
        self.window: deque[dict[str, Any]] = deque(maxlen=reference.window)
        self.alarms: tuple[str, ...] = ()
        self._since_event = 0
        self._add(recent)
        self._check(force=False)

    @classmethod
    def start(
        cls, store: Store, bundle: LoadedBundle, bundle_id: str, journal: Journal, columns: list[str]
    ) -> DriftMonitor | None:
        """Calibrate (or reload) the reference; None, with a journaled reason, where it cannot be."""
        try:
            reference = load_or_fit(store, bundle, bundle_id, journal.directory, columns)
        except (DriftUncalibrated, FeatureStoreError, ValueError) as exc:
            logger.warning("drift alarms off: %s", exc)
            journal.event("drift_unavailable", {"reason": str(exc)})
            return None
        recent = journal.recent_predicted(reference.window)
        return cls(reference, journal, recent)

    def flags(self) -> tuple[str, ...]:
        return tuple(f"drift:{name}" for name in self.alarms)

    def observe(self, decisions: Sequence[Decision]) -> None:
        self._add(decisions)
        self._since_event += len(decisions)
        self._check(force=self._since_event >= DAILY_BARS)

    def _add(self, decisions: Sequence[Decision]) -> None:
        for d in decisions:
            if d.predicted:
                self.window.append({**d.inputs, "p_xgb": d.p_xgb, "p_long": d.p_long})

    def _check(self, *, force: bool) -> None:
        if len(self.window) < self.reference.window:
            return
        values = {
            name: np.array([np.nan if r.get(name) is None else r[name] for r in self.window], dtype=float)
            for name in self.reference.columns
        }
        checks = sorted(check_window(self.reference, values), key=lambda c: -c["psi"] / c["threshold"])
        alarms = tuple(c["input"] for c in checks if c["alarm"])
        if alarms != self.alarms or force:
            self.alarms = alarms
            self._since_event = 0
            shown = [c for c in checks if c["alarm"]] or checks[:LISTED]
            self.journal.event(
                "drift",
                {
                    "window": self.reference.window,
                    "alarms": [c for c in shown if c["alarm"]],
                    "largest": shown[:LISTED],
                    "inputs_checked": len(checks),
                    "false_alarm_rate": self.reference.false_alarm_rate,
                },
            )
            if alarms:
                logger.warning("drift alarm: %s", ", ".join(alarms[:LISTED]))
