"""The step-by-step figure of scaled dot-product attention: nine steps, every matrix with its shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    Div,
    HoverTool,
    LinearColorMapper,
    Slider,
    Toggle,
)

from .._checks import as_float_array, as_int_array, check_int, check_tokens
from ..attention import attention_steps
from ..masks import causal as causal_mask
from .core import (
    DIVERGING,
    NAN_COLOR,
    check_name,
    diagram_figure,
    float32,
    js_callback,
    numbered_select,
    on_document_ready,
)
from .heatmap import attention_heatmap

__all__ = ["STEP_TITLES", "TEMPERATURES", "StepPanel", "step_panels", "attention_steps_figure"]

STEP_TITLES = (
    "1. Tokens",
    "2. Embeddings",
    "3. Projections Q, K, V",
    "4. Scores QKᵀ",
    "5. Scaling by √D",
    "6. Mask",
    "7. Softmax",
    "8. Weights × V",
    "9. Concatenate heads, output projection",
)
# The temperature slider's stops. Every stop is precomputed by NumPy; the page only looks values up.
TEMPERATURES = tuple(float(t) for t in np.round(np.arange(0.25, 3.01, 0.25), 2))
_GAP = 1.5  # empty columns between two panels of one step


class StepPanel(NamedTuple):
    """One matrix shown at one step: its title, row/column labels and kind (how it is coloured)."""

    title: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    kind: str  # "signed" (blue-red, scaled by the panel's max |value|), "weights" (0..1), "ids" (uncoloured)


def step_panels(tokens: Sequence[str], d_model: int, n_head: int) -> list[list[StepPanel]]:
    """The panels of the nine steps, labelled with shapes, for a sentence of ``len(tokens)`` tokens."""
    toks = check_tokens("tokens", tokens)
    if not toks:
        raise ValueError("tokens must hold at least one token")
    C = check_int("d_model", d_model, low=1)
    n_head = check_int("n_head", n_head, low=1)
    if C % n_head:
        raise ValueError(f"n_head must divide d_model = {C}, got {n_head}")
    T, D = len(toks), C // n_head
    dims_c = tuple(f"c{j}" for j in range(C))
    dims_d = tuple(f"d{j}" for j in range(D))
    return [
        [StepPanel(f"token ids (T={T}, 1)", toks, ("id",), "ids")],
        [StepPanel(f"X (T={T}, C={C})", toks, dims_c, "signed")],
        [StepPanel(f"{m} = X W_{m}  (T={T}, D={D})", toks, dims_d, "signed") for m in "QKV"],
        [StepPanel(f"Q Kᵀ (T={T}, T={T})", toks, toks, "signed")],
        [StepPanel(f"Q Kᵀ / (√D · τ)  (T={T}, T={T})", toks, toks, "signed")],
        [StepPanel(f"masked (T={T}, T={T})", toks, toks, "signed")],
        [StepPanel(f"A = softmax (T={T}, T={T})", toks, toks, "weights")],
        [
            StepPanel(f"A (T={T}, T={T})", toks, toks, "weights"),
            StepPanel(f"V (T={T}, D={D})", toks, dims_d, "signed"),
            StepPanel(f"A V (T={T}, D={D})", toks, dims_d, "signed"),
        ],
        [
            StepPanel(f"concat heads (T={T}, C={C})", toks, dims_c, "signed"),
            StepPanel(f"out = concat W_O (T={T}, C={C})", toks, dims_c, "signed"),
        ],
    ]


def _step_values(token_ids: np.ndarray, s, head: int) -> list[list[np.ndarray]]:
    """The matrices of each step's panels for one head of one precomputed ``AttentionSteps``."""
    h = head
    return [
        [token_ids[:, None].astype(np.float64)],
        [s.x],
        [s.q[h], s.k[h], s.v[h]],
        [s.scores[h]],
        [s.scaled[h]],
        [s.masked[h]],
        [s.weights[h]],
        [s.weights[h], s.v[h], s.weighted[h]],
        [s.concat, s.out],
    ]


