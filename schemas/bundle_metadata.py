"""A bundle's metadata.json as one typed object: written by `train run`, read by the one loader.

Every key is a field with its type; `from_dict` refuses a missing key, an unknown key or a value of the
wrong type, naming it, so no reader ever meets a half bundle (`KeyError` deep inside replay). It lives in
`schemas/` because both sides read it: the trainer (save, load, replay, live) and `fs status` (which
bundles rest on which snapshot).

Besides the model's shape and lineage, it carries what changes the model's inputs or its training without
showing in the weights: the contract version (features are recomputed online with that version's SQL),
the hybrid-channel settings (EMA span and window of p_long_xgb; a bundle trained with other settings is a
mismatch like a contract hash), every seed (torch and the base model), and the base model's chosen
settings with the calibration its p_long runs through (`BaseModelRecord`).

Usage::

    meta = read_bundle_metadata(Path("fsdata/bundles/demo"))
    meta.contract_version, meta.hybrid.ema_span, meta.seeds.base_model
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METADATA_FILE = "metadata.json"
# 3: the base model's settings are chosen per fit from a grid with early stopping, and its p_long is
# calibrated; `base_model` records both (the calibration is applied wherever the bundle's base model runs).
SCHEMA_VERSION = "entry_v10_bundle/3"
# 2: contract_version, hybrid settings, both seeds and the base model's span recorded; ContextContEncoder
# without the seed's LayerNorm. Still loads: `upgrade_schema_2` records its fixed, uncalibrated base model.
SCHEMA_2 = "entry_v10_bundle/2"
# 1: bundles trained before contract v2 existed (all on contract v1). They still load: `upgrade_schema_1`
# fills in what they did not record from what they did, and the loader builds their model with the seed's
# LayerNorm in ContextContEncoder (the one they were trained with).
SCHEMA_1 = "entry_v10_bundle/1"
SCHEMA_1_HYBRID = (5, 30)  # EMA span and window of the p_long_xgb channel when schema 1 was written


class BundleMetadataError(ValueError):
    """metadata.json is missing, unreadable or not of this schema (the message says what and how to fix)."""


@dataclass(frozen=True)
class HybridSettings:
    """The "+3" channels built from the base model's p_long: finite-window EMA span and window (bars)."""

    ema_span: int
    ema_window: int


@dataclass(frozen=True)
class Seeds:
    """Every seed of the run: torch (weights, batch order) and the base model (XGBoost)."""

    torch: int
    base_model: int


@dataclass(frozen=True)
class BaseModelCalibration:
    """``p -> sigmoid(slope * logit(p) + intercept)`` ("platt", fitted on `n` held-out rows) or "none"."""

    method: str
    slope: float
    intercept: float
    n: int


@dataclass(frozen=True)
class BaseModelRecord:
    """The shipped base model's settings, calibration and how they were chosen; the same for each
    out-of-fold block's model (whose p built the training split's hybrid channels)."""

    settings: dict[str, Any]  # the chosen grid point (max_depth, min_child_weight, ...) and its trees
    calibration: BaseModelCalibration
    selection: dict[str, Any]  # rows fitted and held out, each grid point's held-out log loss
    out_of_fold: list[dict[str, Any]]  # per block: {"settings", "calibration", "selection"} ({} block 0)


