"""Chapter 10's figure: the reader's own text, run through the book's trained GPT by a JavaScript forward pass in the
page (``js/runtime/gpt.mjs``): attention of every layer and head, the next-character distribution, a seeded sampler
and the model end to end, position by position.

The payload carries the model (config, vocabulary, float32 weights, shipped once) and NumPy's forward pass of the
text the page opens with (from :func:`attnbook.experiments.own_text.reference`), which :meth:`OwnTextPayload.view`
turns into what the page must show for that text; for any other text the browser tests compare the page with NumPy
directly. Callback ``js/own_text_update.mjs``.
"""

from __future__ import annotations

import html
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import ColorBar, Div, FixedTicker, Range1d

from .._checks import check_choice, check_int
from .core import DIVERGING, check_name, diagram_figure, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source
from .kit import (
    SHOWN_CHARS,
    attention_columns,
    attention_views,
    bar_panel,
    button,
    color_mapper,
    described,
    description,
    empty_source,
    fit,
    hover,
    image_cells,
    image_columns,
    image_source,
    line_panel,
    scroller,
    select,
    shown_char,
    slider,
    spinner,
    text_input,
)
from .kit import text_notice as notice

__all__ = [
    "HEAT_LABELS",
    "HEAT_MARGIN",
    "HEAT_MIN",
    "LINE_MIN",
    "N_GENERATE",
    "N_TOP",
    "N_PREDICT",
    "TEMPERATURES",
    "TOP_KS",
    "OwnTextPayload",
    "notice",
    "sampling_probs",
    "payload",
    "layout",
    "own_text_figure",
]

TEMPERATURES = tuple(i / 4 for i in range(9))  # 0 (always the most likely character) .. 2
TOP_KS = ("all", "10", "5", "3", "1")
N_TOP = 10  # candidates in the next-character chart
_WHAT = (
    "The book's trained model reading the text in the box: the attention of the chosen layer and head over the "
    "text, and the model's probabilities for the next character."
)
N_PREDICT = 5  # predictions shown for the picked position
N_GENERATE = 80  # characters the Generate button samples
SHOWN = SHOWN_CHARS  # how characters that print as nothing are drawn
LINE_MIN = 0.05  # weights drawn as lines (fainter ones are near invisible; each line costs paint time)
# The heatmap labels its rows and columns for texts of at most this many characters: its columns are then about
# 10 px wide; past it they are too narrow for a character (the lines and the end-to-end picture label the same
# positions), and 128 labels are a good part of a keystroke's painting.
HEAT_LABELS = 32
HEAT_MIN = 8  # the heatmap spans at least this many positions (a short text's cells stay a readable size)
HEAT_MARGIN = (
    0.05  # the heatmap's label band, a share of the positions it spans: about 17 px whatever the text
)
# The lines and the end-to-end picture keep about 10 px a position for a full window: on a narrower column they keep
# that width and scroll sideways in their own box (their characters would otherwise run into one another).
LINES_LEAST, MODEL_LEAST = 650, 680
X_PAD = 0.8  # the lines and the end-to-end picture reach this far beyond their first and last positions: room
# for a wide character (⏎) there
Y_BARS = (0, 1.15)  # the bar charts' probability axis: room above a bar of probability 1 for its character
PICKED, OTHER, HIT = (
    "#e6550d",
    "#3182bd",
    "#31a354",
)  # the picked position's lines; the others; the actual next


_shown = shown_char


def _span(T: int, block_size: int) -> int:
    """Positions the plots' ranges span for a text of T characters: 8, 16, 32... up to the window (the range changes
    seldom while you type: a new range makes Bokeh lay the plot out again). Twin of ``span`` in own_text_update.mjs."""
    return min(block_size, 2 ** int(np.ceil(np.log2(max(T, 8)))))


