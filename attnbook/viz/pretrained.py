"""Chapter 9's figures of a real pretrained model's attention: BertViz-style head and model views (Vig 2019),
where the head patterns of Clark et al. 2019 live, and attention rollout beside raw attention (Abnar & Zuidema
2020).

Each figure takes the result of :func:`attnbook.experiments.pretrained.attention_sweep` (read by field name) and
is built in three parts (:mod:`attnbook.viz.figure`): a payload with its ``view``, a layout, and a callback
``js/pretrained_*.mjs``. The sentence select is a control over the sentences; token lists and ``T x T`` arrays
are padded to the longest sentence, and ``lengths`` says how many positions are real. The head and model views
carry the weights as 8-bit levels (:func:`quantize`): six layers times twelve heads of ``T x T`` float32
weights per sentence, in two figures, would take most of the page budget.
"""

from __future__ import annotations

import html
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Div, FixedTicker, HoverTool, TapTool
from bokeh.palettes import Category10
from bokeh.plotting import figure

from .._checks import as_float_array, check_bool, check_int, check_real, check_tokens
from .core import SEQUENTIAL, check_name, diagram_figure, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source, pick
from .kit import (
    color_mapper,
    control_row,
    described,
    description,
    empty_source,
    fit,
    grid_source,
    hover,
    labelled_select,
    on_change,
    panel_text,
    scroller,
    select,
    slider,
    text_panel,
    toggle,
    token_grid,
    weight_grid,
)

__all__ = [
    "ALL_HEADS_THRESHOLD",
    "GEOMETRY",
    "HEAD_COLORS",
    "HEAD_THRESHOLD",
    "QUANT_LEVELS",
    "QUANT_MAX_ERROR",
    "STATISTIC_LABELS",
    "HeadViewPayload",
    "ModelViewPayload",
    "PatternsPayload",
    "RolloutPayload",
    "dequantize",
    "focus_options",
    "quantize",
    "tiled",
    "head_view_payload",
    "head_view_layout",
    "head_view_figure",
    "model_view_payload",
    "model_view_layout",
    "model_view_figure",
    "patterns_payload",
    "patterns_layout",
    "patterns_figure",
    "rollout_payload",
    "rollout_layout",
    "rollout_figure",
]

STATISTIC_LABELS = {  # the statistics of attnbook.pretrained.patterns, as the figures name them
    "previous_token": "previous token",
    "next_token": "next token",
    "cls": "[CLS]",
    "sep": "[SEP]",
    "same_word": "same word",
    "punctuation": "punctuation",
    "entropy": "entropy (nats, low = focused)",
}
_SHORT = {"previous_token": "prev", "next_token": "next", "cls": "CLS", "sep": "SEP", "same_word": "same"}
_SHORT.update(punctuation="punct", entropy="H")

# Line thresholds of the head view: below them a line would be invisible anyway (opacity = weight), and
# skipping them keeps the all-heads overlay at a few hundred segments instead of 12 T².
HEAD_THRESHOLD = 0.01
ALL_HEADS_THRESHOLD = 0.1
# One colour per head in the all-heads overlay (Category10 and two darker ones).
HEAD_COLORS = (*Category10[10], "#393b79", "#8c6d31")

QUANT_LEVELS = 255
QUANT_MAX_ERROR = 0.5 / QUANT_LEVELS  # rounding to the nearest of 256 levels in [0, 1]

INK, SHADE = "#222222", "#fde0dd"  # text colour; the band behind a highlighted table row
_ROLLOUT_NOTE = (
    "The three numbers in each title: the mean weight of a query on <b>itself</b> · on <b>[CLS]</b> · on "
    "<b>[SEP]</b>."
)
_HINT = (
    "Hover a token to keep only its lines (left: where it looks; right: who looks at it); tap it to pin that "
    "view (tap again to release); tap a coloured square to pick that head."
)
_SWEEP = ("labels", "tokens", "attentions", "statistic_names", "statistics", "ranks")
_SWEEP += ("mean_statistics", "mean_ranks", "raw", "rollout", "shares")


def quantize(weights) -> np.ndarray:
    """Attention weights in [0, 1] as 8-bit levels ``round(255 w)``.

    Parameters
    ----------
    weights : float array, any shape, values in [0, 1]

    Returns
    -------
    levels : uint8 array, same shape
        :func:`dequantize` recovers the weights to within :data:`QUANT_MAX_ERROR` = 1/510.
    """
    w = as_float_array("weights", weights)
    if w.size and (w.min() < -1e-6 or w.max() > 1 + 1e-6):
        raise ValueError(f"weights must lie in [0, 1], got [{w.min():.3g}, {w.max():.3g}]")
    return np.rint(np.clip(w, 0.0, 1.0) * QUANT_LEVELS).astype(np.uint8)


def dequantize(levels) -> np.ndarray:
    """Inverse of :func:`quantize`: uint8 levels back to weights ``levels / 255`` (float64, as the page divides)."""
    if not isinstance(levels, np.ndarray) or levels.dtype != np.uint8:
        raise TypeError(
            f"levels must be a uint8 ndarray, got {getattr(levels, 'dtype', type(levels).__name__)}"
        )
    return _weights(levels)


def _weights(levels) -> np.ndarray:
    """Levels back to weights as the page computes them (``level / 255`` in float64), from any number type."""
    return np.asarray(levels, np.float64) / QUANT_LEVELS


