"""The decision records of `train compare` (``reports/compare-*/record.json``): listed newest first.

Usage::

    for row in list_records(store):
        row["created"], row["a"], row["b"], row["verdict"], row["difference"]
"""

from __future__ import annotations

import json
import logging
from typing import Any

from featurestore.api import Store

logger = logging.getLogger(__name__)


def list_records(store: Store) -> list[dict[str, Any]]:
    """One line per decision record: when, both snapshots and contracts, the verdict and its interval.

    A record that cannot be read is listed with the reason instead of hiding it.
    """
    rows = []
    for path in sorted(store.reports_dir.glob("compare-*/record.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            d = record["pooled"]["direction"]["difference"]["log_loss"]
            rows.append(
                {
                    "created": record["created"],
                    "a": f"{record['a']['id'][:12]} ({record['a']['contract']})",
                    "b": f"{record['b']['id'][:12]} ({record['b']['contract']})",
                    "folds": len(record["folds"]),
                    "seeds": len(record["seeds"]),
                    "verdict": record["verdict"],
                    "difference": f"{d['estimate']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]",
                    "n": d["n"],
                    "seconds": record["seconds"],
                    "report": str(path.parent / "report.html"),
                }
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("unreadable decision record %s: %s", path, exc)
            rows.append({"created": "", "report": str(path.parent), "verdict": f"unreadable: {exc}"})
    return sorted(rows, key=lambda r: r["created"], reverse=True)
