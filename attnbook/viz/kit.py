"""The shared parts every figure layout is assembled from: token grids, line and bar panels, hover, controls,
canvas readouts and the play button. A part builds Bokeh models and names them; it never computes data.

Names: every model a part makes is named ``<name>-<role>`` from the figure's name, so the tests find it with
``Bokeh.documents[i].get_model_by_name``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.layouts import row
from bokeh.models import (
    AbstractButton,
    ColorBar,
    ColumnDataSource,
    CustomJS,
    DataRange1d,
    Div,
    HoverTool,
    Legend,
    LegendItem,
    LinearColorMapper,
    RadioButtonGroup,
    Range1d,
    Select,
    Slider,
    Spinner,
    TextInput,
    Toggle,
)
from bokeh.models.widgets.groups import AbstractGroup
from bokeh.plotting import figure

from .._checks import check_int, check_tokens
from .core import DESCRIPTION_TAG, NAN_COLOR, SEQUENTIAL, check_name, diagram_figure, js_callback
from .heatmap import token_grid

__all__ = [
    "grid_source",
    "color_mapper",
    "token_grid",
    "cell_text",
    "hover",
    "line_panel",
    "bar_panel",
    "slider",
    "select",
    "toggle",
    "play_button",
    "control_row",
    "on_change",
    "empty_source",
    "matrix_panel",
    "outline",
]


def _columns(n: int, columns: dict) -> dict:
    data = {}
    for key, kind in columns.items():
        if isinstance(kind, str):
            if kind not in ("float", "str"):
                raise ValueError(
                    f"column {key!r} must be 'float', 'str' or an array of {n} values, got {kind!r}"
                )
            data[key] = np.zeros(n, np.float32) if kind == "float" else [""] * n
        elif len(kind) != n:
            raise ValueError(f"column {key!r} must have {n} entries, got {len(kind)}")
        else:
            data[key] = kind
    return data


def empty_source(name: str, n: int, **columns) -> ColumnDataSource:
    """A source of ``n`` rows whose columns a callback fills.

    Each column is ``"float"`` (float32 zeros), ``"str"`` (empty strings) or its ``n`` initial values.
    """
    check_name(name)
    n = check_int("n", n, low=0)
    return ColumnDataSource(_columns(n, columns), name=name)


def grid_source(name: str, n_rows: int, n_cols: int, **columns) -> ColumnDataSource:
    """A source with one row per cell of an ``(n_rows, n_cols)`` grid, row ``i`` at ``y = -i``, column ``j`` at
    ``x = j`` (row-major), plus ``columns`` as in :func:`empty_source`."""
    check_name(name)
    n_rows = check_int("n_rows", n_rows, low=1)
    n_cols = check_int("n_cols", n_cols, low=1)
    ii, jj = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    data = dict(x=jj.ravel().astype(np.float32), y=-ii.ravel().astype(np.float32))
    data.update(_columns(n_rows * n_cols, columns))
    return ColumnDataSource(data, name=name)


def color_mapper(name: str, palette: Sequence[str] = SEQUENTIAL, low: float = 0.0, high: float = 1.0):
    """A linear colour mapper (NaN cells drawn grey: masked or hidden)."""
    check_name(name)
    return LinearColorMapper(palette=list(palette), low=low, high=high, nan_color=NAN_COLOR, name=name)


def cell_text(plot, source: ColumnDataSource, text: str, *, color: str | None = None, size: str = "8pt"):
    """Text drawn on the canvas at each row's ``x``, ``y`` (readouts beside a grid: row sums, key counts)."""
    return plot.text(
        "x",
        "y",
        text=text,
        source=source,
        text_align="left",
        text_baseline="middle",
        text_font_size=size,
        text_color=color or "#333333",
    )


def hover(renderer, *fields: tuple[str, str]) -> HoverTool:
    """A hover tool for one renderer, showing ``(label, "@column{format}")`` pairs."""
    return HoverTool(renderers=[renderer], tooltips=list(fields))


def line_panel(
    *, name: str, title: str, x_label: str, y_label: str, width: int = 360, height: int = 260, **kw
):
    """An empty panel for line charts: labelled axes, no toolbar, legend placed outside the data."""
    check_name(name)
    kw.setdefault("sizing_mode", "stretch_width")  # on a narrow column: narrower, as tall (see fit)
    plot = figure(name=name, title=title, width=width, height=height, tools="", toolbar_location=None, **kw)
    plot.xaxis.axis_label = x_label
    plot.yaxis.axis_label = y_label
    return plot


def bar_panel(
    source: ColumnDataSource,
    *,
    name: str,
    title: str,
    x: str,
    top: str,
    labels: Sequence[str] | None = None,
    width: int = 360,
    height: int = 240,
    color: str = "#4292c6",
    y_range=(0, 1),
):
    """Vertical bars at numeric ``x`` (labelled by ``labels`` when given). Returns ``(plot, renderer)``."""
    check_name(name)
    plot = figure(
        name=name,
        title=title,
        width=width,
        height=height,
        tools="",
        toolbar_location=None,
        y_range=y_range,
        sizing_mode="stretch_width",
    )
    bars = plot.vbar(x=x, top=top, width=0.8, source=source, color=color)
    if labels is not None:
        labels = check_tokens("labels", labels)
        from bokeh.models import FixedTicker

        plot.xaxis.ticker = FixedTicker(ticks=list(range(len(labels))), name=f"{name}-xticks")
        plot.xaxis.major_label_overrides = {i: t for i, t in enumerate(labels)}
    plot.xgrid.visible = False
    return plot, bars


def slider(
    name: str, title: str, start: int, end: int, value: int, *, width: int = 190, step: int = 1
) -> Slider:
    """An integer slider."""
    check_name(name)
    return Slider(start=start, end=end, value=value, step=step, title=title, name=name, width=width)


def select(name: str, title: str, options: Sequence[str], value: str, *, width: int = 130) -> Select:
    """A select over string options."""
    check_name(name)
    options = list(check_tokens("options", options))
    if value not in options:
        raise ValueError(f"value must be one of {options}, got {value!r}")
    return Select(title=title, value=value, options=options, name=name, width=width)


