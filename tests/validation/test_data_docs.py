"""GX data docs from the contract suites on synthetic tables, checked on disk and in headless Chromium."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import subprocess
from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from featurestore.compute.pipeline import run_pipeline
from schemas.contract import CONTRACT, Contract
from schemas.ge_suites import suite_specs
from tests.conftest import REPO, SYNTH_END, SYNTH_START
from validation.data_docs import GX_REQUIREMENT, DataDocsResult, build_data_docs, docs_page, site_dir
from validation.docs_assets import ASSETS, network_references, remote_images

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
    return run_pipeline(synthetic_slice, SYNTH_START, SYNTH_END, contract=CONTRACT)


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
        self.dom = dom
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

    @property
    def probe(self) -> dict[str, Any]:
        """What `PROBE` measured, from the DOM's <pre id="fs-probe">."""
        found = re.search(r'<pre id="fs-probe"[^>]*>(.*?)</pre>', self.dom, re.DOTALL)
        assert found, "the probe did not run"
        return json.loads(html.unescape(found.group(1)))

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.words.extend(data.split())
            if self._row is not None:
                self._row.extend(data.split())


# Offline: every host resolves to nothing and every request goes to a closed proxy; file:// still loads.
OFFLINE = [
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
]
# Injected into a copy of the page (same folder, so relative paths hold): what CSS and scripts did.
PROBE = """<script>window.addEventListener('load', function () {
  var table = document.querySelector('table.table'), icon = document.querySelector('.fas, .fa');
  var cell = table && table.querySelector('td'), box = table && getComputedStyle(table.parentElement);
  var probe = {
    bodyFont: getComputedStyle(document.body).fontFamily,
    tableWidth: table ? table.getBoundingClientRect().width : 0,
    tableParentWidth: table ? table.parentElement.clientWidth - parseFloat(box.paddingLeft)
      - parseFloat(box.paddingRight) : -1,
    cellBorder: cell ? getComputedStyle(cell).borderTop : '',
    iconFont: icon ? getComputedStyle(icon).fontFamily : '',
    jquery: !!window.jQuery,
    bootstrapTable: !!(window.jQuery && window.jQuery.fn.bootstrapTable)
  };
  var out = document.createElement('pre'); out.id = 'fs-probe'; out.hidden = true;
  out.textContent = JSON.stringify(probe);
  document.body.appendChild(out);
});</script>"""


def _render(page: Path, screenshot: Path, profile: Path, *, probe: bool = False) -> _Rendered:
    """Load `page` offline in headless Chromium; save a screenshot and return the DOM after scripts ran.

    With `probe`, a copy of the page beside it carries `PROBE`, whose result lands in `_Rendered.probe`.
    """
    target = page
    if probe:
        target = page.with_name(f"probe-{page.name}")
        target.write_text(page.read_text(encoding="utf-8").replace("</head>", PROBE + "</head>", 1))
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", *OFFLINE,
        f"--user-data-dir={profile}", f"--screenshot={screenshot}", "--window-size=1400,2000",
        "--virtual-time-budget=5000", "--dump-dom", target.as_uri(),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    finally:
        if probe:
            target.unlink()
    assert screenshot.stat().st_size > 0
    return _Rendered(done.stdout)


def _styled(rendered: _Rendered) -> dict[str, object]:
    """What the probe saw, with the checks that fail when Bootstrap / Font Awesome / jQuery did not load."""
    probe = rendered.probe
    return {
        "bootstrap body font": "Segoe UI" in str(probe["bodyFont"]),
        "bootstrap .table width 100%": probe["tableWidth"] > 0
        and abs(probe["tableWidth"] - probe["tableParentWidth"]) < 1,
        "bootstrap .table cell border": probe["cellBorder"] == "1px solid rgb(222, 226, 230)",
        "font awesome icons": "Font Awesome" in str(probe["iconFont"]),
        "jquery + bootstrap-table": probe["jquery"] and probe["bootstrapTable"],
    }


