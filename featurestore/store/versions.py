"""Contract versions as the feature store's commands name them (`--contract v1|v2|<user version>`)."""

from __future__ import annotations

from pathlib import Path

from featurestore.errors import ContractError
from schemas.columns import Table
from schemas.contract import Contract
from schemas.versions import UnknownContractVersion, contract_for


def named_contract(version: str, contracts_dir: Path | str | None = None) -> Contract:
    """The contract of `version`: built-in, or a folder of the user's feature repository (`contracts_dir`,
    else $FS_CONTRACTS, else ./contracts).

    Raises:
        ContractError: an unknown version (the message lists the known ones).
        DeclarationError: the user's folder has a malformed declaration (a ValueError: exit 2).
    """
    try:
        return contract_for(version, contracts_dir)
    except UnknownContractVersion as exc:
        raise ContractError(str(exc)) from None


def stored_table(contract: Contract, table: Table) -> str:
    """The store's DuckDB table holding `table` under `contract`: v1 keeps the bare names (stores made
    before versions sat side by side), later versions prefix theirs (`v2_labels`, `rsi7_labels`), so each
    version's rows live beside the others'."""
    return table.name if contract.version == "v1" else f"{contract.version}_{table.name}"