def toggle(name: str, label: str, active: bool = False, *, width: int = 110) -> Toggle:
    """An on/off button whose state is ``active``."""
    check_name(name)
    return Toggle(label=label, active=bool(active), name=name, width=width, align="end")


def play_button(name: str, target: Slider, *, interval_ms: int = 900) -> Toggle:
    """A play/pause toggle that advances ``target`` one step every ``interval_ms``, wrapping around."""
    check_name(name)
    play = Toggle(label="▶ Play", active=False, name=name, width=80, align="end")
    play.js_on_change("active", js_callback("play", toggle=play, slider=target, interval_ms=interval_ms))
    return play


def on_change(callback: CustomJS, *widgets) -> CustomJS:
    """Run ``callback`` whenever the reader changes any of ``widgets``: the value of a slider, select or spinner,
    the text of a text box as it is typed, the choice of a toggle or button group, the click of a button.

    Returns ``callback``. A widget of another kind is refused (TypeError naming it).
    """
    if not isinstance(callback, CustomJS):
        raise TypeError(f"callback must be a CustomJS, got {type(callback).__name__}")
    for w in widgets:
        if isinstance(w, (Toggle, AbstractGroup)):  # before AbstractButton: a Toggle is one too
            w.js_on_change("active", callback)
        elif isinstance(w, AbstractButton):
            w.js_on_event("button_click", callback)
        elif isinstance(w, TextInput):
            w.js_on_change("value_input", callback)
        elif isinstance(w, (Slider, Select, Spinner)):
            w.js_on_change("value", callback)
        else:
            raise TypeError(f"widgets must be sliders, selects, spinners, text boxes, toggles, button groups or "
                            f"buttons, got {type(w).__name__} {getattr(w, 'name', '')!r}")  # fmt: skip
    return callback


def control_row(name: str, *widgets):
    """The figure's controls in one row, named ``<name>`` (the figure's prefix plus ``-controls``)."""
    check_name(name)
    return row(*widgets, name=name)