def _heat_span(T: int) -> int:
    """Positions the heatmap spans for a text of T characters: T itself (at least :data:`HEAT_MIN`), so the heatmap
    keeps its size as you type and its cells are its width / T. Twin of ``heatSpan`` in own_text_update.mjs."""
    return max(T, HEAT_MIN)


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(s: str) -> str:
    return _html(s.replace("\n", "⏎"))


def sampling_probs(logits, temperature: float, top_k: str) -> np.ndarray:
    """Probabilities the sampler draws from (twin of ``samplingProbs`` in gpt.mjs and ``attnbook.sample``):
    temperature 0 is the arg-max; top-k keeps the logits >= the k-th largest; then softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64)
    out = np.zeros_like(z)
    if temperature == 0:
        out[int(np.argmax(z))] = 1.0
        return out
    keep = z >= (np.sort(z)[-int(top_k)] if top_k != "all" else -np.inf)
    e = np.where(keep, np.exp(z / temperature - (z[keep] / temperature).max()), 0.0)
    return e / e.sum()


class OwnTextPayload(NamedTuple):
    """The model the page runs and NumPy's forward pass of the opening text (T = its window's length)."""

    controls: tuple
    axes: dict  # empty: no field is indexed by a control, the page computes every state from the model
    config: dict  # the ModelConfig's fields
    chars: str  # vocabulary, character i has id i
    weights: dict  # parameter name -> float32 array, attnbook.model names and shapes
    stages: tuple  # where the residual stream is read (attnbook.experiments.own_text.stream_stages)
    n_generate: int  # characters the Generate button samples
    text: str  # the opening text
    window: str  # what the model reads of it
    folded: str
    skipped: str
    n_skipped: int
    n_cut: int
    log_probs: np.ndarray  # (T, V) float32
    attention: np.ndarray  # (L, H, T, T) float32
    stream: np.ndarray  # (S, T, C) float32

    def view(p, state: dict) -> dict:
        """What the page shows for the opening text and the widget values ``state``."""
        T, V, B = len(p.window), len(p.chars), p.config["block_size"]
        layer, head = int(state["layer"]) - 1, int(state["head"]) - 1
        pos = min(int(state["position"]), T - 1)
        labels = {"x": np.arange(T), "y": -np.arange(T), "char": [_shown(c) for c in p.window]}
        A = p.attention[layer, head].astype(np.float64)
        att = attention_columns(A, LINE_MIN, lambda i, j: PICKED if i == pos else OTHER)
        probs = np.exp(p.log_probs.astype(np.float64))  # (T, V)
        nxt = probs[-1] if T else np.full(V, np.nan)
        top = np.argsort(-nxt, kind="stable")[:N_TOP] if T else np.zeros(0, int)
        sample = sampling_probs(p.log_probs[-1], state["temperature"], state["top_k"])[top] if T else []
        S = len(p.stages)
        rms = np.sqrt((p.stream.astype(np.float64) ** 2).mean(axis=-1))  # (S, T): size of the residual stream
        out = {
            "notice": {"text": notice(p.text, p.window, p.folded, p.skipped, p.n_skipped, p.n_cut, B)},
            "chars": labels,
            "heat-chars": labels if T <= HEAT_LABELS else {"x": [], "y": [], "char": []},
            "flow-chars": labels,
            "cells": att["cells"],  # masked keys: NaN, drawn grey
            "links": att["links"],
            "next": {"char": list(p.chars), "prob": nxt},
            "top": {
                "x": np.arange(len(top)),
                "char": [_shown(p.chars[v]) for v in top],
                "prob": nxt[top],
                "sample": np.asarray(sample),
            },
            "flow": image_columns(rms, -0.5, -0.5),  # (S, T): row s at y = s
            "argmax": {
                "x": np.arange(T),
                "char": [_shown(p.chars[v]) for v in probs.argmax(-1)],
                "prob": probs.max(-1) if T else np.zeros(0),
            },
            "pick": {"x": np.arange(T)[pos : pos + 1] if T else np.zeros(0)},
            **_ranges(T, B),
            # the slider spans the text (one position at least: a slider needs a range)
            "position": {"end": max(T - 1, 1), "value": min(int(state["position"]), max(T - 1, 1))},
        }
        out["flow-mapper"] = {"high": max(1.0, float(rms.max(initial=0.0)))}
        out.update(_position_view(p, pos, probs, S))
        state_text = (
            f"Text of {T} character{'' if T == 1 else 's'}; the most likely next character is "
            f"\u201c{_shown(p.chars[top[0]])}\u201d."
            if T
            else "No text yet."
        )
        out["description"] = described(_WHAT, html.escape(state_text))
        return out


def _ranges(T: int, B: int) -> dict:
    """The plots' x (and the heatmap's y) ranges for a text of T characters: the heatmap spans the text and a label
    band; the lines and the end-to-end picture span :func:`_span` positions, with a little room at either end."""
    n = _heat_span(T)
    m = HEAT_MARGIN * n
    w = _span(T, B) - 1 + X_PAD
    return {
        "heat-x": {"start": -0.5 - m, "end": n - 0.5},
        "heat-y": {"start": -(n - 0.5), "end": 0.5 + m},
        "lines-x": {"start": -X_PAD, "end": w},
        "model-x": {"start": -X_PAD, "end": w},
    }


def _position_view(p: OwnTextPayload, pos: int, probs: np.ndarray, S: int) -> dict:
    """The picked position: its residual stream at every stage, its top predictions and the caption."""
    T = len(p.window)
    if T == 0:
        empty = {"x": np.zeros(0), "char": [], "prob": np.zeros(0), "color": []}
        return {
            "stream": image_columns(np.zeros((S, 0)), 0, 0),
            "stream-mapper": {"low": -1.0, "high": 1.0},
            "predict": empty,
            "caption": {"text": "Position: nothing to show"},
        }
    vec = p.stream[:, pos, :].astype(np.float64)  # (S, C)
    m = float(np.abs(vec).max()) or 1.0
    order = np.argsort(-probs[pos], kind="stable")[:N_PREDICT]
    after = p.window[pos + 1] if pos + 1 < T else None
    best = int(order[0])
    text = f"Position {pos} “{_shown(p.window[pos])}”: next “{_shown(p.chars[best])}” {probs[pos, best]:.2f}"
    if after is None:
        text += " (nothing typed yet)"
    else:
        text += f", typed “{_shown(after)}” {probs[pos, p.chars.index(after)]:.2f}"
    return {
        "stream": image_columns(vec, -0.5, 0.5 - S),
        "stream-mapper": {"low": -m, "high": m},
        "predict": {
            "x": np.arange(len(order)),
            "char": [_shown(p.chars[v]) for v in order],
            "prob": probs[pos, order],
            "color": [HIT if p.chars[v] == after else OTHER for v in order],
        },
        "caption": {"text": text},
    }


def payload(model, ref, *, n_generate: int = N_GENERATE) -> OwnTextPayload:
    """Pack the model (``params``, ``cfg``, ``tokenizer``: an :class:`attnbook.experiments.own_text.OwnTextModel`)
    and NumPy's forward pass of one text (:func:`attnbook.experiments.own_text.reference` of ``[text]``)."""
    missing = [f for f in ("params", "cfg", "tokenizer") if not hasattr(model, f)]
    if missing:
        raise TypeError(f"model must be an OwnTextModel (attnbook.experiments.own_text); it lacks {missing}")
    missing = [f for f in ("encoded", "stages", "log_probs", "attention", "stream") if not hasattr(ref, f)]
    if missing:
        raise TypeError(
            f"ref must be a Reference (attnbook.experiments.own_text.reference); it lacks {missing}"
        )
    if len(ref.encoded) != 1:
        raise ValueError(f"ref must hold the forward pass of exactly one text, got {len(ref.encoded)}")
    n_generate = check_int("n_generate", n_generate, low=1, high=1000)
    cfg, chars, e = model.cfg.to_dict(), model.tokenizer.chars, ref.encoded[0]
    if len(chars) != cfg["vocab_size"]:
        raise ValueError(f"model.tokenizer has {len(chars)} characters, the config {cfg['vocab_size']}")
    controls = (
        Control("layer", tuple(str(i + 1) for i in range(cfg["n_layer"]))),
        Control("head", tuple(str(i + 1) for i in range(cfg["n_head"]))),
        Control("temperature", TEMPERATURES),
        Control("top_k", TOP_KS),
        Control("position", tuple(range(cfg["block_size"]))),
    )
    return OwnTextPayload(
        controls=controls,
        axes={},
        config=cfg,
        chars=chars,
        weights={k: np.ascontiguousarray(v, dtype=np.float32) for k, v in model.params.items()},
        stages=tuple(ref.stages),
        n_generate=n_generate,
        text=e.text,
        window=e.window,
        folded=e.folded,
        skipped=e.skipped,
        n_skipped=int(e.n_skipped),
        n_cut=int(e.n_cut),
        log_probs=ref.log_probs[0].astype(np.float32),
        attention=ref.attention[0].astype(np.float32),
        stream=ref.stream[0].astype(np.float32),
    )


