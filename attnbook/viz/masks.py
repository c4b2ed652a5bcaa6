"""The masks figure: a mask type select and its sliders, the mask grid beside the attention it yields, and costs.

Global-local is Longformer's pattern (Beltagy et al. 2020). Every state the widgets can reach is computed here
with :mod:`attnbook.masks` and :func:`attnbook.attention.scaled_dot_product_attention`; the page only looks
values up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div, HoverTool, LinearColorMapper, Select, Slider
from bokeh.plotting import figure

from .._checks import as_float_array, check_choice, check_int, check_tokens
from ..attention import scaled_dot_product_attention
from ..masks import causal, count_allowed, global_local, local, padding
from .core import NAN_COLOR, SEQUENTIAL, float32, js_callback, on_document_ready
from .heatmap import label_axes

__all__ = ["MASK_TYPES", "PAD_TOKEN", "GLOBAL_MARK", "MaskState", "mask_states", "state_mask", "masks_figure"]

MASK_TYPES = ("none", "causal", "local", "global-local", "padding")
PAD_TOKEN = "<pad>"
GLOBAL_MARK = "★"  # prefixed to the labels of global tokens
# Colours of the mask grid: allowed by the pattern itself, allowed because a global token is involved.
_MASK_PALETTE = ("#6baed6", "#fd8d3c")


class MaskState(NamedTuple):
    """One reachable setting of the figure's widgets (parameters a type does not use are ``None``)."""

    kind: str  # one of MASK_TYPES
    window: int | None  # local and global-local
    n_global: int | None  # global-local
    length: int | None  # padding: valid tokens, the rest are <pad>

    @property
    def key(self) -> str:
        """The lookup key the page uses, e.g. ``"global-local:2:1"``."""
        parts = [self.kind] + [str(v) for v in (self.window, self.n_global, self.length) if v is not None]
        return ":".join(parts)


# What each type does, for the caption above the grids ({w}, {g}, {L} are filled in by the page).
_CAPTIONS = {
    "none": "<b>No mask</b>: every query sees every key, the full T × T square.",
    "causal": "<b>Causal</b>: query i sees keys j ≤ i, the lower triangle. Each token sees itself and the past, "
    "never the future, which is what a model that predicts the next token needs.",
    "local": "<b>Local</b>, w = {w}: query i sees keys with |i − j| ≤ w, a band of 2w + 1 = {band} diagonals "
    "around the main one. Moving the window slider in another mode switches to this one.",
    "global-local": "<b>Global-local</b> (Longformer), w = {w}, {g} global token(s) ★: the band, plus the global "
    "tokens, which see every key and are seen by every query (orange). Moving the global-token slider switches "
    "to this mode.",
    "padding": "<b>Padding</b>: the sentence has {L} real token(s); the other positions hold &lt;pad&gt;, hidden "
    "from every query. Moving the length slider switches to this mode.",
    "empty": " <b style='color:#b2182b'>No key is visible at all: every row sees nothing.</b> attnbook gives such "
    "rows all-zero weights (Σ 0.00) where a naive softmax gives NaN.",
}


def mask_states(T: int, max_global: int) -> list[MaskState]:
    """Every state the widgets reach for a sentence of ``T`` tokens.

    Windows run over ``0..T-2`` (``T-1`` would allow every pair, the same as no mask), global token counts
    over ``1..max_global`` and padding lengths over ``0..T``.
    """
    T = check_int("T", T, low=2)
    max_global = check_int("max_global", max_global, low=1, high=T - 1)
    states = [MaskState("none", None, None, None), MaskState("causal", None, None, None)]
    states += [MaskState("local", w, None, None) for w in range(T - 1)]
    states += [MaskState("global-local", w, g, None) for w in range(T - 1) for g in range(1, max_global + 1)]
    states += [MaskState("padding", None, None, n) for n in range(T + 1)]
    return states


def state_mask(state: MaskState, T: int) -> np.ndarray:
    """The boolean ``(T, T)`` mask of one state (True = may attend), from :mod:`attnbook.masks`."""
    if not isinstance(state, MaskState):
        raise TypeError(f"state must be a MaskState, got {type(state).__name__}")
    T = check_int("T", T, low=1)
    kind = check_choice("state.kind", state.kind, MASK_TYPES)
    if kind == "none":
        return np.ones((T, T), dtype=bool)
    if kind == "causal":
        return causal(T)
    if kind == "local":
        return local(T, state.window)
    if kind == "global-local":
        return global_local(T, state.window, state.n_global)
    return padding([state.length], T)[0]  # (T, T): one sentence of the batch