# --- shared parts of the four payloads -----------------------------------------------------------------------
def _check_sweep(sweep):
    """The sweep's labels, token tuples and longest length, after checking the fields the payloads read."""
    missing = [f for f in _SWEEP if not hasattr(sweep, f)]
    if missing:
        raise TypeError(
            "sweep must be an AttentionSweep (attnbook.experiments.pretrained.attention_sweep); "
            f"it lacks {missing}"
        )
    labels = check_tokens("sweep.labels", sweep.labels)
    tokens = [check_tokens(f"sweep.tokens[{k}]", t) for k, t in enumerate(sweep.tokens)]
    if not labels or len(tokens) != len(labels) or len(sweep.attentions) != len(labels):
        raise ValueError("sweep must hold one token tuple and one attention array per label (at least one)")
    unknown = [s for s in sweep.statistic_names if s not in STATISTIC_LABELS]
    if unknown:
        raise ValueError(f"sweep.statistic_names holds statistics without a label here: {unknown}")
    return labels, tokens, max(len(t) for t in tokens)


def _pad(arrays, T: int, dtype) -> np.ndarray:
    """Stack arrays whose last two axes are ``(T_s, T_s)``, zero-padded to ``(T, T)``."""
    first = np.asarray(arrays[0])
    out = np.zeros((len(arrays), *first.shape[:-2], T, T), dtype)
    for k, a in enumerate(arrays):
        t = np.shape(a)[-1]
        out[k, ..., :t, :t] = a
    return out


def _tokens(tokens, T: int) -> dict:
    """The ``tokens`` (padded with "") and ``lengths`` fields."""
    return dict(
        tokens=[list(t) + [""] * (T - len(t)) for t in tokens],
        lengths=np.array([len(t) for t in tokens], np.int32),
    )


def _sentence(p, state) -> tuple[int, list[str]]:
    """T and the tokens of the sentence ``state`` selects."""
    T = int(pick(p, "lengths", state))
    return T, list(pick(p, "tokens", state))[:T]


def _grid_view(name: str, tokens, weights, title: str) -> dict:
    """What the token grid ``name`` redrawn by ``tokenGrid`` (js/lib.mjs) holds: cells, ticks, ranges, title."""
    T = len(tokens)
    ii, jj = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    return {
        f"{name}-cells": dict(
            x=jj.ravel().astype(np.float32),
            y=-ii.ravel().astype(np.float32),
            q_token=[tokens[i] for i in ii.ravel()],
            k_token=[tokens[j] for j in jj.ravel()],
            weight=np.asarray(weights, np.float32).ravel(),
        ),
        f"{name}-xticks": {"ticks": list(range(T))},
        f"{name}-yticks": {"ticks": [-i for i in range(T)]},
        name: {"title.text": title, "x_range.end": T - 0.5, "y_range.start": -T + 0.5},
    }


_WHAT_HEAD_VIEW = (
    "Head view: the sentence's tokens twice, queries on the left and keys on the right, one line from each query "
    "to each key it attends to with a weight above the threshold, and a table of the layer's heads."
)
_WHAT_MODEL_VIEW = (
    "Model view: every head of every layer as a small attention map in a grid, the chosen head enlarged, and its "
    "statistics on this sentence with their rank among all heads."
)
_WHAT_PATTERNS = (
    "Head patterns: one statistic's value for every head as a grid of layers by heads, the strongest heads "
    "framed, and a table of each statistic's strongest heads."
)
_WHAT_ROLLOUT = (
    "Attention rollout: the raw attention of one layer (mean over heads) beside the rollout through the layers "
    "up to it; each title gives the mean weight of a query on itself, on [CLS] and on [SEP]."
)


class _Text:
    """Rows of a text panel, written as ``textRows`` (js/lib.mjs) writes them."""

    def __init__(self):
        self.columns = {k: [] for k in ("x", "y", "text", "color", "style", "align")}

    def put(self, x, y, text, style="normal", align="left", color=INK):
        for k, v in zip(self.columns, (x, y, text, color, style, align), strict=True):
            self.columns[k].append(v)


def _bands(rows) -> dict:
    """Band source columns for ``rows`` of ``(x, y, w, h)``, all shaded."""
    cols = dict(x=[], y=[], w=[], h=[], color=[])
    for r in rows:
        for k, v in zip(("x", "y", "w", "h"), r, strict=True):
            cols[k].append(v)
        cols["color"].append(SHADE)
    return cols


# --- head view -----------------------------------------------------------------------------------------------
# Geometry (data units): query tokens in a left column, keys in a right one, lines between x = 0 and x = 1.
# The table beside it: x of its statistic columns, in pixels.
GEOMETRY = dict(
    left_box=-0.55, right_box=1.55, box_w=0.9, left_text=-0.16, right_text=1.16, x0=-0.06, x1=1.06
)
GEOMETRY.update(table_columns=[60, 92, 124, 156, 190, 226, 256])


def _focus(value: str, T: int) -> tuple[str | None, int]:
    """The focus select's value as (side "q"/"k" or None, token index); a token past T means no focus."""
    if value == "all" or int(value[1:]) >= T:
        return None, -1
    return value[0], int(value[1:])


def focus_options(tokens) -> list[tuple[str, str]]:
    """The focus select's options for a sentence: no focus, then each token as a query, then as a key."""
    opts = [("all", "none: every token")]
    opts += [(f"q{i}", f"from {t} ({i})") for i, t in enumerate(tokens)]
    return opts + [(f"k{i}", f"to {t} ({i})") for i, t in enumerate(tokens)]


