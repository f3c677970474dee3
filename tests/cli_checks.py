"""What every CLI test checks of a `CliRunner` result: the exit code, and that the command ended by a clean
exit (`SystemExit`), not by an exception escaping it (CliRunner keeps those in `result.exception`, so a
traceback never shows in `result.output`)."""

from __future__ import annotations

from typing import Any


def assert_exit(result: Any, code: int, *expected: str) -> None:
    """`result` exited with `code` through SystemExit (or normally for 0), and its output holds `expected`."""
    detail = f"exit {result.exit_code}, exception {result.exception!r}\n{result.output}"
    assert result.exit_code == code, detail
    if code == 0:
        assert result.exception is None, detail
    else:
        assert isinstance(result.exception, SystemExit), detail
    for text in expected:
        assert text in result.output, f"{text!r} not in the output:\n{result.output}"
