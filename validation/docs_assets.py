"""The scripts, stylesheets and fonts GX data docs load, served from the store instead of CDNs.

GX 1.24.1's page templates load Bootstrap 4.3.1, bootstrap-table 1.19.1 (+ filter-control), jQuery 3.7.1,
popper.js 1.12.9, Font Awesome 6.6.0, bootstrap-datepicker 1.9.0, bootstrap-dark 1.1.0 and vega 5 /
vega-lite 5 / vega-embed 6 from public CDNs, and GX has no setting to change that (GX issue #994). The
same files, taken from the npm packages of those versions (`validation/static/update_vendor.py`), are
vendored in `validation/static/vendor/` with their licenses. After GX builds the site, `make_offline`
copies them into ``<site>/static/vendor/`` and rewrites every page's CDN URL to a relative path, so the
docs look the same on a machine without network. Nothing is downloaded at run time.

GX's pages also show its logo from a web server, with the data context's id in the query string; that
image is replaced by its alt text, so opening the docs makes no request at all.

The subresource-integrity and ``crossorigin`` attributes of the rewritten tags are dropped: browsers
refuse CORS-mode loads from ``file://`` pages, and the files are the store's own.
"""

from __future__ import annotations

import filecmp
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"
SITE_VENDOR = Path("static") / "vendor"  # inside the data docs site


@dataclass(frozen=True)
class Asset:
    """One CDN URL of GX's templates and the vendored file that replaces it."""

    url: str
    package: str  # npm name@version the file comes from
    source: str  # the file inside that npm package
    local: str  # relative to VENDOR_DIR


ASSETS = (
    Asset(
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
        "bootstrap@4.3.1",
        "dist/css/bootstrap.min.css",
        "bootstrap/css/bootstrap.min.css",
    ),
    Asset(
        "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
        "bootstrap@4.3.1",
        "dist/js/bootstrap.min.js",
        "bootstrap/js/bootstrap.min.js",
    ),
    Asset(
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
        "@forevolve/bootstrap-dark@1.1.0",
        "dist/css/bootstrap-prefers-dark.css",
        "bootstrap-dark/bootstrap-prefers-dark.css",
    ),
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
        "bootstrap-table@1.19.1",
        "dist/bootstrap-table.min.css",
        "bootstrap-table/bootstrap-table.min.css",
    ),
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
        "bootstrap-table@1.19.1",
        "dist/bootstrap-table.min.js",
        "bootstrap-table/bootstrap-table.min.js",
    ),
    Asset(  # GX names 1.19.0 for the extension's stylesheet and 1.19.1 for its script: one copy serves both
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "bootstrap-table@1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "bootstrap-table/bootstrap-table-filter-control.min.css",
    ),
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "bootstrap-table@1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "bootstrap-table/bootstrap-table-filter-control.min.css",
    ),
    Asset(
        "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        "bootstrap-table@1.19.1",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        "bootstrap-table/bootstrap-table-filter-control.min.js",
    ),
    Asset(
        "https://code.jquery.com/jquery-3.7.1.min.js",
        "jquery@3.7.1",
        "dist/jquery.min.js",
        "jquery/jquery.min.js",
    ),
    Asset(
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
        "popper.js@1.12.9",
        "dist/umd/popper.min.js",
        "popper.js/popper.min.js",
    ),
    Asset(
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
        "@fortawesome/fontawesome-free@6.6.0",
        "css/all.min.css",
        "fontawesome-free/css/all.min.css",
    ),
    Asset(
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
        "bootstrap-datepicker@1.9.0",
        "dist/css/bootstrap-datepicker.min.css",
        "bootstrap-datepicker/bootstrap-datepicker.min.css",
    ),
    Asset(
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
        "bootstrap-datepicker@1.9.0",
        "dist/js/bootstrap-datepicker.min.js",
        "bootstrap-datepicker/bootstrap-datepicker.min.js",
    ),
    Asset("https://cdn.jsdelivr.net/npm/vega@5", "vega@5.33.1", "build/vega.min.js", "vega/vega.min.js"),
    Asset(
        "https://cdn.jsdelivr.net/npm/vega-lite@5",
        "vega-lite@5.23.0",
        "build/vega-lite.min.js",
        "vega-lite/vega-lite.min.js",
    ),
    Asset(
        "https://cdn.jsdelivr.net/npm/vega-embed@6",
        "vega-embed@6.29.0",
        "build/vega-embed.min.js",
        "vega-embed/vega-embed.min.js",
    ),
)
# Font Awesome's stylesheet loads its fonts from ../webfonts/ (woff2 first; browsers use the first they read)
EXTRA_FILES = {
    "@fortawesome/fontawesome-free@6.6.0": {
        f"webfonts/{name}.woff2": f"fontawesome-free/webfonts/{name}.woff2"
        for name in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")
    }
}
_BY_URL = {asset.url: asset for asset in ASSETS}
_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r"""\b(src|href)=(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_REMOTE_IMG = re.compile(r"""<img\b[^>]*\bsrc=["']https?://[^>]*>""", re.IGNORECASE)
_ALT = re.compile(r"""\balt=(["'])([^"']*)\1""", re.IGNORECASE)
_DROPPED_ATTRS = re.compile(r"""\s+(?:integrity|crossorigin)(?:=(["'])[^"']*\1)?""", re.IGNORECASE)


