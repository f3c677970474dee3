"""The progress display of `train evaluate` on stderr: which fold, variant and seed is being fitted.

On a terminal: a live bar over all stages (each fold's preparation, then one fit per variant and seed) with
the elapsed time, and a second bar over the current epoch's steps. Elsewhere (a log file, CI): one line per
stage with the elapsed time. On Dask workers (`--workers`, `--scheduler`) the stages run side by side: the
line counts the steps done, running and failed and names what just finished or started (no epoch bar).
`--json` passes no progress at all, so nothing is printed.
"""

from __future__ import annotations

import time

from rich.console import Console

from featurestore.app.console import ProgressDisplay
from train.evaluation.grid_spec import Stage


class EvaluateProgress(ProgressDisplay):
    """Use as a context manager; pass :meth:`stage` and :meth:`step` to ``evaluate_snapshot``."""

    def __init__(self, console: Console) -> None:
        super().__init__(console, disable=not console.is_terminal)
        self.console = console
        self.live = console.is_terminal
        self.started = time.perf_counter()
        self._stages = self._progress.add_task("evaluate", total=None)
        self._steps = self._progress.add_task("", total=None, visible=False)

    def stage(self, stage: Stage) -> None:
        text = f"[{stage.done + 1}/{stage.total}] {stage.text}"
        if stage.parallel:
            counts = f"{stage.done}/{stage.total} done · {len(stage.running)} running · {stage.failed} failed"
            text = f"[{counts}] {stage.text}"
        self._progress.update(self._stages, description=text, completed=stage.done, total=stage.total)
        self._progress.update(self._steps, visible=False)
        if not self.live:
            elapsed = time.perf_counter() - self.started
            self.console.print(f"{text}  ({elapsed:.0f} s elapsed)", highlight=False, markup=False)

    def step(self, epoch: int, step: int, steps: int) -> None:
        self._progress.update(
            self._steps, description=f"  epoch {epoch}", completed=step, total=steps, visible=True
        )
