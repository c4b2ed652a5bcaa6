"""The step-by-step figure of scaled dot-product attention (chapter 2): nine steps, every matrix with its shape.

Payload from :func:`attnbook.experiments.steps.steps_sweep`; callbacks ``js/attention_steps.mjs`` and
``js/play.mjs`` (the play button).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column
from bokeh.models import Div, HoverTool

from .._checks import check_bool, check_int, check_real, check_tokens
from .core import DIVERGING, check_name, diagram_figure, float32, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source, pick
from .heatmap import attention_heatmap
from .kit import (
    cell_value_columns,
    cell_values,
    color_mapper,
    control_row,
    described,
    description,
    empty_source,
    fit,
    hover,
    play_button,
    scroller,
    select,
    slider,
    toggle,
)

__all__ = [
    "STEP_TITLES",
    "StepPanel",
    "StepsPayload",
    "step_panels",
    "payload",
    "layout",
    "attention_steps_figure",
]

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
GAP = 1.5  # empty columns between two panels of one step
_SWEEP_FIELDS = ("tokens", "token_ids", "temperatures", "x", "q", "k", "v", "scores", "scaled", "masked")
_SWEEP_FIELDS += ("weights", "weighted", "concat", "out")


class StepPanel(NamedTuple):
    """One matrix shown at one step: its title, the payload field it shows, its column labels and kind.

    Its rows are the sentence's tokens. ``kind`` says how it is coloured: "signed" (blue-red, scaled by the
    panel's max |value|), "weights" (0..1), "onehot" (0..1, written 1 or 0) or "ids" (uncoloured). A ``pairs``
    panel is a (T, T) query-key matrix: hovering a cell shows that pair's score and weight, and a weight the
    mask hid is grey and reads "–" (it is 0 because the key was masked, not because the softmax gave 0).
    """

    title: str
    field: str
    cols: tuple[str, ...]
    kind: str
    pairs: bool = False


def step_panels(
    tokens: Sequence[str], d_model: int, n_head: int, ids: Sequence[int] | None = None
) -> list[list[StepPanel]]:
    """The panels of the nine steps, labelled with shapes, for a sentence of ``len(tokens)`` tokens.

    With the tokens' ``ids``, step 1 also shows the one-hot rows (the columns of the ids that occur)."""
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
    first = [StepPanel(f"ids (T={T}, 1)", "token_ids", ("id",), "ids")]
    if ids is not None:
        used = _used_ids(ids, T)
        first.append(
            StepPanel("one-hot O (T, V): columns in use", "one_hot", tuple(f"{i}" for i in used), "onehot")
        )
    return [
        first,
        [StepPanel(f"X (T={T}, C={C})", "x", dims_c, "signed")],
        [StepPanel(f"{m} = X W_{m}  (T={T}, D={D})", m.lower(), dims_d, "signed") for m in "QKV"],
        [StepPanel(f"Q Kᵀ (T={T}, T={T})", "scores", toks, "signed", True)],
        [StepPanel(f"Q Kᵀ / (√D · τ)  (T={T}, T={T})", "scaled", toks, "signed", True)],
        [StepPanel(f"masked (T={T}, T={T})", "masked", toks, "signed", True)],
        [StepPanel(f"A = softmax (T={T}, T={T})", "weights", toks, "weights", True)],
        [
            StepPanel(f"A (T={T}, T={T})", "weights", toks, "weights", True),
            StepPanel(f"V (T={T}, D={D})", "v", dims_d, "signed"),
            StepPanel(f"A V (T={T}, D={D})", "weighted", dims_d, "signed"),
        ],
        [
            StepPanel(f"concat heads (T={T}, C={C})", "concat", dims_c, "signed"),
            StepPanel(f"out = concat W_O (T={T}, C={C})", "out", dims_c, "signed"),
        ],
    ]