def _round_ticks(n: int, most: int = 8) -> list[int]:
    """0, step, 2 step, ... below ``n``, with a round step (1, 2, 5, 10, 20, 50, ...) giving at most ``most``."""
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if -(-n // step) <= most:
            break
    else:
        step = -(-n // most)
    return list(range(0, n, step))


def matrix_panel(
    source: ColumnDataSource,
    *,
    name: str,
    title: str,
    n_rows: int,
    n_cols: int,
    color_field: str,
    mapper: LinearColorMapper,
    x_label: str,
    y_label: str,
    width: int = 360,
    height: int = 340,
    line_color: str | None = None,
    colorbar: bool = True,
):
    """A matrix of cells coloured by ``color_field`` with numbered axes: row 0 on top, column 0 on the left.

    ``source`` is laid out as :func:`grid_source` lays it (row ``i`` at ``y = -i``, column ``j`` at ``x = j``);
    the axes are labelled with row and column numbers at round steps. For matrices indexed by numbers
    (positions, dimensions); :func:`token_grid` labels them with tokens instead. ``line_color`` draws lines
    between cells; by default they meet edge to edge. Returns ``(plot, cells)``.
    """
    check_name(name)
    n_rows = check_int("n_rows", n_rows, low=1)
    n_cols = check_int("n_cols", n_cols, low=1)
    plot = figure(
        name=name,
        title=title,
        width=width,
        height=height,
        x_range=(-0.5, n_cols - 0.5),
        y_range=(-n_rows + 0.5, 0.5),
        tools="",
        toolbar_location=None,
    )
    color = {"field": color_field, "transform": mapper}
    # Cells outlined in their own colour meet edge to edge (no antialiasing seams between them).
    cells = plot.rect(
        "x",
        "y",
        1,
        1,
        source=source,
        line_color=line_color or color,
        line_width=0.3 if line_color else 1,
        fill_color=color,
    )
    from bokeh.models import FixedTicker

    rows = _round_ticks(n_rows)
    plot.xaxis.ticker = FixedTicker(ticks=_round_ticks(n_cols), name=f"{name}-xticks")
    plot.yaxis.ticker = FixedTicker(ticks=[-i for i in rows], name=f"{name}-yticks")
    plot.yaxis.major_label_overrides = {-i: str(i) for i in rows}
    plot.xaxis.axis_label = x_label
    plot.yaxis.axis_label = y_label
    plot.grid.visible = False
    if colorbar:
        plot.add_layout(ColorBar(color_mapper=mapper, width=10, name=f"{name}-colorbar"), "right")
    return plot, cells


def outline(plot, source: ColumnDataSource, width: float, height: float, *, color: str = "black"):
    """An unfilled box of ``width`` × ``height`` centred on each row's ``x``, ``y`` (marks the row or column a
    widget picked in a matrix; the callback moves it by writing ``x``/``y``)."""
    return plot.rect("x", "y", width, height, source=source, fill_alpha=0, line_color=color, line_width=2)


def cell_values(plot, source: ColumnDataSource, *, size: str = "7pt"):
    """Each cell's value written in its centre: column ``label`` in dark ink, ``label_light`` in white.

    A callback puts a cell's text in ``label_light`` when its cell is dark (see :func:`cell_value_columns`).
    Two glyphs with fixed colours rather than one with a per-cell colour column: BokehJS 3.9 fails to paint
    a text glyph whose colour column changes length with the data. Returns the two renderers.
    """
    return tuple(
        plot.text(
            "x",
            "y",
            text=column,
            source=source,
            text_align="center",
            text_baseline="middle",
            text_font_size=size,
            text_color=color,
        )
        for column, color in (("label", "#222222"), ("label_light", "white"))
    )


def cell_value_columns(texts: Sequence[str], dark: Sequence[bool]) -> dict[str, list[str]]:
    """The ``label`` / ``label_light`` columns :func:`cell_values` draws: each text goes to ``label_light`` when its
    cell is dark, else to ``label``. Python twin of ``cellLabels`` in ``js/lib.mjs``."""
    texts, dark = list(texts), [bool(d) for d in dark]
    if len(texts) != len(dark):
        raise ValueError(f"dark must have one entry per text ({len(texts)}), got {len(dark)}")
    return dict(
        label=["" if d else t for t, d in zip(texts, dark, strict=True)],
        label_light=[t if d else "" for t, d in zip(texts, dark, strict=True)],
    )


def name_axes(plot) -> None:
    """Name a plot's first x and y axes ``<plot name>-xaxis`` / ``-yaxis``, so a callback's twin can check their
    labels (``major_label_overrides``) by name."""
    check_name(plot.name)
    plot.xaxis[0].name = f"{plot.name}-xaxis"
    plot.yaxis[0].name = f"{plot.name}-yaxis"


def value_grid(
    name: str,
    title: str,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    *,
    tooltips: Sequence[tuple[str, str]],
    palette: Sequence[str] | None = None,
    width: int = 360,
    height: int = 340,
    **columns,
):
    """A heatmap whose cells show their values: :func:`token_grid` coloured by ``value`` with a colour bar,
    :func:`cell_values`, hover (``tooltips``) and named axes (:func:`name_axes`).

    Its source ``<name>-cells`` starts empty with columns ``x, y, value, label, label_light`` and ``columns``
    (as in :func:`empty_source`), for a callback to fill; its mapper is ``<name>-mapper`` (``palette``: blue-white-red
    by default). Returns ``(plot, source, mapper)``.
    """
    from .core import DIVERGING

    check_name(name)
    base = dict(x="float", y="float", value="float", label="str", label_light="str")
    source = empty_source(f"{name}-cells", 0, **base, **columns)
    mapper = color_mapper(f"{name}-mapper", palette or DIVERGING, -1.0, 1.0)
    plot, cells = token_grid(
        source,
        name=name,
        title=title,
        q_tokens=q_tokens,
        k_tokens=k_tokens,
        color_field="value",
        mapper=mapper,
        width=width,
        height=height,
        colorbar=True,
    )
    cell_values(plot, source)
    plot.add_tools(hover(cells, *tooltips))
    name_axes(plot)
    return plot, source, mapper


__all__ += ["cell_values", "cell_value_columns", "name_axes", "value_grid"]


def labels(
    plot,
    source: ColumnDataSource,
    *,
    text: str = "text",
    align: str = "center",
    baseline: str = "middle",
    size: str = "8pt",
    color: str = "#333333",
    bold: bool = False,
):
    """Text from a source's ``x``, ``y`` and ``text`` columns: titles over panels, labels in a diagram.

    ``color`` is a colour or the name of a column holding one colour per row.
    """
    return plot.text(
        "x",
        "y",
        text=text,
        source=source,
        text_align=align,
        text_baseline=baseline,
        text_font_size=size,
        text_color=color,
        text_font_style="bold" if bold else "normal",
    )


def cells(
    plot,
    source: ColumnDataSource,
    *,
    fill,
    size=1.0,
    x="x",
    line_color: str | None = None,
    line_width: float = 0.5,
):
    """Square cells centred on each row's ``x``, ``y``: side ``size`` (a number or a column name), filled with
    ``fill`` (a colour column's name, or ``{"field": ..., "transform": mapper}``). Returns the renderer.

    ``x`` may be a column name or a spec such as ``bokeh.transform.dodge("x", 8)`` (a second panel beside the first).
    """
    return plot.rect(
        x,
        "y",
        size,
        size,
        source=source,
        fill_color=fill,
        line_color=line_color,
        line_width=line_width,
    )


def radio(name: str, labels: Sequence[str], active: int = 0, **kw) -> RadioButtonGroup:
    """A row of buttons of which exactly one is on; the widget holds its index in ``active``."""
    check_name(name)
    labels = list(check_tokens("labels", labels))
    active = check_int("active", active, low=0, high=len(labels) - 1)
    kw.setdefault("align", "end")
    return RadioButtonGroup(labels=labels, active=active, name=name, **kw)


def line_series(
    plot,
    source: ColumnDataSource,
    x: str,
    series,
    *,
    name: str,
    line_width: float = 2.0,
    dots: float = 0.0,
    legend: str | None = "below",
):
    """One line per ``(label, column, color)`` of ``series`` (a fourth entry, when given, is the dash), drawn
    from ``source`` against column ``x``, with dots of size ``dots`` when it is > 0, and a legend named
    ``name`` outside the data (see :func:`outside_legend`; ``legend=None``: none). Returns the line renderers."""
    check_name(name)
    lines, items = [], []
    for label, y, color, *dash in series:
        style = dict(source=source, color=color)
        drawn = [plot.line(x, y, line_width=line_width, line_dash=dash[0] if dash else "solid", **style)]
        if dots > 0:
            drawn.append(plot.scatter(x, y, size=dots, **style))
        lines.append(drawn[0])
        items.append((label, drawn))
    if legend is not None:
        outside_legend(plot, items, name=name, place=legend)
    return lines


def histogram_panel(
    source: ColumnDataSource,
    *,
    name: str,
    title: str,
    x_label: str,
    y_label: str = "fraction of entries",
    width: int = 370,
    height: int = 260,
    color: str = "#6baed6",
):
    """Bars from ``left`` to ``right``, 0 up to ``top`` (a histogram whose bins a callback sets); the x range is
    the callback's to move, y starts at 0. Returns the plot."""
    check_name(name)
    plot = figure(
        name=name,
        title=title,
        width=width,
        height=height,
        x_range=Range1d(0, 1, name=f"{name}-xrange"),
        y_range=DataRange1d(start=0, name=f"{name}-yrange"),
        tools="",
        toolbar_location=None,
        sizing_mode="stretch_width",
    )
    plot.quad(
        left="left", right="right", bottom=0, top="top", source=source, fill_color=color, line_color="white"
    )
    plot.xaxis.axis_label = x_label
    plot.yaxis.axis_label = y_label
    return plot


__all__ += ["labels", "cells", "radio", "line_series", "histogram_panel"]


def labelled_select(
    name: str,
    title: str,
    options: Sequence[tuple[str, str]] | Mapping[str, str],
    value: str,
    *,
    width: int = 130,
) -> Select:
    """A select over ``(value, label)`` pairs (or a mapping of value to label): the widget holds the value, the
    reader sees the label."""
    check_name(name)
    if isinstance(options, Mapping):
        options = list(options.items())
    if (
        isinstance(options, (str, bytes))
        or not options
        or not all(
            isinstance(o, (tuple, list)) and len(o) == 2 and all(isinstance(x, str) for x in o)
            for o in options
        )
    ):
        raise TypeError("options must be a non-empty sequence of (value, label) pairs of str, or a mapping")
    options = [tuple(o) for o in options]
    values = [v for v, _ in options]
    if value not in values:
        raise ValueError(f"value must be one of {values}, got {value!r}")
    return Select(title=title, value=value, options=options, name=name, width=width)


def value_slider(name: str, title: str, values: Sequence[float], value: float, *, width: int = 190) -> Slider:
    """A slider whose stops are exactly ``values``: an increasing, evenly spaced grid (e.g. temperatures)."""
    check_name(name)
    grid = np.asarray([float(v) for v in values])
    steps = np.diff(grid)
    if len(grid) < 2 or not (steps > 0).all() or not np.allclose(steps, steps[0]):
        raise ValueError(f"values must be an increasing, evenly spaced grid of 2 or more, got {list(values)}")
    if value not in values:
        raise ValueError(f"value must be one of {list(values)}, got {value!r}")
    return Slider(
        start=float(grid[0]),
        end=float(grid[-1]),
        step=float(steps[0]),
        value=value,
        title=title,
        name=name,
        width=width,
    )


def curve(
    plot,
    source: ColumnDataSource,
    x: str,
    y: str,
    *,
    color: str,
    dash: str = "solid",
    width: float = 2.0,
    marker: str | None = None,
    size: float = 4,
):
    """A line through ``source``'s ``x`` and ``y`` columns, with a ``marker`` at each point when given.

    Returns the renderers, the line first: a legend entry takes them all, a hover tool the line.
    """
    out = [plot.line(x, y, source=source, color=color, line_dash=dash, line_width=width)]
    if marker is not None:
        out.append(plot.scatter(x, y, source=source, color=color, size=size, marker=marker))
    return out


def legend(plot, items: Sequence[tuple[str, list]], *, name: str, location: str = "top_right"):
    """A legend of ``(label, renderers)`` entries, drawn in the plot at ``location``."""

    check_name(name)
    out = Legend(
        items=[LegendItem(label=label, renderers=list(rs)) for label, rs in items],
        location=location,
        name=name,
    )
    plot.add_layout(out)
    return out


def view_sources(name: str, shown: dict, *models: str) -> list[ColumnDataSource]:
    """One source per model of a payload's ``view`` (``shown``), named ``<name>-<model>``, holding the columns
    the view gives for the figure's first state: the page draws it before any callback has run."""
    check_name(name)
    missing = [m for m in models if m not in shown]
    if missing:
        raise ValueError(f"models must be keys of the view, {list(shown)}; got {missing}")
    return [ColumnDataSource(dict(shown[m]), name=f"{name}-{m}") for m in models]


__all__ += ["labelled_select", "value_slider", "curve", "legend"]
__all__ += ["view_sources"]


def text_panel(name: str, *, width: int, height: int, title: str = "", font_size: str = "8.5pt"):
    """A table drawn as text on a canvas whose data units are pixels (x right, y down as −y), with shaded bands.

    A callback fills its two sources: text ``(x, y, text, color, style, align)`` named ``<name>-text`` and bands
    ``(x, y, w, h, color)`` named ``<name>-bands``. Updating glyphs repaints one canvas; changing a Div's text
    re-lays out the whole figure, several times slower. Returns ``(plot, text source, band source)``.
    """
    check_name(name)
    text = empty_source(
        f"{name}-text", 0, x="float", y="float", text="str", color="str", style="str", align="str"
    )
    bands = empty_source(f"{name}-bands", 0, x="float", y="float", w="float", h="float", color="str")
    plot = diagram_figure(
        name=name,
        width=width,
        height=height,
        x_range=(0, width),
        y_range=(-height + (30 if title else 0), 0),
        title=title,
        min_border=0,
    )
    plot.rect("x", "y", "w", "h", source=bands, fill_color="color", line_color=None)
    plot.text(
        "x",
        "y",
        text="text",
        source=text,
        text_color="color",
        text_font_style="style",
        text_align="align",
        text_baseline="middle",
        text_font_size=font_size,
    )
    return plot, text, bands


def weight_grid(name: str, tokens: Sequence[str], *, title: str, width: int = 360, height: int = 340, **kw):
    """A token grid of attention weights that a callback redraws, tokens and all (``tokenGrid`` in js/lib.mjs).

    Its source ``<name>-cells`` holds ``x, y, q_token, k_token, weight``; hovering a cell shows query, key and
    weight. ``kw`` goes to :func:`token_grid` (``colorbar``...). Returns ``(plot, cells, [x axis, y axis])``.
    """
    check_name(name)
    T = len(check_tokens("tokens", tokens))
    cells = grid_source(
        f"{name}-cells",
        T,
        T,
        q_token=[t for t in tokens for _ in tokens],
        k_token=list(tokens) * T,
        weight="float",
    )
    plot, r = token_grid(
        cells,
        name=name,
        title=title,
        q_tokens=tokens,
        k_tokens=tokens,
        color_field="weight",
        mapper=color_mapper(f"{name}-mapper"),
        width=width,
        height=height,
        **kw,
    )
    plot.add_tools(hover(r, ("query", "@q_token"), ("key", "@k_token"), ("weight", "@weight{0.000}")))
    return plot, cells, [plot.xaxis[0], plot.yaxis[0]]


def outside_legend(plot, items, *, name: str, place: str = "below", font_size: str = "9pt"):
    """A legend beside the data, never over it: ``items`` are ``(label, renderers)`` pairs, laid out in a row
    ``above`` or ``below`` the plot's frame, or in a column on its ``right``. Returns the legend."""

    from .._checks import check_choice

    check_name(name)
    place = check_choice("place", place, ("above", "below", "right"))
    legend = Legend(
        items=[LegendItem(label=label, renderers=list(renderers)) for label, renderers in items],
        orientation="vertical" if place == "right" else "horizontal",
        location="top_left" if place == "right" else "center",
        label_text_font_size=font_size,
        glyph_width=18,
        spacing=8,
        padding=4,
        margin=2,
        border_line_color=None,
        name=name,
    )
    plot.add_layout(legend, place)
    return legend


def text_input(name: str, title: str, value: str = "", *, width: int = 300, placeholder: str = "Type here"):
    """A one-line text box. Its ``value_input`` changes on every key, ``value`` on Enter or when it loses focus."""
    from bokeh.models import TextInput

    check_name(name)
    if not isinstance(value, str):
        raise TypeError(f"value must be a str, got {type(value).__name__}")
    return TextInput(
        title=title, value=value, value_input=value, placeholder=placeholder, name=name, width=width
    )


def button(name: str, label: str, *, width: int = 120):
    """A push button; callbacks attach to its ``button_click`` event."""
    from bokeh.models import Button

    check_name(name)
    return Button(label=label, name=name, width=width, align="end")


def spinner(name: str, title: str, value: int, *, low: int, high: int, width: int = 90):
    """An integer entry box with up/down arrows (seeds, counts)."""
    from bokeh.models import Spinner

    check_name(name)
    value = check_int("value", value, low=low, high=high)
    return Spinner(title=title, value=value, low=low, high=high, step=1, name=name, width=width)


def image_source(name: str) -> ColumnDataSource:
    """A source for :func:`image_cells`: one row per image, columns ``image`` (a 2-D array), ``x``, ``y`` (its
    lower-left corner), ``dw``, ``dh`` (its size in data units); empty until a callback fills it."""
    check_name(name)
    return ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []}, name=name)


