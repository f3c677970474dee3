"""The contract versions, side by side: each with its SQL folder, parameters, tables and both hashes.

Usage::

    from schemas.versions import CONTRACTS, NEWEST, contract_for
    contract_for("v1").version, contract_hashes(contract_for(NEWEST))

A snapshot or a bundle names its version; opening, replaying and serving it uses that version's
definition (`contract_for(manifest["sql_version"])`), never silently the newest.
"""

from __future__ import annotations

from schemas.contract import CONTRACT, Contract
from schemas.features_v1 import CANDLES
from schemas.features_v2 import MATERIALIZED_TABLES_V2
from schemas.parameters_v2 import PARAMETERS_V2

CONTRACT_V1 = CONTRACT
CONTRACT_V2 = Contract(
    version=PARAMETERS_V2["sql_version"],
    parameters=PARAMETERS_V2,
    candles=CANDLES,
    tables=MATERIALIZED_TABLES_V2,
)
CONTRACTS: dict[str, Contract] = {c.version: c for c in (CONTRACT_V1, CONTRACT_V2)}
NEWEST = max(CONTRACTS, key=lambda v: int(v.lstrip("v")))
# What `fs materialize` (and the library's `materialize`) use when no contract is named: the newest. The
# trainer, replay and the live cycle read the version a snapshot or bundle names, so older versions keep
# working beside it.
DEFAULT_VERSION = NEWEST
DEFAULT_CONTRACT = CONTRACTS[DEFAULT_VERSION]


class UnknownContractVersion(LookupError):
    """A version no registry entry has."""


def contract_for(version: str) -> Contract:
    """The registered contract of `version`.

    Raises:
        UnknownContractVersion: not a known version (the message lists the known ones).
    """
    if version not in CONTRACTS:
        raise UnknownContractVersion(
            f"unknown contract version {version!r}; this code knows {', '.join(sorted(CONTRACTS))}"
        )
    return CONTRACTS[version]
