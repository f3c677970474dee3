"""`train verify-fullyear`: one year of candles end to end, with every invariant checked and reported.

ingest -> materialize -> validate (snapshot) -> train v10_ctx and the v10 baseline -> batch replay of the test
split with the A/B (out-of-sample: no bar any fitting stage of either bundle saw) -> online/offline parity on
random bars of the replayed range. The report (Markdown + JSON + PNGs, under the store's reports/)
holds the funnel, the validation result, the hashes, the training metrics against the baselines, the
telemetry and verdict, the parity result and the time of every stage. Any failed invariant makes the run
fail with `VerificationFailed` (exit 9) after the report is written.

Usage::

    config = VerifyConfig(candles=Path("../shared/data/xauusd_m5_2025_mt5.tsv"), source_tz="EET")
    result = verify_fullyear(Store.at("fsdata"), config)
    result.passed, result.report_dir / "report.html"
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from featurestore.api import (
    IngestOptions,
    MaterializeConfig,
    Store,
    ValidateConfig,
    ingest_file,
    materialize,
    open_snapshot,
    stored_candles,
    validate,
)
from featurestore.errors import FeatureStoreError
from schemas.bundle_metadata import read_bundle_metadata
from schemas.contract import CONTRACT_HASH_KEYS, Contract, contract_hashes
from schemas.hashing import sha256_hex
from schemas.versions import DEFAULT_CONTRACT
from train.app.verify_report import write_report
from train.evaluation.parity import ParityConfig, check_parity
from train.evaluation.replay import ReplayConfig, replay_snapshot
from train.evaluation.replay_bundles import load_bundle
from train.evaluation.replay_tables import shares_text
from train.fitting.bundle import METADATA
from train.fitting.config import OptimConfig, RunConfig
from train.fitting.run import summary_metrics, train_run
from train.fitting.splits import SplitConfig, TimeSplit

logger = logging.getLogger(__name__)


class VerificationFailed(FeatureStoreError):
    """At least one end-to-end invariant failed; the report says which."""

    exit_code = 9


@dataclass(frozen=True)
class VerifyConfig:
    """The candle file, the training configuration and the invariants' tolerances."""

    candles: Path
    source_tz: str | None = None
    fmt: str | None = None
    symbol: str = "XAUUSD"
    # the training runs (variant and splits are set per run); small by default: minutes on 2 cores
    training: RunConfig = field(
        default_factory=lambda: RunConfig(optim=OptimConfig(epochs=3, max_train_rows=6000))
    )
    parity: ParityConfig = field(default_factory=ParityConfig)
    eligible_rate_range: tuple[float, float] = (0.10, 0.99)
    train_share: float = 0.65  # of the usable days; validation and test split the rest
    val_share: float = 0.15


@dataclass(frozen=True)
class VerifyResult:
    passed: bool
    invariants: dict[str, dict[str, Any]]
    report: dict[str, Any]
    report_dir: Path


def usable_days(store: Store, symbol: str, contract: Contract = DEFAULT_CONTRACT) -> tuple[date, date]:
    """The days whose bars have full history (warmup) and resolvable labels, from the stored candles."""
    ts = stored_candles(store, symbol, "M5").column("ts").to_numpy()
    need = contract.warmup_bars + contract.label_margin_bars + 2 * 288
    if len(ts) < need:
        raise FeatureStoreError(
            f"{symbol} has {len(ts)} M5 bars stored; a verification needs at least {need} "
            f"({contract.warmup_bars} of warmup, the label margin and two days)"
        )
    first = ts[contract.warmup_bars].astype("datetime64[D]").item() + timedelta(days=1)
    last = ts[-contract.label_margin_bars - 1].astype("datetime64[D]").item() - timedelta(days=1)
    return first, last


def proportional_splits(first: date, last: date, train_share: float, val_share: float) -> SplitConfig:
    """Train, validation and test as consecutive day ranges holding the given shares of [first, last]."""
    days = (last - first).days + 1
    train_days, val_days = int(days * train_share), max(int(days * val_share), 1)
    if train_days < 1 or train_days + val_days >= days:
        raise ValueError(f"{first}..{last} is too short to split into train, validation and test")
    train_end = first + timedelta(days=train_days - 1)
    val_end = train_end + timedelta(days=val_days)
    return SplitConfig(
        train=TimeSplit("train", first, train_end),
        val=TimeSplit("val", train_end + timedelta(days=1), val_end),
        test=TimeSplit("test", val_end + timedelta(days=1), last),
    )