class HeadViewPayload(NamedTuple):
    """Head view: every head's weights as 8-bit ``levels`` (n, L, H, T, T) and the statistics (n, L, H, S)."""

    controls: tuple
    axes: dict
    tokens: list  # (n, T): padded with ""
    lengths: np.ndarray  # (n,) int32
    levels: np.ndarray  # (n, L, H, T, T) uint8, w = level / 255
    stats: np.ndarray  # (n, L, H, S) float32
    short: tuple  # S column titles
    colors: tuple  # H head colours
    threshold: float  # lines below it are not drawn (one head)
    all_heads_threshold: float  # the same, all heads overlaid
    threshold_text: tuple  # the two thresholds as the title prints them

    def view(p, state: dict) -> dict:
        """Lines, token boxes, legend, titles and the table of the layer's heads."""
        T, toks = _sentence(p, state)
        w = _weights(pick(p, "levels", state)[:, :T, :T])  # (H, T, T) this layer's heads
        H = w.shape[0]
        every = state["head"] == "all"
        h, l = (-1 if every else int(state["head"]) - 1), int(state["layer"]) - 1
        side, fi = _focus(state["focus"], T)
        heads = list(range(H)) if every else [h]
        keep = np.zeros_like(w, dtype=bool)  # (H, T, T): the lines drawn
        keep[heads] = True
        if side == "q":
            keep[:, np.arange(T) != fi, :] = False
        elif side == "k":
            keep[:, :, np.arange(T) != fi] = False
        keep &= (w >= (p.all_heads_threshold if every else p.threshold)) & (w != 0)
        hh, ii, jj = np.nonzero(keep)
        fill = "#555555" if every else p.colors[h]
        what = f"all {H} heads" if every else f"head {h + 1}"
        shown = p.threshold_text[1 if every else 0]
        focus = "" if side is None else f"; focus: {toks[fi]} ({fi}) as a {'query' if side == 'q' else 'key'}"
        table = _heads_table(p, pick(p, "stats", state), w, toks, h, side, fi)
        return {
            "lines": dict(
                y0=-ii,
                y1=-jj,
                color=[p.colors[g] for g in hh],
                alpha=np.minimum(1.0, w[keep]),
                width=[2.0 if every else 2.5] * len(hh),
            ),
            "tokens": _token_boxes(toks, side, fi, w[heads].mean(axis=0), fill),
            "legend": {"alpha": [1.0 if every or g == h else 0.2 for g in range(H)]},
            "plot": {
                "title.text": f"Layer {l + 1}, {what}: {len(hh)} lines with weight ≥ {shown}",
                "y_range.start": -T + 0.4,
            },
            "focus": {"options": focus_options(toks)},
            "table-text": table.columns,
            "table-bands": _bands([] if every else [(172, -10 - 18 * (h + 1), 345, 18)]),
            "table": {"title.text": f"Heads of layer {l + 1}" + (focus or " on this sentence")},
            "description": _describe_head_view(
                f"Layer {l + 1}, {what}: {len(hh)} lines with weight ≥ {shown}", toks, w, heads, every
            ),
        }


def _describe_head_view(title: str, toks, w: np.ndarray, heads: list, every: bool) -> dict:
    """The head view's description: the title, the sentence, each query's strongest key (mean over the heads shown,
    summed in the page's order)."""

    def mean(i: int, j: int) -> float:
        a = 0.0
        for g in heads:
            a += float(w[g, i, j])
        return a / len(heads)

    parts = []
    for i, t in enumerate(toks):
        b = 0
        for j in range(1, len(toks)):
            if mean(i, j) > mean(i, b):
                b = j
        parts.append(f"{t} → {toks[b]} {mean(i, b):.2f}")
    text = (
        f"{title}. Sentence “{' '.join(toks)}”. Strongest key of each query"
        f"{' (mean over heads)' if every else ''}: {', '.join(parts)}."
    )
    return described(_WHAT_HEAD_VIEW, html.escape(text))


def _token_boxes(toks, side, fi: int, mean: np.ndarray, fill: str) -> dict:
    """The head view's token boxes: the focused one marked, the other column shaded by ``mean`` (T, T) to or from it."""
    box = {k: [] for k in ("bx", "y", "tx", "text", "align", "key", "fill", "alpha", "bw")}
    for c, bx, tx, align in (
        ("q", "left_box", "left_text", "right"),
        ("k", "right_box", "right_text", "left"),
    ):
        for i, t in enumerate(toks):
            a = 0.0
            if side == c and i == fi:
                a = 0.35
            elif side == "q" and c == "k":
                a = mean[fi, i]
            elif side == "k" and c == "q":
                a = mean[i, fi]
            values = (GEOMETRY[bx], -i, GEOMETRY[tx], t, align, f"{c}{i}", fill, a, GEOMETRY["box_w"])
            for k, v in zip(box, values, strict=True):
                box[k].append(v)
    return box


def _heads_table(p, stats: np.ndarray, w: np.ndarray, toks, h: int, side, fi: int) -> _Text:
    """The head view's table: every head's statistics (H, S); with a focus, its strongest partner in ``w``."""
    table, y = _Text(), [-10 - 18 * r for r in range(len(p.colors) + 1)]
    table.put(4, y[0], "head", "bold")
    for k, title in enumerate(p.short):
        table.put(GEOMETRY["table_columns"][k], y[0], title, "bold", "right")
    if side is not None:
        table.put(264, y[0], "→ key" if side == "q" else "← query", "bold")
    for g, color in enumerate(p.colors):
        st = "bold" if g == h else "normal"
        table.put(4, y[g + 1], "■", color=color)
        table.put(16, y[g + 1], str(g + 1), st)
        for k in range(len(p.short)):
            table.put(GEOMETRY["table_columns"][k], y[g + 1], f"{stats[g, k]:.2f}", st, "right")
        if side is not None:
            line = w[g, fi, :] if side == "q" else w[g, :, fi]
            best = int(np.argmax(line))  # the first of equal weights, as the page's loop
            table.put(264, y[g + 1], f"{toks[best]} {line[best]:.2f}", st)
    return table