def _widgets(
    p: OwnTextPayload, name: str, layer: int, head: int, temperature: float, top_k: str, position: int
):
    """The text box, the controls of the payload (in its order) and the sampler's seed and button."""
    return {
        "text": text_input(f"{name}-text", "Your text (the model reads characters)", p.text, width=700),
        "layer": select(f"{name}-layer", "Layer", [c for c in p.controls[0].values], str(layer), width=80),
        "head": select(f"{name}-head", "Head", [c for c in p.controls[1].values], str(head), width=80),
        "temperature": slider(
            f"{name}-temperature", "Temperature (0: most likely)", 0, 2, temperature, step=0.25
        ),
        "top_k": select(f"{name}-top_k", "Top-k", list(TOP_KS), top_k, width=80),
        # The slider spans the text (the callback sets its end as the text changes; at its right end it follows the
        # last character as you type). It shows no number of its own: the caption under the stream says which
        # position is shown, and which character it is.
        "position": slider(
            f"{name}-position",
            "Position (tap a character; right end: the last)",
            0,
            max(len(p.window) - 1, 1),
            min(position, max(len(p.window) - 1, 1)),
            width=250,
        ),  # fmt: skip
        "seed": spinner(f"{name}-seed", "Seed", 0, low=0, high=2**31 - 1, width=90),
        "generate": button(f"{name}-generate", f"Generate {p.n_generate} characters", width=190),
    }


