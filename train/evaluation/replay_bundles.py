"""The bundles a replay scores with: the model and an optional baseline, each loaded by its metadata's
variant under its own contract version and checked against the contract hashes of the data it replays
(a snapshot's; for online replay the model bundle's own, which the baseline must share: both are fed
features computed with one version's SQL).

Usage::

    bundles = load_bundles(Path("fsdata/bundles/demo"), None, "replay", snapshot_hashes)
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from schemas.bundle_metadata import BundleMetadataError, read_bundle_metadata
from train.fitting.bundle import BundleMismatch, LoadedBundle, load_entry_v10_bundle

logger = logging.getLogger(__name__)


def load_bundle(path: Path, mode: str, data_hashes: dict[str, str]) -> LoadedBundle:
    """Load a bundle (variant from its metadata) and check its contract hashes against the data's.

    Raises:
        BundleMismatch: in replay mode, on any mismatch.
    """
    try:
        variant = read_bundle_metadata(Path(path)).variant
    except BundleMetadataError as exc:
        raise BundleMismatch(Path(path), [str(exc)]) from None
    bundle = load_entry_v10_bundle(Path(path), variant=variant, mode=mode)
    recorded = bundle.metadata.to_dict() if bundle.metadata is not None else {}
    problems = [
        f"{key} is {recorded.get(key)!r}, but the data was built under {want!r}"
        for key, want in data_hashes.items()
        if recorded.get(key) != want
    ]
    if problems and mode == "replay":
        raise BundleMismatch(Path(path), problems)
    for problem in problems:
        logger.warning("bundle %s (live mode, degraded): %s", path, problem)
    if not problems:
        return bundle
    all_problems = (*bundle.problems, *(p for p in problems if p not in bundle.problems))
    return dataclasses.replace(bundle, status="degraded", problems=all_problems)


def load_bundles(
    bundle_path: Path, baseline_path: Path | None, mode: str, hashes: dict[str, str] | None
) -> dict[str, LoadedBundle]:
    """The model bundle and the optional baseline; `hashes` None: the model bundle's own contract's."""
    if hashes is None:
        try:
            own = read_bundle_metadata(Path(bundle_path))
        except BundleMetadataError as exc:
            raise BundleMismatch(Path(bundle_path), [str(exc)]) from None
        hashes = {
            "feature_contract_hash": own.feature_contract_hash,
            "full_contract_hash": own.full_contract_hash,
        }
    bundles = {"model": load_bundle(bundle_path, mode, hashes)}
    if baseline_path is not None:
        bundles["baseline"] = load_bundle(baseline_path, mode, hashes)
    return bundles
