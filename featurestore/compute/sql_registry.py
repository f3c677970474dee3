"""The SQL registry: reads the versioned SQL files and renders them with the contract's parameters.

Each file under `sql/<version>/` starts with a `--` header block::

    -- name: context
    -- version: v1
    -- grain: (symbol, ts)
    -- depends_on: bars
    -- description: free text, continued on following `--   ` lines

`{{parameter}}` placeholders in the body are filled from the contract's parameters only (numbers and lists of
numbers), never from user input, so rendered SQL stays free of user-supplied text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featurestore.errors import ContractError
from schemas.contract import SQL_ROOT
from schemas.hashing import file_sha256

PIPELINE_INPUTS = ("candles_slice", "blocked_intervals")
REQUIRED_KEYS = ("name", "version", "grain", "depends_on", "description")
_HEADER = re.compile(r"^--\s*(\w+):\s*(.*)$")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class SqlFile:
    """One parsed SQL file."""

    path: Path
    name: str
    version: str
    grain: str
    depends_on: tuple[str, ...]
    description: str
    body: str
    body_line: int = 1  # the file's line and column (1-based) where `body` starts, for error positions
    body_column: int = 1

    @property
    def sha256(self) -> str:
        return file_sha256(self.path)

    def render(self, parameters: dict[str, Any]) -> str:
        """The body with every `{{name}}` replaced by the contract parameter's SQL literal."""

        def literal(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in parameters:
                raise ContractError(
                    f"Failed to render SQL from file '{self.path}': unknown parameter '{key}'"
                )
            return _sql_literal(parameters[key], key, self.path)

        return _PLACEHOLDER.sub(literal, self.body)

    def placeholders(self) -> list[tuple[str, int]]:
        """Each `{{name}}` of the body: the name and its offset in `body`."""
        return [(m.group(1), m.start()) for m in _PLACEHOLDER.finditer(self.body)]

    def body_offset(self, parameters: dict[str, Any], rendered_offset: int) -> int:
        """The offset in `body` of character `rendered_offset` of `render(parameters)` (inside a
        placeholder's literal: the placeholder's start)."""
        body_at, rendered_at = 0, 0
        for match in _PLACEHOLDER.finditer(self.body):
            gap = match.start() - body_at
            if rendered_offset < rendered_at + gap:
                break
            rendered_at += gap
            size = len(_sql_literal(parameters.get(match.group(1)), match.group(1), self.path))
            if rendered_offset < rendered_at + size:
                return match.start()
            body_at, rendered_at = match.end(), rendered_at + size
        return body_at + rendered_offset - rendered_at

    def file_position(self, body_offset: int) -> tuple[int, int]:
        """The file's (line, column), both 1-based, of character `body_offset` of `body`."""
        before = self.body[:body_offset]
        line = before.count("\n")
        column = body_offset - (before.rfind("\n") + 1) + 1
        return self.body_line + line, column + (self.body_column - 1 if line == 0 else 0)


def _sql_literal(value: Any, key: str, path: Path) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | list | tuple):
        raise ContractError(
            f"Failed to render SQL from file '{path}': parameter '{key}' must be a number or a list"
        )
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_sql_literal(v, key, path) for v in value) + "]"
    return repr(float(value)) if isinstance(value, float) else str(value)


def parse_sql_file(path: Path) -> SqlFile:
    """Parse the header of one SQL file.

    Raises:
        ContractError: a required header key is missing.
    """
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    body_lines: list[str] = []
    current: str | None = None
    in_header = True
    header_lines = 0
    for line in text.splitlines():
        if in_header and line.startswith("--"):
            header_lines += 1
            match = _HEADER.match(line)
            if match and match.group(1) in REQUIRED_KEYS:
                current = match.group(1)
                header[current] = match.group(2).strip()
            elif current is not None:
                header[current] += " " + line.lstrip("-").strip()
            continue
        in_header = False
        body_lines.append(line)
    missing = [key for key in REQUIRED_KEYS if key not in header]
    if missing:
        raise ContractError(f"Failed to load SQL from file '{path}': header lacks {', '.join(missing)}")
    depends = tuple(d.strip() for d in header["depends_on"].split(",") if d.strip())
    joined = "\n".join(body_lines)
    lead = joined[: len(joined) - len(joined.lstrip())]
    return SqlFile(
        path=path,
        name=header["name"],
        version=header["version"],
        grain=header["grain"],
        depends_on=depends,
        description=header["description"],
        body=joined.strip() + "\n",
        body_line=header_lines + lead.count("\n") + 1,
        body_column=len(lead) - (lead.rfind("\n") + 1) + 1,
    )


def load_sql_version(version: str, root: Path = SQL_ROOT) -> tuple[SqlFile, ...]:
    """All SQL files of one version in file-name order (the order they run in).

    Raises:
        ContractError: the folder is missing, names repeat, a dependency is unknown or comes later,
            or a file's version header disagrees with its folder.
    """
    folder = root / version
    paths = sorted(folder.glob("*.sql"))
    if not paths:
        raise ContractError(f"no SQL files in {folder}: is the SQL version '{version}' right?")
    files = tuple(parse_sql_file(p) for p in paths)
    seen: set[str] = set(PIPELINE_INPUTS)
    for f in files:
        if f.version != version:
            raise ContractError(
                f"Failed to load SQL from file '{f.path}': version '{f.version}' in folder '{version}'"
            )
        if f.name in seen:
            raise ContractError(f"Failed to load SQL from file '{f.path}': duplicate name '{f.name}'")
        unknown = [d for d in f.depends_on if d not in seen]
        if unknown:
            raise ContractError(
                f"Failed to load SQL from file '{f.path}': depends on {unknown}, "
                "which no earlier file defines"
            )
        seen.add(f.name)
    return files
