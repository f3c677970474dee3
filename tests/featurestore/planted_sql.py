"""Contract versions with a planted SQL file, for the sandbox and SQL-error tests.

The one place that knows how such a version is made: a user version `NAME` copied from a built-in one with
`new_version` into the feature repository `root/contracts`, one file edited, loaded through the normal
resolution; FS_CONTRACTS points at that repository until the test ends, so `--contract planted` and the
library both find it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from featurestore.compute.contract_repo import new_version
from featurestore.compute.sql_registry import parse_sql_file
from schemas.contract import Contract
from schemas.versions import CONTRACTS_ENV, DEFAULT_VERSION, contract_for

SNAP_FILE = "30_snap_features.sql"
NAME = "planted"  # the planted user version


@dataclasses.dataclass(frozen=True)
class Planted:
    contract: Contract
    path: Path  # the planted file

    def line_of(self, text: str) -> int:
        """The file's 1-based line holding `text` (exactly one must)."""
        lines = [n for n, line in enumerate(self.path.read_text().splitlines(), start=1) if text in line]
        assert len(lines) == 1, f"{text!r} is on lines {lines} of {self.path}"
        return lines[0]

    def column_of(self, text: str) -> int:
        line = self.path.read_text().splitlines()[self.line_of(text) - 1]
        return line.index(text) + 1


def plant(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    edit: Callable[[str], str] | str | None,
    *,
    file: str = SNAP_FILE,
    version: str = DEFAULT_VERSION,
    header: Callable[[str], str] | None = None,
) -> Planted:
    """User version `NAME`, a copy of `version` in `root/contracts`, whose `file` is changed: `edit` maps
    the file's body to a new one, or a string replaces the body; `header` likewise maps its header. The
    repository is $FS_CONTRACTS until the test ends."""
    repo = root / "contracts"
    monkeypatch.setenv(CONTRACTS_ENV, str(repo))
    path = new_version(NAME, version, contracts_dir=repo) / file
    text = path.read_text(encoding="utf-8")
    body = parse_sql_file(path).body
    head = text[: text.index(body.strip())]
    new_body = edit(body) if callable(edit) else body if edit is None else edit
    new_head = head if header is None else header(head)
    assert (new_head, new_body) != (head, body), "the planted edit changed nothing"
    path.write_text(new_head + new_body, encoding="utf-8")
    contract = contract_for(NAME, repo)
    return Planted(contract, path)


def store_state(database: Path) -> dict[str, int]:
    """Every table of the store and its row count."""
    with duckdb.connect(str(database), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def files_under(folder: Path) -> dict[str, int]:
    """Every file below `folder` with its size."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}
