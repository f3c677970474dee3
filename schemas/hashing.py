"""The one sha256 helper of the project: of bytes, of a file (streamed) and of canonical JSON.

Usage::

    file_sha256(Path("model.safetensors")), canonical_sha256({"b": 1, "a": [2]})
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and fixed separators: equal data gives equal text, hence equal hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def canonical_sha256(value: Any) -> str:
    return sha256_hex(canonical_json(value).encode())
