"""Great Expectations data docs of a snapshot: suites from the contract, one validation run per table.

GX is for people, not the gate (Pandera is). It is imported lazily, inside `build_data_docs`, because the
import alone takes 2.5-4.5 s and ~200 MB that no other `fs` command should pay; `docs_page` only reads
files. Analytics are switched off before the import.

One GX file project lives under the store's `validation/` folder and is reused across snapshots. GX 1.24.1
writes (paths relative to `validation_dir`)::

    gx/great_expectations.yml, gx/expectations/<table>.json, gx/validation_definitions/, gx/checkpoints/
    gx/uncommitted/validations/<table>/<snapshot_id>/<run_time>/featurestore-<table>.json   (results)
    gx/uncommitted/data_docs/local_site/index.html                                         (the site)
    gx/uncommitted/data_docs/local_site/expectations/<table>.html                          (suites)
    gx/uncommitted/data_docs/local_site/validations/<table>/<snapshot_id>/<run_time>/featurestore-<table>.html

GX's pages load their scripts and stylesheets from CDNs; after each build `docs_assets.make_offline`
points them at vendored copies inside the site, so the docs look right without network.

Rebuilding the docs gets slow as results pile up (GX issues #3732, #8243), so only the results of the
newest `keep_snapshots` snapshots are kept; older ones are deleted with their pages.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from schemas.contract import CONTRACT, Contract
from schemas.ge_suites import Spec, suite_specs
from validation.docs_assets import make_offline

logger = logging.getLogger(__name__)

GX_REQUIREMENT = "great-expectations>=1.24,<1.25"  # GX churns between minors; this module reads its files
KEEP_SNAPSHOTS = 5
DATASOURCE = "featurestore"
BATCH_DEFINITION = "whole_table"
SITE = "local_site"
# SUMMARY keeps counts and up to 20 failing values per expectation for the docs (COMPLETE is ~10x
# slower). The pandas index query is dropped: a people-facing page has no use for it, and computing it
# costs another full-table filter per expectation (~1 s of the ~5 s of a year of snap_features).
RESULT_FORMAT = {"result_format": "SUMMARY", "return_unexpected_index_query": False}
_SITE_PATH = f"uncommitted/data_docs/{SITE}"  # relative to the GX project folder, validation_dir/gx
_SNAPSHOT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_INDEX_VIEW = {"module_name": __name__, "class_name": "OfflineIndexPageView"}
_LISTING_ID = "fs-plain-index"
_SPECS_HASH = "contract_specs_sha256"


@dataclass(frozen=True)
class DataDocsResult:
    """Where the docs are and what GX found.

    Attributes:
        index_html: the site's index (every kept snapshot's results and every suite).
        snapshot_page: the page to open first for this snapshot: its first failing table's results
            (contract order), else its first table's.
        results: table -> whether GX found every expectation met.
        seconds: wall time of the whole build, GX import included.
    """

    index_html: Path
    snapshot_page: Path
    results: dict[str, bool]
    seconds: float


def site_dir(validation_dir: Path) -> Path:
    """The local data docs site of the GX project under `validation_dir`."""
    return Path(validation_dir) / "gx" / _SITE_PATH


def _results_dir(validation_dir: Path) -> Path:
    """GX's stored validation results: <table>/<run name = snapshot id>/<run time>/<batch id>.json."""
    return Path(validation_dir) / "gx" / "uncommitted" / "validations"


def build_data_docs(
    validation_dir: Path,
    snapshot_id: str,
    tables: dict[str, pa.Table],
    contract: Contract = CONTRACT,
    *,
    keep_snapshots: int = KEEP_SNAPSHOTS,
) -> DataDocsResult:
    """Validate `tables` with their contract suites under run name `snapshot_id` and rebuild the docs.

    A failed expectation is a finding to read in the docs, not an error: it shows up as False in
    `results`. Validating the same snapshot again replaces its earlier results.

    Raises:
        ValueError: a bad snapshot id, no tables, a table the contract does not know, or keep < 1.
    """
    started = time.perf_counter()
    _check_snapshot_id(snapshot_id)
    specs = suite_specs(contract)
    unknown = sorted(set(tables) - set(specs))
    if not tables or unknown:
        raise ValueError(f"expected tables among {sorted(specs)}, got {sorted(tables)} (unknown: {unknown})")
    if keep_snapshots < 1:
        raise ValueError(f"keep_snapshots must be at least 1, got {keep_snapshots}")
    validation_dir = Path(validation_dir)
    _prune(validation_dir, snapshot_id, keep_snapshots)
    context = _open_context(validation_dir)
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(run_name=snapshot_id, run_time=datetime.now(UTC))
    results = {}
    for name, table in tables.items():
        suite = _sync_suite(context, name, specs[name], contract.table(name).description)
        frame = table.to_pandas()  # GX has no polars/Arrow engine: convert here, at the boundary
        result = _checkpoint(context, suite).run(batch_parameters={"dataframe": frame}, run_id=run_id)
        results[name] = bool(result.success)
    context.build_data_docs(site_names=[SITE])
    make_offline(site_dir(validation_dir))
    index = site_dir(validation_dir) / "index.html"
    page = docs_page(validation_dir, snapshot_id, contract) or index
    seconds = time.perf_counter() - started
    logger.info("data docs for %s built in %.1f s: %s", snapshot_id, seconds, results)
    return DataDocsResult(index_html=index, snapshot_page=page, results=results, seconds=seconds)


