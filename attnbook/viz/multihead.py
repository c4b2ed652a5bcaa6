"""The multi-head attention figures (chapter 4, Vaswani et al. 2017): the split of d_model into heads, and the heads
at work.

:func:`head_split_figure` animates the reshape ``(T, C) -> (T, H, D) -> (H, T, D)`` of the queries (callback
``js/multihead_split.mjs``). :func:`multihead_figure` shows every head's attention, their mean, and the
concatenation and output projection, for each head count and set of weights (callback ``js/multihead_grid.mjs``);
its heads come from :mod:`attnbook.experiments.multihead` (any records with fields ``weights``, ``concat``,
``out`` and ``entropy``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Div
from bokeh.palettes import Category10, Category20b
from bokeh.transform import dodge

from .._checks import as_float_array, check_int, check_tokens
from .core import DIVERGING, SEQUENTIAL, check_name, diagram_figure, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source, pick
from .kit import (
    cells,
    color_mapper,
    control_row,
    described,
    description,
    empty_source,
    fit,
    grid_source,
    hover,
    labels,
    on_change,
    play_button,
    radio,
    scroller,
    select,
    slider,
    token_grid,
)

__all__ = [
    "HEAD_COLORS",
    "SplitPayload",
    "MultiheadPayload",
    "grid_shape",
    "split_payload",
    "split_layout",
    "head_split_figure",
    "payload",
    "layout",
    "multihead_figure",
]

# One colour per head, dark enough to be read as text on white.
HEAD_COLORS = (*Category10[10], *Category20b[20][0::4], "#31a354")
_GRID_WIDTH, _GRID_HEIGHT = 740, 500  # the per-head grid's largest size, in pixels (also its data units)
_TITLE, _GAP = 26, 14  # pixels above each panel for its key labels and title, and between panels
_LEFT = 10  # pixels left of the grid for the first column's query labels
_KEYS = 12  # pixels above a panel's cells for its key (column) labels; its title sits above them
_SHEET_GAP, _SHEET_DX, _SHEET_DY = (
    0.6,
    0.5,
    0.5,
)  # the split: gap between column groups, offset of stacked sheets
_STACK = 2.0  # the split: the stack of sheets rises at most this many rows (no empty band over Q at H = 12)


def _sheet_dy(H: int) -> float:
    """How far each sheet of the split's stack sits above the one in front of it, in rows."""
    return _SHEET_DY if H <= 1 else min(_SHEET_DY, _STACK / (H - 1))


_SEPARATOR = "#555555"  # the thin line between two heads' columns in the concatenation (when D > 1)


def _ease(s: float) -> float:
    return s * s * (3 - 2 * s)


def _kinds(kind: str, *columns: str) -> dict[str, str]:
    """Columns of one kind for :func:`attnbook.viz.kit.empty_source`: ``_kinds("float", "x", "y")``."""
    return dict.fromkeys(columns, kind)


def _shape(*sizes: int) -> str:
    return f"({', '.join(map(str, sizes))})"


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


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


def _first_count(p, n_head) -> str:
    """The heads select's first value: ``n_head`` if given (checked), else the second smallest count."""
    counts = p.controls[0].values
    if n_head is None:
        return counts[min(1, len(counts) - 1)]
    if str(check_int("n_head", n_head)) not in counts:
        raise ValueError(f"n_head must be one of the head counts {[int(c) for c in counts]}, got {n_head}")
    return str(n_head)


# ---------------------------------------------------------------------------------------------------------
# the split, animated


