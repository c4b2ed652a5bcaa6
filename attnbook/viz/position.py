"""The position figures (chapter 5): shuffled words, the sinusoidal table (Vaswani et al. 2017), similarity of
positions against distance (RoPE, Su et al. 2021), ALiBi's heads (Press et al. 2022) and one sentence under
every scheme.

Payloads from :mod:`attnbook.experiments.position` results (and a sinusoidal table); callbacks
``js/position_*.mjs``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import Button, Div
from bokeh.palettes import interp_palette

from .._checks import as_float_array, check_int, check_real
from .core import DIVERGING, SEQUENTIAL, check_name, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source, pick
from .kit import (
    bar_panel,
    color_mapper,
    control_row,
    described,
    description,
    empty_source,
    fit,
    grid_source,
    hover,
    integer_ticks,
    line_panel,
    log_ticks,
    matrix_panel,
    on_change,
    outline,
    play_button,
    select,
    slider,
    token_grid,
)

__all__ = [
    "SCHEME_LABELS",
    "PermutationPayload",
    "SinusoidalPayload",
    "SimilarityPayload",
    "AlibiPayload",
    "SchemesPayload",
    "order_names",
    "permutation_payload",
    "permutation_layout",
    "permutation_figure",
    "sinusoidal_payload",
    "sinusoidal_layout",
    "sinusoidal_figure",
    "similarity_payload",
    "similarity_layout",
    "similarity_figure",
    "alibi_payload",
    "alibi_layout",
    "alibi_figure",
    "schemes_payload",
    "schemes_layout",
    "schemes_figure",
]

SCHEME_LABELS = {  # what the scheme selects offer (and hold as their value)
    "none": "no position",
    "sinusoidal": "sinusoidal (added to x)",
    "learned": "learned table (random init, untrained)",
    "rope": "RoPE (rotates q and k)",
    "alibi": "ALiBi (bias on the scores)",
}
# Continuous shading: similarities of 0.6 and 0.75 should not look alike.
_SMOOTH = interp_palette(DIVERGING, 65)
_PICKED, _OTHER = "#08519c", "#c6dbef"  # the chosen head's slope bar, the others


_WHAT = {  # what each figure shows, the start of its text description (kit.description)
    "position_permutation": "Permutation figure: the attention weights of the shuffled sentence, and their "
    "difference from the original attention once un-shuffled, for one position scheme.",
    "position_sinusoid": "Sinusoidal position table: a heatmap of positions by dimensions with one dimension "
    "outlined, and that dimension's wave across positions.",
    "position_similarity": "Similarity between positions: the cosine similarity of every pair of position vectors "
    "as a matrix, and each row against distance, the chosen position's row highlighted.",
    "position_alibi": "ALiBi figure: each head's slope as a bar, the chosen head's bias over query and key "
    "positions, and the last query's weights if every content score were equal.",
    "position_schemes": "One sentence under every position scheme: the chosen head's attention weights and "
    "their change from attention without position.",
}


def _described(module: str, shown: dict) -> dict:
    """``shown`` (a view) with the figure's description: what it shows, then its readout."""
    return {**shown, "description": described(_WHAT[module], shown["readout"]["text"])}


def _needs(result, name: str, fields: tuple[str, ...], maker: str):
    missing = [f for f in fields if not hasattr(result, f)]
    if missing:
        raise TypeError(
            f"{name} must be a result of attnbook.experiments.position.{maker}; it lacks {missing}"
        )


def _exp(x) -> str:
    return f"{float(x):.2e}"  # lib.mjs fmtExp(x, 2)


def _readout(name: str, first: dict) -> Div:
    """The figure's readout, holding the text of its first state (the callback rewrites it)."""
    return Div(text=first["readout"]["text"], name=f"{name}-readout", width=740)


def _wire(module: str, p, name: str, widgets: dict, **shown):
    """The callback ``js/<module>.mjs`` (payload, widgets, the models it writes, the figure's description), run
    when any widget moves."""
    what = _WHAT[module]
    update = js_callback(
        module,
        payload=payload_source(p, name=name),
        widgets=widgets,
        description=description(name, what),
        **shown,
    )
    on_change(update, *widgets.values())
    return update