def image_cells(plot, source: ColumnDataSource, mapper: LinearColorMapper, *, origin: str = "top_left"):
    """A matrix drawn as one image: cell ``[i, j]`` coloured by ``mapper`` (NaN grey), row 0 at the top by default.

    Much cheaper to redraw than one rectangle per cell (one bitmap instead of T² shapes), for matrices that a
    callback rewrites on every keystroke. Returns the renderer (hover it with ``@image``).
    """
    return plot.image(
        image="image", x="x", y="y", dw="dw", dh="dh", source=source, color_mapper=mapper, origin=origin
    )


def description(name: str, what: str) -> Div:
    """The figure's text description, for screen readers: a ``Div`` named ``<name>-description`` that says ``what``
    the figure shows, then the key numbers of its current state, which the figure's callback writes with
    ``describe(description, state)`` (js/lib.mjs; ``what`` travels in the Div's tags).

    Pass it to the callback only; do not put it in the layout: :func:`attnbook.viz.core.show` renders it beside the
    figure in a visually hidden live region, so a screen reader reads it and hears it change. The payload's
    ``view`` gives its ``text`` (:func:`described`), so the browser tests check it like the figure's numbers.
    """
    check_name(name)
    if not isinstance(what, str) or not what.strip():
        raise TypeError(f"what must be a non-empty str (what the figure shows), got {what!r}")
    # A fixed size, as every Div a callback rewrites: a new text then re-lays out nothing (it is never seen).
    return Div(
        text=described(what)["text"],
        name=f"{name}-description",
        tags=[DESCRIPTION_TAG, what],
        width=400,
        height=40,
    )


