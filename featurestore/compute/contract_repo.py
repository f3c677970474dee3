"""The user's feature repository: list the contract versions, copy one into a new folder, describe one.

A version is a folder holding `contract.toml` and its SQL files. The built-in versions (`sql/v1`,
`sql/v2`) ship with the package and are read-only; the user's live in the feature repository
(`--contracts DIR`, else `$FS_CONTRACTS`, else `./contracts`), one subfolder per version.

Usage::

    new_version("rsi7", source="v2")          # ./contracts/rsi7/ with v2's declaration and SQL
    [v["version"] for v in list_versions()]   # ["v1", "v2", "rsi7"]
    describe_version("rsi7")["hashes"]
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from featurestore.compute.declaration_check import check_definition
from featurestore.errors import InputError
from featurestore.store.versions import named_contract
from schemas.contract import Contract, contract_hashes
from schemas.declaration import DECLARATION_FILE
from schemas.versions import (
    CONTRACTS,
    UnknownContractVersion,
    check_user_version_name,
    contracts_root,
    user_version_folders,
)
from schemas.versions import (
    contract_for as _contract_for,
)

_VERSION_HEADER = re.compile(r"^(--\s*version:\s*)\S+", re.MULTILINE)


def list_versions(contracts_dir: Path | str | None = None) -> list[dict[str, Any]]:
    """Every version: built-in ones first, then the user's, each with origin, folder and both hashes (or,
    for a user folder that cannot be loaded, the reason)."""
    rows = [_summary(c) for c in CONTRACTS.values()]
    for name, folder in user_version_folders(contracts_dir).items():
        try:
            rows.append(_summary(_contract_for(name, contracts_dir)))
        except (ValueError, UnknownContractVersion) as exc:
            rows.append({"version": name, "origin": "user", "folder": str(folder), "error": str(exc)})
    return rows


def new_version(name: str, source: str = "v2", contracts_dir: Path | str | None = None) -> Path:
    """Copy version `source` (its declaration and SQL files) into the feature repository as `name`.

    Raises:
        InputError: the name is reserved or malformed, or its folder already exists.
        ContractError: `source` is not a known version.
    """
    root = contracts_root(contracts_dir)
    target = root / name
    problem = check_user_version_name(name)
    if problem is not None:
        raise InputError(target, problem, fix="choose another name, e.g. rsi7 or my_features")
    if target.exists():
        raise InputError(target, "the folder already exists", fix="choose another name or remove that folder")
    origin = named_contract(source, contracts_dir)
    target.mkdir(parents=True)
    shutil.copy2(origin.folder / DECLARATION_FILE, target / DECLARATION_FILE)
    for path in sorted(origin.folder.glob("*.sql")):
        text = _VERSION_HEADER.sub(lambda m: m.group(1) + name, path.read_text(encoding="utf-8"), count=1)
        (target / path.name).write_text(text, encoding="utf-8")
    return target


def describe_version(name: str, contracts_dir: Path | str | None = None) -> dict[str, Any]:
    """Tables, columns, parameters, warmup and both hashes of one version, after checking that its SQL
    produces what it declares.

    Raises:
        ContractError: unknown version, or its declaration and SQL disagree.
    """
    contract = named_contract(name, contracts_dir)
    check_definition(contract)
    return {
        **_summary(contract),
        "description": contract.description,
        "warmup_bars": contract.warmup_bars,
        "parameters": contract.parameters,
        "model_inputs": model_input_counts(contract),
        "tables": [
            {
                "name": t.name,
                "sql": t.sql,
                "description": t.description,
                "columns": [c.data_fields() for c in t.columns],
            }
            for t in contract.tables
        ],
    }


def model_input_counts(contract: Contract) -> dict[str, int]:
    """How many sequence, snapshot and context inputs the version's declared columns give a model."""
    return {
        "seq": len(contract.feature_columns("seq_features")),
        "snap": len(contract.feature_columns("snap_features")),
        "ctx_cat": len(contract.table("context").by_role("categorical")),
        "ctx_cont": len(contract.table("context").by_role("feature")),
    }


def _summary(contract: Contract) -> dict[str, Any]:
    return {
        "version": contract.version,
        "origin": contract.origin,
        "folder": str(contract.folder),
        **contract_hashes(contract),
    }