def _grid_tokens(labels) -> tuple[list[str], list[str]]:
    """Query and key label of each cell of a (T, T) grid, row-major."""
    return [q for q in labels for _ in labels], list(labels) * len(labels)


def _cells(name: str, tokens, *floats: str, **columns):
    """One source for two token grids: each cell's query and key token, ``floats`` columns, ``columns``."""
    q, k = _grid_tokens(tokens)
    n = len(tokens)
    return grid_source(name, n, n, q_token=q, k_token=k, **dict.fromkeys(floats, "float"), **columns)


def _token_pair(cells, name: str, tokens, titles, fields, reach: float, right_tokens=("q_token", "k_token")):
    """Two token grids on one source: weights (0..1) on the left, a signed difference (±reach) on the right,
    whose hover names its cells by the ``right_tokens`` columns."""
    plots = []
    for field, title, (palette, low, high), (q, k) in zip(
        fields,
        titles,
        ((SEQUENTIAL, 0.0, 1.0), (_SMOOTH, -reach, reach)),
        (("q_token", "k_token"), right_tokens),
        strict=True,
    ):
        plot, r = token_grid(
            cells,
            name=f"{name}-{field}",
            title=title,
            q_tokens=tokens,
            k_tokens=tokens,
            color_field=field,
            mapper=color_mapper(f"{name}-{field}-mapper", palette, low, high),
            width=370,
            height=340,
            colorbar=True,
        )
        plot.add_tools(hover(r, ("query", f"@{q}"), ("key", f"@{k}"), (field, f"@{field}{{0.000}}")))
        plots.append(plot)
    return plots


# ---------------------------------------------------------------------------------------------------------
# 1. permutation equivariance


class PermutationPayload(NamedTuple):
    """Per word order and scheme: one head's attention of the shuffled sentence and its difference from the
    original once un-shuffled (``A(x[p])[p⁻¹][:, p⁻¹] - A(x)``), and the largest |difference|."""

    controls: tuple
    axes: dict
    tokens: tuple  # the sentence in its original order
    head: int  # the head shown (0-based)
    labels: list  # (P, T) the shuffled words
    titles: list  # (P,) title of the left grid
    shuffled: np.ndarray  # (P, S, T, T) float32
    diff: np.ndarray  # (P, S, T, T) float32
    max_diff: np.ndarray  # (P, S) float32

    def view(p, state: dict) -> dict:
        """The grids, the shuffled grid's axis labels and title, and the readout for ``state``."""
        lab = list(pick(p, "labels", state))
        q, k = _grid_tokens(lab)
        m = float(pick(p, "max_diff", state))
        verdict = (
            "the attention of the shuffled sentence is the original attention with its rows and columns "
            "shuffled"
            if m < 1e-6
            else "shuffling changed the attention itself, not just its order: the model can tell the positions "
            "apart"
        )
        return _described(
            "position_permutation",
            {
                "cells": {
                    "weight": pick(p, "shuffled", state).ravel(),
                    "diff": pick(p, "diff", state).ravel(),
                    "q_token": q,
                    "k_token": k,
                },
                "weight": {"title.text": pick(p, "titles", state)},
                "weight-xaxis": {"major_label_overrides": {j: t for j, t in enumerate(lab)}},
                "weight-yaxis": {"major_label_overrides": {-i: t for i, t in enumerate(lab)}},
                "readout": {
                    "text": f"<b>{state['scheme']}</b>, order “{' '.join(lab)}”: largest |difference| = "
                    f"<b>{_exp(m)}</b>, {verdict}."
                },
            },
        )