class SplitPayload(NamedTuple):
    """The queries to split and the animation's length; the page interpolates cell positions per step."""

    controls: tuple  # heads (select, str values), progress (slider, 0 .. frames)
    axes: dict  # empty: every state is computed from q, H and the step
    tokens: tuple
    q: np.ndarray  # (T, C) float32, the same for every head count
    frames: int
    colors: tuple  # one per head
    inks: tuple  # one per head: the colour a value is written in on that head's cells (dark or white)

    def view(p, state: dict) -> dict:
        """Cell positions at this step of the reshape, head labels and caption (the callback's twin)."""
        H, step = int(state["heads"]), state["progress"]
        T, C = p.q.shape
        dy = _sheet_dy(H)
        D = C // H
        t = step / p.frames
        a, b = _ease(min(1.0, 2 * t)), _ease(max(0.0, 2 * t - 1))
        # back sheets first, so head 1 ends on top of the stack
        h, i, d = (
            g.ravel() for g in np.meshgrid(np.arange(H)[::-1], np.arange(T), np.arange(D), indexing="ij")
        )
        j = h * D + d
        x0, x1, x2 = j.astype(float), j + h * _SHEET_GAP, d + h * _SHEET_DX
        x = x1 + (x2 - x1) * b if b > 0 else x0 + (x1 - x0) * a
        hx0 = np.arange(H) * D + (D - 1) / 2
        hx1, hx2 = hx0 + np.arange(H) * _SHEET_GAP, (D - 1) / 2 + np.arange(H) * _SHEET_DX
        front = [b >= 0.5 and k == 0 and H > 1 for k in range(H)]
        if t == 0:
            html = (
                f"<b>Q</b>, shape (T, C) = {_shape(T, C)}. Its {C} columns are coloured by the head they go to: "
                f"head h takes D = C / H = {C} / {H} = {D} consecutive columns."
            )
        elif t <= 0.5:
            html = (
                f"<b>Reshape</b> (T, C) → (T, H, D) = {_shape(T, H, D)}: the same numbers in the same order, the "
                f"last axis read as {H} group{_plural(H, '', 's')} of {D}. Nothing is copied or computed."
            )
        else:
            html = (
                f"<b>Transpose</b> (T, H, D) → (H, T, D) = {_shape(H, T, D)}: heads become the leading axis, like "
                f"a batch: {H} separate (T, D) = {_shape(T, D)} matri{_plural(H, 'x', 'ces')}, each doing its own "
                "attention."
            )
        html += " Each cell shows its value of Q (hover for three decimals)."
        if H == 1:
            html += " With a single head there is nothing to split: D = C and the picture does not move."
        html += f'<br><span class="attnbook-muted">step {step} of {p.frames}</span>'
        return {
            "description": described(_WHAT_SPLIT, html),
            "cells": {
                "x": x,
                "y": -i + h * dy * b,
                "color": [p.colors[k] for k in h],
                "token": [p.tokens[k] for k in i],
                "column": [f"c{jj} → head {hh + 1}, d{dd}" for jj, hh, dd in zip(j, h, d, strict=True)],
                "head": [str(k + 1) for k in h],
                "value": p.q[i, j],
                # each value written in its cell; once the sheets stack, on the front sheet only (head 1)
                "label": [
                    f"{v:.1f}".replace("-0.0", "0.0") if b == 0 or k == 0 else ""
                    for v, k in zip(p.q[i, j].tolist(), h, strict=True)
                ],
                "ink": [p.inks[k] for k in h],
            },
            "head-labels": {
                "x": hx1 + (hx2 - hx1) * b if b > 0 else hx0 + (hx1 - hx0) * a,
                "y": [-T - 0.85 if front[k] else 0.55 + k * dy * b for k in range(H)],
                "text": [f"h{k + 1}" if b < 0.5 or front[k] or k == H - 1 else "" for k in range(H)],
                "color": list(p.colors[:H]),
            },
            "caption": {"text": html},
        }


def split_payload(tokens: Sequence[str], q, head_counts: Sequence[int], *, frames: int = 12) -> SplitPayload:
    """The split figure's payload.

    Parameters
    ----------
    tokens : sequence of str, length T
    q : (T, C) queries before the split (the same for every head count: only the grouping changes)
    head_counts : increasing sequence of int
        The head counts offered; each divides C (at most 20).
    frames : int
        Steps of the progress slider from ``(T, C)`` to ``(H, T, D)``, even, ``>= 2``.
    """
    q = as_float_array("q", q, ndim=2)
    T, C = q.shape
    tokens = check_tokens("tokens", tokens, T)
    counts = _check_head_counts(head_counts, C)
    frames = check_int("frames", frames, low=2)
    if frames % 2:
        raise ValueError(f"frames must be even (half for the reshape, half for the transpose), got {frames}")
    controls = (
        Control("heads", tuple(str(h) for h in counts)),
        Control("progress", tuple(range(frames + 1))),
    )
    colors = HEAD_COLORS[: max(counts)]
    return SplitPayload(controls, {}, tokens, q.astype(np.float32), frames, colors, tuple(map(_ink, colors)))


