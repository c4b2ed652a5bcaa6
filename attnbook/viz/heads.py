"""The figures of chapter 8, what trained heads learn: induction heads forming during training (Olsson et al.
2022), switching heads off, head importance (Michel et al. 2019) and length extrapolation (Press et al. 2021).

Each figure is a payload made by pure NumPy from the results the chapter passes in (read by field name), a
layout assembled from :mod:`attnbook.viz.kit` and a callback ``js/heads_<figure>.mjs``; the encoding of a
widget state is :mod:`attnbook.viz.figure`'s.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    DataRange1d,
    Div,
    FixedTicker,
    Label,
    NoOverlap,
    RadioButtonGroup,
    Range1d,
    Span,
    Title,
)
from bokeh.palettes import Category10

from .._checks import as_float_array, as_int_array, check_choice, check_int, check_real, check_tokens
from ..analysis import rank_values, spearman
from .core import check_name, js_callback, on_document_ready
from .figure import Control, axis_index, check_payload, payload_source, pick, seed_labels
from .kit import (
    bar_panel,
    color_mapper,
    control_row,
    described,
    description,
    empty_source,
    fit,
    hover,
    line_panel,
    line_series,
    on_change,
    outside_legend,
    play_button,
    readable,
    select,
    slider,
    toggle,
    token_grid,
)

__all__ = [
    "HEAD_COLORS",
    "SCHEME_COLORS",
    "SCORES",
    "TrainingPayload",
    "training_payload",
    "training_layout",
    "induction_training_figure",
    "AblationPayload",
    "ablation_payload",
    "ablation_layout",
    "head_ablation_figure",
    "ExtrapolationPayload",
    "extrapolation_payload",
    "extrapolation_layout",
    "extrapolation_figure",
    "ImportancePayload",
    "importance_payload",
    "importance_layout",
    "head_importance_figure",
]

# One colour per head of a small model: layer 1 in cool colours (blue, purple...), layer 2 in warm ones (red,
# orange...), up to 4 heads a layer; the first two heads of a layer clearly apart.
HEAD_COLORS = (
    ("#1f77b4", "#9467bd", "#17becf", "#08519c"),
    ("#d62728", "#ff7f0e", "#e377c2", "#8c564b"),
    ("#2ca02c", "#bcbd22", "#98df8a", "#006d2c"),
)
SCHEME_COLORS = {"alibi": "#2ca02c", "rope": "#9467bd", "sinusoidal": "#d62728", "none": "#7f7f7f"}
# The per-head curves of the training figure (its "Curve" select): result field, title.
SCORES = (
    ("induction", "Prefix-matching (induction) score"),
    ("previous", "Previous-token score"),
    ("entropy", "Attention entropy (nats)"),
)
# Side of a head's attention map in px: two maps side by side fit the ~750 px column, 32 letters stay legible.
MAP_FRAME = 320


# ----------------------------------------------------------------------------------------------------
# Shared parts


def _fields(name: str, result, fields: tuple[str, ...], what: str) -> None:
    missing = [f for f in fields if not hasattr(result, f)]
    if missing:
        raise TypeError(f"{name} must be {what} (fields {', '.join(fields)}); it lacks {missing}")


def _weights(name: str, w, ndim: int) -> np.ndarray:
    w = as_float_array(name, w, ndim=ndim)
    if w.shape[-1] != w.shape[-2]:
        raise ValueError(f"{name} must end in (T, T), got shape {w.shape}")
    if w.min() < -1e-6 or w.max() > 1 + 1e-6:
        raise ValueError(f"{name} must be attention weights in [0, 1]")
    return w


def _increasing(name: str, steps) -> np.ndarray:
    steps = as_int_array(name, steps, ndim=1, low=0)
    if steps.size < 2 or np.any(np.diff(steps) <= 0):
        raise ValueError(f"{name} must be strictly increasing with at least 2 entries")
    return steps


def _causal_cells(maps) -> dict:
    """The ``w<k>`` columns of :func:`_head_maps`: head ``k``'s weights at the causal cells (tril order)."""
    T = maps.shape[-1]
    i, j = np.tril_indices(T)
    return {f"w{k}": np.asarray(m, np.float32)[i, j] for k, m in enumerate(maps)}


def _head_maps(name: str, tokens, titles, colors):
    """One attention map per head over one source of the causal cells (``j <= i``, numpy.tril_indices order),
    a column ``w<k>`` per head; letters at a legible size, horizontal, one per row and column."""
    T = len(tokens)
    i, j = np.tril_indices(T)
    cells = empty_source(
        f"{name}-cells",
        i.size,
        x=j.astype(np.float32),
        y=-i.astype(np.float32),
        query=[f"{tokens[a]} (position {a})" for a in i],
        key=[f"{tokens[b]} (position {b})" for b in j],
        **{f"w{k}": "float" for k in range(len(titles))},
    )
    mapper = color_mapper(f"{name}-mapper")
    plots = []
    for k, (title, color) in enumerate(zip(titles, colors, strict=True)):
        last = k % 2 == 1 or k == len(titles) - 1  # the colour bar goes on the right of each row
        plot, cells_r = token_grid(
            cells,
            name=f"{name}-map{k + 1}",
            title=title,
            q_tokens=tokens,
            k_tokens=tokens,
            color_field=f"w{k}",
            mapper=mapper,
            colorbar=last,
        )
        # one size for every map, the colour bar's room kept empty where there is none: equal cells in every map at
        # any width of the column (a fixed frame could not shrink on a phone)
        plot.width, plot.height = MAP_FRAME + 80, MAP_FRAME + 60
        plot.min_border_right = 5 if last else 53
        plot.title.text_color = readable(color)  # the head's colour, dark enough to read on white
        plot.axis.major_label_text_font_size = "8pt"
        plot.xaxis.major_label_orientation = 0
        plot.add_tools(hover(cells_r, ("query", "@query"), ("key", "@key"), ("weight", f"@w{k}{{0.000}}")))
        plots.append(plot)
    return [row(*plots[k : k + 2], name=f"{name}-maps-{k // 2}") for k in range(0, len(plots), 2)], cells


def _line(plot, name: str, at: float, dimension: str, color: str, dash: str = "solid", label=None, x=None):
    """A reference line (``dimension="width"``: horizontal at y = ``at``), with ``label`` at x = ``x``."""
    span = Span(location=at, dimension=dimension, line_color=color, line_dash=dash, name=name)
    plot.add_layout(span)
    if label is not None:
        style = dict(text_align="right", y_offset=2, text_font_size="8pt", text_color=color)
        plot.add_layout(Label(x=float(x), y=float(at), text=label, name=f"{name}-label", **style))
    return span