def described(what: str, state: str = "") -> dict[str, str]:
    """A description's entry in a payload's ``view``: ``what`` (plain text) then ``state`` (HTML: line breaks become
    spaces, other tags are dropped).

    Python twin of ``describe`` in js/lib.mjs."""
    import html
    import re

    if not isinstance(what, str) or not isinstance(state, str):
        raise TypeError("what and state must be str")
    state = re.sub(r"<[^>]*>", "", re.sub(r"<br\s*/?>", " ", state))
    return {"text": " ".join(t for t in (html.escape(what), state) if t)}


def panel_text(columns: Mapping) -> str:
    """The text of a :func:`text_panel` as one line: its rows (consecutive entries at one ``y``), cells joined by a
    space, rows by "; " (for a description). Python twin of ``panelText`` in js/lib.mjs."""
    if not isinstance(columns, Mapping) or "text" not in columns or "y" not in columns:
        raise TypeError("columns must be a text panel's columns (with 'text' and 'y')")
    rows: list[str] = []
    for k, (t, y) in enumerate(zip(columns["text"], columns["y"], strict=True)):
        if k > 0 and y == columns["y"][k - 1]:
            rows[-1] += f" {t}"
        else:
            rows.append(str(t))
    return "; ".join(rows)


def readable(color: str, background: str = "#ffffff", contrast: float = 4.5) -> str:
    """``color`` (hex ``#rrggbb``) darkened just enough, hue kept, to be read as text on ``background`` at WCAG's
    ``contrast`` ratio (4.5:1 for text): for titles drawn in a series' colour (light blue and orange read at 2.3:1)."""
    import colorsys

    def rgb(c: str):
        if not isinstance(c, str) or not re.fullmatch(r"#[0-9a-fA-F]{6}", c):
            raise ValueError(f"colours must be '#rrggbb', got {c!r}")
        return [int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)]

    def luminance(x):
        return sum(w * (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
                   for w, v in zip((0.2126, 0.7152, 0.0722), x, strict=True))  # fmt: skip

    bg = luminance(rgb(background))
    h, l, s = colorsys.rgb_to_hls(*rgb(color))
    while l > 0:
        x = colorsys.hls_to_rgb(h, l, s)
        lo, hi = sorted((luminance(x), bg))
        if (hi + 0.05) / (lo + 0.05) >= contrast:
            break
        l = max(0.0, l - 0.01)
    return "#" + "".join(f"{round(v * 255):02x}" for v in colorsys.hls_to_rgb(h, l, s))


__all__ += ["description", "described"]
__all__ += ["panel_text"]
__all__ += ["readable"]


def integer_ticks(axis, *, name: str | None = None, desired: int = 6) -> None:
    """Ticks at whole numbers only (1, 2, 5, 10... apart), for an axis that counts (blocks, layers, steps): at a
    depth of 2 the axis shows 0, 1, 2, never a block 0.5. About ``desired`` ticks (give the count of items to label
    each one). ``axis`` is a plot's axis (``plot.xaxis[0]``)."""
    from bokeh.models import BasicTicker

    desired = check_int("desired", desired, low=1)
    axis.ticker = BasicTicker(min_interval=1, num_minor_ticks=0, desired_num_ticks=desired, name=name)


_LOG_MANTISSAS = ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 5), (1, 2, 5), (1, 3), (1,))

