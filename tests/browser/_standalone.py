"""One figure in a page of its own, for browser tests that need no built book (BokehJS inlined, works offline)."""

from __future__ import annotations

from pathlib import Path

from bokeh.embed import file_html
from bokeh.resources import INLINE


def write_figure_page(layout, path: Path, title: str = "attnbook figure") -> Path:
    """Write ``layout`` as a standalone HTML file with BokehJS inlined; return the path."""
    path = Path(path)
    path.write_text(file_html(layout, resources=INLINE, title=title), encoding="utf-8")
    return path