def _labels(tokens: tuple[str, ...], state: MaskState) -> list[str]:
    if state.kind == "padding":
        return [t if i < state.length else PAD_TOKEN for i, t in enumerate(tokens)]
    if state.kind == "global-local":
        return [f"{GLOBAL_MARK}{t}" if i < state.n_global else t for i, t in enumerate(tokens)]
    return list(tokens)


def masks_figure(
    tokens: Sequence[str],
    x,
    w_q,
    w_k,
    w_v,
    pad_vector,
    *,
    name: str = "masks",
    kind: str = "causal",
    window: int = 2,
    n_global: int = 1,
    length: int | None = None,
    max_global: int = 3,
):
    """Build the masks figure: type select, window / global-token / padding-length sliders, mask and attention.

    One attention head ``softmax(q kᵀ / √D, masked) v`` with ``q = x w_q`` and so on is evaluated for every
    reachable state. In padding mode the tokens from ``length`` on are replaced by ``<pad>`` (vector
    ``pad_vector``) and hidden from every query by :func:`attnbook.masks.padding`. Moving a slider that the
    current type does not use switches to the type it belongs to; a cost table of all five types is always
    visible.

    Parameters
    ----------
    tokens : sequence of str, length T (T >= 3)
    x : (T, C) token vectors
    w_q, w_k, w_v : (C, C) projections of one head (D = C)
    pad_vector : (C,) vector of the padding token
    name : str
        Prefix of every model's name.
    kind : str
        The type shown first, one of :data:`MASK_TYPES`.
    window, n_global, length : int
        Initial slider values: ``0 <= window <= T-2``, ``1 <= n_global <= max_global``, ``0 <= length <= T``
        (default ``T - 3``).
    max_global : int
        Largest number of global tokens offered, ``1 <= max_global <= T - 1``.
    """
    x = as_float_array("x", x, ndim=2)
    T, C = x.shape
    tokens = check_tokens("tokens", tokens, T)
    if T < 3:
        raise ValueError(f"x must have at least 3 rows (tokens) for the masks to differ, got T={T}")
    ws = {}
    for wname, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v)):
        w = as_float_array(wname, w, ndim=2)
        if w.shape != (C, C):
            raise ValueError(f"{wname} must have shape (C, C) = ({C}, {C}), got {w.shape}")
        ws[wname] = w.astype(x.dtype, copy=False)
    pad_vector = as_float_array("pad_vector", pad_vector, ndim=1)
    if pad_vector.shape != (C,):
        raise ValueError(f"pad_vector must have shape (C,) = ({C},), got {pad_vector.shape}")
    kind = check_choice("kind", kind, MASK_TYPES)
    max_global = check_int("max_global", max_global, low=1, high=T - 1)
    window = check_int("window", window, low=0, high=T - 2)
    n_global = check_int("n_global", n_global, low=1, high=max_global)
    length = T - 3 if length is None else check_int("length", length, low=0, high=T)

    states = mask_states(T, max_global)
    S = len(states)
    codes = np.zeros((S, T, T), np.uint8)  # 0 masked, 1 allowed, 2 allowed because of a global token
    weights = np.zeros((S, T, T), np.float32)
    scores = np.zeros((S, T, T), np.float32)
    row_sums = np.zeros((S, T), np.float32)
    row_counts = np.zeros((S, T), np.int32)  # allowed keys per query
    labels, counts = [], []
    for s, state in enumerate(states):
        mask = state_mask(state, T)
        xs = x.copy()
        if state.kind == "padding":
            xs[state.length :] = pad_vector  # the padded tail of the sentence
        q, k, v = xs @ ws["w_q"], xs @ ws["w_k"], xs @ ws["w_v"]  # (T, C) each, one head with D = C
        _, wts = scaled_dot_product_attention(q, k, v, mask=mask)  # (T, T)
        scaled = (q @ k.T) / np.sqrt(C)  # (T, T), the scores the softmax saw, shown on hover
        codes[s] = mask
        if state.kind == "global-local":
            codes[s][mask & ~local(T, state.window)] = 2
        weights[s] = float32("weights", wts)
        scores[s] = float32("scores", np.where(mask, scaled, -np.inf))
        row_sums[s] = float32("row_sums", wts.sum(axis=-1))
        row_counts[s] = mask.sum(axis=-1)
        labels.append(_labels(tokens, state))
        counts.append(count_allowed(mask))
    index = {st.key: i for i, st in enumerate(states)}

    ii, jj = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    n = T * T
    cells = ColumnDataSource(
        dict(
            x=jj.ravel().astype(np.float32),
            y=-ii.ravel().astype(np.float32),
            q_token=[""] * n,
            k_token=[""] * n,
            allowed=[""] * n,
            score=[""] * n,
            weight=np.zeros(n, np.float32),
            mask_color=np.zeros(n, np.float32),
            weight_color=np.zeros(n, np.float32),
        ),
        name=f"{name}-cells",
    )
    rows = ColumnDataSource(
        dict(
            x=np.full(T, T - 0.2, np.float32),
            y=-np.arange(T, dtype=np.float32),
            n_keys=[""] * T,
            row_sum=[""] * T,
            color=["#333333"] * T,
        ),
        name=f"{name}-rows",
    )

    def grid(role: str, title: str, color_field: str, mapper, tooltips):
        plot = figure(
            name=f"{name}-{role}",
            title=title,
            width=365,
            height=350,
            x_range=(-0.5, T + 1.4),
            y_range=(-T + 0.5, 0.5),
            x_axis_location="above",
            tools="",
            toolbar_location=None,
        )
        cells_r = plot.rect(
            "x",
            "y",
            1,
            1,
            source=cells,
            line_color="white",
            line_width=0.5,
            fill_color={"field": color_field, "transform": mapper},
        )
        plot.add_tools(HoverTool(renderers=[cells_r], tooltips=tooltips))
        label_axes(plot, tokens, tokens)
        plot.outline_line_color = None
        return plot

    mask_mapper = LinearColorMapper(
        palette=list(_MASK_PALETTE), low=0.5, high=2.5, nan_color=NAN_COLOR, name=f"{name}-mask-mapper"
    )
    weight_mapper = LinearColorMapper(
        palette=list(SEQUENTIAL), low=0.0, high=1.0, nan_color=NAN_COLOR, name=f"{name}-attention-mapper"
    )
    mask_plot = grid(
        "mask",
        "Mask (blue, orange: may attend; grey: hidden)",
        "mask_color",
        mask_mapper,
        [("query", "@q_token"), ("key", "@k_token"), ("", "@allowed")],
    )
    mask_plot.text(
        "x",
        "y",
        text="n_keys",
        source=rows,
        text_align="left",
        text_baseline="middle",
        text_font_size="8pt",
        text_color="color",
    )
    att_plot = grid(
        "attention",
        "Attention weights (one head)",
        "weight_color",
        weight_mapper,
        [("query", "@q_token"), ("key", "@k_token"), ("score", "@score"), ("weight", "@weight{0.000}")],
    )
    att_plot.text(
        "x",
        "y",
        text="row_sum",
        source=rows,
        text_align="left",
        text_baseline="middle",
        text_font_size="8pt",
        text_color="color",
    )

    type_select = Select(title="Mask", value=kind, options=list(MASK_TYPES), name=f"{name}-type", width=130)
    window_slider = Slider(
        start=0,
        end=T - 2,
        value=window,
        step=1,
        title="Window w (local, global-local)",
        name=f"{name}-window",
        width=195,
    )
    global_slider = Slider(
        start=1,
        end=max_global,
        value=n_global,
        step=1,
        title="Global tokens (global-local)",
        name=f"{name}-global",
        width=185,
    )
    length_slider = Slider(
        start=0,
        end=T,
        value=length,
        step=1,
        title="Sentence length (padding)",
        name=f"{name}-length",
        width=185,
    )
    caption = Div(text="", name=f"{name}-caption", width=740)
    cost = Div(text="", name=f"{name}-cost", width=740)

    update = js_callback(
        "masks_update",
        type_select=type_select,
        window_slider=window_slider,
        global_slider=global_slider,
        length_slider=length_slider,
        cells=cells,
        rows=rows,
        axes=[mask_plot.xaxis[0], mask_plot.yaxis[0], att_plot.xaxis[0], att_plot.yaxis[0]],
        caption=caption,
        cost=cost,
        index=index,
        codes=codes,
        weights=weights,
        scores=scores,
        row_sums=row_sums,
        row_counts=row_counts,
        labels=labels,
        counts=counts,
        empty_rows=[int(e) for e in (row_counts == 0).sum(axis=1)],
        captions=_CAPTIONS,
        T=T,
    )
    type_select.js_on_change("value", update)
    for slider in (window_slider, global_slider, length_slider):
        slider.js_on_change("value", update)
    controls = row(type_select, window_slider, global_slider, length_slider, name=f"{name}-controls")
    layout = column(controls, caption, row(mask_plot, att_plot, name=f"{name}-plots"), cost, name=name)
    return on_document_ready(layout, update)
