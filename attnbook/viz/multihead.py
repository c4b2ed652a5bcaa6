"""The multi-head attention figures (Vaswani et al. 2017): the split of d_model into heads, and the heads at work.

:func:`head_split_figure` animates the reshape ``(T, C) -> (T, H, D) -> (H, T, D)``; :func:`multihead_figure`
shows every head's attention, their mean, and the concatenation and output projection, for each head count
and for random or trained weights. Every state is computed here in NumPy; the page only looks values up and
lays the panels out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    Div,
    HoverTool,
    LinearColorMapper,
    RadioButtonGroup,
    Select,
    Slider,
    Toggle,
)
from bokeh.palettes import Category10, Category20b
from bokeh.plotting import figure

from .._checks import as_float_array, as_int_array, check_int, check_tokens
from ..analysis import attention_entropy
from ..attention import AttentionSteps
from .core import DIVERGING, NAN_COLOR, SEQUENTIAL, diagram_figure, float32, js_callback, on_document_ready
from .heatmap import label_axes

__all__ = [
    "HEAD_COLORS",
    "HeadsView",
    "divisors",
    "grid_shape",
    "head_split_figure",
    "heads_view",
    "model_heads_view",
    "multihead_figure",
]

# One colour per head, dark enough to be read as text on white.
HEAD_COLORS = (*Category10[10], *Category20b[20][0::4], "#31a354")
_GRID_WIDTH, _GRID_HEIGHT = 740, 500  # the per-head grid's largest size, in pixels (also its data units)
_TITLE, _GAP = 16, 14  # pixels above each panel for its title, and between panels


class HeadsView(NamedTuple):
    """What the multi-head figure shows for one head count: each head's weights, the concatenation, the output."""

    weights: np.ndarray  # (H, T, T) attention weights of each head
    concat: np.ndarray  # (T, C) the heads' outputs side by side
    out: np.ndarray  # (T, C) concat @ W_O (+ bias)


def divisors(n: int, high: int = 16) -> tuple[int, ...]:
    """The head counts a model of width ``n`` allows: every divisor of ``n`` from 1 to ``high``."""
    n = check_int("n", n, low=1)
    high = check_int("high", high, low=1)
    return tuple(h for h in range(1, min(n, high) + 1) if n % h == 0)


def grid_shape(n_head: int, width: int = _GRID_WIDTH, height: int = _GRID_HEIGHT) -> tuple[int, int, float]:
    """Columns, rows and panel size (pixels) of the grid that gives ``n_head`` square panels the most room.

    Panels are square, ``_GAP`` pixels apart, each with ``_TITLE`` pixels above it for its title.
    """
    n_head = check_int("n_head", n_head, low=1)
    width = check_int("width", width, low=1)
    height = check_int("height", height, low=1)
    best = None
    for ncols in range(1, n_head + 1):
        nrows = math.ceil(n_head / ncols)
        size = min(
            (width - _GAP * (ncols - 1)) / ncols, (height - nrows * _TITLE - _GAP * (nrows - 1)) / nrows
        )
        if best is None or size > best[2]:
            best = (ncols, nrows, float(size))
    return best


def heads_view(steps: AttentionSteps) -> HeadsView:
    """The :class:`HeadsView` of one :func:`attnbook.attention.attention_steps` result (single sequence)."""
    if not isinstance(steps, AttentionSteps):
        raise TypeError(f"steps must be an AttentionSteps, got {type(steps).__name__}")
    if steps.weights.ndim != 3:
        raise ValueError(
            f"steps must be of one sequence (weights (H, T, T)), got weights {steps.weights.shape}"
        )
    return HeadsView(steps.weights, steps.concat, steps.out)


