"""Sources `train live` follows: a candle file another program appends to or rewrites.

`FileSource` reads only complete lines: it remembers the byte offset after the last newline it read, so a
partial last line (a writer mid-`write`, an MT5 expert before `FileFlush`) is never read; it is read once
its newline arrives. Each poll hands back the file's header line plus the new complete lines, ready for the
ingest checks of `fs ingest`, and the shift that turns their line numbers into the file's own.

A rewritten file (a periodic re-export, a broker correcting history) is told apart from an append by three
checks at every poll: the file's identity (device and inode: a new file renamed into place), its size (it
shrank below the offset: truncated) and the bytes already read (the header and the last line read must
still be where they were). Any of these changing starts over from the top: the whole file is handed back
with `rewritten=True`, and the loop reconciles it with the store (bars the source revised are reported).
A rewrite that keeps the header and the last line read and only changes lines in between is
indistinguishable from an append by these checks; the parity audit still reports such revisions.

Usage::

    source = FileSource(Path("exports/XAUUSD_M5.csv"))
    part = source.poll()          # None while nothing new; else SourcePart(data, line_shift, lines, ...)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourcePart:
    """New complete lines of a source, with the header that names their columns."""

    data: bytes  # the header line, then the new complete lines
    line_shift: int  # add to a line number within `data` to get the file's own line number
    lines: int  # new lines (without the header)
    rewritten: bool  # the file was rewritten or truncated: `data` holds all of it again
    offset: int  # the byte offset after the last complete line read


@dataclass
class _State:
    identity: tuple[int, int] | None = None
    offset: int = 0  # bytes consumed (up to and including the last newline read)
    header: bytes = b""  # the first line, with its newline
    last_line: bytes = b""  # the last complete line read, with its newline
    lines: int = 0  # complete lines consumed, the header included


class FileSource:
    """Follow a growing delimited candle file (MT5 export, CSV) that starts with a header line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._state = _State()

    @property
    def label(self) -> str:
        return f"file:{self.path.resolve()}"

    @property
    def origin(self) -> Path:
        return self.path

    def poll(self) -> SourcePart | None:
        """The new complete lines since the last poll; None when there are none (or no file yet)."""
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return None
        with handle:
            stat = os.fstat(handle.fileno())
            identity = (stat.st_dev, stat.st_ino)
            state = self._state
            rewritten = state.offset > 0 and not self._unchanged(handle, identity, stat.st_size)
            if rewritten:
                logger.warning("%s was rewritten or truncated: reading it again from the top", self.path)
                state = self._state = _State()
            state.identity = identity
            handle.seek(state.offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            return None
        complete = chunk[:end]
        state.offset += end
        lines = complete.splitlines(keepends=True)
        if not state.header:
            state.header, lines = lines[0], lines[1:]
            state.lines = 1
        first = state.lines + 1  # the file's line number of the first new line
        state.lines += len(lines)
        if lines:
            state.last_line = lines[-1]
        elif not rewritten:
            return None
        return SourcePart(
            data=state.header + b"".join(lines),
            line_shift=first - 2,  # within `data`, the first new line is line 2
            lines=len(lines),
            rewritten=rewritten,
            offset=state.offset,
        )

    def _unchanged(self, handle: BinaryIO, identity: tuple[int, int], size: int) -> bool:
        """Whether the file is still the one read so far, grown at most."""
        state = self._state
        if identity != state.identity or size < state.offset:
            return False
        handle.seek(0)
        if handle.read(len(state.header)) != state.header:
            return False
        if state.last_line:
            handle.seek(state.offset - len(state.last_line))
            return handle.read(len(state.last_line)) == state.last_line
        return True