# ----------------------------------------------------------------------------------------------------
# Training: attention snapshots, loss curve, per-head scores


_WHAT_TRAINING = (
    "Induction heads forming during training: each head's attention on a probe sequence at the chosen step, each "
    "head's score against the step, and the validation loss against the step."
)
_WHAT_ABLATION = (
    "Ablating heads: the loss on repeated tokens and on their first occurrences as bars (intact and with the "
    "chosen heads removed), the loss at each position of the probe, and the last layer's attention."
)
_WHAT_EXTRAPOLATION = (
    "Length extrapolation: each position scheme's mean loss against the window length, and its loss at each "
    "position of a window of the chosen length."
)
_WHAT_IMPORTANCE = (
    "Head importance: each head's importance score against the loss change when that head alone is removed, "
    "and the loss changes as bars, largest first."
)


def _fmt(x, digits: int) -> str:
    """``fmt`` of js/lib.mjs: f"{x:.{digits}f}", "∞"/"−∞" for infinities, "" for NaN."""
    x = float(x)
    return "" if np.isnan(x) else ("∞" if x > 0 else "−∞") if np.isinf(x) else f"{x:.{digits}f}"


class TrainingPayload(NamedTuple):
    """Induction heads forming. Per snapshot (control ``step``, its index): every head's attention on the probe
    window and the loss there; per score (control ``score``): every head's curve over training."""

    controls: tuple
    axes: dict
    tokens: tuple  # (T,) the probe window
    heads: tuple  # (n,) "L1 H1", ..., layer by layer
    colors: tuple  # (n,) one colour per head
    steps: np.ndarray  # (S,) int32, training step of each snapshot
    attention: np.ndarray  # (S, n, T, T) float32  [step]
    loss_at: np.ndarray  # (S,) float32, validation loss interpolated at each snapshot  [step]
    scores: np.ndarray  # (Q, S, n) float32, the per-head curves  [score]
    score_titles: list  # (Q,)  [score]
    score_top: np.ndarray  # (Q,) float32, top of the score axis  [score]
    eval_steps: np.ndarray  # (E,) int32, steps of the loss estimates
    val_loss: np.ndarray  # (E,) float32
    control_loss: np.ndarray | None  # (E,) float32, the control model (drawn dashed)
    model_label: str  # legend of the model and of the control
    control_label: str
    ln_v: float  # loss of a uniform guess
    floor: float | None  # loss with every repeat predicted and the rest at chance
    other_loss: np.ndarray  # (n_seeds, E) float32, the model's loss at other seeds (thin lines; may be empty)

    def view(p, state: dict) -> dict:
        """The maps, markers, cursors, curves and titles the page shows for ``state``."""
        s = axis_index(p.controls[0], state["step"])
        step, S = int(p.steps[s]), len(p.steps)
        scores = pick(p, "scores", state)  # (S, n)
        loss = pick(p, "loss_at", state)
        title = pick(p, "score_titles", state)
        return {
            "cells": _causal_cells(pick(p, "attention", state)),
            "scores-source": {f"h{k}": scores[:, k] for k in range(scores.shape[1])},
            "scores-marker": {"x": [step] * scores.shape[1], "y": scores[s]},
            "scores-yrange": {"end": pick(p, "score_top", state)},
            "loss-marker": {"x": [step], "y": [loss]},
            "loss-cursor": {"location": step},
            "scores-cursor": {"location": step},
            "step": {"title": f"Training step {step} (snapshot {s + 1} of {S})"},
            "loss": {"title.text": f"Validation loss at step {step}: {loss:.3f} nats"},
            "scores": {"title.text": f"{title} at step {step}"},
            "description": described(
                _WHAT_TRAINING,
                html.escape(
                    f"Training step {step} (snapshot {s + 1} of {S}): validation loss {loss:.3f} nats. {title}: "
                    + ", ".join(f"{h} {_fmt(v, 2)}" for h, v in zip(p.heads, scores[s], strict=True))
                    + "."
                ),
            ),
        }


_CURVES = (
    "steps",
    "probe_attention",
    "probe_tokens",
    "induction",
    "previous",
    "entropy",
    "eval_steps",
    "val_loss",
)


def training_payload(
    curves, *, control=None, ln_v: float, floor: float | None = None, others=()
) -> TrainingPayload:
    """Pack a training run's curves (:class:`attnbook.experiments.induction.InductionCurves` or any record with its
    fields) for the page; ``control``: a second run's curves (its ``val_loss`` drawn dashed); ``others``: the
    same model trained at other seeds (records with ``eval_steps`` and ``val_loss``, drawn as thin lines)."""
    _fields("curves", curves, _CURVES, "the curves of a training run")
    steps = _increasing("curves.steps", curves.steps)
    attention = _weights("curves.probe_attention", curves.probe_attention, 5)
    S, L, H, T, _ = attention.shape
    if S != steps.size:
        raise ValueError(f"curves.probe_attention has {S} snapshots but curves.steps has {steps.size}")
    if H > 4 or L > len(HEAD_COLORS):
        raise ValueError(f"curves: at most {len(HEAD_COLORS)} layers of 4 heads can be drawn, got {L} x {H}")
    tokens = check_tokens("curves.probe_tokens", curves.probe_tokens, T)
    scores = []
    for key, _ in SCORES:
        arr = as_float_array(f"curves.{key}", getattr(curves, key), ndim=3)
        if arr.shape != (S, L, H):
            raise ValueError(f"curves.{key} must have shape (S, n_layer, H) = {(S, L, H)}, got {arr.shape}")
        scores.append(arr.reshape(S, L * H))
    eval_steps = _increasing("curves.eval_steps", curves.eval_steps)
    val_loss = as_float_array("curves.val_loss", curves.val_loss, ndim=1)
    if val_loss.shape != eval_steps.shape:
        raise ValueError(f"curves.val_loss must have shape {eval_steps.shape}, got {val_loss.shape}")
    control_loss, control_label = None, ""
    if control is not None:
        _fields("control", control, ("eval_steps", "val_loss"), "the curves of a training run")
        if not np.array_equal(np.asarray(control.eval_steps), eval_steps):
            raise ValueError("control must have the same eval_steps as curves")
        control_loss = as_float_array("control.val_loss", control.val_loss, ndim=1).astype(np.float32)
        if control_loss.shape != eval_steps.shape:
            raise ValueError(f"control.val_loss must have shape {eval_steps.shape}, got {control_loss.shape}")
        n = np.shape(getattr(control, "probe_attention", ()))[1:2]
        control_label = f"{n[0]} layer{'s' if n[0] > 1 else ''}" if n else "control"
    ln_v = check_real("ln_v", ln_v, low=0.0)
    floor = None if floor is None else check_real("floor", floor, low=0.0)
    if isinstance(others, (str, bytes, Mapping)) or not hasattr(others, "__iter__"):
        raise TypeError("others must be a sequence of curves")
    other_loss = []
    for k, o in enumerate(others):
        _fields(f"others[{k}]", o, ("eval_steps", "val_loss"), "the curves of a training run")
        if not np.array_equal(np.asarray(o.eval_steps), eval_steps):
            raise ValueError(f"others[{k}] must have the same eval_steps as curves")
        o_loss = as_float_array(f"others[{k}].val_loss", o.val_loss, ndim=1)
        if o_loss.shape != eval_steps.shape:
            raise ValueError(f"others[{k}].val_loss must have shape {eval_steps.shape}, got {o_loss.shape}")
        other_loss.append(o_loss)
    top = [1.02, 1.02, 1.02 * max(np.log(T), float(scores[2].max()))]
    return TrainingPayload(
        controls=(Control("step", tuple(range(S))), Control("score", tuple(k for k, _ in SCORES))),
        axes={"attention": ("step",), "loss_at": ("step",), "scores": ("score",)}
        | {"score_titles": ("score",), "score_top": ("score",)},
        tokens=tokens,
        heads=tuple(f"L{a + 1} H{h + 1}" for a in range(L) for h in range(H)),
        colors=tuple(HEAD_COLORS[a][h] for a in range(L) for h in range(H)),
        steps=steps.astype(np.int32),
        attention=np.ascontiguousarray(attention.reshape(S, L * H, T, T), dtype=np.float32),
        loss_at=np.interp(steps, eval_steps, val_loss).astype(np.float32),
        scores=np.stack(scores).astype(np.float32),
        score_titles=[t for _, t in SCORES],
        score_top=np.array(top, dtype=np.float32),
        eval_steps=eval_steps.astype(np.int32),
        val_loss=val_loss.astype(np.float32),
        control_loss=control_loss,
        model_label=f"{L} layer{'s' if L > 1 else ''}",
        control_label=control_label,
        ln_v=ln_v,
        floor=floor,
        other_loss=np.array(other_loss, dtype=np.float32).reshape(len(other_loss), eval_steps.size),
    )


