"""Execute one chapter outside Sphinx and write its figures into one standalone page, for authors iterating on a
chapter or a figure without rebuilding the book.

    python scripts/run_chapter.py book/chapters/03_masks.md --html /tmp/ch3.html

Exit status 1 when a cell fails or writes to stderr, or when the prose names a glued value the chapter never
glues (a ``{glue:...}`` role, or a ``:glue:`` option of a ``{selfcheck}``): the book build treats all three as
errors. The Markdown itself is not rendered here (directives such as ``{selfcheck}`` are checked only by Sphinx).
The page inlines BokehJS, so it works offline; the browser tests' numbers check runs on it like on a book page.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", type=Path, help="a MyST notebook, e.g. book/chapters/03_masks.md")
    parser.add_argument(
        "--html", type=Path, help="write the chapter's figure outputs to this standalone page"
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    args = parser.parse_args(argv)
    if not args.chapter.is_file():
        parser.error(f"chapter: no such file {args.chapter}")

    import nbclient
    from bokeh.resources import INLINE
    from myst_nb.core.read import read_myst_markdown_notebook

    nb = read_myst_markdown_notebook(args.chapter.read_text(encoding="utf-8"), path=args.chapter)
    t0 = time.perf_counter()
    client = nbclient.NotebookClient(
        nb, timeout=args.timeout, resources={"metadata": {"path": str(args.chapter.parent)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        print(f"{args.chapter}: a cell failed\n{exc}", file=sys.stderr)
        return 1
    print(f"{args.chapter}: executed in {time.perf_counter() - t0:.1f} s")

    problems, figures = [], []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"cell {i} wrote to stderr: {out['text'][:300]}")
            html = out.get("data", {}).get("text/html", "")
            if "data-attnbook-figure" in html:
                figures.append(html)
    problems += missing_glue(nb)
    for p in problems:
        print(p, file=sys.stderr)
    if args.html:
        head = INLINE.render_js()
        body = "\n<hr>\n".join(figures)
        args.html.write_text(
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{args.chapter.stem}: figures</title>"
            f"{head}</head><body><main><h1>{args.chapter.stem}</h1>{body}</main></body></html>",
            encoding="utf-8",
        )
        print(f"{len(figures)} figure(s) written to {args.html}")
    return 1 if problems else 0


_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)")
_GLUE_OPTION = re.compile(r"^:glue:\s*(\S+)\s*$", re.M)


def missing_glue(nb) -> list[str]:
    """The glued names the Markdown cells use but no executed cell glued, one message each."""
    glued = {
        out.get("metadata", {}).get("scrapbook", {}).get("name")
        for cell in nb.cells
        for out in cell.get("outputs", [])
    }
    used = {
        name.strip()
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for pattern in (_GLUE_ROLE, _GLUE_OPTION)
        for name in pattern.findall(cell.source)
    }
    return [f"the prose uses {name!r}, which no cell glues" for name in sorted(used - glued)]


if __name__ == "__main__":
    sys.exit(main())