def _ink(color: str) -> str:
    """Dark or white, whichever reads better on ``color`` (``#rrggbb``): WCAG relative luminance against 0.18."""
    rgb = [int(color[k : k + 2], 16) / 255 for k in (1, 3, 5)]
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
    return "#222222" if 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] > 0.18 else "#ffffff"


def split_layout(p: SplitPayload, *, name: str = "split", n_head: int | None = None):
    """The split figure: heads select, reshape slider and play button, caption, and Q drawn cell by cell."""
    check_name(name)
    check_payload(p)
    (T, C), depth = p.q.shape, len(p.colors) - 1  # how many sheets the deepest stack has behind the first
    columns = {**_kinds("float", "x", "y", "value"), **_kinds("str", "token", "column", "head", "label")}
    white = ["#ffffff"] * (T * C)
    sources = {
        "cells": empty_source(f"{name}-cells", T * C, **columns, color=white, ink=white),
        "heads": empty_source(
            f"{name}-head-labels", 0, **_kinds("float", "x", "y"), **_kinds("str", "text", "color")
        ),
    }
    rows = dict(x=np.full(T, -0.7, np.float32), y=-np.arange(T, dtype=np.float32), text=list(p.tokens))
    top = min(_SHEET_DY * depth, _STACK) + 1.6
    ranges = dict(x_range=(-2.6, C + _SHEET_GAP * depth + 0.6), y_range=(-T - 1.0, top))
    plot = diagram_figure(name=f"{name}-plot", width=440, height=470, **ranges)
    r = cells(plot, sources["cells"], fill="color", size=0.94, line_color="white", line_width=0.6)
    labels(plot, sources["cells"], text="label", size="6.5pt", color="ink")
    labels(plot, sources["heads"], baseline="bottom", size="9pt", color="color", bold=True)
    labels(plot, empty_source(f"{name}-tokens", T, **rows), align="right")
    tips = [
        ("token (row)", "@token"),
        ("column of Q", "@column"),
        ("head", "@head"),
        ("value", "@value{0.000}"),
    ]
    plot.add_tools(hover(r, *tips))
    widgets = {
        "heads": select(f"{name}-heads", "Heads H", p.controls[0].values, _first_count(p, n_head), width=90),
        "progress": slider(f"{name}-progress", "Reshape", 0, p.frames, 0, width=220),
    }
    play = play_button(f"{name}-play", widgets["progress"], interval_ms=350)
    caption = Div(text="", name=f"{name}-caption", width=740, height=60)
    shipped = payload_source(p, name=name)
    update = js_callback(
        "multihead_split",
        payload=shipped,
        widgets=widgets,
        caption=caption,
        description=description(name, _WHAT_SPLIT),
        **sources,
    )
    on_change(update, *widgets.values())
    # a scroller that never shrinks the plot: smaller, the values written in the cells would overflow them (on a
    # phone, Q itself still shows whole; only the room the sheets slide into scrolls sideways)
    box = scroller(plot, least=plot.width)
    fig = column(control_row(f"{name}-controls", *widgets.values(), play), caption, box, name=name)
    return on_document_ready(fit(fig), update)


def head_split_figure(
    tokens: Sequence[str],
    q,
    head_counts: Sequence[int],
    *,
    name: str = "split",
    n_head: int | None = None,
    frames: int = 12,
):
    """``split_layout(split_payload(...))``: the animated reshape of Q the chapter shows (``n_head`` first)."""
    return split_layout(split_payload(tokens, q, head_counts, frames=frames), name=name, n_head=n_head)


# ---------------------------------------------------------------------------------------------------------
# the heads at work