def _loss_panel(p: TrainingPayload, name: str):
    """Validation loss over training (the control dashed), ln V and the floor as references, a marker."""
    refs = [p.ln_v] + ([] if p.floor is None else [p.floor])
    shown = np.concatenate(
        [p.val_loss, refs, p.other_loss.ravel()] + ([] if p.control_loss is None else [p.control_loss])
    )
    y_range = Range1d(float(shown.min()) - 0.15, float(shown.max()) + 0.15, name=f"{name}-loss-yrange")
    plot = line_panel(
        name=f"{name}-loss",
        title="Validation loss",
        x_label="training step",
        y_label="nats",
        width=370,
        y_range=y_range,
    )
    src = ColumnDataSource({"step": p.eval_steps, "loss": p.val_loss}, name=f"{name}-loss-source")
    series = [(p.model_label, "loss", "#222222")]
    if p.control_loss is not None:
        src.data["control"] = p.control_loss
        series.append((p.control_label, "control", "#888888", "dashed"))
    for n, other in enumerate(p.other_loss):  # the model at other seeds: thin, faint, under the legend's line
        o_src = ColumnDataSource({"step": p.eval_steps, "loss": other}, name=f"{name}-loss-seed{n}")
        plot.line("step", "loss", source=o_src, color="#222222", line_width=1, alpha=0.35)
    line_series(plot, src, "step", series, name=f"{name}-loss-legend")
    end = p.eval_steps[-1]
    _line(plot, f"{name}-lnv", p.ln_v, "width", "#555555", "dotted", "ln V", end)
    if p.floor is not None:
        _line(plot, f"{name}-floor", p.floor, "width", "#2ca02c", "dotted", "repeats perfect", end)
    marker = empty_source(f"{name}-loss-marker", 1, x="float", y="float")
    plot.scatter("x", "y", source=marker, size=9, color="#d62728")
    return plot, marker, _line(plot, f"{name}-loss-cursor", 0, "height", "#d62728")


def _score_panel(p: TrainingPayload, name: str):
    """The per-head curves of one score over training, one colour per head, a marker per head."""
    y_range = Range1d(0, 1.02, name=f"{name}-scores-yrange")
    plot = line_panel(
        name=f"{name}-scores",
        title=SCORES[0][1],
        x_label="training step",
        y_label="",
        width=370,
        y_range=y_range,
    )
    n = len(p.heads)
    src = empty_source(
        f"{name}-scores-source", len(p.steps), step=p.steps, **{f"h{k}": "float" for k in range(n)}
    )
    series = [(h, f"h{k}", c) for k, (h, c) in enumerate(zip(p.heads, p.colors, strict=True))]
    line_series(plot, src, "step", series, name=f"{name}-scores-legend")
    marker = empty_source(f"{name}-scores-marker", n, x="float", y="float", color=list(p.colors))
    plot.scatter("x", "y", source=marker, color="color", size=8)
    return plot, src, marker, _line(plot, f"{name}-scores-cursor", 0, "height", "#d62728")


def training_layout(
    p: TrainingPayload, *, name: str = "heads-train", step: int = 0, score: str = "induction"
):
    """Controls (step slider, play, curve select); one attention map per head; the loss and score curves."""
    check_name(name)
    check_payload(p)
    step = check_int("step", step, low=0, high=len(p.steps) - 1)
    score = check_choice("score", score, p.controls[1].values)
    titles = [f"Layer {h[1]}, head {h[4]}" for h in p.heads]
    maps, cells = _head_maps(name, p.tokens, titles, p.colors)
    loss_plot, loss_marker, loss_cursor = _loss_panel(p, name)
    score_plot, score_lines, score_marker, score_cursor = _score_panel(p, name)
    widgets = {
        "step": slider(f"{name}-step", "", 0, len(p.steps) - 1, step, width=300),
        "score": select(f"{name}-score", "Curve", p.controls[1].values, score, width=260),
    }
    widgets["step"].show_value = False
    widgets["score"].options = list(zip(p.controls[1].values, p.score_titles, strict=True))
    # No Div caption: rewriting a Div re-lays-out this large document (~30 ms); titles are cheap.
    update = js_callback(
        "heads_training",
        payload=payload_source(p, name=name),
        widgets=widgets,
        cells=cells,
        score_lines=score_lines,
        score_marker=score_marker,
        loss_marker=loss_marker,
        cursors=[loss_cursor, score_cursor],
        loss_plot=loss_plot,
        score_plot=score_plot,
        description=description(name, _WHAT_TRAINING),
    )
    on_change(update, *widgets.values())
    play = play_button(f"{name}-play", widgets["step"], interval_ms=400)
    fig = column(
        control_row(f"{name}-controls", widgets["step"], play, widgets["score"]),
        *maps,
        row(loss_plot, score_plot, name=f"{name}-curves"),
        name=name,
    )
    return on_document_ready(fit(fig), update)