def _sources(p: OwnTextPayload, name: str) -> dict:
    """Every source the callback fills (empty until the page's first update)."""
    return {
        "chars": empty_source(f"{name}-chars", 0, x="float", y="float", char="str"),
        "heat_chars": empty_source(f"{name}-heat-chars", 0, x="float", y="float", char="str"),  # HEAT_LABELS
        # the end-to-end picture's own copy of the labels (a source shared by two plots repaints both on any change)
        "flow_chars": empty_source(f"{name}-flow-chars", 0, x="float", y="float", char="str"),
        "cells": image_source(f"{name}-cells"),
        "links": empty_source(f"{name}-links", 0, x0="float", x1="float", weight="float", color="str"),
        "next": empty_source(f"{name}-next", len(p.chars), char=list(p.chars), prob="float"),
        "top": empty_source(f"{name}-top", 0, x="float", char="str", prob="float", sample="float"),
        "flow": image_source(f"{name}-flow"),
        "argmax": empty_source(f"{name}-argmax", 0, x="float", char="str", prob="float"),
        "pick": empty_source(f"{name}-pick", 0, x="float"),
        "stream": image_source(f"{name}-stream"),
        "predict": empty_source(f"{name}-predict", 0, x="float", char="str", prob="float", color="str"),
    }