# The JavaScript twin of log_tick_values, run by the page whenever the axis's range changes.
_LOG_TICKS_JS = """
const a = Math.min(cb_data.start, cb_data.end), b = Math.max(cb_data.start, cb_data.end)
if (!(a > 0) || !Number.isFinite(b)) return []
const span = Math.log10(b / a), lo = Math.floor(Math.log10(a)), hi = Math.ceil(Math.log10(b))
const inRange = (t) => t >= a && t <= b
let densest = null
for (const set of MANTISSAS) {
  const ticks = []
  for (let e = lo; e <= hi; e++) for (const m of set) ticks.push(Number((m * 10 ** e).toPrecision(12)))
  const shown = ticks.filter(inRange)
  if (densest === null) densest = shown
  if (shown.length < 2 || shown.length > MOST) continue
  if (shown.slice(1).every((t, k) => Math.log10(t / shown[k]) >= span / 8)) return shown
}
if (densest.length < 2 && b > a) {  // less than a step of 1..9: evenly spaced ticks, 1, 2 or 5 times a power of ten
  for (let k = Math.floor(Math.log10(b - a)) - 1; ; k++) {
    for (const m of [1, 2, 5]) {
      const step = m * 10 ** k, shown = []
      for (let i = Math.ceil(a / step); i <= Math.floor(b / step); i++) shown.push(Number((i * step).toPrecision(12)))
      if (shown.length <= MOST) return shown
    }
  }
}
if (densest.length < 2) return densest
for (let k = 1; ; k++) {
  const ticks = []
  for (let e = lo; e <= hi; e++) if (((e % k) + k) % k === 0) ticks.push(Number((10 ** e).toPrecision(12)))
  const shown = ticks.filter(inRange)
  if (shown.length <= MOST) return shown
}
"""


def log_tick_values(low: float, high: float, most: int = 6) -> list[float]:
    """The ticks :func:`log_ticks` puts on a log axis showing ``[low, high]``: the densest of 1..9, (1, 2, 3, 5),
    (1, 2, 5), (1, 3), 1 times the powers of ten giving 2 to ``most`` ticks no two closer than 1/8 of the axis;
    else powers of ten, every k-th one; within less than one step of 1..9, evenly spaced ticks. Python twin of
    the ticker's JavaScript."""
    import math

    for label, v in (("low", low), ("high", high)):
        if not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
            raise ValueError(f"{label} must be a finite number, got {v!r}")
    most = check_int("most", most, low=2)
    a, b = min(low, high), max(low, high)
    if not a > 0:
        return []
    span, lo, hi = math.log10(b / a), math.floor(math.log10(a)), math.ceil(math.log10(b))
    densest = None
    for mantissas in _LOG_MANTISSAS:
        ticks = [float(f"{m * 10.0**e:.12g}") for e in range(lo, hi + 1) for m in mantissas]
        shown = [t for t in ticks if a <= t <= b]
        densest = shown if densest is None else densest
        if 2 <= len(shown) <= most and all(
            math.log10(t / s) >= span / 8 for s, t in zip(shown, shown[1:], strict=False)
        ):
            return shown
    if len(densest) < 2 and b > a:  # less than a step of 1..9: evenly spaced, 1, 2 or 5 times a power of ten
        k = math.floor(math.log10(b - a)) - 1
        while True:
            for m in (1, 2, 5):
                step = m * 10.0**k
                shown = [
                    float(f"{i * step:.12g}") for i in range(math.ceil(a / step), math.floor(b / step) + 1)
                ]
                if len(shown) <= most:
                    return shown
            k += 1
    if len(densest) < 2:
        return densest
    k = 1
    while True:
        shown = [float(f"{10.0**e:.12g}") for e in range(lo, hi + 1) if e % k == 0 and a <= 10.0**e <= b]
        if len(shown) <= most:
            return shown
        k += 1


def log_ticks(axis, *, name: str | None = None, most: int = 6) -> None:
    """Uncrowded, readable ticks for a log axis, recomputed whenever its range changes (:func:`log_tick_values`):
    1, 2, 3, 4 within a decade, 0.03, 0.05, 0.1, 0.2, 0.3 across one, powers of ten across many, written as plain
    numbers. Bokeh's own log ticker writes 1, 1.5, ..., 3.5, 4 squeezed together near the top of a decade, and
    only 10⁻¹ when the data span a little more than one. ``axis`` is a plot's axis (``plot.yaxis[0]``)."""
    from bokeh.models import BasicTickFormatter, CustomJSTicker

    most = check_int("most", most, low=2)
    axis.ticker = CustomJSTicker(
        major_code=_LOG_TICKS_JS,
        args={"MANTISSAS": [list(m) for m in _LOG_MANTISSAS], "MOST": most},
        name=name,
    )
    axis.formatter = BasicTickFormatter(name=f"{name}-format" if name else None)


__all__ += ["integer_ticks", "log_ticks", "log_tick_values"]


# --- A typed text read by the in-page model (chapters 8 and 10; js/lib.mjs has the JavaScript twins) -----------

SHOWN_CHARS = {"\n": "⏎", " ": "␣"}  # characters that print as nothing, as labels draw them


def shown_char(ch: str) -> str:
    """How a character is drawn as a label (a new line as ⏎, a space as ␣). Twin of ``shownChar``."""
    return SHOWN_CHARS.get(ch, ch)


def _code(chars: str, counts: dict | None = None) -> str:
    # a space or a new line is drawn as ␣ or ⏎: the reader must see what was skipped or folded; a character
    # that occurs more than once is listed once, with its count (z ×2)
    counts = counts or {}

    def one(c):
        esc = shown_char(c).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<code>{esc}</code>" + (f" ×{counts[c]}" if counts.get(c, 1) > 1 else "")

    return " ".join(one(c) for c in chars)