def head_view_payload(
    sweep, *, threshold: float = HEAD_THRESHOLD, all_heads_threshold: float = ALL_HEADS_THRESHOLD
) -> HeadViewPayload:
    """Pack a sweep for the head view: levels of every head, statistics per layer and head."""
    labels, tokens, T = _check_sweep(sweep)
    threshold = check_real("threshold", threshold, low=0.0, high=1.0)
    all_heads_threshold = check_real("all_heads_threshold", all_heads_threshold, low=0.0, high=1.0)
    L, H = np.shape(sweep.attentions[0])[:2]
    if H > len(HEAD_COLORS):
        raise ValueError(f"the head view colours at most {len(HEAD_COLORS)} heads, got H = {H}")
    focus = ["all"] + [f"{c}{i}" for i in range(T) for c in "qk"]  # interleaved: the middle value is a token
    controls = (
        Control("sentence", labels),
        Control("layer", tuple(str(i + 1) for i in range(L))),
        Control("head", ("all", *(str(i + 1) for i in range(H)))),
        Control("focus", tuple(focus)),
    )
    axes = dict(tokens=("sentence",), lengths=("sentence",), levels=("sentence", "layer"))
    axes.update(stats=("sentence", "layer"))
    return HeadViewPayload(
        controls=controls,
        axes=axes,
        **_tokens(tokens, T),
        levels=quantize(_pad(sweep.attentions, T, np.float32)),
        stats=np.ascontiguousarray(np.moveaxis(sweep.statistics, 1, -1), np.float32),
        short=tuple(_SHORT[s] for s in sweep.statistic_names),
        colors=HEAD_COLORS[:H],
        threshold=threshold,
        all_heads_threshold=all_heads_threshold,
        threshold_text=(f"{threshold:g}", f"{all_heads_threshold:g}"),
    )


def _head_diagram(name: str, p: HeadViewPayload, height: int):
    """The head view's canvas: token boxes and labels in two columns, the lines between, the head legend.

    Returns ``(plot, {"lines", "tokens", "legend"} sources, token boxes, legend squares)``.
    """
    T, H, g = len(p.tokens[0]), len(p.colors), GEOMETRY
    lines = empty_source(
        f"{name}-lines", 0, **dict.fromkeys(["y0", "y1", "alpha", "width"], "float"), color="str"
    )
    floats, strs = (
        dict.fromkeys(["bx", "y", "tx", "alpha", "bw"], "float"),
        dict.fromkeys(["text", "align"], "str"),
    )
    tokens = empty_source(f"{name}-tokens", 0, **floats, **strs, key="str", fill="str")
    numbers = [str(h + 1) for h in range(H)]
    legend = empty_source(
        f"{name}-legend",
        H,
        x=np.linspace(-0.95, 2.05, H),
        y=np.full(H, 1.15),
        text=numbers,
        value=numbers,
        color=list(p.colors),
        alpha=np.ones(H),
    )
    plot = diagram_figure(
        name=f"{name}-plot", width=375, height=height, title=" ", x_range=(-1.1, 2.2), y_range=(-T + 0.4, 1.5)
    )
    plot.segment(
        g["x0"], "y0", g["x1"], "y1", source=lines, line_color="color", line_alpha="alpha", line_width="width"
    )
    style = dict(fill_color="color", fill_alpha="alpha", line_color=None)
    boxes = plot.rect("bx", "y", "bw", 0.84, source=tokens, **{**style, "fill_color": "fill"})
    squares = plot.rect("x", "y", 0.22, 0.5, source=legend, **style)
    for source, x, align, size, color in (
        (tokens, "tx", "align", "10pt", INK),
        (legend, "x", "center", "8pt", "white"),
    ):
        plot.text(
            x,
            "y",
            text="text",
            source=source,
            text_align=align,
            text_baseline="middle",
            text_font_size=size,
            text_color=color,
        )
    return plot, dict(lines=lines, tokens=tokens, legend=legend), boxes, squares


def head_view_layout(p: HeadViewPayload, *, name: str = "headview", layer: int = 0, head: int = 0):
    """Queries left, keys right, one line per weight; the layer's heads in a table beside them."""
    check_name(name)
    check_payload(p)
    L, H, T = len(p.controls[1].values), len(p.colors), len(p.tokens[0])
    layer, head = check_int("layer", layer, low=0, high=L - 1), check_int("head", head, low=0, high=H - 1)
    height = max(60 + 22 * T, 70 + 18 * H)
    plot, sources, boxes, squares = _head_diagram(name, p, height)
    table, table_text, table_bands = text_panel(f"{name}-table", width=345, height=height, title=" ")
    sentences, layers, heads = (c.values for c in p.controls[:3])
    widgets = {
        "sentence": select(f"{name}-sentence", "Sentence", sentences, sentences[0], width=420),
        "layer": select(f"{name}-layer", "Layer", layers, layers[layer], width=70),
        "head": labelled_select(
            f"{name}-head",
            "Head",
            [("all", "all heads"), *((v, v) for v in heads[1:])],
            heads[head + 1],
            width=90,
        ),
        "focus": labelled_select(
            f"{name}-focus", "Focus token", focus_options(p.tokens[0][: p.lengths[0]]), "all", width=150
        ),
    }
    update = js_callback(
        "pretrained_head_view",
        payload=payload_source(p, name=name),
        widgets=widgets,
        plot=plot,
        **sources,
        table=table,
        table_text=table_text,
        table_bands=table_bands,
        geometry=GEOMETRY,
        description=description(name, _WHAT_HEAD_VIEW),
    )
    on_change(update, *widgets.values())
    # Pointer: hovering a token focuses it, tapping pins it, tapping a legend square picks that head.
    pointer = js_callback(
        "pretrained_head_focus",
        focus=widgets["focus"],
        head=widgets["head"],
        tokens_source=sources["tokens"],
        legend_source=sources["legend"],
    )
    plot.add_tools(
        HoverTool(renderers=[boxes], tooltips=None, callback=pointer, name=f"{name}-hover"),
        TapTool(renderers=[boxes, squares], behavior="inspect", callback=pointer, name=f"{name}-tap"),
    )
    hint = Div(text=_HINT, name=f"{name}-hint", width=720)
    fig = column(control_row(f"{name}-controls", *widgets.values()), hint, row(plot, table), name=name)
    return on_document_ready(fit(fig), update)


