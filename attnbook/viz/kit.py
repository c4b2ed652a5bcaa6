"""The shared parts every figure layout is assembled from: token grids, line and bar panels, hover, controls,
canvas readouts and the play button. A part builds Bokeh models and names them; it never computes data.

Names: every model a part makes is named ``<name>-<role>`` from the figure's name, so the tests find it with
``Bokeh.documents[i].get_model_by_name``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bokeh.layouts import row
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    HoverTool,
    LinearColorMapper,
    Select,
    Slider,
    Toggle,
)
from bokeh.plotting import figure

from .._checks import check_int, check_tokens
from .core import NAN_COLOR, SEQUENTIAL, check_name, js_callback
from .heatmap import label_axes

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
    "empty_source",
    "matrix_panel",
    "outline",
    "text_input",
    "button",
    "spinner",
    "image_source",
    "image_cells",
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


def token_grid(
    source: ColumnDataSource,
    *,
    name: str,
    title: str,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    color_field: str,
    mapper: LinearColorMapper,
    width: int = 360,
    height: int = 340,
    margin_cols: float = 0.0,
    colorbar: bool = False,
):
    """A grid of cells coloured by ``color_field`` with token labels on both axes (queries down, keys across).

    ``margin_cols`` leaves room right of the grid for a readout column (see :func:`cell_text`).
    Returns ``(plot, cells renderer)``.
    """
    check_name(name)
    q_tokens = check_tokens("q_tokens", q_tokens)
    k_tokens = check_tokens("k_tokens", k_tokens)
    plot = figure(
        name=name,
        title=title,
        width=width,
        height=height,
        x_range=(-0.5, len(k_tokens) - 0.5 + margin_cols),
        y_range=(-len(q_tokens) + 0.5, 0.5),
        x_axis_location="above",
        tools="",
        toolbar_location=None,
    )
    cells = plot.rect(
        "x",
        "y",
        1,
        1,
        source=source,
        line_color="white",
        line_width=0.5,
        fill_color={"field": color_field, "transform": mapper},
    )
    label_axes(plot, q_tokens, k_tokens)
    plot.outline_line_color = None
    if colorbar:
        plot.add_layout(ColorBar(color_mapper=mapper, width=10, name=f"{name}-colorbar"), "right")
    return plot, cells


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
        name=name, title=title, width=width, height=height, tools="", toolbar_location=None, y_range=y_range
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