def text_notice(
    text: str, window: str, folded: str, skipped: str, n_skipped: int, n_cut: int, block_size: int
) -> str:
    """The friendly notice (HTML) above a text box read by a model: empty text, characters folded or skipped, the
    window used (the fields of ``attnbook.experiments.own_text.Encoded``). Twin of ``textNotice``."""
    parts = []
    if not text:
        parts.append(
            "Type some text: the model needs at least one character to predict the next one (it has "
            "no start-of-text token)."
        )
    elif not window:
        parts.append("None of these characters is in the model's vocabulary, so there is nothing to read.")
    if folded:
        parts.append(f"Capitals folded to lower case (the training text has none): {_code(folded)}.")
    if skipped:
        s = "" if n_skipped == 1 else "s"
        counts = {c: text.count(c) for c in skipped}
        parts.append(f"Skipped {n_skipped} character{s} outside the vocabulary: {_code(skipped, counts)}.")
    if n_cut:
        parts.append(
            f"The text is longer than the model's window of {block_size} characters: it reads only the last "
            f"{block_size}, the ones shown below."
        )
    if not parts:
        parts.append("Every character is in the model's vocabulary.")
    return "<br>".join(parts)


def image_columns(a: np.ndarray, x: float, y: float) -> dict:
    """The columns of an :func:`image_source` showing matrix ``a`` with its lower-left corner at (x, y), one unit
    per cell; no image at all when ``a`` is empty. Twin of ``imageColumns``."""
    a = np.asarray(a)
    if a.size == 0:
        return {"image": [], "x": [], "y": [], "dw": [], "dh": []}
    return {"image": [a], "x": [x], "y": [y], "dw": [a.shape[1]], "dh": [a.shape[0]]}


def attention_columns(A: np.ndarray, line_min: float, color) -> dict:
    """What :func:`attention_views` shows for one head's ``A`` (T, T): ``cells`` (the heatmap, keys after the query
    NaN) and ``links`` (the weights >= ``line_min`` as lines, coloured ``color(i, j)`` for query i, key j), in the
    order of the page. Twin of ``attentionColumns``."""
    A = np.asarray(A, dtype=np.float64)
    T = A.shape[0]
    ii, jj = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    low = jj <= ii  # a query sees itself and the characters before it
    drawn = low & (A >= line_min)
    return {
        "cells": image_columns(np.where(low, A, np.nan), -0.5, 0.5 - T),
        "links": {
            "x0": jj[drawn],
            "x1": ii[drawn],
            "weight": A[drawn],
            "color": [color(int(i), int(j)) for i, j in zip(ii[drawn], jj[drawn], strict=True)],
        },
    }


def attention_views(
    name: str, chars, cells, links, *, size: int = 360, title: str | None = None, heat_chars=None
):
    """One head's attention over a typed text, drawn twice: a heatmap (queries down, keys across, masked keys grey,
    hover for the weight; named ``<name>-attention``, its mapper ``<name>-attention-mapper``) and BertViz-style lines
    from each query at the top to the keys it reads at the bottom, darker for more weight (``<name>-lines``).

    Sources (a callback fills them, e.g. with ``attentionColumns``): ``chars`` (x, y, char: the labels), ``cells``
    (an :func:`image_source`), ``links`` (x0 key, x1 query, weight, color); ``heat_chars``, if given, the heatmap's
    own labels (a callback may leave it empty where the heatmap's columns are too narrow to read them), else
    ``chars``. Returns ``(heat, lines)``; a callback sets their x/y ranges to the text's length."""
    check_name(name)
    heat_chars = chars if heat_chars is None else heat_chars
    heat = diagram_figure(
        name=f"{name}-attention",
        width=size,
        height=size,
        x_range=Range1d(-1.6, 7.5),
        y_range=Range1d(-7.5, 1.6),
        title=title or "Attention of one head (row: query; grey: masked)",
    )
    mapper = color_mapper(f"{name}-attention-mapper")
    heat.add_tools(hover(image_cells(heat, cells, mapper), ("weight", "@image{0.000}")))
    # the labels sit just outside the cells, a few pixels off their edges (x = -0.5 is the left edge, y = 0.5 the
    # top), in the band the ranges leave there, whatever the cells' size
    heat.text("x", 0.5, "char", source=heat_chars, text_align="center", text_font_size="8pt", y_offset=-2)
    heat.text(
        -0.5,
        "y",
        "char",
        source=heat_chars,
        text_align="center",
        text_baseline="middle",
        text_font_size="8pt",
        x_offset=-7,
    )
    lines = diagram_figure(
        name=f"{name}-lines",
        height=170,
        sizing_mode="stretch_width",
        x_range=Range1d(-0.5, 7.5),
        y_range=Range1d(-0.45, 1.45),
        title="The same weights as lines: queries (top) to keys (bottom)",
    )
    lines.segment("x1", 1, "x0", 0, source=links, line_color="color", line_alpha="weight", line_width=2)
    for y in (1.22, -0.22):
        lines.text(
            "x", y, "char", source=chars, text_align="center", text_baseline="middle", text_font_size="9pt"
        )
    return heat, lines


__all__ += ["shown_char", "text_notice", "image_columns", "attention_columns", "attention_views"]


# --- fitting the reader's screen ----------------------------------------------------------------------------
# A figure is designed for a column about 740 px wide; the book's column is 688 px on a laptop and 358 px on a
# phone. Every plot and caption shrinks to its column (never growing past its designed width), and rows of panels
# or controls wrap onto the next line when they no longer fit side by side.
WRAP = 0.75  # a panel in a row moves to the next line rather than shrink below this share of its width
SAVE_PREFIX = "attnbook-"  # a plot named "masks-attention" saves as attnbook-masks-attention.png
# tags a callback that only fits the figure to its column: it draws no data
LAYOUT_CALLBACK = "attnbook-layout"

# A table in a caption: cells closer together on a phone, and if it is still too wide, it scrolls in the caption.
_DIV_CSS = ":host { overflow-x: auto; } @media (max-width: 600px) { th, td { padding: 0 4px !important; } }"
# The toolbar shows over a top corner of the plot while the pointer is on it (after a tap, on a phone), with the
# Save button only: nothing on the page moves when it appears, it hides no more than its one button, and it stays
# above an in-plot legend. On the left in a box that scrolls sideways, where the right edge may be out of view.
# Hidden, it is transparent rather than invisible (BokehJS's autohide sets visibility: hidden, which takes the
# button out of the Tab order): Tab still reaches Save, which shows while it has the focus, and a tap on that
# corner of the plot goes to the plot, not to the unseen button.
_TOOLBAR_CSS = (
    ":host {{ background-color: transparent !important; z-index: 10; pointer-events: none;"
    " justify-content: {side} !important; }} :host > * {{ pointer-events: auto; }}"
    " :host(.bk-hidden) {{ visibility: visible !important; }}"
    " :host(.bk-hidden) > * {{ pointer-events: none !important; }}"
    " :host(.bk-hidden:focus-within) {{ opacity: 1 !important; }}"
)
_CORNERS = {"right": "flex-end", "left": "flex-start"}