def verify_fullyear(
    store: Store, config: VerifyConfig, *, on_stage: Callable[[str], None] | None = None
) -> VerifyResult:
    """Run every stage, check the invariants, write the report; raise VerificationFailed if one failed."""
    timings: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if on_stage is not None:
            on_stage(name)
        began = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - began, 2)

    with stage("ingest"):
        ingested = ingest_file(
            store,
            config.candles,
            IngestOptions(symbol=config.symbol, fmt=config.fmt, source_tz=config.source_tz),
        )
    first, last = usable_days(store, config.symbol)
    with stage("materialize"):
        built = materialize(store, MaterializeConfig(config.symbol, first, last), contract=DEFAULT_CONTRACT)
    with stage("validate"):
        checked = validate(store, ValidateConfig(config.symbol, first, last, data_docs=False))
    snapshot = open_snapshot(store, checked.snapshot_id, contract=DEFAULT_CONTRACT)
    splits = proportional_splits(first, last, config.train_share, config.val_share)
    bundles = {}
    for variant in ("v10_ctx", "v10"):
        run_config = dataclasses.replace(config.training, variant=variant, splits=splits)
        text = json.dumps(run_config.to_dict(), sort_keys=True, default=str)
        digest = sha256_hex(text.encode())[:8]
        name = f"verify_{variant}_{checked.snapshot_id[:12]}_{digest}"
        with stage(f"train {variant}"):
            bundles[variant] = _trained(store, checked.snapshot_id, run_config, name)
    with stage("replay"):
        replay = replay_snapshot(
            store, bundles["v10_ctx"], checked.snapshot_id, ReplayConfig(), baseline_path=bundles["v10"]
        )
    hashes = {k: snapshot.manifest[k] for k in CONTRACT_HASH_KEYS}
    with stage("parity"):
        parity = check_parity(
            store, load_bundle(bundles["v10_ctx"], "replay", hashes), snapshot, replay.cycles, config.parity
        )
    metadata = {v: read_bundle_metadata(path).to_dict() for v, path in bundles.items()}
    invariants = _invariants(
        built.to_dict(), snapshot.manifest, metadata, replay.summary, replay.cycles, parity, config
    )
    report = {
        "passed": all(i["passed"] for i in invariants.values()),
        "invariants": invariants,
        "data": {"file": str(config.candles), "ingest": ingested.to_dict(), "usable_days": [first, last]},
        "materialize": built.to_dict(),
        "validation": checked.to_dict(),
        "hashes": {
            "code": {"contract_version": DEFAULT_CONTRACT.version, **contract_hashes(DEFAULT_CONTRACT)},
            "snapshot": hashes,
            **{f"bundle {v}": {k: m[k] for k in CONTRACT_HASH_KEYS} for v, m in metadata.items()},
        },
        "training": {
            v: {
                "bundle": str(bundles[v]),
                "epochs_run": len(m["history"]),
                "summary": summary_metrics(m["metrics"]),
                "filter_report": m["eligibility_report"],
            }
            for v, m in metadata.items()
        },
        "splits": {name: [str(s.start), str(s.end)] for name, s in splits.blocks().items()},
        "replay": replay.summary,
        "replay_dir": str(replay.report_dir),
        "parity": parity,
        "timings_s": timings,
    }
    report_dir = write_report(store, report, replay.report_dir, bundles)
    result = VerifyResult(report["passed"], invariants, report, report_dir)
    if not result.passed:
        failed = [name for name, i in invariants.items() if not i["passed"]]
        raise VerificationFailed(
            f"verification failed: {', '.join(failed)} (details in {report_dir / 'report.html'})"
        )
    return result


def _trained(store: Store, snapshot_id: str, config: RunConfig, name: str) -> Path:
    """The bundle `name`, trained now unless an earlier verification of the same data and size made it."""
    path = store.bundles_dir / name
    if (path / METADATA).is_file():
        logger.info("reusing bundle %s", path)
        return path
    result = train_run(store, snapshot_id, config, name)
    assert result.bundle_path is not None  # single process: rank 0
    return result.bundle_path