def model_heads_view(params: Mapping[str, np.ndarray], cfg, token_ids, layer: int = 0) -> HeadsView:
    """The :class:`HeadsView` of one attention layer of the GPT in :mod:`attnbook.model`, for one sequence.

    Parameters
    ----------
    params : dict of str to ndarray
        The model's parameters.
    cfg : attnbook.config.ModelConfig
    token_ids : (T,) int array
    layer : int
        Which block's attention, ``0 <= layer < cfg.n_layer``.
    """
    from .. import model as _model
    from ..config import ModelConfig

    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    token_ids = as_int_array("token_ids", token_ids, ndim=1, low=0, high=cfg.vocab_size)
    layer = check_int("layer", layer, low=0, high=cfg.n_layer - 1)
    _, cache = _model.forward(dict(params), token_ids[None, :], cfg)
    att = cache.blocks[layer].attn.f  # the layer's AttentionCache
    concat = att.y  # (T, C): B = 1, heads side by side
    out = concat @ att.w_o  # (T, C)
    b_o = params.get(f"blocks.{layer}.attn.b_o")
    if b_o is not None:
        out = out + b_o
    return HeadsView(att.att[0], concat, out)


def _check_head_counts(head_counts, C: int) -> tuple[int, ...]:
    if isinstance(head_counts, (str, bytes)) or not isinstance(head_counts, Sequence) or not head_counts:
        raise TypeError("head_counts must be a non-empty sequence of int")
    counts = tuple(check_int("head_counts[i]", h, low=1, high=len(HEAD_COLORS)) for h in head_counts)
    bad = [h for h in counts if C % h]
    if bad:
        raise ValueError(f"head_counts must divide d_model = {C}; these do not: {bad}")
    if list(counts) != sorted(set(counts)):
        raise ValueError(f"head_counts must be strictly increasing, got {counts}")
    return counts


def head_split_figure(
    tokens: Sequence[str],
    q,
    head_counts: Sequence[int],
    *,
    name: str = "split",
    n_head: int | None = None,
    frames: int = 12,
):
    """Build the animated reshape of Q: ``(T, C)`` columns coloured by head, to ``(T, H, D)``, to ``(H, T, D)``.

    Parameters
    ----------
    tokens : sequence of str, length T
    q : (T, C) queries before the split (the same for every head count: only the grouping changes)
    head_counts : increasing sequence of int
        The head counts offered; each divides C (at most 20).
    name : str
        Prefix of every model's name.
    n_head : int, optional
        The head count shown first (default: the second smallest offered).
    frames : int
        Steps of the progress slider from ``(T, C)`` to ``(H, T, D)``, even, ``>= 2``.
    """
    q = as_float_array("q", q, ndim=2)
    T, C = q.shape
    tokens = check_tokens("tokens", tokens, T)
    counts = _check_head_counts(head_counts, C)
    n_head = counts[min(1, len(counts) - 1)] if n_head is None else check_int("n_head", n_head)
    if n_head not in counts:
        raise ValueError(f"n_head must be one of head_counts {counts}, got {n_head}")
    frames = check_int("frames", frames, low=2)
    if frames % 2:
        raise ValueError(f"frames must be even (half for the reshape, half for the transpose), got {frames}")

    n = T * C
    cells = ColumnDataSource(
        dict(
            x=np.zeros(n, np.float32),
            y=np.zeros(n, np.float32),
            color=["#ffffff"] * n,
            token=[""] * n,
            column=[""] * n,
            head=[""] * n,
            value=np.zeros(n, np.float32),
        ),
        name=f"{name}-cells",
    )
    heads = ColumnDataSource(dict(x=[], y=[], text=[], color=[]), name=f"{name}-head-labels")
    depth = 0.5 * (max(counts) - 1)  # how far the stack of (T, D) sheets reaches up and to the right
    width = C + 0.6 * (max(counts) - 1)
    plot = diagram_figure(
        name=f"{name}-plot",
        width=440,
        height=470,
        x_range=(-2.6, width + 0.6),
        y_range=(-T - 1.0, depth + 1.6),
    )
    rects = plot.rect(
        "x", "y", 0.94, 0.94, source=cells, fill_color="color", line_color="white", line_width=0.6
    )
    plot.text(
        "x",
        "y",
        text="text",
        source=heads,
        text_color="color",
        text_align="center",
        text_baseline="bottom",
        text_font_size="9pt",
        text_font_style="bold",
    )
    token_labels = ColumnDataSource(
        dict(x=np.full(T, -0.7, np.float32), y=-np.arange(T, dtype=np.float32), text=list(tokens)),
        name=f"{name}-tokens",
    )
    plot.text(
        "x",
        "y",
        text="text",
        source=token_labels,
        text_align="right",
        text_baseline="middle",
        text_font_size="8pt",
        text_color="#333333",
    )
    plot.add_tools(
        HoverTool(
            renderers=[rects],
            tooltips=[
                ("token (row)", "@token"),
                ("column of Q", "@column"),
                ("head", "@head"),
                ("value", "@value{0.000}"),
            ],
        )
    )

    select = Select(
        title="Heads H", value=str(n_head), options=[str(h) for h in counts], name=f"{name}-heads", width=90
    )
    progress = Slider(
        start=0, end=frames, value=0, step=1, title="Reshape", name=f"{name}-progress", width=220
    )
    play = Toggle(label="▶ Play", active=False, name=f"{name}-play", width=80, align="end")
    caption = Div(text="", name=f"{name}-caption", width=740, height=60)
    update = js_callback(
        "multihead_split",
        select=select,
        progress=progress,
        cells=cells,
        heads=heads,
        caption=caption,
        tokens=list(tokens),
        q=float32("q", q).ravel(),
        colors=list(HEAD_COLORS),
        frames=frames,
    )
    select.js_on_change("value", update)
    progress.js_on_change("value", update)
    play.js_on_change("active", js_callback("play", toggle=play, slider=progress, interval_ms=350))
    controls = row(select, progress, play, name=f"{name}-controls")
    layout = column(controls, caption, plot, name=name)
    return on_document_ready(layout, update)


