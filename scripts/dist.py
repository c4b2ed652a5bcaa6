"""Pack the built book into a versioned zip for offline readers: unzip anywhere and open ``index.html``.

    python scripts/dist.py book/_build/html --out dist      # what `nox -s dist` runs after building

The archive holds one folder, ``attnbook-book-<version>/``, with the whole site and a short READ-ME.txt. Entries
are sorted and dated 1980-01-01, so the same build gives the same bytes.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

SKIP_PARTS = {".doctrees", ".buildinfo"}  # Sphinx's build state, not part of the site
README = """attnbook {version}: attention, by moving the numbers

Open index.html in a web browser. Everything the book needs (BokehJS, MathJax, the figures' data) is inside
this folder: no network, no Python. Keep the folder together (the pages load _static/ next to them).
"""


def make_dist(html: Path, out_dir: Path, version: str) -> Path:
    """Write ``<out_dir>/attnbook-book-<version>.zip`` from the built site in ``html``; return its path."""
    html, out_dir = Path(html), Path(out_dir)
    if not (html / "index.html").is_file():
        raise ValueError(f"html must be a built book (no index.html in {html}); run `nox -s build` first")
    if not isinstance(version, str) or not version or "/" in version:
        raise ValueError(f"version must be a non-empty string without '/', got {version!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    top = f"attnbook-book-{version}"
    target = out_dir / f"{top}.zip"
    tmp = target.with_suffix(".zip.part")
    files = sorted(
        p for p in html.rglob("*") if p.is_file() and not SKIP_PARTS.intersection(p.relative_to(html).parts)
    )
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(f"{top}/READ-ME.txt", date_time=(1980, 1, 1, 0, 0, 0))
        zf.writestr(info, README.format(version=version), compress_type=zipfile.ZIP_DEFLATED)
        for path in files:
            info = zipfile.ZipInfo(
                f"{top}/{path.relative_to(html).as_posix()}", date_time=(1980, 1, 1, 0, 0, 0)
            )
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(target)  # never a half-written zip under the final name
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the built book, e.g. book/_build/html")
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist)")
    parser.add_argument("--version", help="version in the file name (default: attnbook.__version__)")
    args = parser.parse_args(argv)
    version = args.version
    if version is None:
        import attnbook

        version = attnbook.__version__
    try:
        path = make_dist(args.html, args.out, version)
    except ValueError as exc:
        parser.error(str(exc))
    print(
        f"{path} ({path.stat().st_size / 1e6:.1f} MB): unzip it and open attnbook-book-{version}/index.html"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
