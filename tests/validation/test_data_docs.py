"""GX data docs from the contract suites on synthetic tables, checked on disk and in headless Chromium."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from featurestore.pipeline import run_pipeline
from schemas.contract import CONTRACT, Contract
from schemas.ge_suites import suite_specs
from tests.conftest import REPO, SYNTH_END, SYNTH_START
from validation.data_docs import GX_REQUIREMENT, DataDocsResult, build_data_docs, docs_page, site_dir

# Building the docs imports GX (2.5-4.5 s) and validates ~150 expectations: about 10 s in all.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_spec("great_expectations") is None, reason=f"GX not installed: {GX_REQUIREMENT}"),
]

TABLES = tuple(t.name for t in CONTRACT.tables)
SNAPSHOT = "snap-synthetic-0001"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts"
SITE_INDEX = "uncommitted/data_docs/local_site/index.html"  # where GX 1.24.1 puts the local site


@pytest.fixture(scope="module")
def tables(synthetic_slice: pa.Table) -> dict[str, pa.Table]:
    return run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END)


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("validation")


@pytest.fixture(scope="module")
def built(tables: dict[str, pa.Table], docs_dir: Path) -> DataDocsResult:
    return build_data_docs(docs_dir, SNAPSHOT, tables)


def test_every_table_meets_its_contract_suite(built: DataDocsResult, docs_dir: Path) -> None:
    assert built.results == {name: True for name in TABLES}
    assert built.index_html == site_dir(docs_dir) / "index.html" == docs_dir / "gx" / SITE_INDEX


def test_suites_are_the_contract_specs(built: DataDocsResult, docs_dir: Path) -> None:
    specs = suite_specs()
    for name in TABLES:
        stored = json.loads((docs_dir / "gx" / "expectations" / f"{name}.json").read_text())
        assert stored["name"] == name
        assert [(e["type"], e["meta"]) for e in stored["expectations"]] == [
            (s["type"], s["meta"]) for s in specs[name]
        ]


def test_index_references_every_suite_and_result(built: DataDocsResult) -> None:
    index = built.index_html.read_text(encoding="utf-8")
    for name in TABLES:
        assert f"expectations/{name}.html" in index
        assert f"validations/{name}/{SNAPSHOT}/" in index


def test_snapshot_page_is_found_again_without_gx(built: DataDocsResult, docs_dir: Path) -> None:
    page = built.snapshot_page
    assert page.is_file() and page.parts[-4:-2] == (TABLES[0], SNAPSHOT)
    assert docs_page(docs_dir, SNAPSHOT) == page
    assert docs_page(docs_dir, "never-built") is None
    with pytest.raises(ValueError, match="snapshot id"):
        docs_page(docs_dir, "../escape")


def _with_bad_status(table: pa.Table) -> pa.Table:
    status = pc.if_else(pc.equal(pa.array(range(table.num_rows)), 3), "NOT_A_STATUS", table["status"])
    return table.set_column(table.schema.get_field_index("status"), "status", status)


def test_failures_are_reported_and_only_recent_snapshots_are_kept(
    tables: dict[str, pa.Table], tmp_path: Path
) -> None:
    small = {"eligibility": tables["eligibility"].slice(0, 300)}
    build_data_docs(tmp_path, "snap-a", small, keep_snapshots=2)
    failed = build_data_docs(tmp_path, "snap-b", {"eligibility": _with_bad_status(small["eligibility"])})
    assert failed.results == {"eligibility": False}
    assert failed.snapshot_page.parts[-4:-2] == ("eligibility", "snap-b")
    build_data_docs(tmp_path, "snap-c", small, keep_snapshots=2)
    build_data_docs(tmp_path, "snap-c", small, keep_snapshots=2)  # again: replaces its own results
    stored = sorted(p.relative_to(tmp_path / "gx") for p in (tmp_path / "gx").rglob("snap-*"))
    assert [p.parts[-1] for p in stored] == ["snap-b", "snap-c", "snap-b", "snap-c"]
    assert len(list((site_dir(tmp_path) / "validations" / "eligibility" / "snap-c").iterdir())) == 1
    assert docs_page(tmp_path, "snap-a") is None
    assert "snap-a" not in (site_dir(tmp_path) / "index.html").read_text(encoding="utf-8")


def _widened_status(contract: Contract) -> Contract:
    """The contract with NOT_A_STATUS allowed in eligibility.status."""
    eligibility = contract.table("eligibility")
    status = eligibility.column("status")
    status = dataclasses.replace(status, allowed=(*status.allowed, "NOT_A_STATUS"))
    columns = tuple(status if c.name == "status" else c for c in eligibility.columns)
    wider = dataclasses.replace(eligibility, columns=columns)
    tables = tuple(wider if t.name == "eligibility" else t for t in contract.tables)
    return dataclasses.replace(contract, tables=tables)


def test_a_contract_change_updates_the_suite_in_place(tables: dict[str, pa.Table], tmp_path: Path) -> None:
    bad = {"eligibility": _with_bad_status(tables["eligibility"].slice(0, 300))}
    suite_file = tmp_path / "gx" / "expectations" / "eligibility.json"
    assert build_data_docs(tmp_path, "snap-a", bad).results == {"eligibility": False}
    before = json.loads(suite_file.read_text())
    widened = build_data_docs(tmp_path, "snap-b", bad, _widened_status(CONTRACT))
    assert widened.results == {"eligibility": True}
    after = json.loads(suite_file.read_text())
    assert after["id"] == before["id"]
    value_sets = [e["kwargs"].get("value_set") for e in after["expectations"]]
    assert ["ELIGIBLE", "HARD_BLOCK", "SOFT_BLOCK", "NOT_A_STATUS"] in value_sets


class _Rendered(HTMLParser):
    """The visible text of a rendered DOM, and the text of each table row (status icons as words)."""

    ICONS = {"fa-check-circle": "Success", "fa-times": "Failed"}

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.words: list[str] = []
        self.rows: list[str] = []
        self._row: list[str] | None = None
        self._hidden = 0
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag == "tr":
            self._row = []
        if self._row is not None:  # GX's online table shows a result as an icon only
            self._row.extend(word for icon, word in self.ICONS.items() if icon in classes)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1
        elif tag == "tr" and self._row is not None:
            self.rows.append(" ".join(self._row))
            self._row = None

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.words.extend(data.split())
            if self._row is not None:
                self._row.extend(data.split())


def _render(page: Path, screenshot: Path, profile: Path) -> _Rendered:
    """Load `page` in headless Chromium; save a screenshot and return the DOM after scripts ran."""
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--screenshot={screenshot}", "--window-size=1400,2000",
        "--dump-dom", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert screenshot.stat().st_size > 0
    return _Rendered(done.stdout)


def test_docs_render_in_headless_chromium(built: DataDocsResult, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    index = _render(built.index_html, ARTIFACTS / "data_docs_index.png", tmp_path / "profile")
    for name in TABLES:
        rows = [r for r in index.rows if SNAPSHOT in r.split() and name in r.split()]
        assert len(rows) == 1 and "Success" in rows[0].split(), (name, index.rows)
        assert any(r.split() == [name] for r in index.rows), f"suite {name} not listed"
    page = _render(built.snapshot_page, ARTIFACTS / "data_docs_snapshot.png", tmp_path / "profile")
    text = " ".join(page.words)
    assert f"Expectation Suite: {TABLES[0]}" in text and "Status: Succeeded" in text and SNAPSHOT in text
