"""The masks figure (chapter 3): a mask type select and its sliders, the mask grid beside the attention it yields.

Payload from :func:`attnbook.experiments.masks.mask_sweep`; callback ``js/masks_update.mjs``.
"""

from __future__ import annotations

import html
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Div

from .._checks import check_choice, check_int
from ..masks import MASK_TYPES, PAD_TOKEN
from .core import SEQUENTIAL, check_name, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source, pick
from .kit import (
    cell_text,
    color_mapper,
    control_row,
    described,
    description,
    empty_source,
    fit,
    grid_source,
    hover,
    on_change,
    select,
    slider,
    token_grid,
)

__all__ = [
    "MASK_TYPES",
    "PAD_TOKEN",
    "GLOBAL_MARK",
    "MasksPayload",
    "payload",
    "layout",
    "masks_figure",
]

GLOBAL_MARK = "★"  # prefixed to the labels of global tokens
KEYS = {"none": "none", "causal": "causal", "local": "local", "global-local": "global", "padding": "padding"}
_AXES = {
    "none": (),
    "causal": (),
    "local": ("window",),
    "global": ("window", "global"),
    "padding": ("length",),
}
_MASK_PALETTE = ("#6baed6", "#fd8d3c")  # allowed by the pattern; allowed because a global token is involved
_CAPTIONS = {  # {w}, {g}, {L}, {band} are filled in by the page
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
    "empty": " <b class='attnbook-warn'>No key is visible at all: every row sees nothing.</b> attnbook gives such "
    "rows all-zero weights (Σ 0.00) where a naive softmax gives NaN.",
}


class MasksPayload(NamedTuple):
    """Per mask type ``k`` (none, causal, local, global, padding): ``codes_k`` (0 hidden, 1 allowed, 2 allowed
    through a global token), ``weights_k``, ``scores_k`` (−inf where hidden) and ``row_sums_k``."""

    controls: tuple
    axes: dict
    tokens: tuple
    labels_global: list  # (G, T): global tokens marked ★
    labels_padding: list  # (L, T): tokens past the length replaced by <pad>
    captions: dict
    codes_none: np.ndarray
    codes_causal: np.ndarray
    codes_local: np.ndarray
    codes_global: np.ndarray
    codes_padding: np.ndarray
    weights_none: np.ndarray
    weights_causal: np.ndarray
    weights_local: np.ndarray
    weights_global: np.ndarray
    weights_padding: np.ndarray
    scores_none: np.ndarray
    scores_causal: np.ndarray
    scores_local: np.ndarray
    scores_global: np.ndarray
    scores_padding: np.ndarray
    row_sums_none: np.ndarray
    row_sums_causal: np.ndarray
    row_sums_local: np.ndarray
    row_sums_global: np.ndarray
    row_sums_padding: np.ndarray

    def view(p, state: dict) -> dict:
        """What the grids show for ``state``: cell colours, hover text and the row readouts."""
        kind = state["type"]
        key = KEYS[kind]
        codes, weights, scores, sums = (
            pick(p, f"{q}_{key}", state) for q in ("codes", "weights", "scores", "row_sums")
        )
        labels = {
            "global": lambda: pick(p, "labels_global", state),
            "padding": lambda: pick(p, "labels_padding", state),
        }
        lab = list(labels.get(key, lambda: p.tokens)())
        T = len(lab)
        hidden = codes == 0
        allowed = np.where(
            hidden, "hidden (score −∞)", np.where(codes == 2, "may attend (global token)", "may attend")
        )
        n_keys = (~hidden).sum(axis=1)
        return {
            "description": _describe(state, kind, codes, weights, lab),
            "cells": {
                "q_token": [lab[i] for i in range(T) for _ in range(T)],
                "k_token": lab * T,
                "allowed": allowed.ravel().tolist(),
                "score": [
                    "−∞" if h else f"{s:.3f}" for h, s in zip(hidden.ravel(), scores.ravel(), strict=True)
                ],
                "weight": weights.ravel(),
                "mask_color": np.where(hidden, np.nan, codes).ravel(),
                "weight_color": np.where(hidden, np.nan, weights).ravel(),
            },
            "rows": {
                "n_keys": [f"{k} key{'' if k == 1 else 's'}" for k in n_keys],
                "row_sum": [f"Σ {s:.2f}" for s in sums],
                "color": ["#b2182b" if k == 0 else "#333333" for k in n_keys],
            },
        }