def head_view_figure(
    sweep,
    *,
    name: str = "headview",
    threshold: float = HEAD_THRESHOLD,
    all_heads_threshold: float = ALL_HEADS_THRESHOLD,
    **initial,
):
    """``head_view_layout(head_view_payload(sweep))`` (``initial``: the 0-based ``layer`` and ``head`` shown first)."""
    p = head_view_payload(sweep, threshold=threshold, all_heads_threshold=all_heads_threshold)
    return head_view_layout(p, name=name, **initial)


# --- model view ----------------------------------------------------------------------------------------------
def tiled(levels) -> np.ndarray:
    """Every head's levels ``(L, H, T, T)`` tiled into one image: layers down, heads across, a zero pixel between.

    ``out[l (T + 1) + i, h (T + 1) + j] = levels[l, h, i, j]``; shape ``(L (T + 1) - 1, H (T + 1) - 1)``.
    """
    L, H, T, _ = levels.shape
    padded = np.zeros((L, T + 1, H, T + 1), levels.dtype)
    padded[:, :T, :, :T] = levels.transpose(0, 2, 1, 3)  # (L, T, H, T): query rows, then heads across
    return padded.reshape(L * (T + 1), H * (T + 1))[:-1, :-1]


class ModelViewPayload(NamedTuple):
    """Model view: every head's ``levels`` (n, L, H, T, T); statistics and their ranks (n, L, H, S)."""

    controls: tuple
    axes: dict
    tokens: list  # (n, T): padded with ""
    lengths: np.ndarray  # (n,) int32
    levels: np.ndarray  # (n, L, H, T, T) uint8, w = level / 255
    stats: np.ndarray  # (n, L, H, S) float32
    ranks: np.ndarray  # (n, L, H, S) int32: 1 = the strongest of all L H heads
    labels: tuple  # S statistic names

    def view(p, state: dict) -> dict:
        """The tiled image and its frames, the enlarged head, and its statistics."""
        T, toks = _sentence(p, state)
        levels = np.asarray(pick(p, "levels", state)[:, :, :T, :T], np.uint8)  # (L, H, T, T)
        L, H = levels.shape[:2]
        l, h, P = int(state["layer"]) - 1, int(state["head"]) - 1, T + 1
        image = tiled(levels)
        ll, hh = (a.ravel() for a in np.meshgrid(np.arange(L), np.arange(H), indexing="ij"))
        xt, yt = [k * P + T / 2 for k in range(H)], [-(k * P + T / 2) for k in range(L)]
        stats, ranks = pick(p, "stats", state), pick(p, "ranks", state).astype(int)  # (S,) each
        text, y = _Text(), [-14 - 21 * r for r in range(len(p.labels) + 6)]
        text.put(6, y[0], f"Layer {l + 1}, head {h + 1} on this sentence (T = {T})", "bold")
        text.put(6, y[1], "statistic", "bold")
        text.put(222, y[1], "value", "bold", "right")
        text.put(294, y[1], f"rank of {L * H}", "bold", "right")
        for k, label in enumerate(p.labels):
            st = "bold" if ranks[k] <= 3 else "normal"
            text.put(6, y[k + 2], STATISTIC_LABELS[label], st)
            text.put(222, y[k + 2], f"{stats[k]:.3f}", st, "right")
            text.put(294, y[k + 2], str(ranks[k]), st, "right")
        first = _weights(levels[l, h, 0])
        best, r0 = int(np.argmax(first)), len(p.labels) + 3
        text.put(6, y[r0], "Shaded: one of the 3 strongest heads for it.")
        text.put(6, y[r0 + 1], "Rows are queries, columns keys; rows sum to 1.")
        text.put(6, y[r0 + 2], f"{toks[0]} (first query) looks most at {toks[best]}: {first[best]:.2f}")
        return {
            "image": {"data.image.0": image, "dw": [image.shape[1]], "dh": [image.shape[0]]},
            "thumbs": dict(
                x=hh * P + T / 2, y=-(ll * P + T / 2), size=np.full(L * H, T + 0.4), layer=ll + 1, head=hh + 1
            ),
            "frame": dict(x=[h * P + T / 2], y=[-(l * P + T / 2)], size=[T + 0.8]),
            "grid-xticks": {"ticks": xt},
            "grid-yticks": {"ticks": yt},
            "grid": {"x_range.end": image.shape[1] + 1, "y_range.start": -image.shape[0] - 1},
            **_grid_view("detail", toks, _weights(levels[l, h]), f"Layer {l + 1}, head {h + 1}"),
            "stats-text": text.columns,
            "stats-bands": _bands([(150, y[k + 2], 300, 21) for k in range(len(p.labels)) if ranks[k] <= 3]),
            "description": described(_WHAT_MODEL_VIEW, html.escape(panel_text(text.columns))),
        }


def model_view_payload(sweep) -> ModelViewPayload:
    """Pack a sweep for the model view: levels of every head, statistics and ranks per head."""
    labels, tokens, T = _check_sweep(sweep)
    L, H = np.shape(sweep.attentions[0])[:2]
    controls = (
        Control("sentence", labels),
        Control("layer", tuple(range(1, L + 1))),
        Control("head", tuple(range(1, H + 1))),
    )
    axes = dict(tokens=("sentence",), lengths=("sentence",), levels=("sentence",))
    axes.update(stats=("sentence", "layer", "head"), ranks=("sentence", "layer", "head"))
    return ModelViewPayload(
        controls=controls,
        axes=axes,
        **_tokens(tokens, T),
        levels=quantize(_pad(sweep.attentions, T, np.float32)),
        stats=np.ascontiguousarray(np.moveaxis(sweep.statistics, 1, -1), np.float32),
        ranks=np.ascontiguousarray(np.moveaxis(sweep.ranks, 1, -1), np.int32),
        labels=tuple(sweep.statistic_names),
    )


