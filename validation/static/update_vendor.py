"""Refresh `validation/static/vendor/` from the npm registry: the files `validation.docs_assets` lists.

Run by hand when GX's templates change (needs `npm`): `python validation/static/update_vendor.py`.
Each package is fetched with `npm pack NAME@VERSION` (the ordinary client), its files and its license
are copied under `vendor/<folder>/`, and `vendor/SOURCES.txt` records package, version and sha256 of
every file. Nothing else reads the network: the store's data docs use the committed copies.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from validation.docs_assets import ASSETS, EXTRA_FILES, VENDOR_DIR  # noqa: E402

LICENSE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md")
# For packages that ship no license file (popper.js 1.12.9, vega 5.33.1): the standard text of the
# license their package.json declares, with the author it names as the copyright holder.
STANDARD_TEXTS = {
    "MIT": (
        "Copyright (c) {author}\n\n"
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and "
        'associated documentation files (the "Software"), to deal in the Software without restriction, '
        "including without limitation the rights to use, copy, modify, merge, publish, distribute, "
        "sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is "
        "furnished to do so, subject to the following conditions:\n\n"
        "The above copyright notice and this permission notice shall be included in all copies or "
        "substantial portions of the Software.\n\n"
        'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT '
        "NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND "
        "NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, "
        "DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, "
        "OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.\n"
    ),
    "BSD-3-Clause": (
        "Copyright (c) {author}\nAll rights reserved.\n\n"
        "Redistribution and use in source and binary forms, with or without modification, are permitted "
        "provided that the following conditions are met:\n\n"
        "1. Redistributions of source code must retain the above copyright notice, this list of conditions "
        "and the following disclaimer.\n"
        "2. Redistributions in binary form must reproduce the above copyright notice, this list of "
        "conditions and the following disclaimer in the documentation and/or other materials provided with "
        "the distribution.\n"
        "3. Neither the name of the copyright holder nor the names of its contributors may be used to "
        "endorse or promote products derived from this software without specific prior written "
        "permission.\n\n"
        'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR '
        "IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND "
        "FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR "
        "CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL "
        "DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, "
        "DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER "
        "IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT "
        "OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.\n"
    ),
}


def license_text(root: Path, package: str) -> tuple[str, str]:
    """(file name, text) of the package's license: its own file, else the declared license's text."""
    for name in LICENSE_NAMES:
        if (root / name).is_file():
            return name, (root / name).read_text(encoding="utf-8")
    meta = json.loads((root / "package.json").read_text(encoding="utf-8"))
    declared, author = meta["license"], meta.get("author", package)
    header = f"{package} ships no license file; its package.json declares {declared}, author {author}.\n\n"
    return "LICENSE", header + STANDARD_TEXTS[declared].format(author=author)


def main() -> None:
    files: dict[str, dict[str, str]] = {}
    for asset in ASSETS:
        files.setdefault(asset.package, {})[asset.source] = asset.local
    for package, extra in EXTRA_FILES.items():
        files.setdefault(package, {}).update(extra)
    if VENDOR_DIR.exists():
        shutil.rmtree(VENDOR_DIR)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for package, wanted in files.items():
            tgz = subprocess.run(
                ["npm", "pack", "--silent", package], cwd=tmp, check=True, capture_output=True, text=True
            ).stdout.split()[-1]
            unpacked = Path(tmp) / package.replace("/", "_")
            with tarfile.open(Path(tmp) / tgz) as archive:
                archive.extractall(unpacked, filter="data")
            root = unpacked / "package"
            folder = next(iter(wanted.values())).split("/")[0]
            name, text = license_text(root, package)
            (VENDOR_DIR / folder).mkdir(parents=True, exist_ok=True)
            (VENDOR_DIR / folder / name).write_text(text, encoding="utf-8")
            lines.append(f"{folder}/{name}\t{package}\t(license)\t-")
            for source, local in wanted.items():
                destination = VENDOR_DIR / local
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / source, destination)
                digest = hashlib.sha256(destination.read_bytes()).hexdigest()
                lines.append(f"{local}\t{package}\t{source}\t{digest}")
    (VENDOR_DIR / "SOURCES.txt").write_text(
        "file\tnpm package\tfile in package\tsha256\n" + "\n".join(sorted(set(lines))) + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