def induction_training_figure(
    curves, *, control=None, ln_v: float, floor=None, others=(), name: str = "heads-train", **initial
):
    """``training_layout(training_payload(...))``: the figure the chapter shows (``initial``: step, score)."""
    return training_layout(
        training_payload(curves, control=control, ln_v=ln_v, floor=floor, others=others), name=name, **initial
    )


# ----------------------------------------------------------------------------------------------------
# Ablation: every on/off combination of the heads


class AblationPayload(NamedTuple):
    """Heads switched off. One toggle per head (controls ``l1h1``, ...: ``False`` kept, ``True`` ablated); each
    per-combination field has one leading axis of length 2 per head, in control order. With several seeds a select
    (control ``seed``, first) picks the model, and every per-combination field and ``tokens`` lead with its axis."""

    controls: tuple
    axes: dict
    seeds: tuple  # (S,) the seeds' labels (one seed: no select)
    tokens: tuple  # (S,) the probe window (T tokens) of each seed's model  [seed]
    heads: tuple  # (n,) "L1 H1", ... the toggled heads
    map_titles: tuple  # (H,) the last layer's heads, whose attention is drawn
    losses: np.ndarray  # [(S,)] + (2,) * n + (2,) float32: mean loss on repeated tokens, on first occurrences
    position_loss: np.ndarray  # [(S,)] + (2,) * n + (T,) float32, loss at each probe position
    attention: np.ndarray  # [(S,)] + (2,) * n + (H, T, T) float32, the last layer's attention on the probe
    ln_v: float

    def view(p, state: dict) -> dict:
        """Bars and per-position loss (the chosen seed's intact model in grey, the ablated one in red), last-layer
        maps (with the seed's letters) and the subtitle naming the ablated heads."""
        losses = pick(p, "losses", state)
        tokens = pick(p, "tokens", state) if len(p.seeds) > 1 else p.tokens[0]
        i, j = np.tril_indices(len(tokens))
        toggles = [c for c in p.controls if c.widget != "seed"]
        off = [h for c, h in zip(toggles, p.heads, strict=True) if state[c.widget]]
        intact = _intact_state(p, state)  # the same seed, every head on
        kept = pick(p, "losses", intact)
        return {
            "bars-source": {
                "current": losses,
                "text_current": [f"{x:.2f}" for x in losses],
                "intact": kept,
                "text_intact": [f"{x:.2f}" for x in kept],
            },
            "positions-source": {
                "current": pick(p, "position_loss", state),
                "intact": pick(p, "position_loss", intact),
            },
            "positions-xaxis": {"major_label_overrides": {str(k): t for k, t in enumerate(tokens)}},
            "cells": _causal_cells(pick(p, "attention", state))
            | {
                "query": [f"{tokens[a]} (position {a})" for a in i],
                "key": [f"{tokens[b]} (position {b})" for b in j],
            },
            "bars-subtitle": {"text": "ablated: " + ", ".join(off) if off else "intact model"},
            "description": described(
                _WHAT_ABLATION,
                html.escape(
                    (f"{state['seed']}. " if len(p.seeds) > 1 else "")
                    + ("Ablated: " + ", ".join(off) if off else "Intact model")
                    + f". Loss on the repeated tokens {_fmt(losses[0], 2)} nats, on their first occurrences "
                    f"{_fmt(losses[1], 2)} nats."
                ),
            ),
        }


_ABLATIONS = ("masks", "repeat_loss", "fresh_loss", "probe_loss", "probe_attention")


def _intact_state(p: AblationPayload, state: dict) -> dict:
    """``state`` with every head kept: the chosen seed's intact model (JS twin in heads_ablation.mjs)."""
    return {c.widget: state[c.widget] if c.widget == "seed" else False for c in p.controls}


def _ablation_grids(ablations, tokens, where: str):
    """One seed's sweep as grids with one axis per head: (L, H, losses, position_loss, attention, tokens)."""
    _fields(where, ablations, _ABLATIONS, "the result of a head ablation sweep")
    masks = as_float_array(f"{where}.masks", ablations.masks, ndim=3)
    K, L, H = masks.shape
    n = L * H
    if n > 8:
        raise ValueError(f"{where}.masks must have at most 8 heads to toggle, got {L} x {H}")
    if not np.all((masks == 0) | (masks == 1)):
        raise ValueError(f"{where}.masks must contain only 0 (ablated) and 1 (kept)")
    # row k of the results goes to grid cell (ablated l1h1?, ablated l1h2?, ...)
    cell = np.ravel_multi_index((1 - masks.reshape(K, n)).astype(np.int64).T, (2,) * n)
    if K != 2**n or np.unique(cell).size != K:
        raise ValueError(f"{where}.masks must hold each of the {2**n} on/off patterns exactly once")
    losses = []
    for f in ("repeat_loss", "fresh_loss"):
        losses.append(as_float_array(f"{where}.{f}", getattr(ablations, f), ndim=1))
        if losses[-1].shape != (K,):
            raise ValueError(f"{where}.{f} must have shape ({K},), got {losses[-1].shape}")
    losses = np.stack(losses, -1)  # (K, 2)
    position_loss = as_float_array(f"{where}.probe_loss", ablations.probe_loss, ndim=2)
    T = position_loss.shape[1]
    if position_loss.shape[0] != K:
        raise ValueError(f"{where}.probe_loss must have shape (K, T) with K = {K}, got {position_loss.shape}")
    attention = _weights(f"{where}.probe_attention", ablations.probe_attention, 4)
    if attention.shape[0] != K or attention.shape[2:] != (T, T):
        raise ValueError(f"{where}.probe_attention must have shape ({K}, H, {T}, {T}), got {attention.shape}")
    tokens = check_tokens("tokens" if where == "ablations" else f"tokens of {where}", tokens, T)

    def grid(a):  # rows in cell order, then one axis per head
        out = np.empty_like(a, dtype=np.float32)
        out[cell] = a
        return out.reshape((2,) * n + a.shape[1:])

    return L, H, grid(losses), grid(position_loss), grid(attention), tokens