class MultiheadPayload(NamedTuple):
    """Per weights mode and head count (axes ``("mode", "heads")``): each head's weights, padded with zeros to the
    largest head count, their mean, the concatenation and output, each head's mean row entropy. Per head count
    (axis ``"heads"``): where each head's panel sits in the grid (pixels, y down from 0)."""

    controls: tuple  # heads (select, str values), mode (button group, index in ``modes``)
    axes: dict
    tokens: tuple
    modes: tuple  # the labels of the weights modes
    d_model: int
    mask: np.ndarray  # (T, T) uint8, 1 where the query may attend the key (0: drawn grey)
    colors: tuple  # one per head
    grid_size: tuple  # (width, height) of the grid of panels, pixels
    panel_x: np.ndarray  # (K, Hmax) left edge of each head's panel
    panel_y: np.ndarray  # (K, Hmax) top edge of its cells (its title sits above)
    panel_size: np.ndarray  # (K,) side of every panel
    weights: np.ndarray  # (M, K, Hmax, T, T) float32
    entropy: np.ndarray  # (M, K, Hmax) float32
    mean: np.ndarray  # (M, K, T, T) float32, the mean over the heads
    concat: np.ndarray  # (M, K, T, C) float32
    out: np.ndarray  # (M, K, T, C) float32

    def view(p, state: dict) -> dict:
        """The panels, titles, mean, concat/out cells, head bars and caption for ``state`` (the callback's twin)."""
        H, T, C = int(state["heads"]), len(p.tokens), p.d_model
        D = C // H
        w, ent = pick(p, "weights", state)[:H], pick(p, "entropy", state)[:H]
        px, py = pick(p, "panel_x", state)[:H], pick(p, "panel_y", state)[:H]
        cell = float(pick(p, "panel_size", state)) / T
        h, i, j = (g.ravel() for g in np.meshgrid(np.arange(H), np.arange(T), np.arange(T), indexing="ij"))
        seen = p.mask.astype(bool)
        mean = pick(p, "mean", state)
        projected = {}
        for part in ("concat", "out"):
            value = pick(p, part, state)
            top = np.abs(value).max()
            projected[part] = {"value": value, "color": value / top if top > 0 else np.zeros_like(value)}
        segments = []
        for k in range(H):
            segments.append((k * D - 0.45, 0.65, (k + 1) * D - 0.55, 0.65, p.colors[k], 3.0))
            if k > 0 and D > 1:  # one column per head (D = 1): the bars alone tell the heads apart
                segments.append((k * D - 0.5, 0.5, k * D - 0.5, -T + 0.5, _SEPARATOR, 1.0))
        x0, y0, x1, y1, color, width = zip(*segments, strict=True)
        mode = p.modes[state["mode"]]
        caption = (
            f"<b>{mode}</b>: H = {H} head{_plural(H, '', 's')} of D = C / H = {C} / {H} = {D} "
            f"column{_plural(D, '', 's')}. Each panel is one head's (T, T) = ({T}, {T}) attention (grey: hidden "
            "by the causal mask); its title gives the mean entropy of its rows in nats (lower is sharper)."
        )
        return {
            "cells": {
                "x": px[h] + (j + 0.5) * cell,
                "y": py[h] - (i + 0.5) * cell,
                "size": np.full(h.size, cell),
                "color": np.where(seen[i, j], w[h, i, j], np.nan),
                "weight": w[h, i, j],
                "q_token": [p.tokens[k] for k in i],
                "k_token": [p.tokens[k] for k in j],
                "head": [str(k + 1) for k in h],
            },
            "axis-labels": _axis_labels(p.tokens, px, py, cell),
            "titles": {
                "x": px,
                "y": py + _KEYS,
                "text": [f"head {k + 1}: entropy {e:.2f}" for k, e in enumerate(ent)],
                "color": list(p.colors[:H]),
            },
            "mean-cells": {"weight": mean.ravel(), "color": np.where(seen, mean, np.nan).ravel()},
            "concat": {k: v.ravel() for k, v in projected["concat"].items()},
            "out": {k: v.ravel() for k, v in projected["out"].items()},
            "lines": {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "color": list(color), "width": width},
            "caption": {"text": caption},
            "description": described(
                _WHAT_GRID,
                caption + " Mean row entropy per head, in nats: " + ", ".join(f"{e:.2f}" for e in ent) + ".",
            ),
        }