def _model_plot(p: OwnTextPayload, name: str, src: dict):
    """Characters → embedding + position → each block → final norm → unembedding and softmax, one column a
    position; a cell's colour is the size (RMS) of the residual stream there."""
    S = len(p.stages)
    plot = diagram_figure(
        name=f"{name}-model",
        width=740,
        height=60 + 34 * (S + 2),
        sizing_mode="stretch_width",
        x_range=Range1d(-X_PAD, 7.5, name=f"{name}-model-x"),
        y_range=Range1d(-1.6, S + 0.6),
        title="The model end to end (tap a column)",
    )
    mapper = color_mapper(f"{name}-flow-mapper", high=1.0)
    flow = image_cells(plot, src["flow"], mapper, origin="bottom_left")  # row s: stage s, at y = s
    plot.add_tools(hover(flow, ("RMS of the stream", "@image{0.000}")))
    font = {"text_align": "center", "text_baseline": "middle", "text_font_size": "9pt"}
    plot.text("x", -1, "char", source=src["flow_chars"], **font)
    plot.text("x", S, "char", source=src["argmax"], text_alpha="prob", text_color=PICKED, **font)
    plot.rect(
        "x", (S - 1) / 2, 0.98, S + 2.4, source=src["pick"], fill_alpha=0, line_color="black", line_width=2
    )
    plot.yaxis.visible = True
    short = [
        s.replace("after the ", "").replace("after ", "").replace("embedding + position", "emb. + pos.")
        for s in p.stages
    ]
    labels = ["character", *short, "prediction"]
    plot.yaxis.ticker = FixedTicker(ticks=list(range(-1, S + 1)), name=f"{name}-model-yticks")
    plot.yaxis.major_label_overrides = {i - 1: t for i, t in enumerate(labels)}
    plot.min_border_left = 10  # the axis labels clear the plot's left edge
    return plot, mapper


def _prediction_plots(p: OwnTextPayload, name: str, src: dict):
    """The next-character chart (probabilities and what the sampler draws from), the picked position's residual
    stream (one row per stage) and its top predictions."""
    top, bars = bar_panel(
        src["top"],
        name=f"{name}-candidates",
        title="Next character (narrow bars: as sampled)",
        x="x",
        top="prob",
        width=360,
        height=300,
        color="#c6dbef",
        y_range=Y_BARS,
    )
    top.vbar("x", 0.45, "sample", source=src["top"], color="#08519c")
    top.add_tools(
        hover(bars, ("next", "@char"), ("probability", "@prob{0.000}"), ("sampled", "@sample{0.000}"))
    )
    mapper = color_mapper(f"{name}-stream-mapper", DIVERGING, -1.0, 1.0)
    S, C = len(p.stages), p.config["d_model"]
    vector = line_panel(
        name=f"{name}-vector",
        title="Residual stream at the picked position",
        x_label="dimension",
        y_label="",
        width=360,
        height=70 + 26 * S,
        x_range=(-0.5, C - 0.5),
        y_range=(-S + 0.5, 0.5),
    )
    vector.add_tools(hover(image_cells(vector, src["stream"], mapper), ("value", "@image{0.000}")))
    vector.yaxis.ticker = FixedTicker(ticks=[-i for i in range(S)], name=f"{name}-vector-yticks")
    vector.yaxis.major_label_overrides = {-i: s for i, s in enumerate(p.stages)}
    vector.grid.visible = False
    vector.add_layout(ColorBar(color_mapper=mapper, width=10, name=f"{name}-vector-colorbar"), "right")
    predict, hits = bar_panel(
        src["predict"],
        name=f"{name}-predictions",
        title="",
        x="x",
        top="prob",
        width=360,
        height=220,
        y_range=Y_BARS,
    )
    hits.glyph.fill_color = hits.glyph.line_color = "color"  # green: the character typed after the position
    predict.title.update(name=f"{name}-caption", text_font_size="11px")  # the caption, redrawn on the canvas
    for plot, source, n in ((top, src["top"], N_TOP), (predict, src["predict"], N_PREDICT)):
        plot.x_range = Range1d(-0.6, n - 0.4)
        plot.xaxis.visible = False
        plot.text("x", "prob", "char", source=source, text_align="center", text_baseline="bottom")
    return top, vector, predict, mapper