def ablation_payload(ablations, tokens, *, ln_v: float, others=(), seeds=None) -> AblationPayload:
    """Pack :class:`attnbook.experiments.induction.Ablations` (or any record with its fields: one row per head mask,
    every on/off pattern once) into one axis per head; ``tokens`` label the probe window.

    ``others``: ``(ablations, tokens)`` of the same experiment at other seeds (same heads and window length);
    ``seeds``: a label for each seed, ``ablations``'s first (required with ``others``): a select picks the seed.
    """
    if isinstance(others, (str, bytes, Mapping)) or not isinstance(others, Sequence):
        raise TypeError("others must be a sequence of (ablations, tokens) pairs")
    seeds = seed_labels(seeds, len(others), "ablations and each of others")
    parts = [_ablation_grids(ablations, tokens, "ablations")]
    for k, o in enumerate(others):
        if not isinstance(o, tuple) or len(o) != 2:
            raise TypeError(f"others[{k}] must be an (ablations, tokens) pair")
        parts.append(_ablation_grids(*o, f"others[{k}]"))
        if parts[-1][2].shape != parts[0][2].shape or parts[-1][4].shape != parts[0][4].shape:
            raise ValueError(f"others[{k}] must have the heads and window length of ablations")
    L, H = parts[0][:2]
    names = [f"l{a + 1}h{h + 1}" for a in range(L) for h in range(H)]
    several = len(seeds) > 1
    seed_axis = ("seed",) if several else ()

    def stacked(i):
        return np.stack([q[i] for q in parts]) if several else parts[0][i]

    controls = tuple(Control(w, (False, True), "active") for w in names)
    axes = {f: (*seed_axis, *names) for f in ("losses", "position_loss", "attention")}
    if several:
        controls = (Control("seed", seeds), *controls)
        axes["tokens"] = ("seed",)
    return AblationPayload(
        controls=controls,
        axes=axes,
        seeds=seeds,
        tokens=tuple(q[5] for q in parts),
        heads=tuple(f"L{a + 1} H{h + 1}" for a in range(L) for h in range(H)),
        map_titles=tuple(f"Layer {L}, head {h + 1}" for h in range(H)),
        losses=stacked(2),
        position_loss=stacked(3),
        attention=stacked(4),
        ln_v=check_real("ln_v", ln_v, low=0.0),
    )


def _bars_panel(p: AblationPayload, name: str, intact):
    """Mean loss on repeated tokens and on first occurrences, intact (grey) and with the ablation (red), the
    value on each bar; the title says what is measured, the subtitle (the callback's) what is ablated."""
    plot = line_panel(
        name=f"{name}-bars",
        title="Mean loss on held-out windows",
        x_label="",
        y_label="nats",
        width=320,
        x_range=Range1d(-0.6, 1.6, name=f"{name}-bars-xrange"),
        y_range=Range1d(0, float(max(p.losses.max(), p.ln_v)) * 1.15, name=f"{name}-bars-yrange"),
    )
    plot.add_layout(Title(text="", name=f"{name}-bars-subtitle", text_font_style="italic"), "above")
    src = ColumnDataSource(
        {"x_intact": [-0.2, 0.8], "x_current": [0.2, 1.2], "intact": intact, "current": intact}
        | {"text_intact": [f"{x:.2f}" for x in intact], "text_current": [""] * 2},
        name=f"{name}-bars-source",
    )
    items = []
    for col, label, color in (("intact", "intact", "#bbbbbb"), ("current", "with ablation", "#d62728")):
        items.append((label, [plot.vbar(x=f"x_{col}", top=col, width=0.38, source=src, color=color)]))
        style = dict(text_align="center", text_baseline="bottom", y_offset=-2, text_font_size="8pt")
        plot.text(f"x_{col}", col, text=f"text_{col}", source=src, **style)
    plot.xaxis.ticker = FixedTicker(ticks=[0, 1], name=f"{name}-bars-ticks")
    plot.xaxis.major_label_overrides = {0: "repeated tokens", 1: "first occurrences"}
    plot.xgrid.visible = False
    _line(plot, f"{name}-bars-lnv", p.ln_v, "width", "#777777", "dashed")
    outside_legend(plot, items, name=f"{name}-bars-legend")
    tips = hover(items[0][1][0], ("intact", "@intact{0.000}"), ("ablated", "@current{0.000}"))
    tips.renderers = [r for _, (r,) in items]
    plot.add_tools(tips)
    return plot, src


def _positions_panel(p: AblationPayload, name: str, intact):
    """Loss at each position of the probe window, intact (grey) and with the ablation (red)."""
    tokens = p.tokens[0]
    T = len(tokens)
    plot = line_panel(
        name=f"{name}-positions",
        title="Loss at each position of the probe window",
        width=420,
        y_label="nats",
        x_label="current token (the loss is on the next one)",
        x_range=Range1d(-0.5, T - 0.5, name=f"{name}-positions-xrange"),
        y_range=Range1d(0, float(p.position_loss.max()) * 1.05, name=f"{name}-positions-yrange"),
    )
    x = np.arange(T, dtype=np.float32)
    src = ColumnDataSource({"x": x, "intact": intact, "current": intact}, name=f"{name}-positions-source")
    series = [("intact", "intact", "#999999"), ("with ablation", "current", "#d62728")]
    line_series(plot, src, "x", series, name=f"{name}-positions-legend")
    _line(plot, f"{name}-positions-lnv", p.ln_v, "width", "#777777", "dashed")
    plot.xaxis.ticker = FixedTicker(ticks=list(range(T)), name=f"{name}-positions-ticks")
    plot.xaxis.major_label_overrides = dict(enumerate(tokens))
    plot.xaxis.name = f"{name}-positions-xaxis"  # the callback relabels it with the chosen seed's letters
    # 32 letters, about 10 px apart from a phone's column to a laptop's: at 7 pt the widest (W) still leaves a gap;
    # on a narrower column a letter that would touch the last one drawn is left out (its tick stays, and the maps
    # below name every position)
    plot.xaxis.major_label_text_font_size = "7pt"
    plot.xaxis.major_label_policy = NoOverlap(min_distance=1)
    return plot, src