def _axis_labels(tokens, px, py, cell: float) -> dict:
    """Each panel's query characters left of its rows and key characters over its columns, in a font that fits
    a cell (5 to 9 pixels)."""
    H = len(px)
    size = f"{min(9, max(5, math.floor(0.9 * cell)))}px"
    out = {k: [] for k in ("x", "y", "text", "align", "baseline")}
    for h in range(H):
        for i, t in enumerate(tokens):
            for k, v in zip(out, (px[h] - 2, py[h] - (i + 0.5) * cell, t, "right", "middle"), strict=True):
                out[k].append(v)
        for j, t in enumerate(tokens):
            for k, v in zip(out, (px[h] + (j + 0.5) * cell, py[h] + 1, t, "center", "bottom"), strict=True):
                out[k].append(v)
    return {**out, "size": [size] * len(out["x"])}


_WHAT_SPLIT = (
    "Splitting Q into heads: the (T, C) matrix Q as coloured cells, its columns grouped by head, reshaped and "
    "transposed into one (T, D) matrix per head as the step slider advances."
)
_WHAT_GRID = (
    "Per-head attention: one (T, T) attention heatmap per head, the mean over heads, and the concatenation of "
    "the heads' outputs with its output projection."
)


def _check_heads(label: str, heads, H: int, T: int, C: int):
    missing = [f for f in ("weights", "concat", "out", "entropy") if not hasattr(heads, f)]
    if missing:
        raise TypeError(
            f"{label} must be a Heads record (attnbook.experiments.multihead); {type(heads).__name__} lacks {missing}"
        )
    shapes = {"weights": (H, T, T), "concat": (T, C), "out": (T, C), "entropy": (H,)}
    arrays = {}
    for field, shape in shapes.items():
        a = as_float_array(f"{label}.{field}", getattr(heads, field), ndim=len(shape))
        if a.shape != shape:
            raise ValueError(f"{label}.{field} must have shape {shape}, got {a.shape}")
        arrays[field] = a
    return arrays


def payload(
    tokens: Sequence[str], views: Mapping[str, Mapping[int, object]], *, mask=None
) -> MultiheadPayload:
    """The multi-head figure's payload.

    Parameters
    ----------
    tokens : sequence of str, length T
    views : mapping of mode label to {head count: Heads}
        E.g. ``{"random weights": {1: ..., 2: ...}, "trained model": {...}}``, from
        :mod:`attnbook.experiments.multihead`; every mode has the same head counts, each dividing C.
    mask : (T, T) bool array, optional
        Cells where it is False (hidden keys) are drawn grey.
    """
    if not isinstance(views, Mapping) or not views:
        raise TypeError("views must be a non-empty mapping of mode label to {head count: Heads}")
    modes = tuple(views)
    if not all(isinstance(m, str) for m in modes):
        raise TypeError("views must be keyed by str mode labels")
    first = views[modes[0]]
    if not isinstance(first, Mapping) or not first:
        raise TypeError(f"views[{modes[0]!r}] must be a non-empty mapping of head count to Heads")
    counts = tuple(sorted(first))
    concat = getattr(first[counts[0]], "concat", None)
    if concat is None or np.ndim(concat) != 2:
        raise TypeError(f"views[{modes[0]!r}][{counts[0]}] must be a Heads record with a (T, C) concat")
    T, C = np.shape(concat)
    tokens = check_tokens("tokens", tokens, T)
    counts = _check_head_counts(counts, C)
    if mask is None:
        mask = np.ones((T, T), bool)
    elif not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (T, T):
        raise ValueError(f"mask must be a NumPy bool array of shape (T, T) = ({T}, {T})")
    M, K, Hmax = len(modes), len(counts), max(counts)
    weights, entropy = np.zeros((M, K, Hmax, T, T), np.float32), np.zeros((M, K, Hmax), np.float32)
    mean, cat, out = (np.zeros((M, K, T, n), np.float32) for n in (T, C, C))
    for m, mode in enumerate(modes):
        if not isinstance(views[mode], Mapping) or tuple(sorted(views[mode])) != counts:
            raise ValueError(f"views[{mode!r}] must have the head counts {counts}")
        for k, H in enumerate(counts):
            a = _check_heads(f"views[{mode!r}][{H}]", views[mode][H], H, T, C)
            weights[m, k, :H], entropy[m, k, :H] = a["weights"], a["entropy"]
            mean[m, k], cat[m, k], out[m, k] = a["weights"].mean(axis=0), a["concat"], a["out"]
    controls = (Control("heads", tuple(str(h) for h in counts)), Control("mode", tuple(range(M)), "active"))
    axes = dict.fromkeys(("weights", "entropy", "mean", "concat", "out"), ("mode", "heads"))
    axes.update(dict.fromkeys(("panel_x", "panel_y", "panel_size"), ("heads",)))
    return MultiheadPayload(
        controls=controls,
        axes=axes,
        tokens=tokens,
        modes=modes,
        d_model=int(C),
        mask=mask.astype(np.uint8),
        colors=HEAD_COLORS[:Hmax],
        **_panels(counts),
        weights=weights,
        entropy=entropy,
        mean=mean,
        concat=cat,
        out=out,
    )