def _wraps(box) -> None:
    box.styles = {**dict(box.styles), "flex-wrap": "wrap"}
    if box.sizing_mode is None:
        box.sizing_mode = "stretch_width"


def _fits(model, in_row: bool) -> None:
    """One plot, widget or caption: no wider than its column, never wider than designed."""
    from bokeh.models import Div, InlineStyleSheet, Plot

    width = model.width
    if isinstance(model, Plot):
        if model.sizing_mode is None:
            model.sizing_mode = "scale_width"
    elif isinstance(model, Div):
        if width is not None and model.sizing_mode is None:
            model.sizing_mode = "stretch_width"
        model.stylesheets = [*model.stylesheets, InlineStyleSheet(css=_DIV_CSS)]
        if model.height is not None:  # wrapped text needs more lines on a narrow column
            model.min_height, model.height = model.height, None
    else:  # a widget keeps its width, narrower only when its row is: BokehJS's own cap forgets the margins
        m = model.margin or 0  # a number, (vertical, horizontal) or (top, right, bottom, left)
        side = m[1] + m[-1] if isinstance(m, tuple) else 2 * m
        model.styles = {"max-width": f"calc(100% - {side}px)", **dict(model.styles)}
        return
    if width is not None:
        model.max_width = model.max_width or width
        if in_row and model.min_width is None:
            model.min_width = round(WRAP * width)


def exportable(plot, *, corner: str = "right") -> None:
    """Give ``plot`` a Save button that writes it as ``attnbook-<plot name>.png``, shown in the top ``corner`` of
    its frame while the pointer is on the plot, and leave the page's gestures to the page: no drag or wheel tool is
    active, so a finger swiping over the plot scrolls the page."""
    from bokeh.models import InlineStyleSheet, SaveTool

    from .._checks import check_choice

    check_name(plot.name)
    corner = check_choice("corner", corner, tuple(_CORNERS))
    filename = SAVE_PREFIX + plot.name
    if not any(isinstance(t, SaveTool) for t in plot.toolbar.tools):
        plot.add_tools(SaveTool(filename=filename))
    for tool in plot.toolbar.tools:
        if isinstance(tool, SaveTool):
            tool.filename = filename
        else:
            tool.visible = False  # hover, tap: they work without a button
    plot.toolbar_location, plot.toolbar_inner = "above", True
    plot.toolbar.autohide, plot.toolbar.logo = True, None
    plot.toolbar.active_drag = plot.toolbar.active_scroll = None
    plot.toolbar.stylesheets = [InlineStyleSheet(css=_TOOLBAR_CSS.format(side=_CORNERS[corner]))]


def fitted_title(plot, *, min_px: float = 9.0) -> None:
    """Let ``plot``'s title fit its frame on a narrow column: a callback (``js/fit_title.mjs``) shrinks the font,
    down to ``min_px``, whenever the plot's width or the title's text changes, and restores it when there is room."""
    from bokeh.models import Title

    title = plot.title
    if not isinstance(title, Title) or not title.text or not isinstance(title.text_font_size, str):
        return
    size = title.text_font_size.strip()
    units = {"px": 1.0, "pt": 4 / 3, "em": 16.0, "rem": 16.0}
    unit = next((u for u in units if size.endswith(u)), None)
    if unit is None:
        return  # a size given by a field: not ours to change
    size_px = float(size[: -len(unit)]) * units[unit]
    refit = js_callback("fit_title", plot=plot, size_px=size_px, min_px=min(min_px, size_px))
    refit.tags = [LAYOUT_CALLBACK]
    plot.js_on_change("inner_width", refit)
    title.js_on_change("text", refit)


def scroller(plot, *, least: int | None = None):
    """A plot too dense to shrink far (a diagram, a table drawn as text): it shrinks with its column down to
    ``least`` px (by default 4/5 of its width), and on a narrower column keeps that width and scrolls sideways
    inside its own box, like a wide table. Returns the box, named ``<plot name>-box``, to lay out in its place."""
    from bokeh.layouts import column

    check_name(plot.name)
    width = check_int("plot.width", plot.width, low=1)
    least = round(0.8 * width) if least is None else check_int("least", least, low=1, high=width)
    plot.sizing_mode, plot.max_width, plot.min_width = plot.sizing_mode or "scale_width", width, least
    return column(plot, name=f"{plot.name}-box", sizing_mode="stretch_width", styles={"overflow-x": "auto"})


def fit(layout):
    """Make a finished figure fit any column from a phone's to a laptop's, and make every plot exportable.

    Rows wrap onto the next line when their panels or controls no longer fit side by side. Plots keep their
    aspect ratio as they shrink (``scale_width``) unless built to keep their height (``stretch_width``: line and
    bar panels), never growing past their designed width; in a row, a plot moves to the next line rather than
    shrink below :data:`WRAP` of its width; a plot in a :func:`scroller` stops shrinking at its least width.
    Captions (Divs) reflow their text and grow downwards. Every plot gets a Save button (:func:`exportable`) and a
    title that shrinks to fit (:func:`fitted_title`). Returns ``layout``.
    """
    from bokeh.models import Column, LayoutDOM, Plot, Row

    if not isinstance(layout, LayoutDOM):
        raise TypeError(f"layout must be a Bokeh LayoutDOM, got {type(layout).__name__}")

    def walk(model, in_row: bool, scrolls: bool) -> None:
        if isinstance(model, (Row, Column)):
            if isinstance(model, Row):
                _wraps(model)
            elif model.sizing_mode is None:
                model.sizing_mode = "stretch_width"
            scrolls = scrolls or dict(model.styles).get("overflow-x") == "auto"
            for child in model.children:
                walk(child, isinstance(model, Row) and len(model.children) > 1, scrolls)
            return
        _fits(model, in_row)
        if isinstance(model, Plot):
            exportable(model, corner="left" if scrolls else "right")
            fitted_title(model)

    walk(layout, False, False)
    return layout


__all__ += ["exportable", "fitted_title", "scroller", "fit"]
