"""Chapter 8's "type it twice" figure: the reader's text through the trained induction model and through the same
model at initialisation, both run in the page by the JavaScript forward pass of chapter 10 (``js/runtime/gpt.mjs``);
the heatmap outlines the cells an induction head should look at (the character after an earlier occurrence of the
query's character) and a readout gives the weight the chosen head puts there, in both models.

The payload carries both models (config, vocabulary, float32 weights, shipped once) and NumPy's attention on the
opening text; :meth:`InductionTextPayload.view` is the callback's twin for that text, and the browser tests compare
the page with NumPy for typed texts. Callback ``js/induction_text_update.mjs``.
"""

from __future__ import annotations

import html
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row

from .._checks import check_int
from ..analysis import copy_targets, copy_weight
from .core import check_name, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source
from .kit import (
    attention_columns,
    attention_views,
    described,
    description,
    empty_source,
    fit,
    image_source,
    radio,
    select,
    shown_char,
    text_input,
    text_notice,
)

__all__ = [
    "MODEL_LABELS",
    "LINE_MIN",
    "InductionTextPayload",
    "score_text",
    "payload",
    "layout",
    "induction_text_figure",
]

MODEL_LABELS = ("Trained", "Random (at initialisation)")  # the toggle; payload arrays follow this order
LINE_MIN = 0.05  # weights drawn as lines (as chapter 10)
TARGET, OTHER = "#31a354", "#3182bd"  # lines to the character after an earlier occurrence; the others
_WHAT = (
    "Attention of one head of chapter 8's two-layer model over the text in the box, trained or at initialisation; "
    "outlined cells are the characters after an earlier occurrence of the query's character."
)


def score_text(weights, n_queries: int, layer: int, head: int) -> str:
    """The readout (HTML): the copy weight (:func:`attnbook.analysis.copy_weight`) of one head in the trained and
    the random model, over ``n_queries`` scored queries. Twin of ``scoreText`` in the callback."""
    if n_queries == 0:
        return "No character has occurred before: type a few letters, then the same letters again."
    s = "" if n_queries == 1 else "s"
    return (
        f"Weight of layer {layer}, head {head} on the character after an earlier occurrence (outlined), on average "
        f"over {n_queries} character{s} seen before: <b>{weights[0]:.2f}</b> trained, <b>{weights[1]:.2f}</b> at "
        "initialisation."
    )


class InductionTextPayload(NamedTuple):
    """Both models the page runs and NumPy's attention of the opening text (T = its window's length)."""

    controls: tuple
    axes: dict  # empty: the page computes every state from the models
    config: dict  # the ModelConfig's fields (both models)
    chars: str  # vocabulary, character i has id i
    weights: dict  # "trained" / "random" -> {parameter name: float32 array}
    seed: int  # the random model's initialisation seed
    text: str  # the opening text
    window: str
    folded: str
    skipped: str
    n_skipped: int
    n_cut: int
    attention: np.ndarray  # (2, L, H, T, T) float32: trained, random

    def view(p, state: dict) -> dict:
        """What the page shows for the opening text and the widget values ``state``."""
        T, B = len(p.window), p.config["block_size"]
        m, layer, head = int(state["model"]), int(state["layer"]) - 1, int(state["head"]) - 1
        targets = copy_targets(p.window)
        hit = {(i, j) for i, keys in targets for j in keys}
        att = attention_columns(
            p.attention[m, layer, head], LINE_MIN, lambda i, j: TARGET if (i, j) in hit else OTHER
        )
        w = copy_weight(p.attention[:, layer, head], p.window) if T else np.full(2, np.nan)
        score = score_text(w, len(targets), layer + 1, head + 1)
        return {
            "notice": {"text": text_notice(p.text, p.window, p.folded, p.skipped, p.n_skipped, p.n_cut, B)},
            "chars": {"x": np.arange(T), "y": -np.arange(T), "char": [shown_char(c) for c in p.window]},
            "cells": att["cells"],
            "links": att["links"],
            "targets": {
                "x": np.array([j for _, keys in targets for j in keys], dtype=float),
                "y": np.array([-i for i, keys in targets for _ in keys], dtype=float),
            },
            "score": {"text": score},
            "description": described(_WHAT, html.escape(f"{MODEL_LABELS[m]} model. ") + score),
        }


