"""Model bundles: one function saves, one loads (`load_entry_v10_bundle`). No pickle anywhere.

`bundles/<name>/` holds config.json, model.safetensors, base_model.json (XGBoost's own JSON),
normalization.json (by feature name), metadata.json, plots/*.png and bundle.lock.json (sha256 of every
other file). Replay mode turns any mismatch into a `BundleMismatch` naming what differs; live mode logs
the same problems as warnings and returns `status="degraded"` so callers can see it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_model, save_model
from torch import nn

from featurestore.errors import FeatureStoreError
from schemas.contract import CONTRACT, Contract, contract_hashes
from schemas.hashing import file_sha256
from train.fitting.base_model import load_base_model, save_base_model
from train.fitting.dataset import input_names
from train.fitting.model import ModelConfig, build_model
from train.fitting.normalization import Normalization

logger = logging.getLogger(__name__)

CONFIG, WEIGHTS, BASE_MODEL = "config.json", "model.safetensors", "base_model.json"
NORMALIZATION, METADATA, LOCK = "normalization.json", "metadata.json", "bundle.lock.json"
# /2: ContextContEncoder lost the seed's LayerNorm(2) (its weights changed names and meaning).
SCHEMA_VERSION = "entry_v10_bundle/2"
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
    metadata: dict[str, Any]
    status: str  # "ok" | "degraded"
    problems: tuple[str, ...]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def save_bundle(
    path: Path,
    model: nn.Module,
    config: ModelConfig,
    base_model: Any,
    normalization: Normalization,
    metadata: dict[str, Any],
    plots: dict[str, Path],
) -> Path:
    """Write the bundle to a temporary directory beside `path`, lock it, and rename it into place.

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
        _write_json(tmp / METADATA, {**metadata, "schema_version": SCHEMA_VERSION})
        for name, source in plots.items():
            shutil.copyfile(source, tmp / "plots" / name)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        _write_json(tmp / LOCK, {str(p.relative_to(tmp)): file_sha256(p) for p in files})
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _expected_metadata(variant: str, contract: Contract) -> dict[str, Any]:
    names = input_names()
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


def _schema_problems(metadata: dict[str, Any]) -> list[str]:
    """A bundle written under another SCHEMA_VERSION: its model is not this code's model."""
    stored = metadata.get("schema_version")
    if stored == SCHEMA_VERSION:
        return []
    name, _, number = SCHEMA_VERSION.rpartition("/")
    stored_name, _, stored_number = str(stored).rpartition("/")
    older = stored_name == name and stored_number.isdigit() and int(stored_number) < int(number)
    who = "an older version of the trainer" if older else "a version of the trainer this code does not know"
    return [
        f"it was saved by {who} (schema_version {stored!r}; this code reads {SCHEMA_VERSION!r}) and must be "
        f"retrained (`train run --snapshot {metadata.get('snapshot_id', '<id>')} "
        f"--variant {metadata.get('variant', 'v10_ctx')}`)"
    ]


def _problems(path: Path, metadata: dict[str, Any], variant: str, contract: Contract) -> list[str]:
    problems = _lock_problems(path)
    for key, want in _expected_metadata(variant, contract).items():
        if metadata.get(key) != want:
            problems.append(f"{key} is {metadata.get(key)!r}, expected {want!r}")
    stored = metadata.get("input_names", {})
    for group, names in input_names().items():
        if group in stored and list(stored[group]) != list(names):
            first = next(
                (i for i, (a, b) in enumerate(zip(stored[group], names, strict=False)) if a != b),
                min(len(stored[group]), len(names)),
            )
            problems.append(f"{group} input order differs from the contract at position {first}")
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


def load_entry_v10_bundle(
    path: Path, variant: str, mode: str = "replay", contract: Contract = CONTRACT
) -> LoadedBundle:
    """Load a bundle after checking variant, context support, dims, both contract hashes and file hashes.

    Raises:
        BundleMismatch: in replay mode, on any mismatch (the message names each one).
        ValueError: an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    path = Path(path)
    if not (path / METADATA).is_file():
        raise BundleMismatch(path, [f"no {METADATA}: not a bundle directory"])
    metadata = json.loads((path / METADATA).read_text(encoding="utf-8"))
    problems = _schema_problems(metadata) + _problems(path, metadata, variant, contract)
    if problems and mode == "replay":
        raise BundleMismatch(path, problems)
    for problem in problems:
        logger.warning("bundle %s (live mode, degraded): %s", path, problem)
    try:
        config = ModelConfig.from_dict(json.loads((path / CONFIG).read_text(encoding="utf-8")))
        model = build_model(config)
        load_model(model, str(path / WEIGHTS), strict=True)
        model.eval()
        normalization = Normalization.from_dict(
            json.loads((path / NORMALIZATION).read_text(encoding="utf-8"))
        )
        base = load_base_model(path / BASE_MODEL)
    except Exception as exc:  # noqa: BLE001 - live mode reports any load failure as degraded
        if mode == "replay":
            raise BundleMismatch(path, [f"cannot load: {type(exc).__name__}: {exc}"]) from exc
        problems.append(f"cannot load: {type(exc).__name__}: {exc}")
        logger.warning("bundle %s (live mode, degraded): %s", path, problems[-1])
        return LoadedBundle(path, None, None, None, None, metadata, "degraded", tuple(problems))
    status = "degraded" if problems else "ok"
    return LoadedBundle(path, model, config, base, normalization, metadata, status, tuple(problems))
