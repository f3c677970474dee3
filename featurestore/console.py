"""What the `fs` and `train` command lines share: the consoles, the error line and the progress display."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Store directory (env FS_STORE, default ./fsdata).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
SyntheticOpt = Annotated[bool, typer.Option(help="Use synthetic candles even where real data exists.")]


def setup_logging(debug: bool) -> None:
    """Warnings and errors on stderr; everything with --debug."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def parse_date_range(text: str) -> tuple[date, date]:
    """`FIRST..LAST` (ISO dates, inclusive) as two dates; a typer usage error otherwise."""
    try:
        first, last = text.split("..")
        return date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a range like 2025-02-01..2025-10-27") from None


def print_error(exc: BaseException) -> None:
    """`Error: <message>` on stderr, the message printed verbatim (no markup, no traceback)."""
    err.print("Error:", style="bold red", end=" ")
    err.print(str(exc), highlight=False, markup=False)


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


class StageProgress:
    """A transient progress line on stderr: the current stage, with a bar when a stage reports steps."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=True,
        )  # fmt: skip
        self._task = self._progress.add_task("starting", total=None)

    def __enter__(self) -> StageProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(kind, value, tb)

    def stage(self, name: str) -> None:
        self._progress.update(self._task, description=name, completed=0, total=None)

    def count(self, done: int, total: int) -> None:
        """Progress within the current stage (bars replayed, ...)."""
        self._progress.update(self._task, completed=done, total=total)

    def step(self, epoch: int, step: int, steps: int) -> None:
        self._progress.update(self._task, description=f"train epoch {epoch}", completed=step, total=steps)