class OfflineAssetsError(RuntimeError):
    """A data docs page loads a script or stylesheet from the network that no vendored file replaces."""


def make_offline(site: Path) -> int:
    """Install the vendored files into `site` and point every page at them; returns pages rewritten.

    Raises:
        OfflineAssetsError: a page still loads a script or stylesheet over http(s) (a GX upgrade added a
            URL that `ASSETS` lacks); the message lists them.
    """
    site = Path(site)
    _install(site / SITE_VENDOR)
    rewritten, unknown = 0, set()
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        prefix = Path(os.path.relpath(site / SITE_VENDOR, page.parent)).as_posix()
        new = _TAG.sub(lambda tag, prefix=prefix: _rewrite_tag(tag.group(0), prefix, unknown), text)
        new = _REMOTE_IMG.sub(_alt_text, new)
        if new != text:
            page.write_text(new, encoding="utf-8")
            rewritten += 1
    if unknown:
        raise OfflineAssetsError(
            "data docs pages load these from the network and no vendored file replaces them: "
            + ", ".join(sorted(unknown))
            + "; add them to validation/docs_assets.py ASSETS and run validation/static/update_vendor.py"
        )
    logger.info("data docs under %s load their %d assets from %s", site, len(ASSETS), SITE_VENDOR)
    return rewritten


def network_references(html_text: str) -> list[str]:
    """The http(s) URLs of the scripts and stylesheets a page loads."""
    return [m.group(3) for tag in _TAG.findall(html_text) for m in [_URL_ATTR.search(tag)] if m]


def remote_images(html_text: str) -> list[str]:
    """The <img> tags of a page that load from the network."""
    return _REMOTE_IMG.findall(html_text)


def _alt_text(img: re.Match[str]) -> str:
    alt = _ALT.search(img.group(0))
    return f'<span class="h4 text-primary">{alt.group(2) if alt else ""}</span>'


def _rewrite_tag(tag: str, prefix: str, unknown: set[str]) -> str:
    match = _URL_ATTR.search(tag)
    if match is None:
        return tag
    url = match.group(3)
    asset = _BY_URL.get(url)
    if asset is None:
        if tag.lower().startswith("<script") or "stylesheet" in tag.lower():
            unknown.add(url)
        return tag
    local = f'{match.group(1)}="{prefix}/{asset.local}"'
    return _DROPPED_ATTRS.sub("", tag[: match.start()] + local + tag[match.end() :])


def _install(target: Path) -> None:
    """Copy the vendored tree into the site once (again only when a file is missing or changed)."""
    for source in VENDOR_DIR.rglob("*"):
        if not source.is_file():
            continue
        destination = target / source.relative_to(VENDOR_DIR)
        if destination.is_file() and filecmp.cmp(source, destination, shallow=False):
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
