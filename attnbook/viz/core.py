"""Shared pieces of every attnbook figure: embedding as one HTML output, float32 payloads, palettes, callbacks."""

from __future__ import annotations

import html
import os
import re
from importlib import resources
from pathlib import Path

import numpy as np
from bokeh.document import Document
from bokeh.embed import components
from bokeh.models import CustomJS, LayoutDOM, Select
from bokeh.plotting import figure

from .._checks import as_float_array, check_int

__all__ = [
    "FigureHTML",
    "show",
    "js_callback",
    "js_module",
    "on_document_ready",
    "float32",
    "check_name",
    "numbered_select",
    "diagram_figure",
    "DIVERGING",
    "SEQUENTIAL",
    "NAN_COLOR",
]

# Blue-white-red for signed values (scores, activations) and white-to-blue for weights in [0, 1].
DIVERGING = (
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
)
SEQUENTIAL = (
    "#f7fbff",
    "#deebf7",
    "#c6dbef",
    "#9ecae1",
    "#6baed6",
    "#4292c6",
    "#2171b5",
    "#08519c",
    "#08306b",
)
NAN_COLOR = "#d9d9d9"  # masked cells (-inf before the softmax)

JS_DIR = Path(str(resources.files("attnbook.viz") / "js"))


class FigureHTML:
    """A figure ready for a notebook: its only output is one ``text/html`` block (div + script).

    BokehJS itself is not included: the book's Sphinx extension ships it once into ``_static`` and adds it to
    every page that contains the ``data-attnbook-figure`` marker.
    """

    def __init__(self, html_text: str):
        self.html = html_text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<attnbook figure, {len(self.html)} bytes of HTML>"


def show(layout: LayoutDOM, *, title: str | None = None) -> FigureHTML:
    """Turn a Bokeh layout into one standalone HTML output (``bokeh.embed.components``).

    Parameters
    ----------
    layout : bokeh.models.LayoutDOM
        The figure (plot, widget box or layout) to embed.
    title : str, optional
        Accessible label of the figure wrapper.
    """
    if not isinstance(layout, LayoutDOM):
        raise TypeError(
            f"layout must be a Bokeh LayoutDOM (plot, widget or layout), got {type(layout).__name__}"
        )
    script, div = components(layout)
    label = f' aria-label="{html.escape(title, quote=True)}"' if title else ""
    return FigureHTML(f'<div class="attnbook-figure" data-attnbook-figure{label}>\n{div}\n{script}\n</div>')


_LOCAL_IMPORT = re.compile(r"""^import\s*\{[^}]*\}\s*from\s*["'](\.\.?/[\w/.]+?)\.mjs["'];?[ \t]*$""", re.M)
_ANY_IMPORT = re.compile(r"^\s*import\b", re.M)
_EXPORT = re.compile(r"^export (const|let|function|class|async function) ", re.M)


def _inline(rel: str, code: str, seen: set[str]) -> str:
    """Replace each ``import {...} from "./x.mjs"`` in ``code`` by that module's text (once per module)."""

    def inline(match: re.Match) -> str:
        dep = os.path.normpath(Path(rel).parent / match.group(1)).replace(os.sep, "/")
        path = JS_DIR / f"{dep}.mjs"
        if not path.resolve().is_relative_to(JS_DIR.resolve()) or not path.is_file():
            raise ValueError(f"js/{rel}.mjs imports {match.group(1)}.mjs, which is not a module in {JS_DIR}")
        if dep in seen:
            return ""
        seen.add(dep)
        body = _EXPORT.sub(lambda m: f"{m.group(1)} ", path.read_text(encoding="utf-8"))
        return _inline(dep, body, seen)

    return _LOCAL_IMPORT.sub(inline, code)


def js_module(name: str) -> str:
    """The source of callback module ``js/<name>.mjs`` with its local imports replaced by the modules' text.

    Callbacks share helpers through ``js/lib.mjs`` (and the in-page model through ``js/runtime/``); a page
    cannot load a sibling module (``file://`` forbids it), so each imported module is inlined here, once per
    callback, its ``export`` keywords dropped. Any other ``import`` is refused.
    """
    if not isinstance(name, str) or name == "lib" or not (JS_DIR / f"{name}.mjs").is_file():
        raise ValueError(f"name must be one of the callbacks in {JS_DIR}, got {name!r}")
    code = _inline(name, (JS_DIR / f"{name}.mjs").read_text(encoding="utf-8"), set())
    if _ANY_IMPORT.search(code):
        raise ValueError(
            f"js/{name}.mjs may import only local modules (./lib.mjs ...): a page fetches nothing"
        )
    return code


def js_callback(name: str, **args) -> CustomJS:
    """A CustomJS callback whose body is the ES module ``attnbook/viz/js/<name>.mjs``.

    The module's default export destructures exactly the keyword names given here.
    """
    return CustomJS(code=js_module(name), args=args, module=True)


def on_document_ready(layout: LayoutDOM, callback: CustomJS) -> LayoutDOM:
    """Put ``layout`` in its own Document and run ``callback`` once when the page has rendered it.

    Figures draw their first state with the same callback that serves every later one, so what the reader
    first sees cannot drift from what the widgets show.
    """
    doc = layout.document or Document()
    if layout.document is None:
        doc.add_root(layout)
    doc.js_on_event("document_ready", callback)
    return layout


def float32(name: str, x) -> np.ndarray:
    """Validate ``x`` and return it as a C-contiguous float32 array: the form tensors travel in to the page.

    Non-finite values are allowed (a masked score is -inf before the softmax).
    """
    x = as_float_array(name, x, finite=False)
    if np.isnan(x).any():
        raise ValueError(f"{name} must not contain NaN")
    return np.ascontiguousarray(x, dtype=np.float32)


def check_name(name) -> str:
    """Return ``name`` if it is a non-empty str: the prefix every figure gives its models, for tests."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str (the prefix of every model's name), got {name!r}")
    return name


def numbered_select(title: str, n: int, *, name: str, value: int = 1, width: int = 80) -> Select:
    """A select offering ``1 .. n`` (layers, heads), numbered from one as the prose numbers them."""
    n = check_int("n", n, low=1)
    value = check_int("value", value, low=1, high=n)
    return Select(
        title=title, value=str(value), options=[str(i) for i in range(1, n + 1)], name=name, width=width
    )


def diagram_figure(**kwargs):
    """A Bokeh figure with no axes, grid, outline or tools: a canvas for diagrams and grids of panels.

    Keyword arguments go to :func:`bokeh.plotting.figure` (``name``, ``width``, ``height``, ranges...).
    """
    kwargs.setdefault("tools", "")
    kwargs.setdefault("toolbar_location", None)
    plot = figure(**kwargs)
    plot.axis.visible = False
    plot.grid.visible = False
    plot.outline_line_color = None
    return plot
