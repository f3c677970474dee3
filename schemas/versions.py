"""The contract versions: the built-in folders (`sql/v1`, `sql/v2`) and the user's feature repository.

Usage::

    from schemas.versions import CONTRACTS, NEWEST, contract_for, user_contracts
    contract_for("v1").version, contract_for("rsi7")          # a user version from ./contracts/rsi7
    user_contracts(Path("my_repo"))                           # {name: Contract} of one feature repository

A snapshot or a bundle names its version; opening, replaying and serving it uses that version's
definition, never silently the newest. The user's folder is `FS_CONTRACTS` when set, else `./contracts`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from schemas.contract import CONTRACT, SQL_ROOT, Contract, full_contract_hash, load_contract
from schemas.declaration import DECLARATION_FILE

CONTRACTS_ENV = "FS_CONTRACTS"
DEFAULT_CONTRACTS_DIR = "contracts"
# A user version's name: a lower-case SQL identifier that is not of the built-ins' form (v1, v2, ...).
USER_VERSION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_BUILTIN_NAME = re.compile(r"v\d+")

CONTRACT_V1 = CONTRACT
CONTRACT_V2 = load_contract(SQL_ROOT / "v2")
CONTRACTS: dict[str, Contract] = {c.version: c for c in (CONTRACT_V1, CONTRACT_V2)}  # the built-in versions
NEWEST = max(CONTRACTS, key=lambda v: int(v.lstrip("v")))
# What `fs materialize` (and the library's `materialize`) use when no contract is named: the newest. The
# trainer, replay and the live cycle read the version a snapshot or bundle names, so older versions keep
# working beside it.
DEFAULT_VERSION = NEWEST
DEFAULT_CONTRACT = CONTRACTS[DEFAULT_VERSION]


class UnknownContractVersion(LookupError):
    """A version neither the built-ins nor the user's feature repository has."""


def contracts_root(contracts_dir: Path | str | None = None) -> Path:
    """The user's feature repository: `contracts_dir`, else $FS_CONTRACTS, else ./contracts."""
    if contracts_dir is not None:
        return Path(contracts_dir)
    return Path(os.environ.get(CONTRACTS_ENV) or DEFAULT_CONTRACTS_DIR)


def check_user_version_name(name: str) -> str | None:
    """Why `name` cannot name a user version, or None when it can."""
    if name in CONTRACTS or _BUILTIN_NAME.fullmatch(name):
        return f"{name!r} is of the built-in versions' form (v1, v2, ...), which the package reserves"
    if not USER_VERSION_NAME.fullmatch(name):
        return f"{name!r} is not a lower-case name of letters, digits and _ starting with a letter (<= 40)"
    return None


def user_version_folders(contracts_dir: Path | str | None = None) -> dict[str, Path]:
    """The version folders of the user's feature repository (subfolders holding a declaration file)."""
    root = contracts_root(contracts_dir)
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / DECLARATION_FILE).is_file()}


def user_contracts(contracts_dir: Path | str | None = None) -> dict[str, Contract]:
    """The user's versions, each loaded (and so checked) from its folder.

    Raises:
        DeclarationError: a folder's declaration is malformed.
        UnknownContractVersion: a folder's name is reserved or not a valid name.
    """
    return {name: _load_user(name, folder) for name, folder in user_version_folders(contracts_dir).items()}


def known_contracts(contracts_dir: Path | str | None = None) -> dict[str, Contract]:
    """The built-in versions and every user version whose folder loads (a malformed one is left out: naming
    it, e.g. in `fs contract show`, gives its error)."""
    known = dict(CONTRACTS)
    for name, folder in user_version_folders(contracts_dir).items():
        try:
            known[name] = _load_user(name, folder)
        except (ValueError, UnknownContractVersion):
            continue
    return known


def contract_for(version: str, contracts_dir: Path | str | None = None) -> Contract:
    """The contract of `version`: a built-in one, else the user's folder of that name.

    Raises:
        UnknownContractVersion: no such version (the message lists the known ones and where it looked).
        DeclarationError: the user's folder exists but its declaration is malformed.
    """
    if version in CONTRACTS:
        return CONTRACTS[version]
    folders = user_version_folders(contracts_dir)
    if version in folders:
        return _load_user(version, folders[version])
    known = sorted(CONTRACTS) + sorted(folders)
    raise UnknownContractVersion(
        f"unknown contract version {version!r}; this code knows {', '.join(known)} "
        f"(user versions are read from {contracts_root(contracts_dir)}; see --contracts, {CONTRACTS_ENV})"
    )


def _load_user(name: str, folder: Path) -> Contract:
    problem = check_user_version_name(name)
    if problem is not None:
        raise UnknownContractVersion(f"{folder}: {problem}; rename the folder")
    return load_contract(folder, origin="user")


# A snapshot or bundle carries the exact definition it was built from: `definition/<version>/` holds a copy
# of the version folder's declaration and SQL files.
DEFINITION_DIR = "definition"


def definition_files(contract: Contract) -> list[Path]:
    """The files that define a version: its declaration and its SQL files."""
    return [contract.folder / DECLARATION_FILE, *sorted(contract.folder.glob("*.sql"))]


def copy_definition(contract: Contract, holder: Path) -> list[Path]:
    """Copy `contract`'s definition into `holder/definition/<version>/`; the copied paths."""
    target = holder / DEFINITION_DIR / contract.version
    target.mkdir(parents=True)
    copied = []
    for path in definition_files(contract):
        (target / path.name).write_bytes(path.read_bytes())
        copied.append(target / path.name)
    return copied


@dataclass(frozen=True)
class CarriedContract:
    """The contract a snapshot or bundle carries, and what differs in a same-named folder (or None)."""

    contract: Contract
    conflict: str | None


def carried_contract(holder: Path, version: str, what: str) -> CarriedContract | None:
    """The contract of the copy `holder` carries (None when it carries none: made before copies).

    When the built-in or user folder of the same name holds the same definition, that registered contract
    is returned; when it differs (or cannot be loaded), the copy is, with `conflict` saying so by name.

    Raises:
        DeclarationError: the copy itself cannot be loaded (the holder's files were tampered with).
    """
    copy = holder / DEFINITION_DIR / version
    if not (copy / DECLARATION_FILE).is_file():
        return None
    own = load_contract(copy, origin="copy")
    try:
        named = contract_for(version)
    except UnknownContractVersion:
        return CarriedContract(own, None)
    except ValueError as exc:
        return CarriedContract(
            own, f"the folder of contract {version} cannot be loaded ({exc}); {what} uses its own copy"
        )
    mine, theirs = full_contract_hash(own), full_contract_hash(named)
    if mine == theirs:
        return CarriedContract(named, None)
    return CarriedContract(
        own,
        f"the {named.origin} folder {named.folder} of contract {version} differs from the copy {what} "
        f"carries (full_contract_hash {theirs[:16]} there, {mine[:16]} in the copy)",
    )