def order_names(permutations) -> list[str]:
    """What each permutation (a row of ``permutations``, ``(P, T)``) is, for the order select: "original order",
    "reversed", or "shuffle k" (the others, counted from 1)."""
    rows = [np.asarray(p) for p in permutations]
    if not all(p.ndim == 1 and p.dtype.kind in "iu" for p in rows):
        raise TypeError("permutations must be rows of integers, one permutation of 0..T-1 each")
    names, k = [], 0
    for p in rows:
        if np.array_equal(p, np.arange(len(p))):
            names.append("original order")
        elif np.array_equal(p, np.arange(len(p))[::-1]):
            names.append("reversed")
        else:
            k += 1
            names.append(f"shuffle {k}")
    return names


def permutation_payload(sweep, *, head: int = 0) -> PermutationPayload:
    """Pack :func:`attnbook.experiments.position.permutation_sweep` for the page: head ``head`` (0-based)."""
    _needs(sweep, "sweep", ("tokens", "schemes", "permutations", "shuffled", "diff"), "permutation_sweep")
    head = check_int("head", head, low=0, high=sweep.shuffled.shape[2] - 1)
    labels = [[sweep.tokens[j] for j in perm] for perm in sweep.permutations]
    identity = [bool(np.array_equal(perm, np.arange(len(perm)))) for perm in sweep.permutations]
    orders = tuple(
        f"{name}: {' '.join(lab)}" for name, lab in zip(order_names(sweep.permutations), labels, strict=True)
    )
    diff = sweep.diff[:, :, head].astype(np.float32)  # (P, S, T, T)
    return PermutationPayload(
        controls=(
            Control("order", orders),
            Control("scheme", tuple(SCHEME_LABELS.get(s, s) for s in sweep.schemes)),
        ),
        axes={f: ("order", "scheme") for f in ("shuffled", "diff", "max_diff")}
        | {"labels": ("order",), "titles": ("order",)},
        tokens=tuple(sweep.tokens),
        head=head,
        labels=labels,
        titles=[
            "Attention of the sentence (original order)" if same else "Attention of the shuffled sentence"
            for same in identity
        ],
        shuffled=sweep.shuffled[:, :, head].astype(np.float32),
        diff=diff,
        max_diff=np.abs(diff).max(axis=(-2, -1)),
    )


def permutation_layout(p: PermutationPayload, *, name: str = "perm"):
    """Order select, Shuffle button and scheme select over the shuffled attention and its difference."""
    check_name(name)
    check_payload(p)
    q_orig, k_orig = _grid_tokens(p.tokens)  # the right grid keeps the original order
    cells = _cells(f"{name}-cells", p.tokens, "weight", "diff", q_orig=q_orig, k_orig=k_orig)
    reach = max(float(p.max_diff.max()), 1e-3)  # one colour scale for every state, so sizes compare
    orders, schemes = (c.values for c in p.controls)
    first = p.view({"order": orders[0], "scheme": schemes[0]})
    titles = (first["weight"]["title.text"], "Un-shuffled minus original")
    left, right = _token_pair(cells, name, p.tokens, titles, ("weight", "diff"), reach, ("q_orig", "k_orig"))
    left.xaxis[0].name, left.yaxis[0].name = f"{name}-weight-xaxis", f"{name}-weight-yaxis"
    widgets = {
        "order": select(f"{name}-order", "Order of the words", orders, orders[0], width=330),
        "scheme": select(f"{name}-scheme", "Position information", schemes, schemes[0], width=260),
    }
    shuffle = Button(label="Shuffle", name=f"{name}-shuffle", width=90, align="end")
    shuffle.js_on_event("button_click", js_callback("position_shuffle", select=widgets["order"]))
    readout = _readout(name, first)
    axes = [left.xaxis[0], left.yaxis[0]]
    update = _wire(
        "position_permutation", p, name, widgets, cells=cells, plot=left, axes=axes, readout=readout
    )
    fig = column(
        control_row(f"{name}-controls", widgets["order"], shuffle, widgets["scheme"]),
        row(left, right, name=f"{name}-plots"),
        readout,
        name=name,
    )
    return on_document_ready(fit(fig), update)


def permutation_figure(sweep, *, head: int = 0, name: str = "perm"):
    """``permutation_layout(permutation_payload(sweep, head=head))``: the figure the chapter shows."""
    return permutation_layout(permutation_payload(sweep, head=head), name=name)