def payload(models, refs) -> InductionTextPayload:
    """Pack both models (an :class:`attnbook.experiments.induction_text.InductionModels`) and NumPy's forward pass of
    one text through each (:func:`attnbook.experiments.induction_text.induction_reference` of ``[text]``)."""
    missing = [f for f in ("trained", "random", "cfg", "chars", "seed") if not hasattr(models, f)]
    if missing:
        raise TypeError(
            f"models must be an InductionModels (attnbook.experiments.induction_text); it lacks {missing}"
        )
    if not isinstance(refs, (tuple, list)) or len(refs) != 2:
        raise TypeError("refs must be the two References (trained, random) of induction_reference")
    for r in refs:
        if not hasattr(r, "encoded") or not hasattr(r, "attention") or len(r.encoded) != 1:
            raise ValueError("refs must each hold the forward pass of exactly one text")
    e = refs[0].encoded[0]
    if refs[1].encoded[0].window != e.window:
        raise ValueError("refs must be the forward passes of the same text")
    cfg = models.cfg.to_dict()
    if len(models.chars) != cfg["vocab_size"]:
        raise ValueError(f"models.chars has {len(models.chars)} characters, the config {cfg['vocab_size']}")
    controls = (
        Control("model", (0, 1), "active"),
        Control("layer", tuple(str(i + 1) for i in range(cfg["n_layer"]))),
        Control("head", tuple(str(i + 1) for i in range(cfg["n_head"]))),
    )
    f32 = lambda params: {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}  # noqa: E731
    return InductionTextPayload(
        controls=controls,
        axes={},
        config=cfg,
        chars=models.chars,
        weights={"trained": f32(models.trained), "random": f32(models.random)},
        seed=int(models.seed),
        text=e.text,
        window=e.window,
        folded=e.folded,
        skipped=e.skipped,
        n_skipped=int(e.n_skipped),
        n_cut=int(e.n_cut),
        attention=np.stack([r.attention[0] for r in refs]).astype(np.float32),
    )


def layout(
    p: InductionTextPayload, *, name: str = "induction-live", layer: int = 2, head: int = 1, model: int = 0
):
    """The figure: text box and notice; model toggle, layer and head; the readout; heatmap (targets outlined) and
    lines."""
    check_name(name)
    check_payload(p)
    cfg = p.config
    layer = check_int("layer", layer, low=1, high=cfg["n_layer"])
    head = check_int("head", head, low=1, high=cfg["n_head"])
    model = check_int("model", model, low=0, high=1)
    w = {
        "text": text_input(
            f"{name}-text", "Your text (letters A–Z and a–f; type it twice)", p.text, width=500
        ),
        "model": radio(f"{name}-model", list(MODEL_LABELS), model),
        "layer": select(f"{name}-layer", "Layer", [c for c in p.controls[1].values], str(layer), width=80),
        "head": select(f"{name}-head", "Head", [c for c in p.controls[2].values], str(head), width=80),
    }
    src = {
        "chars": empty_source(f"{name}-chars", 0, x="float", y="float", char="str"),
        "cells": image_source(f"{name}-cells"),
        "links": empty_source(f"{name}-links", 0, x0="float", x1="float", weight="float", color="str"),
        "targets": empty_source(f"{name}-targets", 0, x="float", y="float"),
    }
    heat, lines = attention_views(name, src["chars"], src["cells"], src["links"], size=380)
    heat.rect("x", "y", 0.92, 0.92, source=src["targets"], fill_alpha=0, line_color=TARGET, line_width=2)
    texts = {
        "notice": _div(f"{name}-notice", 40),
        "score": _div(f"{name}-score", 44),
        "description": description(name, _WHAT),
    }
    update = js_callback(
        "induction_text_update",
        payload=payload_source(p, name=name),
        widgets=w,
        sources=src,
        texts=texts,
        plots={"attention": heat, "lines": lines},
    )
    for key in ("text", "layer", "head"):
        w[key].js_on_change("value", update)
    w["text"].js_on_change("value_input", update)
    w["model"].js_on_change("active", update)
    wrap = {"flex-wrap": "wrap"}
    fig = column(
        w["text"],
        texts["notice"],
        row(w["model"], w["layer"], w["head"], name=f"{name}-controls", styles=wrap),
        texts["score"],
        heat,
        lines,
        name=name,
        sizing_mode="stretch_width",
    )
    return on_document_ready(fit(fig), update)


def _div(name: str, height: int):
    from bokeh.models import Div

    return Div(text="", name=name, sizing_mode="stretch_width", height=height)


def induction_text_figure(models, refs, *, name: str = "induction-live", **initial):
    """``layout(payload(models, refs))``: the figure chapter 8 shows (``initial``: layer, head, model)."""
    return layout(payload(models, refs), name=name, **initial)