def _hashes(stamped: dict[str, Any]) -> dict[str, Any]:
    return {k: stamped[k] for k in CONTRACT_HASH_KEYS}


def _invariants(
    materialized: dict[str, Any],
    manifest: dict[str, Any],
    metadata: dict[str, dict[str, Any]],
    summary: dict[str, Any],
    cycles: Any,
    parity: dict[str, Any],
    config: VerifyConfig,
) -> dict[str, dict[str, Any]]:
    """Every invariant with passed and the detail behind it (the report's table)."""
    keys = ("contract_version", *CONTRACT_HASH_KEYS)
    code = {"contract_version": DEFAULT_CONTRACT.version, **contract_hashes(DEFAULT_CONTRACT)}
    replays = (("model", summary), ("baseline", summary["baseline"]))
    stages = {
        "materialize": {"contract_version": materialized["contract_version"], **_hashes(materialized)},
        "snapshot": {"contract_version": manifest["sql_version"], **_hashes(manifest)},
        **{f"bundle {v}": {k: m[k] for k in keys} for v, m in metadata.items()},
        **{f"replay {role}": {k: s["bundle"][k] for k in keys} for role, s in replays},
        "parity": {"contract_version": parity["contract_version"], **_hashes(code)},
    }
    differing = [where for where, stamped in stages.items() if stamped != code]
    foreign = [v for v, m in metadata.items() if m["snapshot_id"] != manifest["id"]]
    predicted = cycles.filter("predicted")
    inputs_bad = int((~np.isfinite(predicted["p_xgb"].to_numpy())).sum())
    outputs_bad = sum(
        int((~np.isfinite(predicted[c].to_numpy())).sum()) for c in ("p_long", "p_early_move", "quality")
    )
    funnel = summary["funnel"]
    low, high = config.eligible_rate_range
    return {
        "one contract version and hash end to end": {
            "passed": not differing and not foreign,
            "detail": f"materialize, snapshot, both bundles, both replays and parity ran under contract "
            f"{code['contract_version']} ({code['full_contract_hash']})"
            if not differing and not foreign
            else f"differ from contract {code['contract_version']} {code['full_contract_hash']}: "
            f"{differing}; bundles of another snapshot: {foreign}",
        },
        "no NaN in model inputs or outputs": {
            "passed": inputs_bad == 0 and outputs_bad == 0 and summary["non_finite_outputs"] == 0,
            "detail": f"{inputs_bad} non-finite base-model inputs, {outputs_bad} non-finite outputs "
            f"over {predicted.height:,} predicted cycles",
        },
        "forward calls > 0": {
            "passed": funnel["predicted"] > 0,
            "detail": f"{funnel['predicted']:,} predicted cycles",
        },
        "eligibility rate in range": {
            "passed": low <= funnel["eligible_rate"] <= high,
            "detail": f"{funnel['eligible_rate']:.1%} eligible (allowed {low:.0%}..{high:.0%})",
        },
        "funnel order": {
            "passed": funnel["invariant_holds"],
            "detail": "cycles {cycles:,} >= hard-eligible {hard_eligible:,} >= eligible {eligible:,} "
            ">= predicted {predicted:,}".format(**funnel),
        },
        "replay is out-of-sample": out_of_sample_invariant(summary),
        "online/offline parity": {
            "passed": parity["passed"],
            "detail": f"{parity['bars']} bars, {parity['feature_mismatches']} feature mismatches "
            f"(max rel diff {parity['max_rel_diff_features']:.1e}), p_long max |diff| "
            f"{parity['max_abs_diff_p_long']:.1e}, {parity['predicted_status_differs']} predicted-status "
            "differences",
        },
    }


def out_of_sample_invariant(summary: dict[str, Any]) -> dict[str, Any]:
    """Every in-sample share (base model, training split, validation split) is 0 for both bundles."""
    shares = {
        role: s["in_sample"]["shares"] for role, s in (("model", summary), ("baseline", summary["baseline"]))
    }
    passed = not any(share > 0 for role in shares.values() for share in role.values())
    return {
        "passed": passed,
        "detail": f"{summary['source']['selection']} {summary['range'][0]} .. {summary['range'][1]}; "
        "in-sample shares " + "; ".join(f"{role}: {shares_text(v)}" for role, v in shares.items()),
    }
