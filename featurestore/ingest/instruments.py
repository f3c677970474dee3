"""Instruments: canonical symbol names and point sizes.

A point is the smallest price step a broker quotes; MT5 exports give the spread in points, so turning
it into price units needs the instrument's point size (XAUUSD: 1 point = 0.01 USD, so a spread of 43
points is 0.43 USD). Symbols are stored in their canonical form: upper case without separators, so
the OANDA name ``XAU_USD`` and the MT5 name ``XAUUSD`` are the same instrument.
"""

from __future__ import annotations

import re
from pathlib import Path

from featurestore.errors import SourceError

POINT_SIZES: dict[str, float] = {
    "XAUUSD": 0.01,
    "XAGUSD": 0.001,
    "EURUSD": 0.00001,
    "GBPUSD": 0.00001,
    "USDJPY": 0.001,
}

_SEPARATORS = re.compile(r"[\s_/\-]")
_VALID = re.compile(r"^[A-Z0-9.]{2,32}$")


def canonical_symbol(symbol: str) -> str:
    """Return `symbol` upper-cased without separators (``xau_usd`` -> ``XAUUSD``).

    Raises:
        ValueError: the symbol is empty or holds characters no instrument name has.
    """
    canonical = _SEPARATORS.sub("", symbol).upper()
    if not _VALID.match(canonical):
        raise ValueError(f"invalid symbol {symbol!r}: expected letters and digits such as XAUUSD or XAU_USD")
    return canonical


def known_point_size(symbol: str) -> float | None:
    """Point size of a known instrument, or None when the symbol is not in the table."""
    return POINT_SIZES.get(canonical_symbol(symbol))


def resolve_point_size(symbol: str, override: float | None, path: Path) -> float:
    """Point size to convert spreads in points: `override` (``--point-size``) wins over the table.

    Raises:
        SourceError: the source gives spreads in points, the symbol is unknown and no override was given.
    """
    if override is not None:
        if not override > 0:
            raise SourceError(path, f"--point-size must be positive, got {override}")
        return override
    size = known_point_size(symbol)
    if size is None:
        known = ", ".join(f"{name} {size:g}" for name, size in POINT_SIZES.items())
        raise SourceError(
            path,
            f"the spread is given in points, but the point size of {canonical_symbol(symbol)} is unknown",
            fix=f"pass --point-size (the price of one point, e.g. 0.01 for XAUUSD); known: {known}",
        )
    return size
