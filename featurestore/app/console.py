"""What the `fs` and `train` command lines share: the consoles, the options every command takes, the one
error layer (`cli_errors`) and the progress display.

Usage::

    @app.command()
    def ingest(path: Path, store: StoreOpt = None, as_json: JsonOpt = False, debug: DebugOpt = False):
        with cli_errors(debug):
            ...  # call one library function, print its summary
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, Self

import typer
from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from featurestore.errors import FeatureStoreError

if TYPE_CHECKING:
    from featurestore.store.handle import Store

# Output that is not a terminal (a pipe, a file, a CI log) gets this width, so tables keep whole ids,
# ranges and metric names instead of cutting them at 80 columns.
PIPE_WIDTH = 240


class _Console(Console):
    """A rich console that sizes itself to the terminal, and prints whole values when it writes to
    something else."""

    def _size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)
        if self._width is None and not self.is_terminal:
            return ConsoleDimensions(max(size.width, PIPE_WIDTH), size.height)
        return size

    size = property(_size, Console.size.fset)


out = _Console()
err = _Console(stderr=True)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Store directory (env FS_STORE, default ./fsdata).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
SyntheticOpt = Annotated[bool, typer.Option(help="Use synthetic candles even where real data exists.")]
SymbolOpt = Annotated[str, typer.Option(help="Instrument symbol (the contract's instrument is XAUUSD).")]
BlockedOpt = Annotated[
    Path | None,
    typer.Option("--blocked", help="CSV of start,end UTC intervals to block (HARD_KILLSWITCH)."),
]
DEFAULT_SYMBOL = "XAUUSD"
USAGE = 2  # the EXIT_CODES entry for bad usage or unreadable input


@contextlib.contextmanager
def cli_errors(debug: bool) -> Iterator[None]:
    """The one error layer of both CLIs: set up logging, then turn an error into `Error: <message>` on
    stderr and its exit code (`featurestore.errors.EXIT_CODES`). `--debug` re-raises with the traceback.

    Mapped: every `FeatureStoreError` (its class's `exit_code`), `OSError` on a file the user named, a
    malformed TOML file and `ValueError` from checking the user's options (all `USAGE`, exit 2). Typer's
    own usage errors and exits pass through unchanged.
    """
    setup_logging(debug)
    try:
        yield
    except (FeatureStoreError, OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        if debug:
            raise
        print_error(_describe(exc))
        raise typer.Exit(getattr(exc, "exit_code", USAGE)) from None


def store_at(path: Path | None) -> Store:
    """The store at `--store` (or FS_STORE, or ./fsdata); imported here so `--help` never loads DuckDB."""
    from featurestore.store.handle import Store

    return Store.at(path)


def _describe(exc: BaseException) -> str:
    """The one-screen message: what, where and, for a file the system could not open, how to fix it."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return (
            f"{exc.filename}: {exc.strerror or exc}\n"
            "  how to fix: check the path given on the command line (or in the config file)"
        )
    return str(exc)


def setup_logging(debug: bool) -> None:
    """Warnings and errors on stderr; everything with --debug."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def emit_json(payload: Any) -> None:
    """A command's `--json` output: one JSON document on stdout (both apps print through this)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def parse_date_range(text: str) -> tuple[date, date]:
    """`FIRST..LAST` (ISO dates, inclusive) as two dates; a typer usage error otherwise."""
    try:
        first, last = text.split("..")
        return date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a range like 2025-02-01..2025-10-27") from None


def print_error(exc: BaseException | str) -> None:
    """`Error: <message>` on stderr, the message printed verbatim (no markup, no traceback)."""
    err.print("Error:", style="bold red", end=" ")
    err.print(str(exc), highlight=False, markup=False, soft_wrap=True)


def open_in_browser(path: Path) -> None:
    """Open the local file `path` in the default web browser.

    Raises:
        FeatureStoreError: no browser can be started here (a server without a desktop); the message says
            to open the file by hand.
    """
    import webbrowser

    from featurestore.errors import FeatureStoreError

    uri = Path(path).resolve().as_uri()
    try:
        opened = webbrowser.get().open(uri)
    except webbrowser.Error:
        opened = False
    if not opened:
        raise FeatureStoreError(
            f"no web browser can be started on this machine; open {path} in a browser by hand "
            "(copy the folder it is in: the page loads its files from beside it)"
        )


def print_warning(text: str) -> None:
    err.print(f"Warning: {text}", highlight=False, markup=False)


class ProgressDisplay:
    """Transient progress bars (description, bar, n/m, elapsed) on `console`; a context manager. The
    displays of the apps build on it."""

    def __init__(self, console: Console, *, disable: bool = False) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=disable,
        )  # fmt: skip

    def __enter__(self) -> Self:
        self._progress.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(kind, value, tb)


class StageProgress(ProgressDisplay):
    """A transient progress line on stderr: the current stage, with a bar when a stage reports steps."""

    def __init__(self) -> None:
        super().__init__(err)
        self._task = self._progress.add_task("starting", total=None)

    def stage(self, name: str) -> None:
        self._progress.update(self._task, description=name, completed=0, total=None)

    def count(self, done: int, total: int) -> None:
        """Progress within the current stage (bars replayed, ...)."""
        self._progress.update(self._task, completed=done, total=total)

    def step(self, epoch: int, step: int, steps: int) -> None:
        self._progress.update(self._task, description=f"train epoch {epoch}", completed=step, total=steps)