def _thumbnails(name: str, L: int, H: int):
    """The model view's canvas: one image of every head, a frame per thumbnail (hover, tap), a red frame.

    Data units are image pixels, so a callback places everything once it knows T. Returns
    ``(plot, {"image", "thumbs", "frame"} sources, thumbnail frames)``.
    """
    image = empty_source(f"{name}-image", 1, image=[np.zeros((1, 1), np.uint8)], x=[0], y=[0], dw=[1], dh=[1])
    thumbs = empty_source(f"{name}-thumbs", 0, **dict.fromkeys(["x", "y", "size", "layer", "head"], "float"))
    frame = empty_source(f"{name}-frame", 0, x="float", y="float", size="float")
    plot = figure(
        name=f"{name}-grid",
        width=740,
        height=60 + int(680 * L / H),
        x_range=(0, 1),
        y_range=(-1, 0),
        tools="",
        toolbar_location=None,
        x_axis_location="above",
        title="Every head of every layer (tap one to enlarge it)",
    )
    mapper = color_mapper(f"{name}-mapper", SEQUENTIAL, 0, QUANT_LEVELS)
    plot.image(
        image="image",
        x="x",
        y="y",
        dw="dw",
        dh="dh",
        source=image,
        origin="top_left",
        anchor="top_left",
        color_mapper=mapper,
    )
    boxes = plot.rect(
        "x", "y", "size", "size", source=thumbs, fill_alpha=0, line_color="#c6dbef", line_width=1
    )
    plot.rect("x", "y", "size", "size", source=frame, fill_alpha=0, line_color="#d62728", line_width=2.5)
    plot.xaxis.ticker = FixedTicker(ticks=[], name=f"{name}-grid-xticks")
    plot.yaxis.ticker = FixedTicker(ticks=[], name=f"{name}-grid-yticks")
    plot.xaxis.axis_label, plot.yaxis.axis_label = "head", "layer"
    plot.axis.major_tick_line_color = plot.axis.minor_tick_line_color = plot.axis.axis_line_color = None
    plot.grid.visible = False
    plot.outline_line_color = None
    return plot, dict(image=image, thumbs=thumbs, frame=frame), boxes


def model_view_layout(p: ModelViewPayload, *, name: str = "modelview", layer: int = 0, head: int = 0):
    """Every layer x head as a thumbnail (tap one to enlarge it), the enlarged head and its statistics."""
    check_name(name)
    check_payload(p)
    sentences, layers, heads = (c.values for c in p.controls)
    L, H = len(layers), len(heads)
    layer, head = check_int("layer", layer, low=0, high=L - 1), check_int("head", head, low=0, high=H - 1)
    grid, sources, boxes = _thumbnails(name, L, H)
    tokens = p.tokens[0][: p.lengths[0]]
    detail, cells, axes = weight_grid(
        f"{name}-detail", tokens, title=" ", width=420, height=400, colorbar=True
    )
    stats, stats_text, stats_bands = text_panel(f"{name}-stats", width=300, height=400, font_size="9pt")
    widgets = {
        "sentence": select(f"{name}-sentence", "Sentence", sentences, sentences[0], width=420),
        "layer": slider(f"{name}-layer", "Layer", 1, L, layer + 1, width=140),
        "head": slider(f"{name}-head", "Head", 1, H, head + 1, width=150),
    }
    update = js_callback(
        "pretrained_model_view",
        payload=payload_source(p, name=name),
        widgets=widgets,
        grid=grid,
        grid_axes=[grid.xaxis[0], grid.yaxis[0]],
        **sources,
        detail=detail,
        detail_cells=cells,
        detail_axes=axes,
        stats_text=stats_text,
        stats_bands=stats_bands,
        statistic_labels=STATISTIC_LABELS,
        description=description(name, _WHAT_MODEL_VIEW),
    )
    on_change(update, *widgets.values())
    # Tapping a thumbnail moves the layer and head sliders to it (the controls: the numbers check covers it).
    tap = js_callback(
        "pretrained_model_tap", layer=widgets["layer"], head=widgets["head"], thumbs_source=sources["thumbs"]
    )
    grid.add_tools(
        TapTool(renderers=[boxes], behavior="inspect", callback=tap, name=f"{name}-tap"),
        HoverTool(renderers=[boxes], tooltips=[("layer", "@layer"), ("head", "@head")], name=f"{name}-hover"),
    )
    fig = column(control_row(f"{name}-controls", *widgets.values()), grid, row(detail, stats), name=name)
    return on_document_ready(fit(fig), update)


def model_view_figure(sweep, *, name: str = "modelview", **initial):
    """``model_view_layout(model_view_payload(sweep))`` (``initial``: the 0-based ``layer`` and ``head``)."""
    return model_view_layout(model_view_payload(sweep), name=name, **initial)