_WHAT = (
    "Masks figure: two grids of queries (rows) by keys (columns), the mask (which pairs may attend) and the "
    "attention weights it gives, with what each mask costs."
)


def _describe(state: dict, kind: str, codes, weights, lab) -> dict:
    """The figure's description: the mask, its settings, how many pairs may attend, the largest weight."""
    T = len(lab)
    n, used = T * T, int((codes != 0).sum())
    w, g, L = state["window"], state["global"], state["length"]
    settings = {"local": f"w = {w}", "global-local": f"w = {w}, {g} global", "padding": f"length {L}"}
    empty = int((codes == 0).all(axis=1).sum())
    text = f"The {kind} mask" + (f" ({settings[kind]})" if kind in settings else "")
    text += f": {used} of {n} query-key pairs may attend ({100 * used / n:.0f}%); {empty} of {T} rows see no key. "
    if used == 0:
        text += "Every weight is zero."
    else:
        best = int(np.argmax(np.where(codes != 0, weights, -np.inf)))
        text += f"Largest weight {weights.ravel()[best]:.2f}, from query “{lab[best // T]}” to key “{lab[best % T]}”."
    return described(_WHAT, html.escape(text))


def payload(sweep) -> MasksPayload:
    """Pack the result of :func:`attnbook.experiments.masks.mask_sweep` for the page (float32, −inf where hidden)."""
    fields = ("tokens", "windows", "n_globals", "lengths", "masks", "scores", "weights")
    missing = [f for f in fields if not hasattr(sweep, f)]
    if missing:
        raise TypeError(
            f"sweep must be a MaskSweep (attnbook.experiments.masks.mask_sweep); it lacks {missing}"
        )
    T = len(sweep.tokens)
    fields = {}
    for kind, key in KEYS.items():
        mask = sweep.masks[kind]
        codes = mask.astype(np.uint8)
        if kind == "global-local":  # pairs the band alone would hide
            band = np.stack(
                [np.abs(np.subtract.outer(np.arange(T), np.arange(T))) <= w for w in sweep.windows]
            )
            codes[mask & ~band[:, None]] = 2
        fields[f"codes_{key}"] = codes
        fields[f"weights_{key}"] = sweep.weights[kind].astype(np.float32)
        fields[f"scores_{key}"] = np.where(mask, sweep.scores[kind], -np.inf).astype(np.float32)
        fields[f"row_sums_{key}"] = sweep.weights[kind].sum(axis=-1).astype(np.float32)
    controls = (
        Control("type", MASK_TYPES),
        Control("window", sweep.windows),
        Control("global", sweep.n_globals),
        Control("length", sweep.lengths),
    )
    axes = {
        f"{q}_{key}": names
        for key, names in _AXES.items()
        for q in ("codes", "weights", "scores", "row_sums")
    }
    axes.update(labels_global=("global",), labels_padding=("length",))
    tokens = list(sweep.tokens)
    return MasksPayload(
        controls=controls,
        axes=axes,
        tokens=tuple(tokens),
        labels_global=[
            [GLOBAL_MARK + t if i < g else t for i, t in enumerate(tokens)] for g in sweep.n_globals
        ],
        labels_padding=[[t if i < n else PAD_TOKEN for i, t in enumerate(tokens)] for n in sweep.lengths],
        captions=dict(_CAPTIONS),
        **fields,
    )