def _title_anchor(kind: str, x0: float, n_cols: int) -> tuple[float, str]:
    """Where a panel's title sits: centred over it, except step 1's narrow ids panel (right-aligned at its right
    edge) and the one-hot panel beside it (left-aligned at its left edge), so the two never overlap."""
    if kind == "ids":
        return x0 + n_cols, "right"
    if kind == "onehot":
        return x0, "left"
    return x0 + n_cols / 2, "center"


def _used_ids(ids, T: int) -> list[int]:
    """The distinct ids of a sentence, in increasing order (the one-hot columns step 1 draws)."""
    if isinstance(ids, (str, bytes)) or len(ids) != T:
        raise ValueError(f"ids must hold one id per token (T = {T}), got {ids!r}")
    return sorted({check_int("ids", i, low=0) for i in ids})


def _fmt(v: float, digits: int = 2) -> str:
    return "−∞" if v == -np.inf else f"{v:.{digits}f}"


class StepsPayload(NamedTuple):
    """The intermediates of attention for every state of the temperature slider, causal toggle and head select
    (float32, −inf where masked), and the panels each step shows (:class:`StepPanel` as records)."""

    controls: tuple  # step (1..9), temperature, causal (False, True), head ("1".."H")
    axes: dict
    tokens: tuple  # T tokens: every panel's rows
    titles: tuple  # the nine steps' titles
    captions: tuple  # what each step does, with its shapes
    panels: list  # per step, its panels as {"title", "field", "cols", "kind", "pairs"}
    token_ids: np.ndarray  # (T, 1) int32
    one_hot: (
        np.ndarray
    )  # (T, U) float32: the one-hot rows restricted to the U distinct ids, in increasing order
    x: np.ndarray  # (T, C)
    q: np.ndarray  # (H, T, D)
    k: np.ndarray  # (H, T, D)
    v: np.ndarray  # (H, T, D)
    scores: np.ndarray  # (H, T, T)
    scaled: np.ndarray  # (N, H, T, T): N temperatures
    masked: np.ndarray  # (N, 2, H, T, T): no mask, causal
    weights: np.ndarray  # (N, 2, H, T, T)
    weighted: np.ndarray  # (N, 2, H, T, D)
    concat: np.ndarray  # (N, 2, T, C)
    out: np.ndarray  # (N, 2, T, C)

    def view(p, state: dict) -> dict:
        """The step's panels side by side (cells, colours, texts, hover), their labels, the attention heatmap
        and the caption, for ``state``."""
        s = int(state["step"]) - 1
        masked, weights = pick(p, "masked", state).ravel(), pick(p, "weights", state).ravel()  # (T*T,)
        parts, heads, x0 = [], [], 0.0
        for n, panel in enumerate(p.panels[s]):
            values = pick(p, panel["field"], state).astype(np.float64).ravel()
            parts.append(_panel_cells(panel, values, p.tokens, x0, n, masked, weights))
            tx, talign = _title_anchor(panel["kind"], x0, len(panel["cols"]))
            heads += [(tx, 1.1, panel["title"], talign)]
            heads += [(x0 + j + 0.5, 0.25, c, "center") for j, c in enumerate(panel["cols"])]
            heads += [(-0.15, -(i + 0.5), t, "right") for i, t in enumerate(p.tokens)] if n == 0 else []
            x0 += len(panel["cols"]) + GAP
        cells = {k: np.concatenate([c[k] for c in parts]) for k in parts[0]}
        for k in ("row", "col", "text", "score", "weight"):
            cells[k] = cells[k].tolist()
        cells.update(
            cell_value_columns(cells["text"], np.nan_to_num(np.abs(cells["color"].astype(np.float64))) > 0.6)
        )
        hx, hy, htext, halign = zip(*heads, strict=True)
        labels = dict(x=np.float32(hx), y=np.float32(hy), text=list(htext), align=list(halign))
        mask = "causal mask" if state["causal"] else "no mask"
        where = f"τ = {float(state['temperature']):.2f}, {mask}, head {state['head']}"
        caption = f'<b>{p.titles[s]}</b> <span class="attnbook-muted">({where})</span><br>{p.captions[s]}'
        T, best = len(p.tokens), int(np.argmax(weights))
        top = (
            f"Largest attention weight {weights[best]:.3f}, from query “{p.tokens[best // T]}” "
            f"to key “{p.tokens[best % T]}”."
        )
        return {
            "cells": cells,
            "labels": labels,
            "attention-source": _attention_columns(weights, masked),
            "caption": {"text": caption},
            "description": described(_WHAT, f"Step {s + 1} of {len(p.titles)}: {caption} {html.escape(top)}"),
        }