# --- patterns ------------------------------------------------------------------------------------------------
class PatternsPayload(NamedTuple):
    """Head patterns: each statistic of every head per sentence, the last entry their mean over sentences."""

    controls: tuple
    axes: dict
    values: np.ndarray  # (n + 1, S, L, H) float32
    top_layer: np.ndarray  # (n + 1, S, k) int32: the k strongest heads per statistic, best first (0-based)
    top_head: np.ndarray  # (n + 1, S, k) int32
    top_value: np.ndarray  # (n + 1, S, k) float32
    labels: tuple  # S statistic names
    highs: tuple  # S colour-scale maxima: 1, and log T of the longest sentence for entropy

    def view(p, state: dict) -> dict:
        """Map colours and numbers, the top heads framed, and the table of every statistic's top heads."""
        values = pick(p, "values", state)  # (L, H)
        q = p.labels.index(state["pattern"])
        high, k = float(p.highs[q]), p.top_layer.shape[-1]
        layers, heads = (pick(p, f, state).astype(int) for f in ("top_layer", "top_head"))  # (S, k)
        tops = pick(p, "top_value", state)
        what = "mean over all sentences" if state["sentence"] == p.controls[0].values[-1] else "this sentence"
        table, y = _Text(), [-14 - 22 * r for r in range(len(p.labels) + 1)]
        table.put(6, y[0], f"statistic ({what})", "bold")
        for r in range(k):
            table.put(250 + 163 * r, y[0], f"#{r + 1}", "bold")
        for s, label in enumerate(p.labels):
            st = "bold" if s == q else "normal"
            table.put(6, y[s + 1], STATISTIC_LABELS[label], st)
            for r in range(k):
                text = f"layer {layers[s, r] + 1}, head {heads[s, r] + 1}: {tops[s, r]:.3f}"
                table.put(250 + 163 * r, y[s + 1], text, st)
        return {
            "cells": dict(
                value=values.ravel(),
                text=[f"{v:.2f}" for v in values.ravel()],
                text_color=["white" if float(v) > 0.6 * high else INK for v in values.ravel()],
            ),
            "top": dict(x=heads[q].astype(float), y=-layers[q].astype(float), rank=list(range(1, k + 1))),
            "mapper": {"high": high},
            "map": {
                "title.text": f"{STATISTIC_LABELS[p.labels[q]]}: value of every head ({what}); "
                f"red frames: the {k} strongest"
            },
            "table-text": table.columns,
            "table-bands": _bands([(370, y[q + 1], 740, 22)]),
            "description": described(
                _WHAT_PATTERNS,
                html.escape(
                    f"{STATISTIC_LABELS[p.labels[q]]}: value of every head ({what}); red frames: the {k} strongest. "
                    + panel_text(table.columns)
                ),
            ),
        }