def _widgets(p: MasksPayload, name: str, kind: str, window: int, n_global: int, length: int | None) -> dict:
    T, G = len(p.tokens), len(p.labels_global)
    return {
        "type": select(f"{name}-type", "Mask", MASK_TYPES, check_choice("kind", kind, MASK_TYPES)),
        "window": slider(f"{name}-window", "Window w (local, global-local)", 0, T - 2,
                         check_int("window", window, low=0, high=T - 2), width=195),
        "global": slider(f"{name}-global", "Global tokens (global-local)", 1, G,
                         check_int("n_global", n_global, low=1, high=G), width=185),
        "length": slider(f"{name}-length", "Sentence length (padding)", 0, T,
                         T - 3 if length is None else check_int("length", length, low=0, high=T), width=185),
    }  # fmt: skip


def _grid(p: MasksPayload, cells, rows, *, name: str, title: str, color: str, mapper, readout: str, tips):
    """One T × T grid over the shared cells, with a readout column beside its rows."""
    plot, r = token_grid(cells, name=name, title=title, q_tokens=p.tokens, k_tokens=p.tokens, color_field=color,
                         mapper=mapper, width=365, height=350, margin_cols=1.9)  # fmt: skip
    plot.add_tools(hover(r, ("query", "@q_token"), ("key", "@k_token"), *tips))
    cell_text(plot, rows, readout, color="color")
    return plot


def layout(p: MasksPayload, *, name: str = "masks", kind: str = "causal", window: int = 2, n_global: int = 1,
           length: int | None = None):  # fmt: skip
    """The figure: controls, caption, mask grid and attention grid side by side, cost table."""
    check_name(name)
    check_payload(p)
    T = len(p.tokens)
    widgets = _widgets(p, name, kind, window, n_global, length)
    texts, numbers = ("q_token", "k_token", "allowed", "score"), ("weight", "mask_color", "weight_color")
    cells = grid_source(
        f"{name}-cells", T, T, **dict.fromkeys(texts, "str"), **dict.fromkeys(numbers, "float")
    )
    rows = empty_source(f"{name}-rows", T, x=np.full(T, T - 0.2, np.float32), y=-np.arange(T, dtype=np.float32),
                        n_keys="str", row_sum="str", color="str")  # fmt: skip
    mask = _grid(p, cells, rows, name=f"{name}-mask", title="Mask (blue, orange: may attend; grey: hidden)",
                 color="mask_color", mapper=color_mapper(f"{name}-mask-mapper", _MASK_PALETTE, 0.5, 2.5),
                 readout="n_keys", tips=[("", "@allowed")])  # fmt: skip
    attention = _grid(p, cells, rows, name=f"{name}-attention", title="Attention weights (one head)",
                      color="weight_color", mapper=color_mapper(f"{name}-attention-mapper", SEQUENTIAL),
                      readout="row_sum", tips=[("score", "@score"), ("weight", "@weight{0.000}")])  # fmt: skip
    caption, cost = (Div(text="", name=f"{name}-{role}", width=740) for role in ("caption", "cost"))
    axes = [mask.xaxis[0], mask.yaxis[0], attention.xaxis[0], attention.yaxis[0]]
    update = js_callback("masks_update", payload=payload_source(p, name=name), widgets=widgets, cells=cells,
                         rows=rows, axes=axes, caption=caption, cost=cost, description=description(name, _WHAT))  # fmt: skip
    on_change(update, *widgets.values())
    controls = control_row(f"{name}-controls", *widgets.values())
    fig = column(controls, caption, row(mask, attention, name=f"{name}-plots"), cost, name=name)
    return on_document_ready(fit(fig), update)


def masks_figure(sweep, *, name: str = "masks", **initial):
    """``layout(payload(sweep))``: the figure the chapter shows (``initial``: kind, window, n_global, length)."""
    return layout(payload(sweep), name=name, **initial)