def _geometry(panels: list[StepPanel]) -> tuple[dict, dict]:
    """Cell centres of a step's panels laid side by side, and the header labels around them."""
    xs, ys, rows, cols, pidx = [], [], [], [], []
    lx, ly, ltext, lalign = [], [], [], []
    x0 = 0.0
    for p, panel in enumerate(panels):
        n_cols = len(panel.cols)
        for i, r in enumerate(panel.rows):
            for j, c in enumerate(panel.cols):
                xs.append(x0 + j + 0.5)
                ys.append(-(i + 0.5))
                rows.append(r)
                cols.append(c)
                pidx.append(p)
        lx.append(x0 + n_cols / 2)
        ly.append(1.1)
        ltext.append(panel.title)
        lalign.append("center")
        for j, c in enumerate(panel.cols):
            lx.append(x0 + j + 0.5)
            ly.append(0.25)
            ltext.append(c)
            lalign.append("center")
        if p == 0:
            for i, r in enumerate(panel.rows):
                lx.append(-0.15)
                ly.append(-(i + 0.5))
                ltext.append(r)
                lalign.append("right")
        x0 += n_cols + _GAP
    cells = dict(
        x=np.array(xs, np.float32),
        y=np.array(ys, np.float32),
        row=rows,
        col=cols,
        panel=np.array(pidx, np.int32),
    )
    labels = dict(x=np.array(lx, np.float32), y=np.array(ly, np.float32), text=ltext, align=lalign)
    return cells, labels


def attention_steps_figure(
    tokens: Sequence[str],
    token_ids,
    x,
    w_q,
    w_k,
    w_v,
    w_o,
    n_head: int,
    *,
    name: str = "steps",
    step: int = 1,
) -> object:
    """Build the nine-step attention figure with step slider, play button, temperature, causal toggle, head select.

    Every reachable state (each temperature stop × causal on/off × head) is computed here by
    :func:`attnbook.attention.attention_steps` and shipped as float32; the page's callbacks only pick values.

    Parameters
    ----------
    tokens : sequence of str, length T
    token_ids : (T,) int array
    x : (T, C) token vectors
    w_q, w_k, w_v, w_o : (C, C) projection matrices
    n_head : int, divides C
    name : str
        Prefix of every model's name (``<name>-step``, ``<name>-cells``...), for tests.
    step : int
        The step (1..9) shown first.
    """
    check_name(name)
    x = as_float_array("x", x, ndim=2)
    T, C = x.shape
    if T < 1:
        raise ValueError("x must have at least one row (token)")
    tokens = check_tokens("tokens", tokens, T)
    token_ids = as_int_array("token_ids", token_ids, ndim=1, low=0)
    if token_ids.shape != (T,):
        raise ValueError(f"token_ids must have shape (T,) = ({T},), got {token_ids.shape}")
    step = check_int("step", step, low=1, high=len(STEP_TITLES))

    panels = step_panels(tokens, C, n_head)
    geometry = [_geometry(p) for p in panels]
    # values[s] : (n_temperature, 2 (causal off/on), n_head, n_cells of step s)
    values = [np.zeros((len(TEMPERATURES), 2, n_head, len(g[0]["x"])), np.float32) for g in geometry]
    mask = causal_mask(T)
    first = None
    for ti, tau in enumerate(TEMPERATURES):
        for ci, m in enumerate((None, mask)):
            s = attention_steps(x, w_q, w_k, w_v, w_o, n_head, mask=m, temperature=tau)
            first = first or s
            for h in range(n_head):
                for si, mats in enumerate(_step_values(token_ids, s, h)):
                    values[si][ti, ci, h] = float32("values", np.concatenate([m_.ravel() for m_ in mats]))

    t0 = TEMPERATURES.index(1.0)
    cells0, labels0 = geometry[step - 1]
    cells_source = ColumnDataSource(
        dict(
            **cells0,
            value=values[step - 1][t0, 0, 0],
            color=np.zeros(len(cells0["x"]), np.float32),
            text=[""] * len(cells0["x"]),
            score=[""] * len(cells0["x"]),
            weight=[""] * len(cells0["x"]),
        ),
        name=f"{name}-cells",
    )
    labels_source = ColumnDataSource(labels0, name=f"{name}-labels")

    width_cells = max(sum(len(p.cols) for p in ps) + _GAP * (len(ps) - 1) for ps in panels)
    plot = diagram_figure(
        name=f"{name}-plot",
        width=740,
        height=90 + 34 * T,
        x_range=(-3.2, width_cells + 0.2),
        y_range=(-T - 0.2, 1.6),
        match_aspect=False,
    )
    mapper = LinearColorMapper(palette=DIVERGING, low=-1, high=1, nan_color=NAN_COLOR, name=f"{name}-mapper")
    rects = plot.rect(
        "x",
        "y",
        0.96,
        0.96,
        source=cells_source,
        line_color=None,
        fill_color={"field": "color", "transform": mapper},
    )
    plot.text(
        "x",
        "y",
        text="text",
        source=cells_source,
        text_align="center",
        text_baseline="middle",
        text_font_size="8pt",
        text_color="#222222",
    )
    plot.text(
        "x",
        "y",
        text="text",
        source=labels_source,
        text_align="align",
        text_baseline="middle",
        text_font_size="9pt",
        text_color="#333333",
    )
    plot.add_tools(
        HoverTool(
            renderers=[rects],
            tooltips=[
                ("row (query)", "@row"),
                ("column (key)", "@col"),
                ("value", "@text"),
                ("score", "@score"),
                ("weight", "@weight"),
            ],
        )
    )

    step_slider = Slider(
        start=1, end=len(STEP_TITLES), value=step, step=1, title="Step", name=f"{name}-step", width=250
    )
    play = Toggle(label="▶ Play", active=False, name=f"{name}-play", width=80, align="end")
    temperature = Slider(
        start=TEMPERATURES[0],
        end=TEMPERATURES[-1],
        value=1.0,
        step=0.25,
        title="Temperature τ",
        name=f"{name}-temperature",
        width=190,
    )
    causal = Toggle(label="Causal mask", active=False, name=f"{name}-causal", width=110, align="end")
    head = numbered_select("Head", n_head, name=f"{name}-head", width=70)
    caption = Div(text="", name=f"{name}-caption", width=740, height=64)  # fixed size: no re-layout per step

    weights0 = first.weights
    attention = attention_heatmap(
        weights0[0],
        tokens,
        tokens,
        name=f"{name}-attention",
        title="Attention weights A (current settings)",
        width=330,
        height=300,
    )
    attention_source = attention.select_one({"name": f"{name}-attention-source"})

    update = js_callback(
        "attention_steps",
        cells_source=cells_source,
        labels_source=labels_source,
        attention_source=attention_source,
        caption=caption,
        step_slider=step_slider,
        temperature=temperature,
        causal=causal,
        head=head,
        geometry=[g[0] for g in geometry],
        labels=[g[1] for g in geometry],
        values=values,
        kinds=[[p.kind for p in ps] for ps in panels],
        titles=list(STEP_TITLES),
        captions=_captions(T, C, n_head),
        temperatures=list(TEMPERATURES),
        n_cells_attention=T * T,
    )
    for widget, attr in ((step_slider, "value"), (temperature, "value"), (causal, "active"), (head, "value")):
        widget.js_on_change(attr, update)
    play.js_on_change("active", js_callback("play", toggle=play, slider=step_slider, interval_ms=900))
    controls = row(step_slider, play, temperature, causal, head, name=f"{name}-controls")
    layout = column(controls, caption, row(plot), attention, name=name)
    # Fill the first view with exactly the code that serves every later one.
    return on_document_ready(layout, update)


