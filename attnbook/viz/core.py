"""Shared pieces of every attnbook figure: embedding as one HTML output (with its theme and accessibility hooks),
float32 payloads, palettes, callbacks."""

from __future__ import annotations

import html
import os
import re
from importlib import resources
from pathlib import Path

import numpy as np
from bokeh.document import Document
from bokeh.embed import components
from bokeh.models import (
    Axis,
    BoxAnnotation,
    ColorBar,
    CustomJS,
    CustomJSTransform,
    Div,
    GlyphRenderer,
    Grid,
    InlineStyleSheet,
    LayoutDOM,
    Legend,
    Plot,
    Select,
    Span,
    Text,
    TextAnnotation,
    Widget,
)
from bokeh.models.widgets.sliders import AbstractSlider
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
    "dress",
    "WIDGET_CSS",
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

    The figure follows the page's light or dark theme and names its controls for assistive technology
    (:func:`dress`). Its text description (a ``Div`` from :func:`attnbook.viz.kit.description`, written by the
    figure's callback) is rendered beside it in a visually hidden live region that the wrapper points to with
    ``aria-describedby``, so a screen reader reads what the figure shows and hears it change.

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
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    description = dress(layout)
    if description is None:
        script, div = components(layout)
        hidden = ""
        described = ""
    else:
        if description not in layout.document.roots:  # a second root of the figure's document, which holds
            layout.document.add_root(
                description
            )  # the callbacks: components() keeps a document given all its roots
        script, (div, desc_div) = components((layout, description))
        ident = "attnbook-description-" + re.search(r'id="([^"]+)"', div).group(1)
        hidden = f'\n<div class="attnbook-description" id="{ident}" aria-live="polite" style="{SR_ONLY}">{desc_div}</div>'
        described = f' aria-describedby="{ident}"'
    label = f' aria-label="{html.escape(title, quote=True)}"' if title else ""
    return FigureHTML(
        f'<div class="attnbook-figure" data-attnbook-figure role="figure"{label}{described}>\n{div}{hidden}\n'
        f"{script}\n</div>"
    )


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


# --- theme and accessibility ------------------------------------------------------------------------------------
# Visually hidden but read by screen readers (the usual "sr-only" rule), inline so it works in any page.
SR_ONLY = (
    "position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;"
    "clip-path:inset(50%);white-space:nowrap;border:0"
)

# Bokeh widgets draw in shadow roots with colours from their own CSS variables (--color, --background-color...),
# which page CSS cannot reach. This sheet, added to every widget, points them at --attnbook-* variables that
# js/theme.mjs sets on the figure's root element in dark mode (custom properties inherit into shadow roots); unset,
# each falls back to Bokeh's own value, so light mode is Bokeh's look. It also gives the select's text a colour
# (browsers otherwise paint it in the page's text colour: white on white in dark mode) and styles the classes
# that figures' HTML texts use instead of inline colours.
_CARET = (
    'url(\'data:image/svg+xml;utf8,<svg version="1.1" viewBox="0 0 25 20" xmlns="http://www.w3.org/2000/svg">'
    '<path d="M 0,0 25,0 12.5,20 Z" fill="black" /></svg>\')'
)
WIDGET_CSS = f"""
:host {{
  --color: var(--attnbook-fg, #18191D);
  --background-color: var(--attnbook-input-bg, #fff);
  --border-color: var(--attnbook-border, #BBBBBD);
  --hover-color: var(--attnbook-hover, #F9F9F9);
  --default: var(--attnbook-input-bg, #fff);
  --default-border: var(--attnbook-border, #ccc);
  --default-hover: var(--attnbook-hover, #f5f5f5);
  --default-hover-border: var(--attnbook-border, #b8b8b8);
  --default-active: var(--attnbook-active, #ebebeb);
  --default-active-border: var(--attnbook-border, #adadad);
}}
.bk-input {{ color: var(--color); }}
select.bk-input {{ background-image: var(--attnbook-caret, {_CARET}); }}
select.bk-input option {{ color: var(--color); background-color: var(--background-color); }}
.noUi-target {{ background: var(--attnbook-input-bg, #FAFAFA); border-color: var(--attnbook-border, #D3D3D3); }}
.noUi-handle:focus-visible, .bk-btn:focus-visible {{ outline: 2px solid #1a73e8; outline-offset: 2px; }}
.attnbook-muted {{ color: var(--attnbook-muted, #666666); }}
.attnbook-warn {{ color: var(--attnbook-warn, #b2182b); }}
.attnbook-current {{ background-color: var(--attnbook-current-bg, #deebf7); }}
"""

DESCRIPTION_TAG = "attnbook-description"

# Roles of colours in dark mode (see js/colors.mjs): text and line are ink on the background (4.5:1 and 3:1),
# surface is a background or a faint line, fill a data colour (kept unless it is a light surface colour), edge the
# outline of a filled shape. Attributes a model does not have are skipped.
_CHROME_ROLES = (
    (Plot, dict(background_fill_color="surface", border_fill_color="surface", outline_line_color="surface")),
    (Axis, dict(axis_line_color="line", major_tick_line_color="line", minor_tick_line_color="line",
                major_label_text_color="text", axis_label_text_color="text")),
    (Grid, dict(grid_line_color="surface", minor_grid_line_color="surface", band_fill_color="surface")),
    (Legend, dict(background_fill_color="surface", border_line_color="surface", label_text_color="text",
                  title_text_color="text", inactive_fill_color="surface")),
    (ColorBar, dict(background_fill_color="surface", border_line_color="surface", bar_line_color="line",
                    major_label_text_color="text", title_text_color="text", major_tick_line_color="edge",
                    minor_tick_line_color="edge")),
    (TextAnnotation, dict(text_color="text", background_fill_color="surface", border_line_color="line")),
    (Span, dict(line_color="line")),
    (BoxAnnotation, dict(fill_color="fill", line_color="edge")),
    (AbstractSlider, dict(bar_color="line")),
)  # fmt: skip


def _has(model, attr: str) -> bool:
    return attr in model.properties()


def _opaque_fill(glyph) -> bool:
    """A glyph painting cells: a fill colour and a constant fill alpha of at least 0.9."""
    if not _has(glyph, "fill_color") or glyph.fill_color is None:
        return False
    alpha = glyph.fill_alpha if _has(glyph, "fill_alpha") else 1.0
    return isinstance(alpha, (int, float)) and alpha >= 0.9


def _cell_labels(plot) -> tuple[set, set]:
    """Text glyphs drawn on opaque cells of the same source at the same x, y (a heatmap's values, a box's label),
    and those cells' glyphs. Both keep their colours in dark mode: the cell is their background, not the page."""
    renderers = [r for r in plot.renderers if isinstance(r, GlyphRenderer)]
    texts, cells = set(), set()
    for t in renderers:
        if not isinstance(t.glyph, Text):
            continue
        for c in renderers:
            g = c.glyph
            if (
                c is not t
                and c.data_source is t.data_source
                and _opaque_fill(g)
                and _has(g, "x") and _has(g, "y") and g.x == t.glyph.x and g.y == t.glyph.y
            ):  # fmt: skip
                texts.add(t.glyph.id)
                cells.add(g.id)
    return texts, cells


def _glyph_roles(glyph, on_cell: bool, is_cell: bool) -> dict[str, str]:
    if isinstance(glyph, Text):
        roles = dict(background_fill_color="surface", border_line_color="line")
        return roles if on_cell else {**roles, "text_color": "text"}
    if not _has(glyph, "fill_color"):
        return dict(line_color="line")
    return dict(line_color="edge") if is_cell else dict(fill_color="fill", line_color="edge")


def _theme_targets(layout: LayoutDOM) -> list[list]:
    """``[model, attribute, role]`` for every colour of ``layout`` that dark mode maps (see js/theme.mjs)."""
    models = sorted(layout.references(), key=lambda m: m.id)
    on_cells, cells = set(), set()
    for plot in (m for m in models if isinstance(m, Plot)):
        t, c = _cell_labels(plot)
        on_cells |= t
        cells |= c
    targets = []
    for m in models:
        roles = {}
        for cls, chrome in _CHROME_ROLES:
            if isinstance(m, cls):
                roles.update(chrome)
        if isinstance(m, GlyphRenderer):
            g = m.glyph
            for attr, role in _glyph_roles(g, g.id in on_cells, g.id in cells).items():
                if _has(g, attr) and getattr(g, attr) is not None:
                    targets.append([g, attr, role])
        for attr, role in roles.items():
            if _has(m, attr) and getattr(m, attr) is not None:
                targets.append([m, attr, role])
    return targets


def _dark_transforms() -> dict[str, CustomJSTransform]:
    """One transform per colour role: a data column's colours as dark mode draws them. js/theme.mjs attaches them
    only in dark mode, after it has installed ``darkColor`` (js/colors.mjs) as ``globalThis.__attnbookDarkColor``:
    the colour code ships once per figure, not once per transform."""
    return {
        role: CustomJSTransform(
            func=f"return globalThis.__attnbookDarkColor({role!r}, x)",
            v_func=f"return Array.from(xs, (c) => globalThis.__attnbookDarkColor({role!r}, c))",
            name=f"attnbook-dark-{role}",
        )
        for role in ("text", "line", "surface", "fill", "edge")
    }


def _in_layout(layout: LayoutDOM, model) -> bool:
    """Whether ``model`` is drawn as part of ``layout`` (a child, grandchild... not a callback's argument)."""
    todo = [layout]
    while todo:
        m = todo.pop()
        if m is model:
            return True
        for attr in ("children", "tabs", "child"):
            value = getattr(m, attr, None) if _has(m, attr) else None
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                item = item[0] if isinstance(item, tuple) else item  # GridBox children: (model, row, col)
                if item is not None and hasattr(item, "references"):
                    todo.append(item)
    return False


def dress(layout: LayoutDOM) -> Div | None:
    """Give ``layout`` what every figure needs in a page: it follows the light/dark theme, live, and names its
    controls for assistive technology (``js/theme.mjs``, run when the page has rendered it). Returns the figure's
    text description (a ``Div`` tagged ``attnbook-description`` that its callback writes), if it has one outside
    the layout: :func:`show` renders it in a live region. Calling it again on the same layout does nothing new.
    """
    if not isinstance(layout, LayoutDOM):
        raise TypeError(f"layout must be a Bokeh LayoutDOM, got {type(layout).__name__}")
    models = layout.references()
    descriptions = [m for m in models if isinstance(m, Div) and DESCRIPTION_TAG in m.tags]
    if len(descriptions) > 1:
        raise ValueError(f"layout must have at most one description Div, found {len(descriptions)}")
    description = descriptions[0] if descriptions and not _in_layout(layout, descriptions[0]) else None
    if "attnbook-dressed" in layout.tags:
        return description
    sheet = InlineStyleSheet(css=WIDGET_CSS, name="attnbook-widget-css")
    for m in sorted(models, key=lambda m: m.id):
        if isinstance(m, Widget):
            m.stylesheets = [*m.stylesheets, sheet]
    targets = _theme_targets(layout)
    layout.tags = [*layout.tags, "attnbook-dressed"]
    on_document_ready(
        layout, js_callback("theme", layout=layout, targets=targets, transforms=_dark_transforms())
    )
    return description
