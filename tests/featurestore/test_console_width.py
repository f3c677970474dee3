"""Tables printed to a pipe or a file keep whole values: ids, ranges, states and metric names are not cut at
rich's default 80 columns when stdout is not a terminal (`fs snapshots list | cat`, CI logs)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from rich.console import Console
from rich.table import Table

from featurestore.app.console import PIPE_WIDTH, _Console

ROW = (
    "7b03c2d9e1f4a5b6c7d8",
    "2025-02-01..2025-10-27",
    "current: every part from a current run",
    "direction log loss 0.6931 [0.6912, 0.6950]",
    "f9375a1b798b1c05e2a4",
)


def _table() -> Table:
    table = Table(title="snapshots")
    for name in ("snapshot", "range", "state", "metric", "hash"):
        table.add_column(name)
    table.add_row(*ROW)
    return table


def _printed(console: Console) -> str:
    console.print(_table())
    return console.file.getvalue()


def test_a_console_writing_to_a_file_prints_whole_values() -> None:
    text = _printed(_Console(file=io.StringIO()))
    assert all(value in text for value in ROW), text
    # rich's own default on the same stream cuts them (what users saw before)
    assert not all(value in _printed(Console(file=io.StringIO())) for value in ROW)


def test_a_terminal_keeps_its_own_width() -> None:
    console = _Console(file=io.StringIO(), force_terminal=True, width=100)
    assert console.width == 100 < PIPE_WIDTH


def test_fs_output_through_a_pipe_is_not_cut() -> None:
    code = (
        "from featurestore.app.console import out\n"
        "from tests.featurestore.test_console_width import _table\n"
        "out.print(_table())\n"
    )
    # as from a shell: no COLUMNS (an explicit COLUMNS is the user's choice and is kept)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert all(value in done.stdout for value in ROW), done.stdout
