"""What every report.html must be: one self-contained page, offline-readable, with its verdict and plots."""

from __future__ import annotations

import re
from pathlib import Path

_URL_ATTR = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def assert_self_contained_report(path: Path, verdict: str, *, min_images: int = 1) -> str:
    """`path` exists, embeds >= `min_images` PNG data URIs, loads nothing from the network, shows `verdict`.

    Returns the page's text for further checks.
    """
    assert path.is_file(), f"{path} was not written"
    text = path.read_text(encoding="utf-8")
    images = re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', text)
    assert len(images) >= min_images, f"{path}: {len(images)} inline PNG images, expected >= {min_images}"
    assert not _URL_ATTR.search(text), f"{path} references the network: {_URL_ATTR.search(text)}"
    assert not _CSS_URL.search(text), f"{path} loads CSS from the network"
    assert not re.search(r"<(?:script|link)\b", text, re.IGNORECASE), f"{path} loads scripts or stylesheets"
    assert verdict in text, f"{path} does not show the verdict {verdict!r}"
    return text
