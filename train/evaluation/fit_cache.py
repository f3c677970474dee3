"""Fold fits kept by key, so `train compare` reuses what `train evaluate` or an earlier compare fitted.

Usage::

    key = fit_key(snapshot_id, fold, config)            # config carries the variant and the seed
    cached = load_fit(store, key)                       # FitPredictions or None
    save_fit(store, FitPredictions(key=key, ...))

A fit is keyed by the snapshot id (content-addressed), the fold's dates and embargo, the whole training
configuration with the fold's splits and the seed, and ``FORMAT`` (docs/compare.md). What is kept is what
a comparison reads: the test block's rows (ts, t1), targets, direction and early_move probabilities,
realized_bps (NaN under a contract without it), the validation block's p_long (top-k% cut points) and the
ts of the bars the snapshot marks eligible in the test block (to explain rows only one version predicted).
Files: ``<store>/reports/fits/<key>.npz``, beside the evaluate reports that hold the fold bundles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from featurestore.api import Store
from train.evaluation.evaluate import FoldResult, SeedRun, fold_config
from train.evaluation.folds import Fold
from train.fitting.config import RunConfig
from train.fitting.prepare import Prepared

logger = logging.getLogger(__name__)

FORMAT = 1  # bump when what a fit stores, or how it is fitted, changes


@dataclass(frozen=True, eq=False)
class FitPredictions:
    """One fit's test-block predictions, and what it needs to be paired and traded."""

    key: str
    ts: np.ndarray  # [n] datetime64[us] decision bars of the test block's samples, in time order
    t1: np.ndarray  # [n] datetime64[us] label end
    targets: np.ndarray  # [n, 2] direction, early_move
    p: np.ndarray  # [n] direction p_long
    early_p: np.ndarray  # [n] early_move probability
    realized_bps: np.ndarray  # [n] NaN where the snapshot's contract has no realized_bps
    val_p: np.ndarray  # [n_val] direction p_long on the validation block
    eligible_ts: np.ndarray  # ts of every bar the snapshot marks eligible inside the test block's days
    best_epoch: int
    seconds: float

    @property
    def has_realized(self) -> bool:
        return bool(len(self.realized_bps)) and bool(np.isfinite(self.realized_bps).all())


def fit_key(snapshot_id: str, fold: Fold, config: RunConfig) -> str:
    """The key of one fit: snapshot, fold dates, the fold's whole configuration (variant, seed included)."""
    payload = {
        "format": FORMAT,
        "snapshot": snapshot_id,
        "fold": fold.to_dict() | {"fold": None},  # the dates matter, not the fold's number
        "config": dataclasses.asdict(fold_config(config, fold)),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def fits_dir(store: Store) -> Path:
    return store.reports_dir / "fits"


def load_fit(store: Store, key: str) -> FitPredictions | None:
    path = fits_dir(store) / f"{key}.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    return FitPredictions(key=key, **arrays, **meta)


def save_fit(store: Store, fit: FitPredictions) -> Path:
    """Write the fit atomically (a reader never sees half a file)."""
    folder = fits_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f.name: getattr(fit, f.name) for f in dataclasses.fields(fit) if f.name not in _META}
    meta = json.dumps({name: getattr(fit, name) for name in _META if name != "key"})
    tmp = folder / f".{fit.key}.tmp.npz"
    np.savez(tmp, meta=np.array(meta), **arrays)
    return tmp.replace(folder / f"{fit.key}.npz")


_META = ("key", "best_epoch", "seconds")


def _us(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame[column].cast(pl.Datetime("us")).to_numpy()


def eligible_in_test(frame: pl.DataFrame, fold: Fold) -> np.ndarray:
    """ts of the bars marked eligible on the fold's test days (UTC, both ends inclusive)."""
    test = fold.splits.test
    lo = np.datetime64(datetime.combine(test.start, datetime.min.time()), "us")
    hi = np.datetime64(datetime.combine(test.end + timedelta(days=1), datetime.min.time()), "us")
    ts = _us(frame, "ts")
    return ts[frame["eligible"].to_numpy() & (ts >= lo) & (ts < hi)]


def from_fit(key: str, prepared: Prepared, run: SeedRun, fold: Fold) -> FitPredictions:
    """What a fresh fit (`fit_fold_seed`) leaves for comparisons."""
    frame, rows = prepared.frame, prepared.idx["test"].numpy()
    targets = prepared.eval_tensors.targets[prepared.idx["test"]].numpy()[:, :2]
    realized = (
        frame["realized_bps"].cast(pl.Float64).fill_null(float("nan")).to_numpy()[rows]
        if "realized_bps" in frame.columns
        else np.full(len(rows), np.nan)
    )
    return FitPredictions(
        key=key,
        ts=_us(frame, "ts")[rows],
        t1=_us(frame, "t1")[rows],
        targets=targets.astype(np.float64),
        p=np.asarray(run.test_p, dtype=np.float64),
        early_p=np.asarray(run.test_early_p, dtype=np.float64),
        realized_bps=realized,
        val_p=np.asarray(run.val_p, dtype=np.float64),
        eligible_ts=eligible_in_test(frame, fold),
        best_epoch=int(run.best_epoch),
        seconds=float(run.seconds),
    )


def keep_evaluate_fits(
    store: Store, snapshot_id: str, config: RunConfig, result: FoldResult, frame: pl.DataFrame
) -> list[str]:
    """Keep each seed's fit of one `train evaluate` fold result (``config`` with the result's variant)."""
    keys = []
    for run in result.seeds:
        key = fit_key(snapshot_id, result.fold, dataclasses.replace(config, seed=run.seed))
        rows = result.trade_rows
        save_fit(
            store,
            FitPredictions(
                key=key,
                ts=rows.ts,
                t1=rows.t1,
                targets=np.asarray(result.test_targets[:, :2], dtype=np.float64),
                p=np.asarray(run.test_p, dtype=np.float64),
                early_p=np.asarray(run.test_early_p, dtype=np.float64),
                realized_bps=rows.realized_bps,
                val_p=np.asarray(run.val_p, dtype=np.float64),
                eligible_ts=eligible_in_test(frame, result.fold),
                best_epoch=int(run.best_epoch),
                seconds=float(run.seconds),
            ),
        )
        keys.append(key)
    return keys


def describe(fit: FitPredictions) -> dict[str, Any]:
    return {"key": fit.key, "n": len(fit.ts), "best_epoch": fit.best_epoch, "seconds": round(fit.seconds, 1)}