def ablation_layout(p: AblationPayload, *, name: str = "heads-ablation"):
    """A toggle per head; the mean losses and the loss per position; the last layer's attention maps."""
    check_name(name)
    check_payload(p)
    several = len(p.seeds) > 1
    toggles = [c for c in p.controls if c.widget != "seed"]
    intact = {c.widget: False for c in toggles} | ({"seed": p.seeds[0]} if several else {})
    bars, bar_source = _bars_panel(p, name, pick(p, "losses", intact))
    positions, pos_source = _positions_panel(p, name, pick(p, "position_loss", intact))
    maps, cells = _head_maps(name, p.tokens[0], p.map_titles, ["#444444"] * len(p.map_titles))
    map_axes = [ax for r in maps for plot in r.children for ax in (plot.xaxis[0], plot.yaxis[0])]
    widgets = {}
    if several:
        widgets["seed"] = select(f"{name}-seed", "Seed", list(p.seeds), p.seeds[0], width=120)
    widgets |= {
        c.widget: toggle(f"{name}-{c.widget}", f"Ablate {h}", width=120)
        for c, h in zip(toggles, p.heads, strict=True)
    }
    update = js_callback(
        "heads_ablation",
        payload=payload_source(p, name=name),
        widgets=widgets,
        cells=cells,
        bar_source=bar_source,
        pos_source=pos_source,
        pos_axis=positions.xaxis[0],
        map_axes=map_axes,
        subtitle=bars.select_one({"name": f"{name}-bars-subtitle"}),
        description=description(name, _WHAT_ABLATION),
    )
    on_change(update, *widgets.values())
    fig = column(
        control_row(f"{name}-controls", *widgets.values()),
        row(bars, positions, name=f"{name}-losses"),
        *maps,
        name=name,
    )
    return on_document_ready(fit(fig), update)


def head_ablation_figure(
    ablations, tokens, *, ln_v: float, others=(), seeds=None, name: str = "heads-ablation"
):
    """``ablation_layout(ablation_payload(...))``: the figure the chapter shows (a seed select with ``others``)."""
    return ablation_layout(
        ablation_payload(ablations, tokens, ln_v=ln_v, others=others, seeds=seeds), name=name
    )


# ----------------------------------------------------------------------------------------------------
# Length extrapolation


class ExtrapolationPayload(NamedTuple):
    """Loss against evaluation length per position scheme (same in every state) and, per length (control
    ``length``, the select's string), the loss at each position of the window (NaN past the length)."""

    controls: tuple
    axes: dict
    schemes: tuple  # (R,)
    colors: tuple  # (R,)
    lengths: np.ndarray  # (M,) int32 evaluation lengths
    train_len: int
    loss: np.ndarray  # (R, M) float32 mean loss
    position_loss: np.ndarray  # (M, R, lengths[-1]) float32, NaN past lengths[m]  [length]
    captions: list  # (M,) html  [length]
    seed_loss: np.ndarray  # (n_seeds, R, M) float32, the same at other seeds (thin lines; may be empty)

    def view(p, state: dict) -> dict:
        """The per-position curves, the markers on the loss curves and the caption."""
        m = axis_index(p.controls[0], state["length"])
        Te = int(p.lengths[m])
        pos = pick(p, "position_loss", state)[:, :Te]
        return {
            "positions-source": {"position": np.arange(Te, dtype=np.float32)}
            | {s: pos[k] for k, s in enumerate(p.schemes)},
            "marker": {"x": [Te] * len(p.schemes), "y": np.asarray(p.loss)[:, m]},
            "caption": {"text": pick(p, "captions", state)},
            "description": described(
                _WHAT_EXTRAPOLATION,
                pick(p, "captions", state)
                + html.escape(
                    f" Mean loss on windows of {Te} tokens: "
                    + ", ".join(
                        f"{sc} {_fmt(v, 3)}"
                        for sc, v in zip(p.schemes, np.asarray(p.loss)[:, m], strict=True)
                    )
                    + "."
                ),
            ),
        }


def extrapolation_payload(result, *, train_len: int, others=()) -> ExtrapolationPayload:
    """Pack :class:`attnbook.experiments.extrapolation.Extrapolation` (or any record with fields ``schemes, lengths,
    loss, position_loss``) for the page; ``train_len`` must be one of the lengths. ``others``: the same
    experiment at other seeds (records with the same ``schemes``, ``lengths`` and ``loss`` shape), drawn as thin
    lines."""
    _fields("result", result, ("schemes", "lengths", "loss", "position_loss"), "an extrapolation result")
    schemes = result.schemes
    if isinstance(schemes, str) or not all(isinstance(s, str) for s in schemes):
        raise TypeError("result.schemes must be a sequence of str")
    schemes = tuple(schemes)
    lengths = _increasing("result.lengths", result.lengths)
    R, M = len(schemes), lengths.size
    loss = as_float_array("result.loss", result.loss, ndim=2)
    if loss.shape != (R, M):
        raise ValueError(f"result.loss must have shape (n_schemes, n_lengths) = {(R, M)}, got {loss.shape}")
    if isinstance(result.position_loss, np.ndarray) or len(result.position_loss) != M:
        raise TypeError(f"result.position_loss must be a sequence of {M} arrays, one per length")
    pos = np.full((M, R, int(lengths[-1])), np.nan, dtype=np.float32)
    for m, arr in enumerate(result.position_loss):
        arr = as_float_array(f"result.position_loss[{m}]", arr, ndim=2)
        if arr.shape != (R, lengths[m]):
            raise ValueError(
                f"result.position_loss[{m}] must have shape {(R, int(lengths[m]))}, got {arr.shape}"
            )
        pos[m, :, : lengths[m]] = arr
    train_len = check_int("train_len", train_len, low=1)
    if train_len not in lengths:
        raise ValueError(f"train_len must be one of the lengths {lengths.tolist()}, got {train_len}")
    m0 = int(np.searchsorted(lengths, train_len))
    if isinstance(others, (str, bytes, Mapping)) or not hasattr(others, "__iter__"):
        raise TypeError("others must be a sequence of extrapolation results")
    seed_loss = []
    for k, o in enumerate(others):
        _fields(f"others[{k}]", o, ("schemes", "lengths", "loss"), "an extrapolation result")
        if tuple(o.schemes) != schemes or not np.array_equal(np.asarray(o.lengths), lengths):
            raise ValueError(f"others[{k}] must have the schemes and lengths of result")
        o_loss = as_float_array(f"others[{k}].loss", o.loss, ndim=2)
        if o_loss.shape != (R, M):
            raise ValueError(f"others[{k}].loss must have shape {(R, M)}, got {o_loss.shape}")
        seed_loss.append(o_loss)
    captions = [
        f"<b>Windows of {Te} tokens</b> ({Te / train_len:g}× the training length). Mean loss in nats: "
        + ", ".join(
            f"{s} {loss[k, m]:.3f} (at {train_len}: {loss[k, m0]:.3f})" for k, s in enumerate(schemes)
        )
        + "."
        for m, Te in enumerate(lengths.tolist())
    ]
    return ExtrapolationPayload(
        controls=(Control("length", tuple(str(t) for t in lengths.tolist())),),
        axes={"position_loss": ("length",), "captions": ("length",)},
        schemes=schemes,
        colors=tuple(SCHEME_COLORS.get(s, Category10[10][k % 10]) for k, s in enumerate(schemes)),
        lengths=lengths.astype(np.int32),
        train_len=train_len,
        loss=loss.astype(np.float32),
        position_loss=pos,
        captions=captions,
        seed_loss=np.array(seed_loss, dtype=np.float32).reshape(len(seed_loss), R, M),
    )


