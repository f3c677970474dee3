"""The layering rules of docs/layout.md, as the linter enforces them (each package's and room's ruff.toml)."""

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
            "from featurestore.store.handle import Store\n",
            "`featurestore.store` is banned",
        ),
        (
            "train/fitting/scratch.py",
            "import featurestore.compute.pipeline\n",
            "`featurestore.compute` is banned",
        ),
        (
            "train/app/scratch.py",
            "from featurestore.ingest import sources\n",
            "`featurestore.ingest` is banned",
        ),
        (
            "train/serving/scratch.py",
            "from featurestore.app.console import err\n",
            "`featurestore.app` is banned",
        ),
        (
            "featurestore/store/scratch.py",
            "from featurestore.compute.materialize import materialize\n",
            "`featurestore.compute` is banned",
        ),
        (
            "featurestore/store/scratch.py",
            "from featurestore.ingest import sources\n",
            "`featurestore.ingest` is banned",
        ),
        (
            "featurestore/store/scratch.py",
            "from featurestore.api import Store\n",
            "`featurestore.api` is banned",
        ),
        ("featurestore/store/scratch.py", "import featurestore.app.cli\n", "`featurestore.app` is banned"),
        (
            "featurestore/ingest/scratch.py",
            "from featurestore.compute.pipeline import run_pipeline\n",
            "`featurestore.compute` is banned",
        ),
        (
            "featurestore/ingest/scratch.py",
            "from featurestore.api import Store\n",
            "`featurestore.api` is banned",
        ),
        (
            "featurestore/ingest/scratch.py",
            "from featurestore.app import demo\n",
            "`featurestore.app` is banned",
        ),
        (
            "featurestore/compute/scratch.py",
            "from featurestore.ingest.sources import read_source\n",
            "`featurestore.ingest` is banned",
        ),
        (
            "featurestore/compute/scratch.py",
            "from featurestore.api import Store\n",
            "`featurestore.api` is banned",
        ),
        (
            "featurestore/compute/scratch.py",
            "from featurestore.app.report import key_value_table\n",
            "`featurestore.app` is banned",
        ),
        ("featurestore/compute/scratch.py", "import train\n", "`train` is banned"),
        ("featurestore/app/scratch.py", "from train.app import cli\n", "`train` is banned"),
        ("train/serving/scratch.py", "from train.app.cli import app\n", "`train.app` is banned"),
        (
            "train/fitting/scratch.py",
            "from train.serving.scoring import score_frame\n",
            "`train.serving` is banned",
        ),
        ("train/app/cli.py", "import torch\n", "`torch` is banned at the module level"),
        ("featurestore/app/cli.py", "import pyarrow\n", "`pyarrow` is banned at the module level"),
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