def layout(
    p: OwnTextPayload,
    *,
    name: str = "live",
    layer: int = 1,
    head: int = 1,
    temperature: float = 1.0,
    top_k: str = "all",
    position: int | None = None,
):
    """The figure: text box and notice; attention heatmap, lines and next-character chart; sampler; the model end
    to end with the picked position's residual stream and predictions."""
    check_name(name)
    check_payload(p)
    B = p.config["block_size"]
    layer = check_int("layer", layer, low=1, high=p.config["n_layer"])
    head = check_int("head", head, low=1, high=p.config["n_head"])
    check_choice("temperature", temperature, TEMPERATURES)
    check_choice("top_k", top_k, TOP_KS)
    position = B - 1 if position is None else check_int("position", position, low=0, high=B - 1)
    w = _widgets(p, name, layer, head, temperature, top_k, position)
    w["position"].show_value = False
    src = _sources(p, name)
    heat, lines = attention_views(
        name, src["chars"], src["cells"], src["links"], heat_chars=src["heat_chars"]
    )
    lines.width = 740
    # named ranges: the numbers check reads them (the callback sets them to the text's length)
    heat.x_range = Range1d(-1.6, 7.5, name=f"{name}-heat-x")
    heat.y_range = Range1d(-7.5, 1.6, name=f"{name}-heat-y")
    lines.x_range = Range1d(-X_PAD, 7.5, name=f"{name}-lines-x")
    model, flow_mapper = _model_plot(p, name, src)
    top, vector, predict, stream_mapper = _prediction_plots(p, name, src)
    # Fixed-height text: a Div's new text re-renders its DOM, so it changes only with the notice or a new sample.
    texts = {
        k: Div(text="", name=f"{name}-{k}", sizing_mode="stretch_width", height=h)
        for k, h in (("notice", 54),)
    }
    texts.update(
        sample=Div(text="", name=f"{name}-sample", sizing_mode="stretch_width", min_height=24),
        caption=predict.title,
        description=description(name, _WHAT),  # for screen readers: show() puts it in a live region
    )
    update = js_callback(
        "own_text_update",
        payload=payload_source(p, name=name),
        widgets=w,
        sources=src,
        texts=texts,
        mappers={"stream": stream_mapper, "flow": flow_mapper},
        plots={
            "attention": heat,
            "top": top,
            "lines": lines,
            "model": model,
            "vector": vector,
            "predict": predict,
        },
    )
    for key in ("text", "layer", "head", "temperature", "top_k", "position", "seed"):
        w[key].js_on_change("value", update)
    w["text"].js_on_change("value_input", update)
    w["generate"].js_on_event("button_click", update)
    lines.js_on_event("tap", update)
    model.js_on_event("tap", update)
    vocab = Div(text="Vocabulary: " + " ".join(_html(_shown(c)) for c in p.chars), name=f"{name}-vocab")
    # fit: rows wrap on a narrow column, plots scale down, the notice grows downwards, every plot saves a PNG
    fig = column(
        w["text"],
        texts["notice"],
        row(w["layer"], w["head"], w["position"], name=f"{name}-view"),
        row(heat, top, name=f"{name}-row1"),
        scroller(lines, least=LINES_LEAST),
        row(w["temperature"], w["top_k"], w["seed"], w["generate"], name=f"{name}-sampler"),
        texts["sample"],
        scroller(model, least=MODEL_LEAST),
        row(vector, predict, name=f"{name}-row2"),
        vocab,
        name=name,
        sizing_mode="stretch_width",
    )
    return on_document_ready(fit(fig), update)


def own_text_figure(model, ref, *, name: str = "live", **initial):
    """``layout(payload(model, ref))``: the figure the chapter shows (``initial``: layer, head, temperature, top_k,
    position)."""
    return layout(payload(model, ref), name=name, **initial)
