"""The bundles a replay scores with: the model and an optional baseline, each loaded by its metadata's
variant and checked against the contract hashes of the data it replays.

Usage::

    bundles = load_bundles(Path("fsdata/bundles/demo"), None, "replay", snapshot_hashes)
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from train.fitting.bundle import METADATA, BundleMismatch, LoadedBundle, load_entry_v10_bundle

logger = logging.getLogger(__name__)


def load_bundle(path: Path, mode: str, data_hashes: dict[str, str]) -> LoadedBundle:
    """Load a bundle (variant from its metadata) and check its contract hashes against the data's.

    Raises:
        BundleMismatch: in replay mode, on any mismatch.
    """
    metadata_path = Path(path) / METADATA
    variant = (
        json.loads(metadata_path.read_text(encoding="utf-8"))["variant"] if metadata_path.is_file() else ""
    )
    bundle = load_entry_v10_bundle(Path(path), variant=variant, mode=mode)
    problems = [
        f"{key} is {bundle.metadata.get(key)!r}, but the data was built under {want!r}"
        for key, want in data_hashes.items()
        if bundle.metadata.get(key) != want
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
    bundle_path: Path, baseline_path: Path | None, mode: str, hashes: dict[str, str]
) -> dict[str, LoadedBundle]:
    bundles = {"model": load_bundle(bundle_path, mode, hashes)}
    if baseline_path is not None:
        bundles["baseline"] = load_bundle(baseline_path, mode, hashes)
    return bundles