# ---------------------------------------------------------------------------------------------------------
# 2. the sinusoidal table


class SinusoidalPayload(NamedTuple):
    """The sinusoidal table by dimension (``waves[c] = PE[:, c]``) and each dimension's wavelength."""

    controls: tuple
    axes: dict
    base: str  # the wavelength base as the titles write it
    waves: np.ndarray  # (C, T) float32
    wavelength: np.ndarray  # (C,) float32: positions per full turn of dimension c

    def view(p, state: dict) -> dict:
        """The chosen dimension's wave, its outline in the table, the wave's title and the readout."""
        c = state["dim"]
        C, T = p.waves.shape
        i, fn = c // 2, ("sin", "cos")[c % 2]
        lam = float(pick(p, "wavelength", state))
        size = f"{lam:.2f}" if lam < 1000 else _exp(lam)
        tail = f" — longer than the {T} positions shown, so it barely moves here." if lam > T else "."
        return _described(
            "position_sinusoid",
            {
                "wave": {"value": pick(p, "waves", state)},
                "band": {"x": [c], "y": [-(T - 1) / 2]},
                "line": {"title.text": f"dimension c = {c}: {fn}(t / {p.base}^({2 * i}/{C}))"},
                "readout": {
                    "text": f"Dimension <b>{c}</b> is a {'sine' if fn == 'sin' else 'cosine'} of pair i = {i} with "
                    f"wavelength 2π·{p.base}^(2i/C) = <b>{size}</b> positions{tail}"
                },
            },
        )


def sinusoidal_payload(pe, *, base: float = 10000.0) -> SinusoidalPayload:
    """Pack a sinusoidal table ``pe`` (T, C) (:func:`attnbook.positional.sinusoidal` with this ``base``)."""
    pe = as_float_array("pe", pe, ndim=2)
    T, C = pe.shape
    if T < 2 or C < 2 or C % 2:
        raise ValueError(f"pe must have shape (T >= 2, C) with C even and >= 2, got {pe.shape}")
    base = check_real("base", base, low=1.0, low_inclusive=False)
    pair = np.arange(C) // 2
    return SinusoidalPayload(
        controls=(Control("dim", tuple(range(C))),),
        axes={"waves": ("dim",), "wavelength": ("dim",)},
        base=f"{base:g}",
        waves=np.ascontiguousarray(pe.T, dtype=np.float32),
        wavelength=(2 * np.pi * base ** (2 * pair / C)).astype(np.float32),
    )


def sinusoidal_layout(p: SinusoidalPayload, *, name: str = "sinusoid", dim: int = 0):
    """Dimension slider and play button; the table with the chosen column outlined, and that column's wave."""
    check_name(name)
    check_payload(p)
    C, T = p.waves.shape
    dim = check_int("dim", dim, low=0, high=C - 1)
    first = p.view({"dim": dim})
    table = grid_source(f"{name}-table", T, C, value=p.waves.T.ravel())
    matrix, _ = matrix_panel(
        table,
        name=f"{name}-matrix",
        title=f"PE (T={T} positions × C={C} dimensions)",
        n_rows=T,
        n_cols=C,
        color_field="value",
        mapper=color_mapper(f"{name}-mapper", _SMOOTH, -1.0, 1.0),
        x_label="dimension c",
        y_label="position t",
        height=360,
    )
    band = empty_source(f"{name}-band", 1, x=[float(dim)], y=[-(T - 1) / 2])
    outline(matrix, band, 1, T)
    wave = empty_source(f"{name}-wave", T, t=np.arange(T, dtype=np.float32), value="float")
    line = line_panel(
        name=f"{name}-line",
        title=first["line"]["title.text"],
        x_label="position t",
        y_label="PE[t, c]",
        width=380,
        height=360,
        x_range=(-0.5, T - 0.5),
        y_range=(-1.15, 1.15),
    )
    line.line("t", "value", source=wave, line_width=2, color="#2166ac")
    line.scatter("t", "value", source=wave, size=4, color="#2166ac")
    widgets = {"dim": slider(f"{name}-dim", "Dimension c", 0, C - 1, dim, width=360)}
    readout = _readout(name, first)
    update = _wire("position_sinusoid", p, name, widgets, wave=wave, band=band, line=line, readout=readout)
    fig = column(
        control_row(f"{name}-controls", widgets["dim"], play_button(f"{name}-play", widgets["dim"])),
        row(matrix, line, name=f"{name}-plots"),
        readout,
        name=name,
    )
    return on_document_ready(fit(fig), update)