def _length_panel(p: ExtrapolationPayload, name: str):
    """Mean loss against evaluation length (log axis), one line per scheme, open markers at the chosen length."""
    plot = line_panel(
        name=f"{name}-curve",
        title=f"Loss vs evaluation length (trained at {p.train_len})",
        width=330,
        height=320,
        x_label="evaluation length",
        y_label="nats",
        x_axis_type="log",
    )
    plot.xaxis.ticker = FixedTicker(ticks=p.lengths.tolist(), name=f"{name}-curve-ticks")
    src = ColumnDataSource(
        {"length": p.lengths} | dict(zip(p.schemes, p.loss, strict=True)), name=f"{name}-curve-source"
    )
    series = [(s, s, c) for s, c in zip(p.schemes, p.colors, strict=True)]
    line_series(plot, src, "length", series, name=f"{name}-curve-legend", dots=6)
    for n, other in enumerate(p.seed_loss):  # the other seeds: thin, faint, no legend
        o_src = ColumnDataSource(
            {"length": p.lengths} | dict(zip(p.schemes, other, strict=True)), name=f"{name}-curve-seed{n}"
        )
        for s, c in zip(p.schemes, p.colors, strict=True):
            plot.line("length", s, source=o_src, color=c, line_width=1, alpha=0.45, line_dash="dotted")
    marker = empty_source(f"{name}-marker", len(p.schemes), x="float", y="float", color=list(p.colors))
    plot.scatter("x", "y", source=marker, color="color", size=13, fill_alpha=0.0, line_width=2)
    return plot, marker


def _window_panel(p: ExtrapolationPayload, name: str):
    """Mean loss at each position of a window, one line per scheme (dashed: the training length)."""
    plot = line_panel(
        name=f"{name}-positions",
        title="Loss at each position of the window",
        width=410,
        height=320,
        x_label="position in the window",
        y_label="nats",
        x_range=Range1d(-1, int(p.lengths[-1]), name=f"{name}-positions-xrange"),
        y_range=Range1d(0, float(np.nanmax(p.position_loss)) * 1.05, name=f"{name}-positions-yrange"),
    )
    src = empty_source(f"{name}-positions-source", 0, position="float", **dict.fromkeys(p.schemes, "float"))
    series = [(s, s, c) for s, c in zip(p.schemes, p.colors, strict=True)]
    line_series(plot, src, "position", series, name=f"{name}-positions-legend", line_width=1.5)
    _line(plot, f"{name}-trained", p.train_len - 0.5, "height", "#555555", "dashed")
    return plot, src


def extrapolation_layout(p: ExtrapolationPayload, *, name: str = "heads-alibi", length: str | None = None):
    """Length select and caption; loss against length per scheme (markers at the selected length) beside the
    loss at each position of windows of that length (dashed: the training length)."""
    check_name(name)
    check_payload(p)
    values = p.controls[0].values
    length = check_choice("length", values[-1] if length is None else length, values)
    curve, marker = _length_panel(p, name)
    positions, pos_source = _window_panel(p, name)
    widget = select(f"{name}-length", "Evaluation length", values, length, width=200)
    widget.options = [(v, f"{v} ({int(v) / p.train_len:g}×)") for v in values]
    caption = Div(text="", name=f"{name}-caption", width=740, height=44)
    update = js_callback(
        "heads_extrapolation",
        payload=payload_source(p, name=name),
        widgets={"length": widget},
        marker=marker,
        pos_source=pos_source,
        caption=caption,
        description=description(name, _WHAT_EXTRAPOLATION),
    )
    widget.js_on_change("value", update)
    fig = column(
        control_row(f"{name}-controls", widget),
        caption,
        row(curve, positions, name=f"{name}-plots"),
        name=name,
    )
    return on_document_ready(fit(fig), update)


def extrapolation_figure(result, *, train_len: int, others=(), name: str = "heads-alibi", **initial):
    """``extrapolation_layout(extrapolation_payload(...))``: the figure the chapter shows (``initial``: length)."""
    return extrapolation_layout(
        extrapolation_payload(result, train_len=train_len, others=others), name=name, **initial
    )


# ----------------------------------------------------------------------------------------------------
# Head importance


class ImportancePayload(NamedTuple):
    """Per model (control ``model``) and scale (control ``scale``: 0 values, 1 ranks): every head's gradient
    importance ``x`` against the loss change when it alone is removed ``y``; per model the heads ordered by
    loss change (the bars) and the caption."""

    controls: tuple
    axes: dict
    heads: tuple  # (n,) "L1 H1", ...
    colors: tuple  # (n,) one colour per layer
    x: np.ndarray  # (n_models, 2, n) float32: importance, its ranks  [model, scale]
    y: np.ndarray  # (n_models, 2, n) float32: loss change, its ranks  [model, scale]
    order: np.ndarray  # (n_models, n) int32, heads by loss change, largest first  [model]
    x_label: list  # (2,)  [scale]
    y_label: list  # (2,)  [scale]
    captions: list  # (n_models,) html  [model]
    threshold: float  # NaN: none drawn

    def view(p, state: dict) -> dict:
        """The scatter, the bars (largest first, labelled by head), the axis labels and the caption."""
        order = np.asarray(pick(p, "order", state)).astype(np.int64)  # read back from a page: any dtype
        values = pick(p, "y", {**state, "scale": 0})
        return {
            "scatter-source": {"x": pick(p, "x", state), "y": pick(p, "y", state)},
            "bars-source": {
                "delta": values[order],
                "label": [p.heads[h] for h in order],
                "color": [p.colors[h] for h in order],
            },
            "bars-xaxis": {"major_label_overrides": {str(i): p.heads[h] for i, h in enumerate(order)}},
            "scatter-xaxis": {"axis_label": pick(p, "x_label", state)},
            "scatter-yaxis": {"axis_label": pick(p, "y_label", state)},
            "caption": {"text": pick(p, "captions", state)},
            "description": described(
                _WHAT_IMPORTANCE,
                pick(p, "captions", state)
                + html.escape(
                    f" Largest loss change when one head is removed: {p.heads[order[0]]}, {_fmt(values[order[0]], 3)}."
                ),
            ),
        }


