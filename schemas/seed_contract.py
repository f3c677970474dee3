"""The seed system's seven-entry context contract and its hash, kept verbatim for runtime compatibility.

The seed computed `feature_contract_hash` over this dict only; it covers types, value sets, ranges, embedding
sizes and normalization, but no thresholds, hour tables or formulas. `full_contract_hash` (schemas.contract)
covers those. Do not edit this dict: its hash is pinned to the seed's value by a test.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

SEED_FEATURE_CONTRACT_HASH = "93ab1d31534f2dc7"

SEED_CONTEXT_CONTRACT: dict[str, dict[str, Any]] = {
    "session_id": {"type": "categorical", "values": [0, 1, 2, 3], "embedding_dim": 8},
    "trend_regime_id": {"type": "categorical", "values": [0, 1, 2], "embedding_dim": 8},
    "vol_regime_id": {"type": "categorical", "values": [0, 1, 2, 3], "embedding_dim": 8},
    "atr_bps": {"type": "continuous", "range": [0.0, 1000.0], "normalization": "zscore"},
    "atr_bucket": {"type": "categorical", "values": [0, 1, 2, 3], "embedding_dim": 8},
    "spread_bps": {"type": "continuous", "range": [0.0, 500.0], "normalization": "zscore"},
    "spread_bucket": {"type": "categorical", "values": [0, 1, 2], "embedding_dim": 8},
}

# Model input order of the context features (seed's ctx_cat / ctx_cont order).
CTX_CAT_ORDER = ("session_id", "trend_regime_id", "vol_regime_id", "atr_bucket", "spread_bucket")
CTX_CONT_ORDER = ("atr_bps", "spread_bps")


def compute_feature_contract_hash(contract: dict[str, dict[str, Any]] | None = None) -> str:
    """The seed's formula: first 16 hex digits of sha256 over the sorted-key JSON of the context dict."""
    payload = json.dumps(SEED_CONTEXT_CONTRACT if contract is None else contract, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