def sinusoidal_figure(pe, *, base: float = 10000.0, dim: int = 0, name: str = "sinusoid"):
    """``sinusoidal_layout(sinusoidal_payload(pe, base=base), dim=dim)``: the figure the chapter shows."""
    return sinusoidal_layout(sinusoidal_payload(pe, base=base), name=name, dim=dim)


# ---------------------------------------------------------------------------------------------------------
# 3. similarity between positions against distance


class SimilarityPayload(NamedTuple):
    """Per scheme, the (T, T) cosine similarity of positions and its spread along diagonals."""

    controls: tuple
    axes: dict
    similarity: np.ndarray  # (S, T, T) float32
    spread: np.ndarray  # (S,) float32: largest max - min along one diagonal (0: a function of distance)

    def view(p, state: dict) -> dict:
        """The matrix, every row against distance, the reference row, its marker, title and the readout."""
        sim, m = pick(p, "similarity", state), state["position"]
        T = sim.shape[0]
        spread = float(pick(p, "spread", state))
        tail = (
            " — a function of the distance alone."
            if spread < 1e-6
            else " — they depend on where the pair sits, not just on the distance."
        )
        return _described(
            "position_similarity",
            {
                "cells": {"value": sim.ravel()},
                "rows": {"ys": list(sim)},
                "chosen": {"d": np.arange(T) - m, "value": sim[m]},
                "marker": {"y": [-m]},
                "curve": {"title.text": f"cos(position {m}, position n) against n − {m}"},
                "readout": {
                    "text": f"<b>{state['scheme']}</b>: at the same distance, the similarities of different rows "
                    f"differ by at most <b>{_exp(spread)}</b>{tail}"
                },
            },
        )


def similarity_payload(sweep) -> SimilarityPayload:
    """Pack :func:`attnbook.experiments.position.similarity_sweep` for the page (float32)."""
    _needs(sweep, "sweep", ("labels", "similarity", "spread"), "similarity_sweep")
    T = sweep.similarity.shape[-1]
    return SimilarityPayload(
        controls=(Control("scheme", tuple(sweep.labels)), Control("position", tuple(range(T)))),
        axes={"similarity": ("scheme",), "spread": ("scheme",)},
        similarity=np.asarray(sweep.similarity, dtype=np.float32),
        spread=np.asarray(sweep.spread, dtype=np.float32),
    )


def _distance_curves(name: str, T: int, title: str):
    """Every row of a (T, T) matrix against the distance n - m in grey, the chosen row on top in red: rows on
    one curve mean the values depend on the distance alone. Returns ``(plot, rows source, chosen source)``."""
    offsets = [(np.arange(T) - m).astype(np.float32) for m in range(T)]
    rows = empty_source(f"{name}-rows", T, xs=offsets, ys=[np.zeros(T, np.float32)] * T)
    chosen = empty_source(f"{name}-chosen", T, d="float", value="float")
    curve = line_panel(
        name=f"{name}-curve",
        title=title,
        x_label="distance n − m",
        y_label="cosine similarity",
        width=380,
        height=350,
        x_range=(-T + 0.5, T - 0.5),
        y_range=(-1.05, 1.05),
    )
    curve.multi_line("xs", "ys", source=rows, color="#bbbbbb", line_width=1)
    curve.line("d", "value", source=chosen, color="#b2182b", line_width=2.5)
    curve.scatter("d", "value", source=chosen, color="#b2182b", size=5)
    return curve, rows, chosen


