"""Where a command's `--bundle` points: a directory as given, relative to the store, or a name in its
bundles/ (shared by the `train` commands and `train live`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from featurestore.errors import InputError

if TYPE_CHECKING:  # importing the store at module level would slow `train --help`
    from featurestore.api import Store


def bundle_path(store: Store, given: Path) -> Path:
    """A bundle directory as given, or relative to the store (`bundles/<name>`), or a name in its bundles/."""
    for candidate in (given, store.root / given, store.bundles_dir / given):
        if (candidate / "metadata.json").is_file():
            return candidate
    known = sorted(p.name for p in store.bundles_dir.glob("*") if (p / "metadata.json").is_file())
    raise InputError(
        given,
        f"no bundle here (looked in ., {store.root} and {store.bundles_dir})",
        fix=f"pass a bundle directory or one of this store's bundles: {', '.join(known) or 'none'} "
        "(train one with `train run`)",
    )