def docs_page(validation_dir: Path, snapshot_id: str, contract: Contract = CONTRACT) -> Path | None:
    """The existing results page of a snapshot, chosen as `DataDocsResult.snapshot_page` is.

    Reads the site's files only (no GX import, no validation). None if the snapshot's docs were never
    built or have been pruned.
    """
    _check_snapshot_id(snapshot_id)
    pages = list((site_dir(validation_dir) / "validations").glob(f"*/{snapshot_id}/*/*.html"))
    if not pages:
        return None
    order = [t.name for t in (contract.candles, *contract.tables)]

    def rank(page: Path) -> tuple[bool, int, str]:
        table = page.parts[-4]
        position = order.index(table) if table in order else len(order)
        return _page_succeeded(Path(validation_dir), page), position, str(page)

    return min(pages, key=rank)


def _check_snapshot_id(snapshot_id: str) -> None:
    """Snapshot ids become folder names and glob patterns: letters, digits, '.', '_' and '-' only."""
    if not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise ValueError(f"snapshot id {snapshot_id!r} must match {_SNAPSHOT_ID.pattern}")


def _page_succeeded(validation_dir: Path, page: Path) -> bool:
    """Whether the stored result behind a results page succeeded (True if the result is gone)."""
    relative = page.relative_to(site_dir(validation_dir) / "validations").with_suffix(".json")
    result = _results_dir(validation_dir) / relative
    if not result.is_file():
        return True
    return bool(json.loads(result.read_text(encoding="utf-8")).get("success", True))


def _prune(validation_dir: Path, current: str, keep: int) -> None:
    """Delete the results and pages of all but the newest `keep - 1` other snapshots, and `current`'s.

    The current snapshot's earlier run is removed because this build replaces it; after the build,
    `keep` snapshots remain. Runs are ordered by GX's sortable run-time folder names.
    """
    results = _results_dir(validation_dir)
    runs = _stored_runs(results)
    others = sorted((r for r in runs if r != current), key=runs.__getitem__, reverse=True)
    dropped = others[keep - 1 :]
    for root in (results, site_dir(validation_dir) / "validations"):
        for suite_dir in (p for p in root.glob("*") if p.is_dir()):
            for run in (current, *dropped):
                if (suite_dir / run).is_dir():
                    shutil.rmtree(suite_dir / run)
    if dropped:
        logger.info("pruned the data docs of %d older snapshots: %s", len(dropped), dropped)


def _stored_runs(results: Path) -> dict[str, str]:
    """Run name (snapshot id) -> its newest run-time folder name, over every suite's stored results."""
    runs: dict[str, str] = {}
    for run_time in results.glob("*/*/*"):
        if run_time.is_dir():
            name = run_time.parent.name
            runs[name] = max(runs.get(name, ""), run_time.name)
    return runs