def _attention_columns(weights: np.ndarray, masked: np.ndarray) -> dict:
    """The heatmap's columns: a weight the mask hid is NaN (grey) and reads "masked" on hover."""
    hidden = np.isneginf(masked)
    return dict(
        weight=np.where(hidden, np.nan, weights).astype(np.float32),
        score=masked,
        weight_text=[
            "masked" if h else f"{w:.3f}" for w, h in zip(weights.tolist(), hidden.tolist(), strict=True)
        ],
        score_text=["−∞" if h else f"{v:.3f}" for v, h in zip(masked.tolist(), hidden.tolist(), strict=True)],
    )


_WHAT = (
    "Attention step by step: the matrices of the chosen step side by side, each cell a number, and below them "
    "the attention weights of the current temperature, mask and head."
)


def _panel_cells(panel: dict, values: np.ndarray, tokens, x0: float, n: int, masked, weights) -> dict:
    """The cells of one panel (row-major, its left edge at ``x0``), as the callback writes them."""
    T, n_cols = len(tokens), len(panel["cols"])
    ii, jj = np.divmod(np.arange(T * n_cols), n_cols)
    finite = np.isfinite(values)
    scale = float(np.abs(values[finite]).max()) if finite.any() else 0.0
    pairs, kind = panel["pairs"], panel["kind"]
    hidden = np.isneginf(masked) if pairs and kind == "weights" else np.zeros(len(values), bool)
    if kind == "ids":
        color, text = np.zeros(len(values)), [str(int(v)) for v in values]
    elif kind == "onehot":
        color, text = values, [str(int(v)) for v in values]
    else:
        color = values if kind == "weights" else (values / scale if scale > 0 else 0 * values)
        color, text = np.where(finite & ~hidden, color, np.nan), [_fmt(v) for v in values.tolist()]
        text = ["–" if h else t for t, h in zip(text, hidden.tolist(), strict=True)]
    masked, weights = masked.tolist(), weights.tolist()
    return dict(
        x=(x0 + jj + 0.5).astype(np.float32),
        y=(-(ii + 0.5)).astype(np.float32),
        row=np.array([tokens[i] for i in ii], object),
        col=np.array([panel["cols"][j] for j in jj], object),
        panel=np.full(len(values), n, np.int32),
        value=values.astype(np.float32),
        color=color.astype(np.float32),
        text=np.array(text, object),
        score=np.array(
            [_fmt(masked[i * T + j]) if pairs else "" for i, j in zip(ii, jj, strict=True)], object
        ),
        weight=np.array(
            [
                ("masked" if masked[i * T + j] == -np.inf else _fmt(weights[i * T + j], 3)) if pairs else ""
                for i, j in zip(ii, jj, strict=True)
            ],
            object,
        ),
    )


