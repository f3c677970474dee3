"""Contract v2 tables: v1's, plus `minutes_since_prev` in eligibility and `realized_bps` in labels.

The context, sequence and snapshot tables are v1's declarations (v2 changes only the thresholds that
place values in classes, see schemas/parameters_v2.py), so the seed's context dict and its
feature_contract_hash stay the same.
"""

from __future__ import annotations

import dataclasses

from schemas.columns import Column
from schemas.features_v1 import CONTEXT, ELIGIBILITY, LABELS, SEQ_FEATURES, SNAP_FEATURES
from schemas.parameters_v2 import PARAMETERS_V2

_REALIZED_LIMIT = PARAMETERS_V2["barrier_atr_mult"] * PARAMETERS_V2["atr_bps_max"]

ELIGIBILITY_V2 = dataclasses.replace(
    ELIGIBILITY,
    columns=(
        *ELIGIBILITY.columns,
        Column(
            "minutes_since_prev",
            "int64",
            "meta",
            "min",
            "Minutes since the previous bar of the slice (informational; gaps are never filled).",
            (0.0, 1e7),
            nullable="warmup",
            lookback=1,
        ),
    ),
)

LABELS_V2 = dataclasses.replace(
    LABELS,
    columns=(
        *LABELS.columns,
        Column(
            "realized_bps",
            "float64",
            "label",
            "bps",
            "Net result of the labelled long trade: exit at the barrier touched first (the lower one for an "
            "ambiguous bar), else at the horizon's close, against the entry with its costs.",
            (-_REALIZED_LIMIT, _REALIZED_LIMIT),
            nullable="label_unavailable",
        ),
    ),
)

MATERIALIZED_TABLES_V2 = (CONTEXT, SEQ_FEATURES, SNAP_FEATURES, ELIGIBILITY_V2, LABELS_V2)
