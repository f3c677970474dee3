"""Compressed candle files: a gzip file, or a zip archive holding exactly one CSV/TSV file.

`unpack` returns the bytes to read and how to name them in errors: a ``.gz`` keeps its own path (it holds
one file, and line numbers count lines of the unpacked text), a zip member is named
``archive.zip!member.csv``. Anything else is returned as it is. Archives are recognized by their magic
bytes, not by the file name, so a misnamed file is still read right.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from featurestore.errors import SourceError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")  # the members of a zip that count as candle files


@dataclass(frozen=True)
class Unpacked:
    """The bytes of the file to read and how to name it."""

    label: Path  # named in errors: the file, or archive.zip!member
    inner_name: Path  # the unpacked file's own name, for detecting its format by extension
    data: bytes
    container: str | None  # None (a plain file), "gzip", or "zip member <name>"


def unpack(path: Path, data: bytes) -> Unpacked:
    """Unpack `data` (the bytes of `path`) when it is a gzip file or a zip archive.

    Raises:
        SourceError: a damaged gzip/zip file, or a zip without exactly one CSV/TSV member.
    """
    path = Path(path)
    if data[:2] == GZIP_MAGIC:
        return Unpacked(path, _without_suffix(path, ".gz"), _gunzip(path, data), "gzip")
    if data[:4] in (ZIP_MAGIC, EMPTY_ZIP_MAGIC):
        return _unzip(path, data)
    return Unpacked(path, path, data, None)


def _without_suffix(path: Path, suffix: str) -> Path:
    return path.with_suffix("") if path.suffix.lower() == suffix else path


def _gunzip(path: Path, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(
            path,
            f"not a readable gzip file: {exc}",
            fix="the download may be cut short; fetch the file again, or check it with `gzip -t`",
        ) from None


def _unzip(path: Path, data: bytes) -> Unpacked:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir() and not PurePosixPath(info.filename).parts[0].startswith("__MACOSX")
        ]
        tables = [info for info in members if PurePosixPath(info.filename).suffix.lower() in TABLE_SUFFIXES]
        if len(tables) != 1:
            listed = ", ".join(info.filename for info in members) or "nothing"
            found = "no CSV/TSV file" if not tables else f"{len(tables)} CSV/TSV files"
            raise SourceError(
                path,
                f"a zip source must hold exactly one CSV/TSV file; this one holds {found} ({listed})",
                fix="ingest one file at a time: unzip the archive and pass the candle file itself",
            )
        member = tables[0]
        content = archive.read(member)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise SourceError(
            path, f"not a readable zip file: {exc}", fix="fetch the file again, or check it with `unzip -t`"
        ) from None
    name = member.filename
    return Unpacked(Path(f"{path}!{name}"), Path(PurePosixPath(name).name), content, f"zip member {name}")