def importance_payload(results: Mapping, *, threshold: float | None = None) -> ImportancePayload:
    """Pack one :class:`attnbook.experiments.pruning.HeadImportance` per model (``{label: result}``, any record
    with fields ``importance`` and ``ablation_delta`` of shape (n_layer, H)); ``threshold``: a loss change
    below it counts as "little loss" (default None: no threshold; the caption gives the costliest and the
    median loss change, and the bars are the loss change against the head's rank)."""
    if not isinstance(results, Mapping):
        raise TypeError(f"results must be a mapping of model label to result, got {type(results).__name__}")
    if not results:
        raise ValueError("results must not be empty")
    if threshold is not None:
        threshold = check_real("threshold", threshold, low=0.0, low_inclusive=False)
    shape, x, y, captions = None, [], [], []
    for label, r in results.items():
        if not isinstance(label, str):
            raise TypeError(f"results must be keyed by str labels, got {label!r}")
        _fields(f"results[{label!r}]", r, ("importance", "ablation_delta"), "a head importance result")
        imp = as_float_array(f"results[{label!r}].importance", r.importance, ndim=2)
        delta = as_float_array(f"results[{label!r}].ablation_delta", r.ablation_delta, ndim=2)
        if imp.shape != delta.shape or (shape is not None and imp.shape != shape) or imp.size < 2:
            raise ValueError(
                f"results[{label!r}]: importance and ablation_delta must share one (n_layer, H) shape with >= 2 heads"
            )
        shape = imp.shape
        rx, ry = rank_values(imp.ravel()), rank_values(delta.ravel())
        x.append([imp.ravel(), rx])
        y.append([delta.ravel(), ry])
        rho = spearman(imp, delta)  # NaN when either has no spread
        if threshold is None:
            cost = (
                f"removed alone, the costliest head adds {delta.max():.3f} nats, the median head "
                f"{np.median(delta):.3f}."
            )
        else:
            below = int((delta < threshold).sum())
            cost = f"{below} of {imp.size} heads cost less than {threshold:g} nats when removed alone."
        captions.append(
            f"<b>{html.escape(label)}</b>: Spearman rank correlation between importance and loss change ρ = "
            f"<b>{'undefined' if np.isnan(rho) else f'{rho:.3f}'}</b>; {cost}"
        )
    L, H = shape
    y = np.array(y, dtype=np.float32)
    return ImportancePayload(
        controls=(Control("model", tuple(results)), Control("scale", (0, 1), "active")),
        axes={"x": ("model", "scale"), "y": ("model", "scale"), "order": ("model",), "captions": ("model",)}
        | {"x_label": ("scale",), "y_label": ("scale",)},
        heads=tuple(f"L{a + 1} H{h + 1}" for a in range(L) for h in range(H)),
        colors=tuple(HEAD_COLORS[a % len(HEAD_COLORS)][0] for a in range(L) for _ in range(H)),
        x=np.array(x, dtype=np.float32),
        y=y,
        order=np.argsort(-y[:, 0], axis=1, kind="stable").astype(np.int32),
        x_label=["importance  E|∂L/∂ξ|", "rank of importance (1 = least)"],
        y_label=["loss change when removed (nats)", "rank of loss change (1 = least)"],
        captions=captions,
        threshold=float("nan") if threshold is None else threshold,
    )


def _scatter_panel(p: ImportancePayload, name: str):
    """Importance against loss change, a dot per head coloured by layer; the callback sets the axis labels."""
    plot = line_panel(
        name=f"{name}-scatter",
        title="Gradient importance vs loss change",
        x_label="",
        y_label="",
        width=340,
        height=320,
    )
    plot.xaxis[0].name, plot.yaxis[0].name = f"{name}-scatter-xaxis", f"{name}-scatter-yaxis"
    n = len(p.heads)
    src = empty_source(
        f"{name}-scatter-source", n, x="float", y="float", label=list(p.heads), color=list(p.colors)
    )
    dots = plot.scatter("x", "y", source=src, color="color", size=9, alpha=0.8)
    plot.add_tools(hover(dots, ("head", "@label"), ("x", "@x{0.0000}"), ("y", "@y{0.0000}")))
    return plot, src


def _delta_bars(p: ImportancePayload, name: str):
    """The loss change of every head, largest first, labelled by head (dashed: the threshold)."""
    n = len(p.heads)
    src = empty_source(
        f"{name}-bars-source", n, x=np.arange(n, dtype=np.float32), delta="float", label="str", color="str"
    )
    plot, bars = bar_panel(
        src,
        name=f"{name}-bars",
        title="Loss change per removed head, largest first",
        x="x",
        top="delta",
        labels=p.heads,
        width=380,
        height=320,
        color="color",
        y_range=DataRange1d(start=0, name=f"{name}-bars-yrange"),
    )
    plot.yaxis.axis_label = "nats"
    plot.xaxis[0].name = f"{name}-bars-xaxis"
    plot.xaxis.major_label_orientation = 1.2
    plot.xaxis.major_label_text_font_size = "8pt"
    plot.add_tools(hover(bars, ("head", "@label"), ("loss change", "@delta{0.0000}")))
    if np.isfinite(p.threshold):
        _line(plot, f"{name}-threshold", p.threshold, "width", "#d62728", "dashed")
    return plot, src


def importance_layout(
    p: ImportancePayload, *, name: str = "heads-importance", model: str | None = None, scale: int = 0
):
    """Model select and values/ranks buttons, caption; importance against loss change beside the loss change
    of every head, largest first (dashed: the threshold, if any)."""
    check_name(name)
    check_payload(p)
    models = p.controls[0].values
    model = check_choice("model", models[0] if model is None else model, models)
    scale = check_int("scale", scale, low=0, high=1)
    scatter, sc_source = _scatter_panel(p, name)
    bars, bar_source = _delta_bars(p, name)
    widgets = {
        "model": select(f"{name}-model", "Model", models, model, width=200),
        "scale": RadioButtonGroup(
            labels=["values", "ranks"], active=scale, name=f"{name}-scale", align="end"
        ),
    }
    caption = Div(text="", name=f"{name}-caption", width=720, height=44)
    update = js_callback(
        "heads_importance",
        payload=payload_source(p, name=name),
        widgets=widgets,
        sc_source=sc_source,
        bar_source=bar_source,
        bar_axis=bars.xaxis[0],
        sc_axes=[scatter.xaxis[0], scatter.yaxis[0]],
        caption=caption,
        description=description(name, _WHAT_IMPORTANCE),
    )
    on_change(update, widgets["model"], widgets["scale"])
    fig = column(
        control_row(f"{name}-controls", *widgets.values()),
        caption,
        row(scatter, bars, name=f"{name}-plots"),
        name=name,
    )
    return on_document_ready(fit(fig), update)


def head_importance_figure(
    results: Mapping, *, threshold: float | None = None, name: str = "heads-importance", **initial
):
    """``importance_layout(importance_payload(...))``: the figure the chapter shows (``initial``: model, scale)."""
    return importance_layout(importance_payload(results, threshold=threshold), name=name, **initial)