def multihead_figure(
    tokens: Sequence[str],
    views: Mapping[str, Mapping[int, HeadsView]],
    *,
    mask=None,
    name: str = "multihead",
    n_head: int | None = None,
    mode: str | None = None,
):
    """Build the multi-head figure: a grid of per-head heatmaps, their mean, and concat → W_O → out.

    Parameters
    ----------
    tokens : sequence of str, length T
    views : mapping of mode label to {head count: HeadsView}
        E.g. ``{"random weights": {1: ..., 2: ...}, "trained model": {...}}``; every mode has the same head
        counts, each dividing C. With more than one mode a button group switches between them.
    mask : (T, T) bool array, optional
        Cells where it is False (hidden keys) are drawn grey.
    name : str
        Prefix of every model's name.
    n_head : int, optional
        Head count shown first (default: the second smallest).
    mode : str, optional
        Mode shown first (default: the last).
    """
    if not isinstance(views, Mapping) or not views:
        raise TypeError("views must be a non-empty mapping of mode label to {head count: HeadsView}")
    modes = list(views)
    if not all(isinstance(m, str) for m in modes):
        raise TypeError("views must be keyed by str mode labels")
    first = views[modes[0]]
    if not isinstance(first, Mapping) or not first:
        raise TypeError(f"views[{modes[0]!r}] must be a non-empty mapping of head count to HeadsView")
    counts = tuple(sorted(first))
    some = first[counts[0]]
    if not isinstance(some, HeadsView):
        raise TypeError(f"views[{modes[0]!r}][{counts[0]}] must be a HeadsView, got {type(some).__name__}")
    T, C = np.shape(some.concat)
    tokens = check_tokens("tokens", tokens, T)
    counts = _check_head_counts(counts, C)
    if mask is None:
        mask = np.ones((T, T), bool)
    elif not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (T, T):
        raise ValueError(f"mask must be a NumPy bool array of shape (T, T) = ({T}, {T})")
    n_head = counts[min(1, len(counts) - 1)] if n_head is None else check_int("n_head", n_head)
    if n_head not in counts:
        raise ValueError(f"n_head must be one of the head counts {counts}, got {n_head}")
    mode = modes[-1] if mode is None else mode
    if mode not in modes:
        raise ValueError(f"mode must be one of {modes}, got {mode!r}")

    # payload[m][c]: the arrays of mode m and head count counts[c], float32.
    weights, means, concats, outs, entropies = [], [], [], [], []
    for m in modes:
        if not isinstance(views[m], Mapping) or tuple(sorted(views[m])) != counts:
            raise ValueError(f"views[{m!r}] must have the head counts {counts}")
        w_m, mean_m, c_m, o_m, e_m = [], [], [], [], []
        for H in counts:
            v = views[m][H]
            if not isinstance(v, HeadsView):
                raise TypeError(f"views[{m!r}][{H}] must be a HeadsView, got {type(v).__name__}")
            w = as_float_array(f"views[{m!r}][{H}].weights", v.weights, ndim=3)
            if w.shape != (H, T, T):
                raise ValueError(
                    f"views[{m!r}][{H}].weights must have shape (H, T, T) = {(H, T, T)}, got {w.shape}"
                )
            for field in ("concat", "out"):
                a = as_float_array(f"views[{m!r}][{H}].{field}", getattr(v, field), ndim=2)
                if a.shape != (T, C):
                    raise ValueError(
                        f"views[{m!r}][{H}].{field} must have shape (T, C) = {(T, C)}, got {a.shape}"
                    )
            # Flat arrays: a 2-D array in a data source would count as T rows of arrays, not T·T cells.
            w_m.append(float32("weights", w).ravel())  # (H·T·T,)
            mean_m.append(float32("mean", w.mean(axis=0)).ravel())  # (T·T,) the mean-over-heads view
            c_m.append(float32("concat", v.concat).ravel())  # (T·C,)
            o_m.append(float32("out", v.out).ravel())  # (T·C,)
            e_m.append([float(e) for e in attention_entropy(w).mean(axis=-1)])  # (H,) mean row entropy, nats
        weights.append(w_m)
        means.append(mean_m)
        concats.append(c_m)
        outs.append(o_m)
        entropies.append(e_m)

    grid_cells = ColumnDataSource(
        dict(x=[], y=[], size=[], color=[], weight=[], q_token=[], k_token=[], head=[]), name=f"{name}-cells"
    )
    grid_titles = ColumnDataSource(dict(x=[], y=[], text=[], color=[]), name=f"{name}-titles")
    # One fixed height, the tallest any head count needs: resizing a plot re-lays out the whole page, which
    # costs more than the rest of the callback. Shorter grids are centred in it by the callback.
    height0 = max(math.ceil(r * (p + _TITLE) + (r - 1) * _GAP) for _, r, p in map(grid_shape, counts))
    grid = diagram_figure(
        name=f"{name}-grid",
        width=_GRID_WIDTH,
        height=height0,
        x_range=(0, _GRID_WIDTH),
        y_range=(-height0, 0),
        min_border=0,
    )
    weight_mapper = LinearColorMapper(
        palette=list(SEQUENTIAL), low=0.0, high=1.0, nan_color=NAN_COLOR, name=f"{name}-mapper"
    )
    grid_rects = grid.rect(
        "x",
        "y",
        "size",
        "size",
        source=grid_cells,
        line_color=None,
        fill_color={"field": "color", "transform": weight_mapper},
    )
    grid.text(
        "x",
        "y",
        text="text",
        source=grid_titles,
        text_color="color",
        text_align="left",
        text_baseline="bottom",
        text_font_size="9pt",
        text_font_style="bold",
    )
    grid.add_tools(
        HoverTool(
            renderers=[grid_rects],
            tooltips=[
                ("head", "@head"),
                ("query", "@q_token"),
                ("key", "@k_token"),
                ("weight", "@weight{0.000}"),
            ],
        )
    )

    ii, jj = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    mean_source = ColumnDataSource(
        dict(
            x=jj.ravel().astype(np.float32),
            y=-ii.ravel().astype(np.float32),
            q_token=[tokens[i] for i in ii.ravel()],
            k_token=[tokens[j] for j in jj.ravel()],
            weight=np.zeros(T * T, np.float32),
            color=np.zeros(T * T, np.float32),
        ),
        name=f"{name}-mean-source",
    )
    mean_plot = figure(
        name=f"{name}-mean",
        title="Mean over heads",
        width=330,
        height=330,
        x_range=(-0.5, T - 0.5),
        y_range=(-T + 0.5, 0.5),
        x_axis_location="above",
        tools="",
        toolbar_location=None,
    )
    mean_rects = mean_plot.rect(
        "x",
        "y",
        1,
        1,
        source=mean_source,
        line_color="white",
        line_width=0.3,
        fill_color={"field": "color", "transform": weight_mapper},
    )
    mean_plot.add_tools(
        HoverTool(
            renderers=[mean_rects],
            tooltips=[
                ("query", "@q_token"),
                ("key", "@k_token"),
                ("mean weight", "@weight{0.000}"),
            ],
        )
    )
    label_axes(mean_plot, tokens, tokens)
    mean_plot.xaxis.major_label_orientation = 0.0

    # concat (T, C) | out (T, C), side by side, gap of 2 columns
    pj = np.concatenate([np.arange(C), C + 2 + np.arange(C)])
    pi, pjj = np.meshgrid(np.arange(T), pj, indexing="ij")
    proj_source = ColumnDataSource(
        dict(
            x=pjj.ravel().astype(np.float32),
            y=-pi.ravel().astype(np.float32),
            token=[tokens[i] for i in pi.ravel()],
            column=[f"c{j if j < C else j - C - 2}" for j in pjj.ravel()],
            panel=["concat" if j < C else "out" for j in pjj.ravel()],
            value=np.zeros(pi.size, np.float32),
            color=np.zeros(pi.size, np.float32),
        ),
        name=f"{name}-proj-source",
    )
    proj_lines = ColumnDataSource(dict(x0=[], y0=[], x1=[], y1=[], color=[]), name=f"{name}-proj-lines")
    proj_labels = ColumnDataSource(
        dict(
            x=[C / 2 - 0.5, C + 0.5, C + 2 + C / 2 - 0.5],
            y=[1.25, -T / 2 + 0.5, 1.25],
            text=[f"concat (T, C) = ({T}, {C})", "× W_O", f"out (T, C) = ({T}, {C})"],
        ),
        name=f"{name}-proj-labels",
    )
    proj = diagram_figure(
        name=f"{name}-proj",
        title="Heads side by side, then the output projection",
        width=400,
        height=330,
        x_range=(-0.7, 2 * C + 1.7),
        y_range=(-T + 0.3, 1.9),
    )
    signed_mapper = LinearColorMapper(
        palette=list(DIVERGING), low=-1.0, high=1.0, name=f"{name}-signed-mapper"
    )
    proj_rects = proj.rect(
        "x",
        "y",
        0.95,
        0.95,
        source=proj_source,
        line_color=None,
        fill_color={"field": "color", "transform": signed_mapper},
    )
    proj.segment("x0", "y0", "x1", "y1", source=proj_lines, line_color="color", line_width=3)
    proj.text(
        "x",
        "y",
        text="text",
        source=proj_labels,
        text_align="center",
        text_baseline="middle",
        text_font_size="8pt",
        text_color="#333333",
    )
    proj.add_tools(
        HoverTool(
            renderers=[proj_rects],
            tooltips=[
                ("", "@panel"),
                ("token (row)", "@token"),
                ("column", "@column"),
                ("value", "@value{0.000}"),
            ],
        )
    )

    select = Select(
        title="Heads H", value=str(n_head), options=[str(h) for h in counts], name=f"{name}-heads", width=90
    )
    caption = Div(text="", name=f"{name}-caption", width=600)
    widgets = [select]
    mode_group = None
    if len(modes) > 1:
        mode_group = RadioButtonGroup(
            labels=modes, active=modes.index(mode), name=f"{name}-weights", align="end"
        )
        widgets.append(mode_group)
    update = js_callback(
        "multihead_grid",
        select=select,
        mode_group=mode_group,
        grid_cells=grid_cells,
        grid_titles=grid_titles,
        mean_source=mean_source,
        proj_source=proj_source,
        proj_lines=proj_lines,
        caption=caption,
        counts=list(counts),
        modes=modes,
        mode_index=modes.index(mode),
        tokens=list(tokens),
        mask=mask.astype(np.uint8).ravel(),
        weights=weights,
        means=means,
        concats=concats,
        outs=outs,
        entropies=entropies,
        colors=list(HEAD_COLORS),
        grid_shapes=[list(grid_shape(h)) for h in counts],
        T=int(T),
        C=int(C),
        width=_GRID_WIDTH,
        title_px=_TITLE,
        gap_px=_GAP,
        grid=grid,
    )
    select.js_on_change("value", update)
    if mode_group is not None:
        mode_group.js_on_change("active", update)
    layout = column(
        row(*widgets, name=f"{name}-controls"),
        caption,
        grid,
        row(mean_plot, proj, name=f"{name}-lower"),
        name=name,
    )
    return on_document_ready(layout, update)