def similarity_layout(p: SimilarityPayload, *, name: str = "similarity", position: int = 0):
    """Scheme select and reference-position slider over the matrix and its rows against distance."""
    check_name(name)
    check_payload(p)
    T = p.similarity.shape[-1]
    position = check_int("position", position, low=0, high=T - 1)
    labels = p.controls[0].values
    first = p.view({"scheme": labels[0], "position": position})
    ii, jj = np.indices((T, T))
    cells = grid_source(f"{name}-cells", T, T, m=ii.ravel(), n=jj.ravel(), value="float")
    grid, rects = matrix_panel(
        cells,
        name=f"{name}-grid",
        title="cos(position m, position n)",
        n_rows=T,
        n_cols=T,
        color_field="value",
        mapper=color_mapper(f"{name}-mapper", _SMOOTH, -1.0, 1.0),
        x_label="position n",
        y_label="position m",
        height=350,
    )
    grid.add_tools(hover(rects, ("m", "@m"), ("n", "@n"), ("cos", "@value{0.000}")))
    marker = empty_source(f"{name}-marker", 1, x=[(T - 1) / 2], y=[-float(position)])
    outline(grid, marker, T, 1)
    curve, rows, chosen = _distance_curves(name, T, first["curve"]["title.text"])
    widgets = {
        "scheme": select(f"{name}-scheme", "Position scheme", labels, labels[0], width=340),
        "position": slider(f"{name}-position", "Reference position m", 0, T - 1, position, width=300),
    }
    readout = _readout(name, first)
    shown = dict(cells=cells, rows=rows, chosen=chosen, marker=marker, curve=curve, readout=readout)
    update = _wire("position_similarity", p, name, widgets, **shown)
    play = play_button(f"{name}-play", widgets["position"])
    fig = column(
        control_row(f"{name}-controls", *widgets.values(), play),
        row(grid, curve, name=f"{name}-plots"),
        readout,
        name=name,
    )
    return on_document_ready(fit(fig), update)


def similarity_figure(sweep, *, position: int = 0, name: str = "similarity"):
    """``similarity_layout(similarity_payload(sweep), position=position)``: the figure the chapter shows."""
    return similarity_layout(similarity_payload(sweep), name=name, position=position)


# ---------------------------------------------------------------------------------------------------------
# 4. ALiBi


def _slope_exponent(m: float) -> str:
    e = math.log2(m)
    return f"{e:.0f}" if e.is_integer() else f"{e:.2f}"


class AlibiPayload(NamedTuple):
    """Per head: ALiBi's slope, causal bias (NaN where masked) and the last query's weights on bias alone."""

    controls: tuple
    axes: dict
    slopes: np.ndarray  # (H,) float32
    bias: np.ndarray  # (H, T, T) float32, NaN above the diagonal
    last: np.ndarray  # (H, T) float32
    half: np.ndarray  # (H,) int32: the most recent keys holding half of the last query's weight

    def view(p, state: dict) -> dict:
        """The head's bias grid, highlighted slope bar, last query's weights, titles and the readout."""
        h = state["head"]
        H, T = p.last.shape
        m = float(pick(p, "slopes", state))
        return _described(
            "position_alibi",
            {
                "cells": {"value": pick(p, "bias", state).ravel()},
                "bars": {"color": [_PICKED if k == h - 1 else _OTHER for k in range(H)]},
                "weights": {"w": pick(p, "last", state)},
                "grid": {"title.text": f"Head {h}: bias −{m:.4f} · (i − j)"},
                "look": {"title.text": f"Head {h}: last query's weights if every content score were equal"},
                "readout": {
                    "text": f"Head <b>{h}</b> of {H}: slope m = 2^{_slope_exponent(m)} = <b>{m:.4f}</b>; a key "
                    f"{T - 1} positions back loses {m * (T - 1):.2f} from its score. With equal content scores, half "
                    f"the weight falls on the last <b>{int(pick(p, 'half', state))}</b> of {T} positions."
                },
            },
        )