def _captions(T: int, C: int, H: int) -> list[str]:
    D = C // H
    return [
        f"Each word becomes an integer id: a sequence of <b>T = {T}</b> tokens.",
        f"Each id picks one row of the embedding table: <b>X</b> has shape (T, C) = ({T}, {C}).",
        f"X (T={T}, C={C}) times W<sub>Q</sub>, W<sub>K</sub>, W<sub>V</sub> (C={C}, C={C}), split into "
        f"H = {H} heads of D = {D} columns: Q, K, V have shape (T, D) = ({T}, {D}) per head.",
        f"Every query row meets every key row: Q Kᵀ = (T, D)·(D, T) → (T, T) = ({T}, {T}).",
        f"Divide by √D = √{D} = {np.sqrt(D):.3g} (and by the temperature τ): still ({T}, {T}).",
        "Keys a query may not see get −∞ (grey), so the softmax gives them weight 0. Turn on the causal mask.",
        f"Softmax along each row: weights ≥ 0 that sum to 1 per query. A has shape ({T}, {T}).",
        f"Each output row is a weighted average of the rows of V: A V = (T, T)·(T, D) → ({T}, {D}).",
        f"The H = {H} head outputs side by side give (T, C) = ({T}, {C}); W<sub>O</sub> (C, C) mixes them: "
        f"out has shape ({T}, {C}), like X.",
    ]
