"""The layering rules of DESIGN section 3, as the linter enforces them (the ruff.toml of each package)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")

pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed (pip install -e '.[dev]')")


def lint(path: str, source: str) -> subprocess.CompletedProcess[str]:
    """ruff check `source` as if it were the file `path` of the repo (nothing is written)."""
    return subprocess.run(
        [str(RUFF), "check", "--output-format", "concise", "--stdin-filename", path, "-"],
        input=source,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("path", "source", "rule"),
    [
        (
            "schemas/scratch.py",
            "from featurestore.errors import FeatureStoreError\n",
            "`featurestore` is banned",
        ),
        ("validation/scratch.py", "import train.fitting.bundle\n", "`train` is banned"),
        ("featurestore/scratch.py", "from train.fitting.bundle import METADATA\n", "`train` is banned"),
        ("train/fitting/scratch.py", "import duckdb\n", "`duckdb` is banned"),
        (
            "train/evaluation/scratch.py",
            "from featurestore.store import Store\n",
            "`featurestore.store` is banned",
        ),
        ("train/serving/scratch.py", "from train.app.cli import app\n", "`train.app` is banned"),
        (
            "train/fitting/scratch.py",
            "from train.serving.scoring import score_frame\n",
            "`train.serving` is banned",
        ),
        ("train/app/cli.py", "import torch\n", "`torch` is banned at the module level"),
        ("featurestore/cli.py", "import pyarrow\n", "`pyarrow` is banned at the module level"),
    ],
)
def test_forbidden_import_fails_the_linter(path: str, source: str, rule: str) -> None:
    result = lint(path, source + "\nprint(dir())\n")
    assert result.returncode == 1, result.stdout + result.stderr
    assert rule in result.stdout


def test_allowed_imports_pass() -> None:
    source = "from featurestore.api import open_snapshot\nfrom train.fitting.bundle import METADATA\n\n"
    result = lint("train/serving/scratch.py", source + "print(open_snapshot, METADATA)\n")
    assert result.returncode == 0, result.stdout + result.stderr