def _panels(counts: tuple[int, ...]) -> dict:
    """Where each head's panel sits for each head count: ``grid_size``, ``panel_x``, ``panel_y``, ``panel_size``.

    One grid height serves every head count, the tallest any needs (resizing a plot re-lays out the whole page,
    slower than the rest of a callback); shorter grids are centred in it.
    """
    shapes = [grid_shape(H, _GRID_WIDTH - _LEFT) for H in counts]
    height = max(math.ceil(r * (s + _TITLE) + (r - 1) * _GAP) for _, r, s in shapes)
    panel_x, panel_y = np.zeros((len(counts), max(counts))), np.zeros((len(counts), max(counts)))
    for k, (ncols, nrows, size) in enumerate(shapes):
        left = _LEFT + (_GRID_WIDTH - _LEFT - (ncols * size + (ncols - 1) * _GAP)) / 2
        top = (height - math.ceil(nrows * (size + _TITLE) + (nrows - 1) * _GAP)) // 2
        for h in range(counts[k]):
            panel_x[k, h] = left + (h % ncols) * (size + _GAP)
            panel_y[k, h] = -(top + (h // ncols) * (size + _TITLE + _GAP) + _TITLE)
    sizes = np.array([s for _, _, s in shapes])
    return dict(grid_size=(_GRID_WIDTH, height), panel_x=panel_x, panel_y=panel_y, panel_size=sizes)


def _heads_panel(p: MultiheadPayload, name: str, mapper):
    """One (T, T) heatmap per head, laid out by the callback in a grid of fixed size, a title over each."""
    width, height = p.grid_size
    columns = {
        **_kinds("float", "x", "y", "size", "color", "weight"),
        **_kinds("str", "q_token", "k_token", "head"),
    }
    sources = {
        "cells": empty_source(f"{name}-cells", 0, **columns),
        "titles": empty_source(
            f"{name}-titles", 0, **_kinds("float", "x", "y"), **_kinds("str", "text", "color")
        ),
        "axis_labels": empty_source(
            f"{name}-axis-labels",
            0,
            **_kinds("float", "x", "y"),
            **_kinds("str", "text", "align", "baseline", "size"),
        ),
    }
    ranges = dict(x_range=(0, width), y_range=(-height, 0))
    plot = diagram_figure(name=f"{name}-grid", width=width, height=height, min_border=0, **ranges)
    r = cells(plot, sources["cells"], fill={"field": "color", "transform": mapper}, size="size")
    labels(plot, sources["titles"], align="left", baseline="bottom", size="9pt", color="color", bold=True)
    plot.text(  # query characters down the left of each panel, key characters across its top
        "x",
        "y",
        text="text",
        source=sources["axis_labels"],
        text_align="align",
        text_baseline="baseline",
        text_font_size="size",
        text_color="#444444",
    )
    plot.add_tools(
        hover(r, ("head", "@head"), ("query", "@q_token"), ("key", "@k_token"), ("weight", "@weight{0.000}"))
    )
    return plot, sources


def _mean_panel(p: MultiheadPayload, name: str, mapper):
    """The mean of the heads' weights, a token grid."""
    T, tokens = len(p.tokens), p.tokens
    q_k = dict(q_token=[t for t in tokens for _ in range(T)], k_token=list(tokens) * T)
    source = grid_source(f"{name}-mean-cells", T, T, **q_k, **_kinds("float", "weight", "color"))
    kw = dict(q_tokens=tokens, k_tokens=tokens, color_field="color", mapper=mapper, width=330, height=330)
    plot, r = token_grid(source, name=f"{name}-mean", title="Mean over heads", **kw)
    plot.xaxis.major_label_orientation = 0.0
    plot.add_tools(hover(r, ("query", "@q_token"), ("key", "@k_token"), ("mean weight", "@weight{0.000}")))
    return plot, source


def _projection_panel(p: MultiheadPayload, name: str):
    """concat (T, C) | × W_O | out (T, C), side by side, a coloured bar over each head's columns."""
    T, C = len(p.tokens), p.d_model
    signed = color_mapper(f"{name}-signed-mapper", DIVERGING, -1.0, 1.0)
    columns = dict(token=[t for t in p.tokens for _ in range(C)], column=[f"c{j}" for j in range(C)] * T)
    sources = {
        part: grid_source(f"{name}-{part}", T, C, **columns, **_kinds("float", "value", "color"))
        for part in ("concat", "out")
    }
    title = "Heads side by side, then the output projection"
    ranges = dict(x_range=(-0.7, 2 * C + 1.7), y_range=(-T + 0.3, 1.9))
    plot = diagram_figure(name=f"{name}-proj", title=title, width=400, height=330, **ranges)
    for part, shift in (("concat", 0), ("out", C + 2)):
        fill = {"field": "color", "transform": signed}
        r = cells(plot, sources[part], fill=fill, size=0.95, x=dodge("x", shift))
        plot.add_tools(
            hover(r, ("", part), ("token (row)", "@token"), ("column", "@column"), ("value", "@value{0.000}"))
        )
    sources["lines"] = empty_source(
        f"{name}-lines", 0, **_kinds("float", "x0", "y0", "x1", "y1", "width"), color="str"
    )
    plot.segment("x0", "y0", "x1", "y1", source=sources["lines"], line_color="color", line_width="width")
    texts = [f"concat (T, C) = ({T}, {C})", "× W_O", f"out (T, C) = ({T}, {C})"]
    where = dict(x=[C / 2 - 0.5, C + 0.5, C + 2 + C / 2 - 0.5], y=[1.25, -T / 2 + 0.5, 1.25])
    labels(plot, empty_source(f"{name}-proj-labels", 3, **where, text=texts))
    return plot, sources


def layout(
    p: MultiheadPayload, *, name: str = "multihead", n_head: int | None = None, mode: str | None = None
):
    """The multi-head figure: head count and weights controls, caption, the grid of per-head heatmaps, the mean
    over heads, and concat → W_O → out."""
    check_name(name)
    check_payload(p)
    heads0 = _first_count(p, n_head)
    mode = p.modes[-1] if mode is None else mode
    if mode not in p.modes:
        raise ValueError(f"mode must be one of {list(p.modes)}, got {mode!r}")
    mapper = color_mapper(f"{name}-mapper", SEQUENTIAL, 0.0, 1.0)
    grid, grid_sources = _heads_panel(p, name, mapper)
    mean_plot, mean = _mean_panel(p, name, mapper)
    proj, proj_sources = _projection_panel(p, name)
    widgets = {
        "heads": select(f"{name}-heads", "Heads H", p.controls[0].values, heads0, width=90),
        "mode": radio(f"{name}-mode", p.modes, p.modes.index(mode)),
    }
    widgets["mode"].visible = len(p.modes) > 1  # one set of weights: nothing to switch
    caption = Div(text="", name=f"{name}-caption", width=600)
    shipped = payload_source(p, name=name)
    sources = {**grid_sources, "mean": mean, **proj_sources}
    update = js_callback(
        "multihead_grid",
        payload=shipped,
        widgets=widgets,
        caption=caption,
        description=description(name, _WHAT_GRID),
        **sources,
    )
    on_change(update, widgets["heads"], widgets["mode"])
    lower = row(mean_plot, proj, name=f"{name}-lower")
    fig = column(
        control_row(f"{name}-controls", *widgets.values()), caption, scroller(grid), lower, name=name
    )
    return on_document_ready(fit(fig), update)


def multihead_figure(
    tokens: Sequence[str],
    views: Mapping[str, Mapping[int, object]],
    *,
    mask=None,
    name: str = "multihead",
    n_head: int | None = None,
    mode: str | None = None,
):
    """``layout(payload(tokens, views, mask=mask))``: the figure the chapter shows (``n_head``, ``mode`` first)."""
    return layout(payload(tokens, views, mask=mask), name=name, n_head=n_head, mode=mode)
