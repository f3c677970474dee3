"""The progress display of `train evaluate` on stderr: which fold, variant and seed is being fitted.

On a terminal: a live bar over all stages (each fold's preparation, then one fit per variant and seed) with
the elapsed time, and a second bar over the current epoch's steps. Elsewhere (a log file, CI): one line per
stage with the elapsed time. `--json` passes no progress at all, so nothing is printed.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from train.evaluation.walkforward import Stage


class EvaluateProgress:
    """Use as a context manager; pass :meth:`stage` and :meth:`step` to ``evaluate_snapshot``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.started = time.perf_counter()
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=not self.live,
        )  # fmt: skip
        self._stages = self._progress.add_task("evaluate", total=None)
        self._steps = self._progress.add_task("", total=None, visible=False)

    def __enter__(self) -> EvaluateProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(kind, value, tb)

    def stage(self, stage: Stage) -> None:
        text = f"[{stage.done + 1}/{stage.total}] {stage.text}"
        self._progress.update(self._stages, description=text, completed=stage.done, total=stage.total)
        self._progress.update(self._steps, visible=False)
        if not self.live:
            elapsed = time.perf_counter() - self.started
            self.console.print(f"{text}  ({elapsed:.0f} s elapsed)", highlight=False, markup=False)

    def step(self, epoch: int, step: int, steps: int) -> None:
        self._progress.update(
            self._steps, description=f"  epoch {epoch}", completed=step, total=steps, visible=True
        )