def _chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium (.ci/run installs it)")


def test_no_page_loads_a_script_or_stylesheet_from_the_network(built: DataDocsResult) -> None:
    pages = list(built.index_html.parent.rglob("*.html"))
    assert len(pages) >= 1 + 2 * len(TABLES)  # the index, a suite and a results page per table
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert network_references(text) == [] and remote_images(text) == [], page
        assert not re.search(r"""<(?:script|link)\b[^>]*(?:src|href)=["']https?://""", text), page
    vendored = built.index_html.parent / "static" / "vendor"
    assert (vendored / "bootstrap" / "css" / "bootstrap.min.css").is_file()
    assert (vendored / "bootstrap" / "LICENSE").is_file()


def test_docs_render_styled_offline_in_headless_chromium(built: DataDocsResult, tmp_path: Path) -> None:
    _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    index = _render(built.index_html, ARTIFACTS / "data_docs_index.png", tmp_path / "profile", probe=True)
    assert all(_styled(index).values()), (_styled(index), index.probe)
    for name in TABLES:
        rows = [r for r in index.rows if SNAPSHOT in r.split() and name in r.split()]
        assert len(rows) == 1 and "Success" in rows[0].split(), (name, index.rows)
        assert any(r.split() == [name] for r in index.rows), f"suite {name} not listed"
    page = _render(
        built.snapshot_page, ARTIFACTS / "data_docs_snapshot.png", tmp_path / "profile", probe=True
    )
    styled = _styled(page)
    assert all(v for k, v in styled.items() if k != "jquery + bootstrap-table"), (styled, page.probe)
    assert page.probe["jquery"], page.probe
    text = " ".join(page.words)
    assert f"Expectation Suite: {TABLES[0]}" in text and "Status: Succeeded" in text and SNAPSHOT in text


def test_the_probe_tells_gx_cdn_pages_offline_from_styled_ones(built: DataDocsResult, tmp_path: Path) -> None:
    """The same page with GX's CDN URLs put back renders unstyled offline: the checks above can fail."""
    _chromium()
    page = built.snapshot_page
    cdn = page.with_name("cdn-" + page.name)
    text = page.read_text(encoding="utf-8")
    for asset in ASSETS:
        text = re.sub(r'="[./]*static/vendor/' + re.escape(asset.local) + '"', f'="{asset.url}"', text)
    assert network_references(text)
    cdn.write_text(text, encoding="utf-8")
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        rendered = _render(cdn, ARTIFACTS / "data_docs_cdn_offline.png", tmp_path / "profile", probe=True)
    finally:
        cdn.unlink()
    styled = _styled(rendered)
    assert not any(styled.values()), (styled, rendered.probe)


def test_fs_docs_prints_the_index_and_opens_it(
    tables: dict[str, pa.Table], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webbrowser

    from typer.testing import CliRunner

    from featurestore.app.cli import app

    store = tmp_path / "store"
    snapshot = "0123456789abcdef0123"  # `fs` takes content-addressed ids only
    build_data_docs(store / "validation", snapshot, {"eligibility": tables["eligibility"].slice(0, 300)})
    opened: list[str] = []

    class Browser:
        def open(self, url: str) -> bool:
            opened.append(url)
            return True

    monkeypatch.setattr(webbrowser, "get", lambda *args: Browser())
    runner = CliRunner()
    printed = runner.invoke(app, ["docs", snapshot, "--store", str(store)])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.splitlines()[0].endswith(SITE_INDEX) and opened == []
    shown = runner.invoke(app, ["docs", snapshot, "--open", "--store", str(store)])
    assert shown.exit_code == 0 and len(opened) == 1 and opened[0].endswith(SITE_INDEX)

    def no_browser(*args: object) -> None:
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "get", no_browser)
    refused = runner.invoke(app, ["docs", snapshot, "--open", "--store", str(store)])
    assert refused.exit_code == 1 and "no web browser can be started" in refused.output
    assert "Traceback" not in refused.output