def alibi_payload(heads) -> AlibiPayload:
    """Pack :func:`attnbook.experiments.position.alibi_heads` for the page (float32)."""
    _needs(heads, "heads", ("slopes", "bias", "last", "half"), "alibi_heads")
    H = len(heads.slopes)
    return AlibiPayload(
        controls=(Control("head", tuple(range(1, H + 1))),),
        axes=dict.fromkeys(("slopes", "bias", "last", "half"), ("head",)),
        slopes=np.asarray(heads.slopes, dtype=np.float32),
        bias=np.asarray(heads.bias, dtype=np.float32),
        last=np.asarray(heads.last, dtype=np.float32),
        half=np.asarray(heads.half, dtype=np.int32),
    )


def _slope_bars(name: str, slopes: np.ndarray):
    """One bar per head on a log scale, coloured by the source's ``color`` column. Returns ``(plot, source)``."""
    H, bottom = len(slopes), float(slopes.min()) / 2
    bars = empty_source(f"{name}-bars", H, h=np.arange(1, H + 1, dtype=np.float32), slope=slopes, color="str")
    plot = line_panel(
        name=f"{name}-slopes",
        title="Slope m_h per head",
        x_label="head h",
        y_label="slope (log scale)",
        y_axis_type="log",
        x_range=(0.4, H + 0.6),
        y_range=(bottom, 1.0),
        height=340,
    )
    plot.vbar("h", 0.8, "slope", source=bars, bottom=bottom, color="color")
    integer_ticks(plot.xaxis[0], name=f"{name}-slopes-xticks", desired=H)  # every head labelled, no head 1.5
    log_ticks(plot.yaxis[0], name=f"{name}-slopes-yticks")  # 0.003, 0.01, ... 1 rather than 10⁻²
    return plot, bars


def alibi_layout(p: AlibiPayload, *, name: str = "alibi", head: int = 0):
    """Head slider over the head's causal bias beside every head's slope, and the last query's weights."""
    check_name(name)
    check_payload(p)
    H, T = p.last.shape
    head = check_int("head", head, low=0, high=H - 1)
    first = p.view({"head": head + 1})
    ii, jj = np.indices((T, T))
    cells = grid_source(f"{name}-cells", T, T, i=ii.ravel(), j=jj.ravel(), value="float")
    mapper = color_mapper(f"{name}-mapper", SEQUENTIAL[::-1], float(np.nanmin(p.bias)), 0.0)
    grid, rects = matrix_panel(
        cells,
        name=f"{name}-grid",
        title=first["grid"]["title.text"],
        n_rows=T,
        n_cols=T,
        color_field="value",
        mapper=mapper,
        x_label="key j",
        y_label="query i",
        width=380,
        line_color="white",
    )
    grid.add_tools(hover(rects, ("query i", "@i"), ("key j", "@j"), ("bias", "@value{0.000}")))
    slopes, bars = _slope_bars(name, p.slopes)
    weights = empty_source(f"{name}-weights", T, j=np.arange(T, dtype=np.float32), w="float")
    look, _ = bar_panel(
        weights,
        name=f"{name}-look",
        title=first["look"]["title.text"],
        x="j",
        top="w",
        width=740,
        height=220,
        color="#2171b5",
        y_range=(0, float(p.last.max()) * 1.08),
    )
    look.xaxis.axis_label = f"key j (the query is the last position, {T - 1})"
    look.yaxis.axis_label = "weight"
    widgets = {"head": slider(f"{name}-head", "Head h", 1, H, head + 1, width=360)}
    readout = _readout(name, first)
    shown = dict(cells=cells, bars=bars, weights=weights, grid=grid, look=look, readout=readout)
    update = _wire("position_alibi", p, name, widgets, **shown)
    fig = column(
        control_row(f"{name}-controls", widgets["head"]),
        row(grid, slopes, name=f"{name}-plots"),
        look,
        readout,
        name=name,
    )
    return on_document_ready(fit(fig), update)


def alibi_figure(heads, *, head: int = 0, name: str = "alibi"):
    """``alibi_layout(alibi_payload(heads), head=head)``: the figure the chapter shows (``head`` 0-based)."""
    return alibi_layout(alibi_payload(heads), name=name, head=head)