def patterns_payload(sweep, *, k: int = 3) -> PatternsPayload:
    """Pack a sweep for the patterns figure: statistics per sentence and their mean, the ``k`` top heads of each."""
    labels, tokens, T = _check_sweep(sweep)
    L, H = np.shape(sweep.attentions[0])[:2]
    k = check_int("k", k, low=1, high=L * H)
    values = np.concatenate([sweep.statistics, np.asarray(sweep.mean_statistics)[None]])  # (n + 1, S, L, H)
    ranks = np.concatenate([sweep.ranks, np.asarray(sweep.mean_ranks)[None]]).reshape(
        *values.shape[:2], L * H
    )
    flat = np.stack([np.argmax(ranks == r, axis=-1) for r in range(1, k + 1)], axis=-1)  # (n + 1, S, k)
    names = tuple(sweep.statistic_names)
    controls = (
        Control("sentence", (*labels, f"mean over all {len(labels)} sentences")),
        Control("pattern", names),
    )
    return PatternsPayload(
        controls=controls,
        axes=dict(
            values=("sentence", "pattern"),
            top_layer=("sentence",),
            top_head=("sentence",),
            top_value=("sentence",),
        ),
        values=values.astype(np.float32),
        top_layer=(flat // H).astype(np.int32),
        top_head=(flat % H).astype(np.int32),
        top_value=np.take_along_axis(values.reshape(ranks.shape), flat, axis=-1).astype(np.float32),
        labels=names,
        highs=tuple(float(np.log(T)) if s == "entropy" else 1.0 for s in names),
    )


def patterns_layout(p: PatternsPayload, *, name: str = "patterns"):
    """A layer x head map coloured by one statistic, its top heads framed, and a table of every statistic's."""
    check_name(name)
    check_payload(p)
    L, H = p.values.shape[2:]
    numbers = dict(layer=np.repeat(np.arange(1, L + 1), H), head=np.tile(np.arange(1, H + 1), L))
    cells = grid_source(f"{name}-cells", L, H, value="float", text="str", text_color="str", **numbers)
    layers, heads = [str(i + 1) for i in range(L)], [str(j + 1) for j in range(H)]
    mapper = color_mapper(f"{name}-mapper")
    size = dict(width=740, height=70 + 44 * L)
    plot, rects = token_grid(
        cells,
        name=f"{name}-map",
        title=" ",
        q_tokens=layers,
        k_tokens=heads,
        color_field="value",
        mapper=mapper,
        **size,
    )
    plot.xaxis.major_label_orientation = "horizontal"
    plot.xaxis.axis_label, plot.yaxis.axis_label = "head", "layer"
    plot.text(
        "x",
        "y",
        text="text",
        source=cells,
        text_color="text_color",
        text_align="center",
        text_baseline="middle",
        text_font_size="8.5pt",
    )
    top = empty_source(f"{name}-top", 0, x="float", y="float", rank="float")
    plot.rect("x", "y", 0.96, 0.92, source=top, fill_alpha=0, line_color="#d62728", line_width=2.5)
    plot.add_tools(hover(rects, ("layer", "@layer"), ("head", "@head"), ("value", "@value{0.000}")))
    table, table_text, table_bands = text_panel(f"{name}-table", width=740, height=40 + 22 * len(p.labels))
    sentences, statistics = p.controls[0].values, [(s, STATISTIC_LABELS[s]) for s in p.labels]
    widgets = {
        "sentence": select(f"{name}-sentence", "Sentence", sentences, sentences[0], width=460),
        "pattern": labelled_select(f"{name}-pattern", "Statistic", statistics, p.labels[0], width=230),
    }
    models = dict(
        cells=cells, top=top, mapper=mapper, plot=plot, table_text=table_text, table_bands=table_bands
    )
    update = js_callback(
        "pretrained_patterns",
        payload=payload_source(p, name=name),
        widgets=widgets,
        **models,
        statistic_labels=STATISTIC_LABELS,
        description=description(name, _WHAT_PATTERNS),
    )
    on_change(update, *widgets.values())
    fig = column(
        control_row(f"{name}-controls", *widgets.values()),
        scroller(plot, least=400),
        scroller(table),
        name=name,
    )
    return on_document_ready(fit(fig), update)


def patterns_figure(sweep, *, k: int = 3, name: str = "patterns"):
    """``patterns_layout(patterns_payload(sweep, k=k))``."""
    return patterns_layout(patterns_payload(sweep, k=k), name=name)


# --- rollout -------------------------------------------------------------------------------------------------
class RolloutPayload(NamedTuple):
    """Raw attention (head mean) and rollout of every layer, with the shares the titles quote."""

    controls: tuple
    axes: dict
    tokens: list  # (n, T): padded with ""
    lengths: np.ndarray  # (n,) int32
    raw: np.ndarray  # (n, L, T, T) float32
    rollout: np.ndarray  # (n, 2, L, T, T) float32: without, with the residual term
    raw_shares: np.ndarray  # (n, L, 3) float32: mean weight of a query on itself, on [CLS], on [SEP]
    rollout_shares: np.ndarray  # (n, 2, L, 3) float32

    def view(p, state: dict) -> dict:
        """The two heatmaps and their titles."""
        T, toks = _sentence(p, state)
        l, residual = int(state["layer"]) - 1, bool(state["residual"])
        a, b = (" · ".join(f"{x:.2f}" for x in pick(p, f, state)) for f in ("raw_shares", "rollout_shares"))
        raw_title = f"Raw, layer {l + 1} (head mean): {a}"
        roll_title = f"Rollout 1–{l + 1}{'' if residual else ', no residual'}: {b}"
        return {
            "description": described(
                _WHAT_ROLLOUT, html.escape(f"Sentence “{' '.join(toks)}”. {raw_title}. {roll_title}.")
            ),
            **_grid_view("raw", toks, pick(p, "raw", state)[:T, :T], raw_title),
            **_grid_view("rolled", toks, pick(p, "rollout", state)[:T, :T], roll_title),
        }


def rollout_payload(sweep) -> RolloutPayload:
    """Pack a sweep for the rollout figure: raw attention, rollout without and with the residual term."""
    labels, tokens, T = _check_sweep(sweep)
    L = np.shape(sweep.attentions[0])[0]
    shares = np.asarray(sweep.shares, np.float32)  # (n, 3, L, 3): raw, rollout without / with residual
    controls = (
        Control("sentence", labels),
        Control("layer", tuple(range(1, L + 1))),
        Control("residual", (False, True), "active"),
    )
    axes = dict(tokens=("sentence",), lengths=("sentence",), raw=("sentence", "layer"))
    axes.update(rollout=("sentence", "residual", "layer"), raw_shares=("sentence", "layer"))
    axes.update(rollout_shares=("sentence", "residual", "layer"))
    return RolloutPayload(
        controls=controls,
        axes=axes,
        **_tokens(tokens, T),
        raw=_pad(sweep.raw, T, np.float32),
        rollout=_pad(sweep.rollout, T, np.float32),
        raw_shares=np.ascontiguousarray(shares[:, 0]),
        rollout_shares=np.ascontiguousarray(shares[:, 1:]),
    )


def rollout_layout(
    p: RolloutPayload, *, name: str = "rollout", layer: int | None = None, residual: bool = True
):
    """Raw attention of one layer beside rollout up to it; a layer slider and a residual toggle."""
    check_name(name)
    check_payload(p)
    L = len(p.controls[1].values)
    layer = L - 1 if layer is None else check_int("layer", layer, low=0, high=L - 1)
    residual = check_bool("residual", residual)
    tokens = p.tokens[0][: p.lengths[0]]
    grids = [
        weight_grid(f"{name}-{role}", tokens, title=title, width=365, height=380, colorbar=True)
        for role, title in (("raw", "Raw attention"), ("rolled", "Attention rollout"))
    ]
    for plot, _, _ in grids:
        plot.title.text_font_size = "9pt"
    sentences = p.controls[0].values
    widgets = {
        "sentence": select(f"{name}-sentence", "Sentence", sentences, sentences[0], width=420),
        "layer": slider(f"{name}-layer", "Layer", 1, L, layer + 1, width=160),
        "residual": toggle(f"{name}-residual", "Residual (A + I) / 2", residual, width=150),
    }
    plots, cells, axes = zip(*grids, strict=True)
    update = js_callback(
        "pretrained_rollout",
        payload=payload_source(p, name=name),
        widgets=widgets,
        plots=list(plots),
        cells=list(cells),
        axes=list(axes),
        description=description(name, _WHAT_ROLLOUT),
    )
    for control in p.controls:
        widgets[control.widget].js_on_change(control.attr, update)
    note = Div(text=_ROLLOUT_NOTE, name=f"{name}-note", width=740)
    fig = column(control_row(f"{name}-controls", *widgets.values()), note, row(*plots), name=name)
    return on_document_ready(fit(fig), update)


def rollout_figure(sweep, *, name: str = "rollout", **initial):
    """``rollout_layout(rollout_payload(sweep))`` (``initial``: the 0-based ``layer``, ``residual``)."""
    return rollout_layout(rollout_payload(sweep), name=name, **initial)