def payload(sweep) -> StepsPayload:
    """Pack the result of :func:`attnbook.experiments.steps.steps_sweep` for the page (float32, −inf where masked)."""
    missing = [f for f in _SWEEP_FIELDS if not hasattr(sweep, f)]
    if missing:
        raise TypeError(
            f"sweep must be a StepsSweep (attnbook.experiments.steps.steps_sweep); it lacks {missing}"
        )
    tokens = check_tokens("sweep.tokens", sweep.tokens)
    if np.ndim(sweep.x) != 2 or np.ndim(sweep.q) != 3:
        raise ValueError(
            f"sweep.x must be (T, C) and sweep.q (H, T, D), got {np.shape(sweep.x)}, {np.shape(sweep.q)}"
        )
    (T, C), H = np.shape(sweep.x), np.shape(sweep.q)[0]
    if not tokens or T != len(tokens) or H < 1 or C % H:
        raise ValueError(
            f"sweep.x must be (T, C) with T = {len(tokens)} tokens and H = {H} dividing C, got {(T, C)}"
        )
    temperatures = tuple(
        check_real("sweep.temperatures", t, low=0.0, low_inclusive=False) for t in sweep.temperatures
    )
    N, D = len(temperatures), C // H
    shapes = dict(x=(T, C), q=(H, T, D), k=(H, T, D), v=(H, T, D), scores=(H, T, T), scaled=(N, H, T, T))
    shapes.update(masked=(N, 2, H, T, T), weights=(N, 2, H, T, T), weighted=(N, 2, H, T, D))
    shapes.update(concat=(N, 2, T, C), out=(N, 2, T, C))
    fields = {}
    for f, shape in shapes.items():
        fields[f] = float32(f"sweep.{f}", getattr(sweep, f))
        if fields[f].shape != shape:
            raise ValueError(f"sweep.{f} must have shape {shape}, got {fields[f].shape}")
    ids = np.asarray(sweep.token_ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"sweep.token_ids must be integers, got {ids.dtype}")
    if ids.shape != (T,):
        raise ValueError(f"sweep.token_ids must have shape (T,) = ({T},), got {ids.shape}")
    head, states, mixed = ("head",), ("temperature", "causal", "head"), ("temperature", "causal")
    axes = dict(q=head, k=head, v=head, scores=head, scaled=("temperature", "head"), masked=states)
    axes.update(weights=states, weighted=states, concat=mixed, out=mixed)
    return StepsPayload(
        controls=(
            Control("step", tuple(range(1, len(STEP_TITLES) + 1))),
            Control("temperature", temperatures),
            Control("causal", (False, True), "active"),
            Control("head", tuple(str(h) for h in range(1, H + 1))),
        ),
        axes=axes,
        tokens=tokens,
        titles=STEP_TITLES,
        captions=_captions(T, C, H),
        panels=[
            [dict(panel._asdict()) for panel in step] for step in step_panels(tokens, C, H, ids.tolist())
        ],
        token_ids=ids.astype(np.int32)[:, None],
        one_hot=(ids[:, None] == np.array(_used_ids(ids.tolist(), T))[None, :]).astype(np.float32),  # (T, U)
        **fields,
    )