# ---------------------------------------------------------------------------------------------------------
# 5. one sentence, every scheme


class SchemesPayload(NamedTuple):
    """Per scheme and head: the sentence's attention, its change from no position, and how far apart the two
    rows of a repeated word are."""

    controls: tuple
    axes: dict
    tokens: tuple
    twin_label: str  # the repeated word and its two positions ("" if no word repeats)
    weights: np.ndarray  # (S, H, T, T) float32
    change: np.ndarray  # (S, H, T, T) float32: weights minus those of the first scheme (no position)
    twin_diff: np.ndarray  # (S, H) float32

    def view(p, state: dict) -> dict:
        """Both grids, the attention grid's title and the readout for ``state``."""
        h, t = state["head"], float(pick(p, "twin_diff", state))
        twin = (
            "."
            if not p.twin_label
            else f": the rows of {p.twin_label} differ by at most <b>{t:.3f}</b>"
            + (" — identical, since nothing tells the two apart." if t < 1e-6 else ".")
        )
        return _described(
            "position_schemes",
            {
                "cells": {
                    "weight": pick(p, "weights", state).ravel(),
                    "change": pick(p, "change", state).ravel(),
                },
                "weight": {"title.text": f"Attention weights, head {h}"},
                "readout": {"text": f"<b>{state['scheme']}</b>, head {h}{twin}"},
            },
        )


def schemes_payload(sweep) -> SchemesPayload:
    """Pack :func:`attnbook.experiments.position.scheme_sweep` for the page (float32)."""
    _needs(sweep, "sweep", ("tokens", "schemes", "weights", "twin", "twin_diff"), "scheme_sweep")
    weights = np.asarray(sweep.weights, dtype=np.float32)  # (S, H, T, T)
    if sweep.twin is None:
        label = ""
    else:
        i, j = sweep.twin
        label = f"“{sweep.tokens[i]}” (position {i}) and “{sweep.tokens[j]}” (position {j})"
    return SchemesPayload(
        controls=(
            Control("scheme", tuple(SCHEME_LABELS.get(s, s) for s in sweep.schemes)),
            Control("head", tuple(str(h) for h in range(1, weights.shape[1] + 1))),
        ),
        axes=dict.fromkeys(("weights", "change", "twin_diff"), ("scheme", "head")),
        tokens=tuple(sweep.tokens),
        twin_label=label,
        weights=weights,
        change=(sweep.weights - sweep.weights[:1]).astype(np.float32),
        twin_diff=np.asarray(sweep.twin_diff, dtype=np.float32),
    )


def schemes_layout(p: SchemesPayload, *, name: str = "schemes"):
    """Scheme and head selects over the attention and its change from no position."""
    check_name(name)
    check_payload(p)
    cells = _cells(f"{name}-cells", p.tokens, "weight", "change")
    reach = max(float(np.abs(p.change).max()), 1e-3)
    schemes, heads = (c.values for c in p.controls)
    first = p.view({"scheme": schemes[0], "head": heads[0]})
    titles = (first["weight"]["title.text"], "Change from no position")
    plots = _token_pair(cells, name, p.tokens, titles, ("weight", "change"), reach)
    widgets = {
        "scheme": select(f"{name}-scheme", "Position scheme", schemes, schemes[0], width=300),
        "head": select(f"{name}-head", "Head", heads, heads[0], width=80),
    }
    readout = _readout(name, first)
    update = _wire("position_schemes", p, name, widgets, cells=cells, plot=plots[0], readout=readout)
    fig = column(
        control_row(f"{name}-controls", *widgets.values()),
        row(*plots, name=f"{name}-plots"),
        readout,
        name=name,
    )
    return on_document_ready(fit(fig), update)


def schemes_figure(sweep, *, name: str = "schemes"):
    """``schemes_layout(schemes_payload(sweep))``: the figure the chapter shows."""
    return schemes_layout(schemes_payload(sweep), name=name)
