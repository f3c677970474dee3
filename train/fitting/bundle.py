"""Model bundles: one function saves, one loads (`load_entry_v10_bundle`). No pickle anywhere.

`bundles/<name>/` holds config.json, model.safetensors, base_model.json (XGBoost's own JSON; the
calibration its p_long runs through is in the metadata, `base_model.calibration`), normalization.json
(by feature name), metadata.json (`schemas.bundle_metadata.BundleMetadata`, parsed strictly),
plots/*.png and bundle.lock.json (sha256 of every other file). The bundle names its contract version; it
is checked, replayed and served under that version (`contract_for`), never silently the newest. Replay
mode turns any mismatch (variant, dims, a hash, the hybrid-channel settings, a file hash, the schema
version) into a `BundleMismatch` naming what differs; live mode logs the same problems as warnings and
returns `status="degraded"` so callers can see it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, load_model, save_model
from torch import nn

from featurestore.errors import FeatureStoreError
from schemas.bundle_metadata import (
    METADATA_FILE,
    SCHEMA_1,
    BundleMetadata,
    BundleMetadataError,
    read_bundle_metadata,
    write_bundle_metadata,
)
from schemas.contract import Contract, contract_hashes
from schemas.hashing import file_sha256
from schemas.versions import UnknownContractVersion, carried_contract, contract_for, copy_definition
from train.fitting.base_model import load_base_model, save_base_model
from train.fitting.calibration import Calibration
from train.fitting.hybrid import EMA_SPAN, EMA_WINDOW
from train.fitting.inputs import ModelInputs, first_difference
from train.fitting.model import ModelConfig, build_model
from train.fitting.normalization import Normalization

logger = logging.getLogger(__name__)

CONFIG, WEIGHTS, BASE_MODEL = "config.json", "model.safetensors", "base_model.json"
NORMALIZATION, METADATA, LOCK = "normalization.json", METADATA_FILE, "bundle.lock.json"
MODES = ("replay", "live")


class BundleMismatch(FeatureStoreError):
    """A bundle does not match what the code expects (replay mode)."""

    exit_code = 8

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"bundle {path} cannot be used: " + "; ".join(problems))


@dataclass(frozen=True)
class LoadedBundle:
    path: Path
    model: nn.Module | None
    config: ModelConfig | None
    base_model: Any
    normalization: Normalization | None
    metadata: BundleMetadata | None  # None only for a live-mode bundle whose metadata could not be read
    status: str  # "ok" | "degraded"
    problems: tuple[str, ...]
    resolved: Contract | None = None  # the contract it was loaded under (its own copy when it carries one)

    @property
    def contract(self) -> Contract:
        """The contract the bundle was trained under: its features are computed with this version's SQL."""
        if self.resolved is not None:
            return self.resolved
        if self.metadata is None:
            raise BundleMismatch(self.path, ["its metadata could not be read, so its contract is unknown"])
        return contract_for(self.metadata.contract_version)

    @property
    def inputs(self) -> ModelInputs:
        """The model inputs of the bundle's contract, in the order it was trained with."""
        return ModelInputs.of(self.contract)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def save_bundle(
    path: Path,
    model: nn.Module,
    config: ModelConfig,
    base_model: Any,
    normalization: Normalization,
    metadata: BundleMetadata,
    plots: dict[str, Path],
    contract: Contract | None = None,
) -> Path:
    """Write the bundle (with a copy of `contract`'s definition, `definition/<version>/`) to a temporary
    directory beside `path`, lock it, and rename it into place.

    Raises:
        FeatureStoreError: `path` exists (bundles are never overwritten; choose another --out).
    """
    if path.exists():
        raise FeatureStoreError(
            f"bundle {path} already exists; bundles are never overwritten: pass another --out"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    (tmp / "plots").mkdir(parents=True)
    try:
        _write_json(tmp / CONFIG, config.to_dict())
        save_model(model, str(tmp / WEIGHTS))
        save_base_model(base_model, tmp / BASE_MODEL)
        _write_json(tmp / NORMALIZATION, normalization.to_dict())
        write_bundle_metadata(tmp, metadata)
        for name, source in plots.items():
            shutil.copyfile(source, tmp / "plots" / name)
        if contract is not None:
            copy_definition(contract, tmp)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        _write_json(tmp / LOCK, {str(p.relative_to(tmp)): file_sha256(p) for p in files})
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _expected_metadata(variant: str, contract: Contract) -> dict[str, Any]:
    names = ModelInputs.of(contract).names()
    expected: dict[str, Any] = {
        "variant": variant,
        "seq_dim": len(names["seq"]),
        "snap_dim": len(names["snap"]),
        **contract_hashes(contract),
    }
    if variant == "v10_ctx":
        expected.update(
            supports_context_features=True,
            ctx_cat_dim=len(names["ctx_cat"]),
            ctx_cont_dim=len(names["ctx_cont"]),
        )
    return expected


def _problems(path: Path, metadata: BundleMetadata, variant: str, contract: Contract) -> list[str]:
    problems = _lock_problems(path)
    for key, want in _expected_metadata(variant, contract).items():
        if getattr(metadata, key) != want:
            problems.append(f"{key} is {getattr(metadata, key)!r}, expected {want!r}")
    code = {"ema_span": EMA_SPAN, "ema_window": EMA_WINDOW}
    for key, want in code.items():
        if getattr(metadata.hybrid, key) != want:
            problems.append(
                f"hybrid {key} is {getattr(metadata.hybrid, key)}, but this code builds the p_long_xgb "
                f"channels with {key} {want}: its inputs would differ from training"
            )
    difference = first_difference(metadata.input_names, ModelInputs.of(contract).names())
    if difference is not None:
        problems.append(f"{difference} under contract {contract.version}")
    return problems


def _lock_problems(path: Path) -> list[str]:
    lock_path = path / LOCK
    if not lock_path.is_file():
        return [f"{LOCK} is missing"]
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    present = {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()} - {LOCK}
    problems = [f"file {name} is not in {LOCK}" for name in sorted(present - set(lock))]
    problems += [f"file {name} is missing" for name in sorted(set(lock) - present)]
    problems += [
        f"file {name} changed after saving (sha256 differs)"
        for name in sorted(set(lock) & present)
        if file_sha256(path / name) != lock[name]
    ]
    return problems


# schema 1 named ContextContEncoder's layers by position in an nn.Sequential
_SCHEMA_1_NAMES = {
    "context_cont_encoder.net.0.": "context_cont_encoder.norm.",
    "context_cont_encoder.net.1.": "context_cont_encoder.linear.",
}


def _load_weights(model: nn.Module, path: Path, schema_version: str) -> None:
    """The safetensors weights into `model`, every tensor matched by name (strict)."""
    if schema_version != SCHEMA_1:
        load_model(model, str(path), strict=True)
        return
    tensors = load_file(str(path))
    renamed = {}
    for name, tensor in tensors.items():
        old = next((prefix for prefix in _SCHEMA_1_NAMES if name.startswith(prefix)), None)
        renamed[name if old is None else _SCHEMA_1_NAMES[old] + name[len(old) :]] = tensor
    model.load_state_dict(renamed, strict=True)


def load_entry_v10_bundle(
    path: Path, variant: str, mode: str = "replay", contract: Contract | None = None
) -> LoadedBundle:
    """Load a bundle after checking variant, context support, dims, both contract hashes (of the bundle's
    own contract version, or of `contract` when given), the hybrid settings and the file hashes.

    Raises:
        BundleMismatch: in replay mode, on any mismatch (the message names each one); in both modes when
            metadata.json is missing (not a bundle).
        ValueError: an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    path = Path(path)
    if not (path / METADATA).is_file():
        raise BundleMismatch(path, [f"no {METADATA}: not a bundle directory"])
    try:
        metadata = read_bundle_metadata(path)
        contract = contract or _own_contract(path, metadata.contract_version, mode)
    except (BundleMetadataError, UnknownContractVersion) as exc:
        if mode == "replay":
            raise BundleMismatch(path, [str(exc)]) from None
        logger.warning("bundle %s (live mode, degraded): %s", path, exc)
        return LoadedBundle(path, None, None, None, None, None, "degraded", (str(exc),))
    problems = _problems(path, metadata, variant, contract)
    if problems and mode == "replay":
        raise BundleMismatch(path, problems)
    for problem in problems:
        logger.warning("bundle %s (live mode, degraded): %s", path, problem)
    try:
        config = ModelConfig.from_dict(json.loads((path / CONFIG).read_text(encoding="utf-8")))
        if metadata.schema_version == SCHEMA_1:  # trained with the seed's ContextContEncoder
            config = dataclasses.replace(config, ctx_cont_layernorm=True)
        model = build_model(config)
        _load_weights(model, path / WEIGHTS, metadata.schema_version)
        model.eval()
        normalization = Normalization.from_dict(
            json.loads((path / NORMALIZATION).read_text(encoding="utf-8"))
        )
        calibration = Calibration(**dataclasses.asdict(metadata.base_model.calibration))
        base = load_base_model(path / BASE_MODEL, calibration)
    except Exception as exc:  # noqa: BLE001 - live mode reports any load failure as degraded
        if mode == "replay":
            raise BundleMismatch(path, [f"cannot load: {type(exc).__name__}: {exc}"]) from exc
        problems.append(f"cannot load: {type(exc).__name__}: {exc}")
        logger.warning("bundle %s (live mode, degraded): %s", path, problems[-1])
        return LoadedBundle(path, None, None, None, None, metadata, "degraded", tuple(problems), contract)
    status = "degraded" if problems else "ok"
    return LoadedBundle(path, model, config, base, normalization, metadata, status, tuple(problems), contract)


def _own_contract(path: Path, version: str, mode: str) -> Contract:
    """The contract a bundle was trained under: the copy it carries (bundles made before copies: the
    registered version of that name). A same-named folder with other content is refused in replay mode
    (the data would be computed with one definition and scored by a model of another) and named in a
    warning in live mode, which serves from the copy.

    Raises:
        BundleMismatch: replay mode, and a same-named folder differs from the copy.
        UnknownContractVersion: no copy, and the version is unknown.
    """
    carried = carried_contract(path, version, f"bundle {path.name}")
    if carried is None:
        return contract_for(version)
    if carried.conflict is not None:
        if mode == "replay":
            raise BundleMismatch(
                path,
                [
                    f"{carried.conflict}; replay mode does not mix definitions: restore that folder, give "
                    "your edited version another name (`fs contract new`), or replay with --mode live"
                ],
            )
        logger.warning("bundle %s (live mode): %s; serving from the bundle's copy", path, carried.conflict)
    return carried.contract