@dataclass(frozen=True)
class BundleMetadata:
    """The contents of metadata.json (docs/trainer.md)."""

    schema_version: str
    variant: str
    supports_context_features: bool
    seq_len: int
    seq_dim: int
    snap_dim: int
    ctx_cat_dim: int
    ctx_cont_dim: int
    ordered_ctx_cat_names: list[str]
    ordered_ctx_cont_names: list[str]
    input_names: dict[str, list[str]]
    contract_version: str
    feature_contract_hash: str
    full_contract_hash: str
    hybrid: HybridSettings
    seeds: Seeds
    base_model: BaseModelRecord
    snapshot_id: str
    snapshot_range: list[str]
    split_ranges: dict[str, list[str]]  # role -> [first ts, last ts] of its samples ([] when empty)
    base_model_span: list[str]  # [first ts, last ts] of the rows the shipped base model was fitted on
    # (the out-of-fold models of the hybrid channels train on subsets of the same training-split days)
    split_config: dict[str, Any]
    run_config: dict[str, Any]
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    eligibility_report: dict[str, Any]
    versions: dict[str, Any]

    @property
    def seed(self) -> int:
        """The run's seed (`--seed`), which also seeded the base model."""
        return self.seeds.torch

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = METADATA_FILE) -> BundleMetadata:
        """Parse strictly (see the module docstring).

        Raises:
            BundleMetadataError: naming the key and what is wrong with it.
        """
        if not isinstance(data, dict):
            raise BundleMetadataError(f"{where}: expected a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if version == SCHEMA_1:
            return _build(cls, upgrade_schema_2(upgrade_schema_1(data, where), where), where)
        if version == SCHEMA_2:
            return _build(cls, upgrade_schema_2(data, where), where)
        if version != SCHEMA_VERSION:
            name, _, number = SCHEMA_VERSION.rpartition("/")
            stored_name, _, stored_number = str(version).rpartition("/")
            older = stored_name == name and stored_number.isdigit() and int(stored_number) < int(number)
            unknown = "a version of the trainer this code does not know"
            who = "an older version of the trainer" if older else unknown
            raise BundleMetadataError(
                f"{where}: it was saved by {who} (schema_version {version!r}; this code reads "
                f"{SCHEMA_VERSION!r}) and must be retrained (`train run --snapshot "
                f"{data.get('snapshot_id', '<id>')} --variant {data.get('variant', 'v10_ctx')}`)"
            )
        return _build(cls, data, where)


def upgrade_schema_1(data: dict[str, Any], where: str = METADATA_FILE) -> dict[str, Any]:
    """The keys a schema-1 metadata.json lacks, from what it recorded (it keeps `schema_version` /1):

    - `contract_version`: the registered version whose two hashes it carries (schema 1 predates v2, so
      v1), or "unregistered" when none matches (the loader then refuses it by name);
    - `hybrid`: the channel settings the schema-1 code used (`SCHEMA_1_HYBRID`);
    - `seeds`: torch from `seed`, the base model from `run_config.base_model.seed` (schema-1 runs did not
      pass `--seed` to XGBoost, so the two can differ, and the record says so);
    - `base_model_span`: the training split's days (`split_config.train`), which held every row the base
      models were fitted on (an upper bound of the span schema 2 records exactly).
    """
    from schemas.contract import contract_hashes
    from schemas.versions import CONTRACTS

    old = dict(data)
    try:
        seed = old.pop("seed")
        hashes = {k: old[k] for k in ("feature_contract_hash", "full_contract_hash")}
        base_seed = old["run_config"]["base_model"]["seed"]
        train = old["split_config"]["train"]
    except (KeyError, TypeError) as exc:
        raise BundleMetadataError(
            f"{where}: schema {SCHEMA_1} metadata without {exc}; how to fix: retrain it with `train run`"
        ) from None
    version = next((v for v, c in CONTRACTS.items() if contract_hashes(c) == hashes), "unregistered")
    return {
        **old,
        "contract_version": version,
        "hybrid": {"ema_span": SCHEMA_1_HYBRID[0], "ema_window": SCHEMA_1_HYBRID[1]},
        "seeds": {"torch": seed, "base_model": base_seed},
        "base_model_span": [f"{train['start']}T00:00:00", f"{train['end']}T23:59:59.999999"],
    }


def upgrade_schema_2(data: dict[str, Any], where: str = METADATA_FILE) -> dict[str, Any]:
    """`base_model` for a bundle written before it was recorded (schema 1 or 2; `schema_version` is kept):
    its run config's fixed settings, all `n_estimators` trees, no early stopping and no calibration (the
    base model's p was used as XGBoost gave it, and still is)."""
    try:
        fixed = data["run_config"]["base_model"]
        axes = ("max_depth", "min_child_weight", "subsample", "learning_rate")
        settings = {key: fixed[key] for key in axes}
        settings["trees"] = fixed["n_estimators"]
    except (KeyError, TypeError) as exc:
        raise BundleMetadataError(
            f"{where}: metadata without run_config.base_model {exc}; how to fix: retrain it with `train run`"
        ) from None
    return {
        **data,
        "base_model": {
            "settings": settings,
            "calibration": {"method": "none", "slope": 1.0, "intercept": 0.0, "n": 0},
            "selection": {"method": "fixed settings (written before the base model's grid and calibration)"},
            "out_of_fold": [],
        },
    }


def read_bundle_metadata(bundle: Path) -> BundleMetadata:
    """The one reader of `<bundle>/metadata.json`.

    Raises:
        BundleMetadataError: no such file, not JSON, or not this schema.
    """
    path = Path(bundle) / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleMetadataError(f"{path}: no {METADATA_FILE}: not a bundle directory") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleMetadataError(f"{path}: cannot read it ({exc})") from None
    return BundleMetadata.from_dict(data, str(path))


def write_bundle_metadata(bundle: Path, metadata: BundleMetadata) -> Path:
    """Write metadata.json (of this schema version only) after checking it round-trips through the parser."""
    if metadata.schema_version != SCHEMA_VERSION:
        raise BundleMetadataError(f"only {SCHEMA_VERSION} metadata is written, not {metadata.schema_version}")
    data = json.loads(json.dumps(metadata.to_dict(), default=str))
    BundleMetadata.from_dict(data, "metadata to save")
    path = Path(bundle) / METADATA_FILE
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    missing = [n for n in names if n not in data]
    unknown = sorted(set(data) - set(names))
    if missing or unknown:
        parts = ([f"missing key(s) {missing}"] if missing else []) + (
            [f"unknown key(s) {unknown}"] if unknown else []
        )
        raise BundleMetadataError(
            f"{where}: {'; '.join(parts)}; how to fix: retrain the bundle with `train run` (metadata is "
            "written by the trainer only)"
        )
    values: dict[str, Any] = {}
    for name in names:
        hint, value = hints[name], data[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise BundleMetadataError(f"{where}: {name} must be an object, got {value!r}")
            values[name] = _build(hint, value, f"{where} {name}")
        elif not _fits(value, hint):
            raise BundleMetadataError(
                f"{where}: {name} must be {_describe(hint)}, got {type(value).__name__} {value!r:.60}"
            )
        else:
            values[name] = value
    return cls(**values)


def _fits(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint) or hint
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is list:
        (arg,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and (arg is Any or all(_fits(v, arg) for v in value))
    if origin is dict:
        _, arg = typing.get_args(hint) or (str, Any)
        return isinstance(value, dict) and (arg is Any or all(_fits(v, arg) for v in value.values()))
    if hint is Any:
        return True
    return isinstance(value, origin)


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) if typing.get_origin(hint) is None else str(hint)