def layout(
    p: StepsPayload,
    *,
    name: str = "steps",
    step: int = 1,
    temperature: float = 1.0,
    causal: bool = False,
    head: int = 1,
):
    """The figure: step slider, play button, temperature, causal mask and head above the step's panels and
    the attention heatmap of the current settings."""
    check_name(name)
    check_payload(p)
    values = {c.widget: c.values for c in p.controls}
    step = check_int("step", step, low=1, high=len(STEP_TITLES))
    temps = values["temperature"]
    if len(temps) < 2 or any(t != temps[0] + k * (temps[1] - temps[0]) for k, t in enumerate(temps)):
        raise ValueError(f"the payload's temperatures must be evenly spaced slider stops, got {temps}")
    if check_real("temperature", temperature) not in temps:
        raise ValueError(f"temperature must be one of {temps}, got {temperature}")
    head = check_int("head", head, low=1, high=len(values["head"]))
    T = len(p.tokens)
    widgets = {
        "step": slider(f"{name}-step", "Step", 1, len(STEP_TITLES), step, width=250),
        "temperature": slider(
            f"{name}-temperature", "Temperature τ", temps[0], temps[-1], temperature, step=temps[1] - temps[0]
        ),
        "causal": toggle(f"{name}-causal", "Causal mask", check_bool("causal", causal)),
        "head": select(f"{name}-head", "Head", values["head"], str(head), width=70),
    }
    plot, cells, labels = _step_canvas(name, p)
    attention = attention_heatmap(
        np.zeros((T, T)),
        p.tokens,
        p.tokens,
        name=f"{name}-attention",
        title="Attention weights A (grey: masked)",
        width=330,
        height=300,
        palette=DIVERGING,  # the colours of the steps' weights: 0 white, 1 dark red
        low=-1.0,
        high=1.0,
    )
    attention.select_one({"name": f"{name}-attention-colorbar"}).update(display_low=0.0, display_high=1.0)
    source = attention.select_one({"name": f"{name}-attention-source"})
    source.data.update(weight_text=[""] * T * T, score_text=[""] * T * T)
    attention.select_one(HoverTool).tooltips = [
        ("query", "@q_token"),
        ("key", "@k_token"),
        ("score", "@score_text"),
        ("weight", "@weight_text"),
    ]
    caption = Div(text="", name=f"{name}-caption", width=740, height=64)  # fixed size: no re-layout per step
    update = js_callback(
        "attention_steps",
        payload=payload_source(p, name=name),
        widgets=widgets,
        cells=cells,
        labels=labels,
        attention=attention.select_one({"name": f"{name}-attention-source"}),
        caption=caption,
        description=description(name, _WHAT),
    )
    for c in p.controls:
        widgets[c.widget].js_on_change(c.attr, update)
    play = play_button(f"{name}-play", widgets["step"])
    controls = control_row(f"{name}-controls", widgets["step"], play, *list(widgets.values())[1:])
    fig = column(controls, caption, scroller(plot), attention, name=name)
    # the first view is drawn by the code that serves every later one
    return on_document_ready(fit(fig), update)


def _step_canvas(name: str, p: StepsPayload):
    """The canvas the panels of a step are drawn on: coloured cells with their values, titles and row/column
    labels around them, hover. Returns ``(plot, cells source, labels source)``, both filled by the callback."""
    T = len(p.tokens)
    cells = empty_source(
        f"{name}-cells",
        0,
        x="float",
        y="float",
        row="str",
        col="str",
        panel="float",
        value="float",
        color="float",
        text="str",
        score="str",
        weight="str",
        label="str",
        label_light="str",
    )
    labels = empty_source(f"{name}-labels", 0, x="float", y="float", text="str", align="str")
    width = max(sum(len(q["cols"]) for q in ps) + GAP * (len(ps) - 1) for ps in p.panels)  # widest step
    plot = diagram_figure(
        name=f"{name}-plot",
        width=740,
        height=90 + 34 * T,
        x_range=(-3.2, width + 0.2),
        y_range=(-T - 0.2, 1.6),
        match_aspect=False,
    )
    mapper = color_mapper(f"{name}-mapper", DIVERGING, -1.0, 1.0)
    rects = plot.rect(
        "x",
        "y",
        0.96,
        0.96,
        source=cells,
        line_color=None,
        fill_color={"field": "color", "transform": mapper},
    )
    cell_values(plot, cells, size="8pt")
    plot.text(
        "x",
        "y",
        text="text",
        source=labels,
        text_align="align",
        text_baseline="middle",
        text_font_size="9pt",
        text_color="#333333",
    )
    tips = (("row (query)", "@row"), ("column (key)", "@col"), ("value", "@text"), ("score", "@score"))
    plot.add_tools(hover(rects, *tips, ("weight", "@weight")))
    return plot, cells, labels


def attention_steps_figure(sweep, *, name: str = "steps", **initial):
    """``layout(payload(sweep))``: the figure the chapter shows (``initial``: step, temperature, causal, head)."""
    return layout(payload(sweep), name=name, **initial)


def _captions(T: int, C: int, H: int) -> tuple[str, ...]:
    D = C // H
    return (
        f"Each word becomes an integer id: a sequence of <b>T = {T}</b> tokens. As a one-hot matrix O (T, V), row i "
        "is all zeros but a 1 in column id<sub>i</sub> (only the columns of ids that occur are drawn).",
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
    )
