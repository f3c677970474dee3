"""Contract versions as the feature store's commands name them (`--contract v1|v2`)."""

from __future__ import annotations

from featurestore.errors import ContractError
from schemas.columns import Table
from schemas.contract import Contract
from schemas.versions import UnknownContractVersion, contract_for


def named_contract(version: str) -> Contract:
    """The registered contract of `version`.

    Raises:
        ContractError: an unknown version (the message lists the known ones).
    """
    try:
        return contract_for(version)
    except UnknownContractVersion as exc:
        raise ContractError(str(exc)) from None


def stored_table(contract: Contract, table: Table) -> str:
    """The store's DuckDB table holding `table` under `contract`: v1 keeps the bare names (stores made
    before versions sat side by side), later versions prefix theirs (`v2_labels`), so each version's rows
    live beside the others'."""
    return table.name if contract.version == "v1" else f"{contract.version}_{table.name}"