def _open_context(validation_dir: Path) -> Any:
    """The file-mode project under `validation_dir`, created on first use, configured for this store.

    GX is imported here, with analytics off first (GX reads the variable when it loads). The project
    gets no analytics, no progress bars on stderr, no tutorial footer, and an index page that also
    lists its rows as plain HTML (GX's own needs CDN scripts; see `OfflineIndexPageView`).
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    try:
        import great_expectations as gx
    except ModuleNotFoundError as exc:
        message = f"data docs need Great Expectations: pip install '{GX_REQUIREMENT}'"
        raise ModuleNotFoundError(message) from exc
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=validation_dir)
    variables = context.variables
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": _SITE_PATH + "/"},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": _INDEX_VIEW},
    }
    if variables.data_docs_sites != {SITE: site} or variables.analytics_enabled is not False:
        variables.data_docs_sites = {SITE: site}
        variables.analytics_enabled = False
        variables.progress_bars = ProgressBarsConfig(globally=False)
        variables.save()
    return context


def _sync_suite(context: Any, name: str, specs: list[Spec], description: str) -> Any:
    """The suite named after the table, rewritten in place only when its contract specs changed.

    GX's `add_or_update` matches every new expectation against every stored one with pydantic
    comparisons (quadratic; ~1 s for the 90-expectation snap_features suite), so the specs' hash is
    kept in the suite's meta and an unchanged suite is used as stored.
    """
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    configs = [{**s, "notes": _notes(s["meta"])} for s in specs]
    fingerprint = hashlib.sha256(json.dumps([configs, description], sort_keys=True).encode()).hexdigest()
    try:
        stored = context.suites.get(name)
        if stored.meta.get(_SPECS_HASH) == fingerprint:
            return stored
    except DataContextError:
        pass
    expectations = [ExpectationConfiguration(**config).to_domain_obj() for config in configs]
    suite = gx.ExpectationSuite(
        name=name, expectations=expectations, notes=description, meta={_SPECS_HASH: fingerprint}
    )
    return context.suites.add_or_update(suite)


def _notes(meta: dict[str, Any]) -> list[str]:
    """The docs' notes of one expectation: why the contract asks for it, and the column's declaration."""
    notes = [meta["contract"]]
    column = meta.get("column")
    if column is not None:
        notes.append(
            f"{column['description']} ({column['role']}, {column['dtype']}, unit {column['unit'] or '-'}, "
            f"lookback {column['lookback']} bars; nulls: {column['null_policy']})"
        )
    return notes


def _checkpoint(context: Any, suite: Any) -> Any:
    """The table's checkpoint, made on first use and reused after.

    The suite keeps its id when updated, so the stored validation definition stays valid across
    contract changes and is not rewritten (that would rewrite the suite: quadratic, see `_sync_suite`).
    """
    from great_expectations.exceptions import DataContextError

    try:
        checkpoint = context.checkpoints.get(suite.name)
    except DataContextError:
        return _new_checkpoint(context, suite)
    if checkpoint.result_format != RESULT_FORMAT:  # stored by an earlier version of this module
        checkpoint.result_format = RESULT_FORMAT
        checkpoint.save()
    return checkpoint


def _new_checkpoint(context: Any, suite: Any) -> Any:
    """Dataframe asset -> validation definition -> checkpoint, all named after the table."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    name = suite.name
    datasource = context.data_sources.all().get(DATASOURCE) or context.data_sources.add_pandas(DATASOURCE)
    if name not in datasource.get_asset_names():
        datasource.add_dataframe_asset(name)
    asset = datasource.get_asset(name)
    if BATCH_DEFINITION not in {b.name for b in asset.batch_definitions}:
        asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
    batch = asset.get_batch_definition(BATCH_DEFINITION)
    definitions = context.validation_definitions
    try:  # left by an interrupted first build
        definition = definitions.get(name)
    except DataContextError:
        definition = definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    checkpoint = gx.Checkpoint(name=name, validation_definitions=[definition], result_format=RESULT_FORMAT)
    return context.checkpoints.add(checkpoint)


class OfflineIndexPageView:
    """GX's index page view, plus the same rows as plain HTML for readers without internet.

    GX 1.24.1's index page is an empty <table> that jQuery and bootstrap-table fill from inline data
    (from CDNs in GX's templates; from the site's vendored copies after `make_offline`); where scripts do
    not run it shows nothing. This view renders GX's page unchanged and appends a static listing of the
    same rows, which a script removes when the scripts did load. GX instantiates it from
    great_expectations.yml by module and class name, so it wraps GX's view instead of subclassing it
    (that would import GX with this module).
    """

    def __init__(self, custom_styles_directory: str | None = None, custom_views_directory: str | None = None):
        from great_expectations.render.view import DefaultJinjaIndexPageView

        self._view = DefaultJinjaIndexPageView(custom_styles_directory, custom_views_directory)

    def render(self, document: Any, **kwargs: Any) -> str:
        """GX's index HTML with the plain listing inserted before </body>."""
        page = self._view.render(document, **kwargs)
        data = document.to_json_dict() if hasattr(document, "to_json_dict") else document
        listing = "".join(_static_table(title, content) for title, content in _bootstrap_tables(data))
        head, body_end, tail = page.rpartition("</body>")
        if not body_end:
            raise ValueError("GX rendered an index page without </body>; cannot add the plain listing")
        script = (
            "<script>if (window.jQuery && window.jQuery.fn.bootstrapTable) "
            f"{{document.getElementById('{_LISTING_ID}').remove();}}</script>"
        )
        block = f'<div id="{_LISTING_ID}" class="container-fluid pl-5 pr-5">{listing}</div>{script}'
        return head + block + body_end + tail


def _bootstrap_tables(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(tab name, bootstrap_table block) of every tab of a rendered index document."""
    if isinstance(node, dict):
        content = node.get("tab_content")
        if isinstance(content, dict) and content.get("content_block_type") == "bootstrap_table":
            yield str(node.get("tab_name", "")), content
        for value in node.values():
            yield from _bootstrap_tables(value)
    elif isinstance(node, list):
        for value in node:
            yield from _bootstrap_tables(value)


def _static_table(title: str, content: dict[str, Any]) -> str:
    """One index tab as a plain table; the first cell links to the row's page (results or suite)."""
    columns = content["table_columns"]
    head = "".join(f"<th>{html.escape(str(c['title']))}</th>" for c in columns)
    rows = []
    for row in content["table_data"]:
        cells = [_plain_cell(row, c["field"]) for c in columns]
        link = row.get("_table_row_link_path")
        if link:
            cells[0] = f'<a href="{html.escape(link)}">{cells[0]}</a>'
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return (
        f"<h4>{html.escape(title)}</h4><table class='table table-sm'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _plain_cell(row: dict[str, Any], field: str) -> str:
    """A cell as text: GX keeps a plain twin (`_<field>_text` / `_<field>_sort`) of its HTML cells."""
    value = row.get(f"_{field}_text")
    if value is None:
        value = row.get(field) if isinstance(row.get(field), str) else row.get(f"_{field}_sort", "")
    return html.escape(str(value))
