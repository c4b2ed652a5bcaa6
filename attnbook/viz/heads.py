"""Figures of what trained heads learn: induction heads forming during training (Olsson et al. 2022), head
ablation, ALiBi length extrapolation (Press et al. 2021) and head importance (Michel et al. 2019).

The builders take arrays computed by :mod:`attnbook.experiments.induction`, ``.extrapolation`` and ``.pruning``
and ship every state a widget can reach as float32; the callbacks in ``js/heads_*.mjs`` only look values up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    Div,
    FixedTicker,
    HoverTool,
    Label,
    LabelSet,
    Legend,
    LegendItem,
    RadioButtonGroup,
    Range1d,
    Select,
    Slider,
    Span,
    Toggle,
)
from bokeh.palettes import Category10
from bokeh.plotting import figure

from .._checks import as_float_array, as_int_array, check_real, check_tokens
from ..analysis import rank_values, spearman
from .core import float32, js_callback, on_document_ready
from .heatmap import attention_heatmap

__all__ = [
    "HEAD_COLORS",
    "SCHEME_COLORS",
    "SCORES",
    "extrapolation_figure",
    "head_ablation_figure",
    "head_importance_figure",
    "induction_training_figure",
    "lower_triangles",
]

# One colour per head of a small model: layer 1 in blues, layer 2 in oranges/reds (up to 4 heads a layer).
HEAD_COLORS = (
    ("#1f77b4", "#17becf", "#6baed6", "#08519c"),
    ("#d62728", "#ff7f0e", "#e377c2", "#8c564b"),
    ("#2ca02c", "#bcbd22", "#98df8a", "#006d2c"),
)
SCHEME_COLORS = {"alibi": "#2ca02c", "rope": "#9467bd", "sinusoidal": "#d62728", "none": "#7f7f7f"}
# The per-head curves the training figure can show (Select), in order.
SCORES = (
    ("induction", "Prefix-matching (induction) score"),
    ("previous", "Previous-token score"),
    ("entropy", "Attention entropy (nats)"),
)


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


def lower_triangles(weights) -> np.ndarray:
    """The causal part of attention maps, row by row: ``w[..., i, j]`` for ``j <= i``.

    Parameters
    ----------
    weights : ndarray, shape (..., T, T)

    Returns
    -------
    tri : ndarray of float32, shape (..., T (T + 1) / 2)
        Entry ``i (i + 1) / 2 + j`` is ``weights[..., i, j]``; the masked upper triangle (all zeros in a
        causal model) is not shipped, halving the page weight of the snapshots.
    """
    w = as_float_array("weights", weights, min_ndim=2)
    T = w.shape[-1]
    if w.shape[-2] != T:
        raise ValueError(f"weights must end in (T, T), got shape {w.shape}")
    i, j = np.tril_indices(T)  # row-major order: (0,0), (1,0), (1,1), (2,0), ...
    return float32("weights", w[..., i, j])


def _plot(name: str, title: str, width: int, height: int, **kw):
    p = figure(name=name, title=title, width=width, height=height, tools="", toolbar_location=None, **kw)
    p.title.text_font_size = "10pt"
    return p


def _hline(name: str, value: float, color: str = "#777777", dash: str = "dashed") -> Span:
    return Span(location=float(value), dimension="width", line_color=color, line_dash=dash, name=name)


def _label(name: str, x: float, y: float, text: str, color: str = "#555555") -> Label:
    return Label(
        x=x, y=y, text=text, text_align="right", y_offset=2, text_font_size="8pt", text_color=color, name=name
    )


def _causal_heatmap(weights, tokens, *, name: str, title: str, width: int, height: int):
    """:func:`attention_heatmap` drawing only the causal cells ``j <= i``, in :func:`lower_triangles` order.

    Half the cells to draw, and a callback copies a slice of the shipped triangles into the ``weight``
    column without unpacking it.
    """
    plot = attention_heatmap(weights, tokens, tokens, name=name, title=title, width=width, height=height)
    source = plot.select_one({"name": f"{name}-source"})
    keep = source.data["x"] <= -source.data["y"]  # key j <= query i
    idx = np.nonzero(keep)[0]
    source.data = {
        k: v[idx] if isinstance(v, np.ndarray) else [v[i] for i in idx] for k, v in source.data.items()
    }
    return plot


# ----------------------------------------------------------------------------------------------------
# Training: snapshots, loss, scores


def induction_training_figure(
    steps,
    attention,
    tokens: Sequence[str],
    induction,
    previous,
    entropy,
    eval_steps,
    val_loss,
    *,
    control_loss=None,
    ln_v: float,
    floor: float | None = None,
    name: str = "heads-train",
):
    """Watch induction heads form: attention snapshots on a slider, the loss curve and per-head scores.

    Parameters
    ----------
    steps : ndarray of int, shape (S,)
        Training steps of the snapshots, increasing.
    attention : ndarray, shape (S, n_layer, H, T, T)
        Attention of every head on one probe sequence at each snapshot.
    tokens : sequence of str, length T
        The probe sequence.
    induction, previous, entropy : ndarray, shape (S, n_layer, H)
        Per-head scores at each snapshot (Select "Curve").
    eval_steps : ndarray of int, shape (E,)
        Steps of the loss estimates.
    val_loss : ndarray, shape (E,)
        Validation loss of the model.
    control_loss : ndarray, shape (E,), optional
        Validation loss of a control (the 1-layer model), drawn dashed.
    ln_v : float
        Loss of a uniform guess, drawn as a reference line.
    floor : float, optional
        Loss with the repeats predicted perfectly and everything else at chance, drawn as a reference line.
    name : str
        Prefix of every model name.

    Returns
    -------
    bokeh layout
    """
    steps = _increasing("steps", steps)
    attention = _weights("attention", attention, 5)
    S, L, H, T, _ = attention.shape
    if S != steps.size:
        raise ValueError(f"attention has {S} snapshots but steps has {steps.size}")
    if H > 4 or L > len(HEAD_COLORS):
        raise ValueError(f"at most {len(HEAD_COLORS)} layers of 4 heads can be drawn, got {L} x {H}")
    tokens = check_tokens("tokens", tokens, T)
    curves = []
    for key, arr in (("induction", induction), ("previous", previous), ("entropy", entropy)):
        arr = as_float_array(key, arr, ndim=3)
        if arr.shape != (S, L, H):
            raise ValueError(f"{key} must have shape (S, n_layer, H) = {(S, L, H)}, got {arr.shape}")
        curves.append(arr.reshape(S, L * H))
    eval_steps = _increasing("eval_steps", eval_steps)
    val_loss = as_float_array("val_loss", val_loss, ndim=1)
    if val_loss.shape != eval_steps.shape:
        raise ValueError(f"val_loss must have shape {eval_steps.shape}, got {val_loss.shape}")
    if control_loss is not None:
        control_loss = as_float_array("control_loss", control_loss, ndim=1)
        if control_loss.shape != eval_steps.shape:
            raise ValueError(f"control_loss must have shape {eval_steps.shape}, got {control_loss.shape}")
    ln_v = check_real("ln_v", ln_v, low=0.0)
    if floor is not None:
        floor = check_real("floor", floor, low=0.0)

    labels = [f"L{layer + 1} H{h + 1}" for layer in range(L) for h in range(H)]
    colors = [HEAD_COLORS[layer][h] for layer in range(L) for h in range(H)]
    shown = (
        [val_loss, [ln_v]]
        + ([] if control_loss is None else [control_loss])
        + ([] if floor is None else [[floor]])
    )
    lo, hi = float(min(np.min(a) for a in shown)), float(max(np.max(a) for a in shown))

    # Attention heatmaps: one per head, two per row.
    maps = []
    for layer in range(L):
        for h in range(H):
            hm = _causal_heatmap(
                attention[0, layer, h],
                tokens,
                name=f"{name}-l{layer + 1}h{h + 1}",
                title=f"Layer {layer + 1}, head {h + 1}",
                width=350,
                height=310,
            )
            hm.title.text_color = HEAD_COLORS[layer][h]
            hm.axis.major_label_text_font_size = "7pt"
            maps.append(hm)
    sources = [m.select_one({"name": f"{m.name}-source"}) for m in maps]

    # Loss curve with the snapshot marker.
    loss_plot = _plot(
        f"{name}-loss",
        "Validation loss",
        350,
        250,
        x_axis_label="training step",
        y_axis_label="nats",
        y_range=Range1d(lo - 0.15, hi + 0.15),
    )
    loss_plot.y_range.name = f"{name}-loss-yrange"
    loss_data = {"step": eval_steps.astype(np.float32), "loss": float32("val_loss", val_loss)}
    if control_loss is not None:
        loss_data["control"] = float32("control_loss", control_loss)
    loss_source = ColumnDataSource(loss_data, name=f"{name}-loss-source")
    items = [
        LegendItem(
            label="2 layers",
            renderers=[loss_plot.line("step", "loss", source=loss_source, color="#222222", line_width=2)],
        )
    ]
    if control_loss is not None:
        r = loss_plot.line(
            "step", "control", source=loss_source, color="#888888", line_width=2, line_dash="dashed"
        )
        items.append(LegendItem(label="1 layer", renderers=[r]))
    loss_plot.add_layout(_hline(f"{name}-lnv", ln_v, "#555555", "dotted"))
    x_end = float(eval_steps[-1])
    loss_plot.add_layout(_label(f"{name}-lnv-label", x_end, ln_v, "ln V"))
    if floor is not None:
        loss_plot.add_layout(_hline(f"{name}-floor", floor, "#2ca02c", "dotted"))
        loss_plot.add_layout(_label(f"{name}-floor-label", x_end, floor, "repeats perfect", "#2ca02c"))
    loss_marker = ColumnDataSource({"x": [0.0], "y": [float(val_loss[0])]}, name=f"{name}-loss-marker")
    loss_plot.scatter("x", "y", source=loss_marker, size=9, color="#d62728")
    loss_cursor = Span(location=0, dimension="height", line_color="#d62728", name=f"{name}-loss-cursor")
    loss_plot.add_layout(loss_cursor)
    loss_plot.add_layout(
        Legend(items=items, location="bottom_left", background_fill_alpha=0.6, name=f"{name}-loss-legend")
    )
    loss_at = float32("loss_at", np.interp(steps, eval_steps, val_loss))  # (S,) loss at each snapshot

    # Per-head score curves (Select picks which score).
    score_plot = _plot(
        f"{name}-scores", SCORES[0][1], 350, 250, x_axis_label="training step", y_range=Range1d(0, 1.02)
    )
    score_plot.y_range.name = f"{name}-scores-yrange"
    score_data = {"step": steps.astype(np.float32)}
    score_data.update({f"h{k}": curves[0][:, k].astype(np.float32) for k in range(L * H)})
    score_source = ColumnDataSource(score_data, name=f"{name}-scores-source")
    items = []
    for k in range(L * H):
        r = score_plot.line("step", f"h{k}", source=score_source, color=colors[k], line_width=2)
        items.append(LegendItem(label=labels[k], renderers=[r]))
    score_plot.add_layout(
        Legend(items=items, location="center_right", background_fill_alpha=0.6, name=f"{name}-scores-legend")
    )
    score_marker = ColumnDataSource(
        {"x": [0.0] * (L * H), "y": curves[0][0].tolist(), "color": colors}, name=f"{name}-scores-marker"
    )
    score_plot.scatter("x", "y", source=score_marker, color="color", size=8)
    score_cursor = Span(location=0, dimension="height", line_color="#d62728", name=f"{name}-scores-cursor")
    score_plot.add_layout(score_cursor)

    slider = Slider(
        start=0,
        end=S - 1,
        value=0,
        step=1,
        title=f"Training step {int(steps[0])} (snapshot 1 of {S})",
        show_value=False,
        name=f"{name}-step",
        width=300,
    )
    play = Toggle(label="▶ Play", active=False, name=f"{name}-play", width=80, align="end")
    select = Select(
        title="Curve",
        value=SCORES[0][0],
        options=[(k, label) for k, label in SCORES],
        name=f"{name}-score",
        width=260,
    )
    # No Div caption: rewriting a Div re-lays-out this large document (~30 ms); titles are cheap.
    update = js_callback(
        "heads_training",
        slider=slider,
        select=select,
        sources=sources,
        score_source=score_source,
        score_marker=score_marker,
        score_plot=score_plot,
        loss_marker=loss_marker,
        loss_cursor=loss_cursor,
        score_cursor=score_cursor,
        loss_plot=loss_plot,
        steps=steps.astype(np.float32),
        tri=lower_triangles(attention),  # (S, L, H, T(T+1)/2)
        T=int(T),
        curves=float32("curves", np.stack(curves)),  # (3, S, L*H)
        score_keys=[k for k, _ in SCORES],
        score_titles=[t for _, t in SCORES],
        entropy_max=float(max(np.log(T), np.max(curves[2]))),
        loss_at=loss_at,
        colors=colors,
    )
    slider.js_on_change("value", update)
    select.js_on_change("value", update)
    play.js_on_change("active", js_callback("play", toggle=play, slider=slider, interval_ms=400))
    grid = [row(*maps[k : k + 2], name=f"{name}-maps-{k // 2}") for k in range(0, len(maps), 2)]
    layout = column(
        row(slider, play, select, name=f"{name}-controls"),
        *grid,
        row(loss_plot, score_plot, name=f"{name}-curves"),
        name=name,
    )
    return on_document_ready(layout, update)


# ----------------------------------------------------------------------------------------------------
# Ablation of heads


def head_ablation_figure(
    masks,
    repeat_loss,
    fresh_loss,
    position_loss,
    attention,
    tokens: Sequence[str],
    *,
    ln_v: float,
    name: str = "heads-ablation",
):
    """Switch heads off and see the loss and the last layer's attention (every combination precomputed).

    Parameters
    ----------
    masks : ndarray, shape (K, n_layer, H)
        ``head_mask`` of each combination (1 = kept, 0 = ablated); all ``2 ** (n_layer * H)`` on/off
        patterns, once each, the first being the intact model.
    repeat_loss, fresh_loss : ndarray, shape (K,)
        Mean loss on repeated tokens and on first occurrences under each mask.
    position_loss : ndarray, shape (K, T)
        Loss at each position of the probe sequence under each mask.
    attention : ndarray, shape (K, H, T, T)
        Last layer's attention on the probe sequence under each mask.
    tokens : sequence of str, length T
    ln_v : float
        Loss of a uniform guess (reference line).
    name : str

    Returns
    -------
    bokeh layout
    """
    masks = as_float_array("masks", masks, ndim=3)
    K, L, H = masks.shape
    n = L * H
    if n > 8:
        raise ValueError(f"masks must have at most 8 heads to toggle, got {L} x {H}")
    if not np.all((masks == 0) | (masks == 1)):
        raise ValueError("masks must contain only 0 (ablated) and 1 (kept)")
    codes = ((1 - masks.reshape(K, n)).astype(np.int64) << np.arange(n)).sum(axis=1)  # (K,) bit per head
    if K != 2**n or sorted(codes.tolist()) != list(range(2**n)):
        raise ValueError(f"masks must hold each of the {2**n} on/off patterns exactly once")
    if codes[0] != 0:
        raise ValueError("masks[0] must be the intact model (all ones)")
    row_of = np.empty(2**n, dtype=np.int32)
    row_of[codes] = np.arange(K, dtype=np.int32)  # toggle pattern -> row of the precomputed tables
    repeat_loss = as_float_array("repeat_loss", repeat_loss, ndim=1)
    fresh_loss = as_float_array("fresh_loss", fresh_loss, ndim=1)
    for key, arr in (("repeat_loss", repeat_loss), ("fresh_loss", fresh_loss)):
        if arr.shape != (K,):
            raise ValueError(f"{key} must have shape (K,) = ({K},), got {arr.shape}")
    position_loss = as_float_array("position_loss", position_loss, ndim=2)
    T = position_loss.shape[1]
    if position_loss.shape[0] != K:
        raise ValueError(f"position_loss must have shape (K, T) with K = {K}, got {position_loss.shape}")
    attention = _weights("attention", attention, 4)
    if attention.shape != (K, attention.shape[1], T, T):
        raise ValueError(
            f"attention must have shape (K, H, T, T) = ({K}, H, {T}, {T}), got {attention.shape}"
        )
    Hl = attention.shape[1]
    tokens = check_tokens("tokens", tokens, T)
    ln_v = check_real("ln_v", ln_v, low=0.0)

    toggles = [
        Toggle(
            label=f"Ablate L{layer + 1} H{h + 1}",
            active=False,
            name=f"{name}-l{layer + 1}h{h + 1}",
            width=120,
        )
        for layer in range(L)
        for h in range(H)
    ]
    # No Div caption (re-laying-out this document costs ~20 ms per change): the bars' title and value
    # labels say what is ablated and what it costs.
    bars = _plot(
        f"{name}-bars",
        "Intact model: mean loss on held-out windows",
        300,
        260,
        x_range=Range1d(-0.6, 1.6),
        y_range=Range1d(0, float(max(repeat_loss.max(), fresh_loss.max(), ln_v)) * 1.1),
        y_axis_label="nats",
    )
    bars.x_range.name = f"{name}-bars-xrange"
    bars.y_range.name = f"{name}-bars-yrange"
    # Two bars side by side per group, centres offset by hand (numeric x, no categorical range).
    bar_source = ColumnDataSource(
        {
            "x_intact": np.array([-0.2, 0.8], dtype=np.float32),
            "x_current": np.array([0.2, 1.2], dtype=np.float32),
            "intact": float32("intact", [repeat_loss[0], fresh_loss[0]]),
            "current": float32("current", [repeat_loss[0], fresh_loss[0]]),
            "text_intact": [f"{repeat_loss[0]:.2f}", f"{fresh_loss[0]:.2f}"],
            "text_current": [f"{repeat_loss[0]:.2f}", f"{fresh_loss[0]:.2f}"],
        },
        name=f"{name}-bars-source",
    )
    ri = bars.vbar(x="x_intact", top="intact", width=0.38, source=bar_source, color="#bbbbbb")
    rc = bars.vbar(x="x_current", top="current", width=0.38, source=bar_source, color="#d62728")
    for col in ("intact", "current"):
        bars.add_layout(
            LabelSet(
                x=f"x_{col}",
                y=col,
                text=f"text_{col}",
                source=bar_source,
                text_align="center",
                y_offset=2,
                text_font_size="8pt",
                name=f"{name}-bars-{col}-labels",
            )
        )
    bars.xaxis.ticker = FixedTicker(ticks=[0, 1], name=f"{name}-bars-ticks")
    bars.xaxis.major_label_overrides = {0: "repeated tokens", 1: "first occurrences"}
    bars.add_layout(_hline(f"{name}-bars-lnv", ln_v))
    bars.add_layout(
        Legend(
            items=[
                LegendItem(label="intact", renderers=[ri]),
                LegendItem(label="with ablation", renderers=[rc]),
            ],
            location="top_left",
            name=f"{name}-bars-legend",
        )
    )
    bars.add_tools(
        HoverTool(renderers=[ri, rc], tooltips=[("intact", "@intact{0.000}"), ("ablated", "@current{0.000}")])
    )

    pos = _plot(
        f"{name}-positions",
        "Loss at each position of the probe sequence",
        400,
        260,
        x_range=Range1d(-0.5, T - 0.5),
        y_range=Range1d(0, float(position_loss.max()) * 1.05),
        y_axis_label="nats",
    )
    pos.x_range.name = f"{name}-positions-xrange"
    pos.y_range.name = f"{name}-positions-yrange"
    pos_source = ColumnDataSource(
        {
            "x": np.arange(T, dtype=np.float32),
            "intact": float32("intact", position_loss[0]),
            "current": float32("current", position_loss[0]),
        },
        name=f"{name}-positions-source",
    )
    pos.line("x", "intact", source=pos_source, color="#999999", line_width=2, legend_label="intact")
    pos.line("x", "current", source=pos_source, color="#d62728", line_width=2, legend_label="with ablation")
    pos.legend.location = "top_center"
    pos.legend.background_fill_alpha = 0.6
    pos.legend.name = f"{name}-positions-legend"
    pos.add_layout(_hline(f"{name}-positions-lnv", ln_v))
    # Letter labels: position t predicts the token after tokens[t].
    pos.xaxis.ticker = FixedTicker(ticks=list(range(T)), name=f"{name}-positions-ticks")
    pos.xaxis.major_label_overrides = {t: tok for t, tok in enumerate(tokens)}
    pos.xaxis.major_label_text_font_size = "7pt"
    pos.xaxis.axis_label = "current token (the loss is on the next one)"

    maps = [
        _causal_heatmap(
            attention[0, h],
            tokens,
            name=f"{name}-h{h + 1}",
            title=f"Layer {L}, head {h + 1}",
            width=350,
            height=310,
        )
        for h in range(Hl)
    ]
    for m in maps:
        m.axis.major_label_text_font_size = "7pt"
    update = js_callback(
        "heads_ablation",
        toggles=toggles,
        row_of=row_of,
        bar_source=bar_source,
        pos_source=pos_source,
        sources=[m.select_one({"name": f"{m.name}-source"}) for m in maps],
        bars=bars,
        repeat_loss=float32("repeat_loss", repeat_loss),
        fresh_loss=float32("fresh_loss", fresh_loss),
        position_loss=float32("position_loss", position_loss),
        tri=lower_triangles(attention),  # (K, H, T(T+1)/2)
        T=int(T),
        labels=[t.label.replace("Ablate ", "") for t in toggles],
    )
    for t in toggles:
        t.js_on_change("active", update)
    grid = [row(*maps[k : k + 2], name=f"{name}-maps-{k // 2}") for k in range(0, len(maps), 2)]
    layout = column(
        row(*toggles, name=f"{name}-controls"),
        row(bars, pos, name=f"{name}-losses"),
        *grid,
        name=name,
    )
    return on_document_ready(layout, update)


# ----------------------------------------------------------------------------------------------------
# Length extrapolation


def extrapolation_figure(
    schemes: Sequence[str],
    lengths,
    loss,
    position_loss: Sequence,
    *,
    train_len: int,
    name: str = "heads-alibi",
):
    """Loss against evaluation length for each position scheme, and loss by position at a chosen length.

    Parameters
    ----------
    schemes : sequence of str, length S
        Position schemes, e.g. ``("alibi", "rope", "sinusoidal")``.
    lengths : ndarray of int, shape (M,)
        Evaluation window lengths, increasing; ``train_len`` is the training length.
    loss : ndarray, shape (S, M)
        Mean loss of each scheme at each length.
    position_loss : sequence of M arrays, shape (S, lengths[m])
        Mean loss at each position of the window.
    train_len : int
    name : str

    Returns
    -------
    bokeh layout
    """
    if isinstance(schemes, str) or not all(isinstance(s, str) for s in schemes):
        raise TypeError("schemes must be a sequence of str")
    schemes = tuple(schemes)
    lengths = _increasing("lengths", lengths)
    loss = as_float_array("loss", loss, ndim=2)
    S, M = len(schemes), lengths.size
    if loss.shape != (S, M):
        raise ValueError(f"loss must have shape (n_schemes, n_lengths) = {(S, M)}, got {loss.shape}")
    if isinstance(position_loss, np.ndarray) or len(position_loss) != M:
        raise TypeError(f"position_loss must be a sequence of {M} arrays, one per length")
    pos_loss = []
    for m, arr in enumerate(position_loss):
        arr = as_float_array(f"position_loss[{m}]", arr, ndim=2)
        if arr.shape != (S, lengths[m]):
            raise ValueError(f"position_loss[{m}] must have shape {(S, int(lengths[m]))}, got {arr.shape}")
        pos_loss.append(float32(f"position_loss[{m}]", arr))
    train_len = int(as_int_array("train_len", np.array([train_len]), low=1)[0])
    colors = [SCHEME_COLORS.get(s, Category10[10][k % 10]) for k, s in enumerate(schemes)]
    mult = [f"{int(t)} ({t / train_len:g}×)" for t in lengths]

    curve = _plot(
        f"{name}-curve",
        f"Loss vs evaluation length (trained at {train_len})",
        320,
        300,
        x_axis_type="log",
        x_axis_label="evaluation length",
        y_axis_label="nats",
    )
    curve.xaxis.ticker = FixedTicker(ticks=[int(t) for t in lengths], name=f"{name}-curve-ticks")
    curve_data = {"length": lengths.astype(np.float32)}
    curve_data.update({s: float32("loss", loss[k]) for k, s in enumerate(schemes)})
    curve_source = ColumnDataSource(curve_data, name=f"{name}-curve-source")
    for k, s in enumerate(schemes):
        curve.line("length", s, source=curve_source, color=colors[k], line_width=2, legend_label=s)
        curve.scatter("length", s, source=curve_source, color=colors[k], size=6)
    curve.legend.location = "top_left"
    curve.legend.background_fill_alpha = 0.6
    curve.legend.name = f"{name}-curve-legend"
    marker = ColumnDataSource(
        {"x": [float(lengths[0])] * S, "y": loss[:, 0].tolist(), "color": colors}, name=f"{name}-marker"
    )
    curve.scatter("x", "y", source=marker, color="color", size=13, fill_alpha=0.0, line_width=2)

    Tmax = int(lengths[-1])
    positions = _plot(
        f"{name}-positions",
        "Loss at each position of the window",
        380,
        300,
        x_range=Range1d(-1, Tmax),
        y_range=Range1d(0, float(max(a.max() for a in pos_loss)) * 1.05),
        x_axis_label="position in the window",
        y_axis_label="nats",
    )
    positions.x_range.name = f"{name}-positions-xrange"
    positions.y_range.name = f"{name}-positions-yrange"
    pos_data = {"position": np.arange(lengths[0], dtype=np.float32)}
    pos_data.update({s: pos_loss[0][k] for k, s in enumerate(schemes)})
    pos_source = ColumnDataSource(pos_data, name=f"{name}-positions-source")
    for k, s in enumerate(schemes):
        positions.line("position", s, source=pos_source, color=colors[k], line_width=1.5, legend_label=s)
    positions.legend.location = "top_right"
    positions.legend.background_fill_alpha = 0.6
    positions.legend.name = f"{name}-positions-legend"
    positions.add_layout(
        Span(
            location=train_len - 0.5,
            dimension="height",
            line_color="#555555",
            line_dash="dashed",
            name=f"{name}-trained",
        )
    )

    select = Select(
        title="Evaluation length",
        value=str(int(lengths[-1])),
        options=[(str(int(t)), mult[m]) for m, t in enumerate(lengths)],
        name=f"{name}-length",
        width=200,
    )
    caption = Div(text="", name=f"{name}-caption", width=700, height=44)
    update = js_callback(
        "heads_extrapolation",
        select=select,
        marker=marker,
        pos_source=pos_source,
        caption=caption,
        schemes=list(schemes),
        lengths=[int(t) for t in lengths],
        loss=float32("loss", loss),
        pos_loss=pos_loss,
        train_len=train_len,
    )
    select.js_on_change("value", update)
    layout = column(select, caption, row(curve, positions, name=f"{name}-plots"), name=name)
    return on_document_ready(layout, update)


# ----------------------------------------------------------------------------------------------------
# Head importance


def head_importance_figure(
    models: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    threshold: float,
    name: str = "heads-importance",
):
    """Ablation loss change of every head against Michel et al.'s gradient importance, one model at a time.

    Parameters
    ----------
    models : sequence of (label, importance, delta)
        ``importance`` and ``delta`` of shape (n_layer, H): the gradient importance and the loss change when
        the head alone is removed (see :func:`attnbook.experiments.pruning.head_importance`).
    threshold : float
        A loss change below this counts as "little loss" (drawn as a line; heads below it are counted).
    name : str

    Returns
    -------
    bokeh layout
    """
    if isinstance(models, (str, tuple)) and (not models or isinstance(models[0], str)):
        raise TypeError("models must be a sequence of (label, importance, delta) tuples")
    if not models:
        raise ValueError("models must not be empty")
    threshold = check_real("threshold", threshold, low=0.0, low_inclusive=False)
    labels, rows = [], []
    shape = None
    for k, item in enumerate(models):
        if not isinstance(item, tuple) or len(item) != 3 or not isinstance(item[0], str):
            raise TypeError(f"models[{k}] must be a (label, importance, delta) tuple")
        imp = as_float_array(f"models[{k}] importance", item[1], ndim=2)
        delta = as_float_array(f"models[{k}] delta", item[2], ndim=2)
        if imp.shape != delta.shape or (shape is not None and imp.shape != shape):
            raise ValueError(f"models[{k}]: importance and delta must share one (n_layer, H) shape")
        if imp.size < 2:
            raise ValueError(f"models[{k}] must have at least 2 heads")
        shape = imp.shape
        labels.append(item[0])
        rows.append((imp.ravel(), delta.ravel()))
    if len(set(labels)) != len(labels):
        raise ValueError("models must have distinct labels")
    L, H = shape
    n = L * H
    head_labels = [f"L{layer + 1} H{h + 1}" for layer in range(L) for h in range(H)]
    head_colors = [HEAD_COLORS[layer % len(HEAD_COLORS)][0] for layer in range(L) for _ in range(H)]
    values = np.stack([np.stack([imp, d]) for imp, d in rows])  # (n_models, 2, n)
    ranks = np.stack([np.stack([rank_values(imp), rank_values(d)]) for imp, d in rows])
    rho = [spearman(imp, d) for imp, d in rows]
    below = [int((d < threshold).sum()) for _, d in rows]
    order = np.stack([np.argsort(-d, kind="stable") for _, d in rows])  # bars: biggest loss first

    scatter = _plot(
        f"{name}-scatter",
        "Gradient importance vs loss change",
        340,
        320,
        x_axis_label="importance  E|∂L/∂ξ|",
        y_axis_label="loss change when removed (nats)",
    )
    sc_source = ColumnDataSource(
        {
            "x": float32("x", values[0, 0]),
            "y": float32("y", values[0, 1]),
            "label": head_labels,
            "color": head_colors,
        },
        name=f"{name}-scatter-source",
    )
    pts = scatter.scatter("x", "y", source=sc_source, color="color", size=9, alpha=0.8)
    scatter.add_tools(
        HoverTool(renderers=[pts], tooltips=[("head", "@label"), ("x", "@x{0.0000}"), ("y", "@y{0.0000}")])
    )
    bars = _plot(
        f"{name}-bars",
        "Loss change per removed head, largest first",
        360,
        320,
        x_range=Range1d(-0.6, n - 0.4),
        y_axis_label="nats",
    )
    bars.x_range.name = f"{name}-bars-xrange"
    bar_source = ColumnDataSource(
        {
            "x": np.arange(n, dtype=np.float32),
            "delta": float32("delta", values[0, 1][order[0]]),
            "label": [head_labels[i] for i in order[0]],
            "color": [head_colors[i] for i in order[0]],
        },
        name=f"{name}-bars-source",
    )
    vb = bars.vbar(x="x", top="delta", width=0.8, source=bar_source, color="color")
    bars.add_tools(
        HoverTool(renderers=[vb], tooltips=[("head", "@label"), ("loss change", "@delta{0.0000}")])
    )
    bars.xaxis.ticker = FixedTicker(ticks=list(range(n)), name=f"{name}-bars-ticks")
    bars.xaxis.major_label_overrides = {i: head_labels[order[0][i]] for i in range(n)}
    bars.xaxis.major_label_orientation = 1.2
    bars.xaxis.major_label_text_font_size = "7pt"
    bars.add_layout(_hline(f"{name}-threshold", threshold, "#d62728"))

    select = Select(
        title="Model",
        value="0",
        options=[(str(k), label) for k, label in enumerate(labels)],
        name=f"{name}-model",
        width=200,
    )
    axes = RadioButtonGroup(labels=["values", "ranks"], active=0, name=f"{name}-axes", align="end")
    caption = Div(text="", name=f"{name}-caption", width=700, height=44)
    update = js_callback(
        "heads_importance",
        select=select,
        axes=axes,
        sc_source=sc_source,
        bar_source=bar_source,
        bar_axis=bars.xaxis[0],
        sc_xaxis=scatter.xaxis[0],
        sc_yaxis=scatter.yaxis[0],
        caption=caption,
        labels=labels,
        head_labels=head_labels,
        head_colors=head_colors,
        values=float32("values", values),  # (n_models, 2, n): importance, delta
        ranks=float32("ranks", ranks),
        order=order.astype(np.int32),
        rho=[float(r) for r in rho],
        below=below,
        threshold=threshold,
        n=n,
    )
    select.js_on_change("value", update)
    axes.js_on_change("active", update)
    layout = column(
        row(select, axes, name=f"{name}-controls"),
        caption,
        row(scatter, bars, name=f"{name}-plots"),
        name=name,
    )
    return on_document_ready(layout, update)
