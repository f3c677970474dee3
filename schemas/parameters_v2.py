"""Contract v2 parameters: v1's, with the data-chosen thresholds recalibrated on the training months only.

`atr_bucket_thresholds`, `spread_bucket_thresholds` and `trend_threshold` come from
`fs calibrate --date-range 2025-02-01..2025-07-31` on the shared 2025 XAUUSD M5 export (eligible rows of
the calibration window only; see featurestore/compute/calibrate.py for the rule and docs/contract_v2.md
for the shares they give in and after the window). A test reruns the calibration and compares.
"""

from __future__ import annotations

from typing import Any

from schemas.parameters_v1 import PARAMETERS

CALIBRATION_WINDOW = ("2025-02-01", "2025-07-31")

PARAMETERS_V2: dict[str, Any] = {
    **PARAMETERS,
    "sql_version": "v2",
    "calibration_window": list(CALIBRATION_WINDOW),
    "atr_bucket_thresholds": [6.0, 7.8, 10.5],
    "spread_bucket_thresholds": [0.53, 0.55],
    "trend_threshold": 1.42,
}
