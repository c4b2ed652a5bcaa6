"""Figures of the position chapter: permutation equivariance, sinusoidal encodings (Vaswani et al. 2017),
similarity against distance, RoPE (Su et al. 2021) and ALiBi (Press et al. 2022), all precomputed by attnbook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    Button,
    ColorBar,
    ColumnDataSource,
    Div,
    HoverTool,
    LinearColorMapper,
    Select,
    Slider,
)
from bokeh.palettes import interp_palette
from bokeh.plotting import figure

from .._checks import as_float_array, as_int_array, check_choice, check_int, check_real, check_tokens
from ..attention import scaled_dot_product_attention, split_heads
from ..positional import alibi_bias, alibi_slopes, rope, sinusoidal
from ..stats import cosine_similarity, diagonal_profile
from .core import DIVERGING, NAN_COLOR, SEQUENTIAL, float32, js_callback, numbered_select, on_document_ready
from .heatmap import attention_heatmap

__all__ = [
    "SCHEMES",
    "SIMILARITY_SCHEMES",
    "alibi_figure",
    "alibi_recency",
    "permutation_figure",
    "position_similarity",
    "scheme_attention",
    "schemes_figure",
    "similarity_figure",
    "sinusoidal_figure",
]

SCHEMES = ("none", "sinusoidal", "learned", "rope", "alibi")
SCHEME_LABELS = {
    "none": "no position",
    "sinusoidal": "sinusoidal (added to x)",
    "learned": "learned table (random init, untrained)",
    "rope": "RoPE (rotates q and k)",
    "alibi": "ALiBi (bias on the scores)",
}
SIMILARITY_SCHEMES = ("sinusoidal", "learned", "rope")
_PLAIN = {"toolbar_location": None, "tools": ""}
_SMOOTH = interp_palette(
    DIVERGING, 65
)  # continuous shading: similarities of 0.6 and 0.75 should not look alike


def _check_projections(x: np.ndarray, w_q, w_k, n_head: int) -> tuple[np.ndarray, np.ndarray, int]:
    C = x.shape[1]
    w_q = as_float_array("w_q", w_q, ndim=2)
    w_k = as_float_array("w_k", w_k, ndim=2)
    for name, w in (("w_q", w_q), ("w_k", w_k)):
        if w.shape != (C, C):
            raise ValueError(f"{name} must have shape (C, C) = ({C}, {C}), got {w.shape}")
        if w.dtype != x.dtype:
            raise TypeError(f"{name} must have the dtype of x ({x.dtype}), got {w.dtype}")
    n_head = check_int("n_head", n_head, low=1)
    if C % n_head:
        raise ValueError(f"n_head must divide C={C}, got {n_head}")
    return w_q, w_k, n_head


def _check_learned(learned, T: int, C: int, dtype) -> np.ndarray:
    learned = as_float_array("learned", learned, ndim=2)
    if learned.shape[0] < T or learned.shape[1] != C:
        raise ValueError(f"learned must have shape (>= {T}, {C}), got {learned.shape}")
    return learned[:T].astype(dtype, copy=False)


def scheme_attention(x, w_q, w_k, n_head: int, scheme: str, *, learned=None) -> np.ndarray:
    """Attention weights of a sentence under one position scheme (no mask, values not needed).

    ``none``: ``softmax(q kᵀ / √D)`` with ``q = x W_Q``, ``k = x W_K``. ``sinusoidal`` and ``learned`` add a
    position table to ``x`` first; ``rope`` rotates each head's ``q`` and ``k`` by their positions; ``alibi``
    adds ``-slope_h |i - j|`` to the scaled scores.

    Parameters
    ----------
    x : (T, C) float array
        Token vectors, the row order being the positions 0..T-1.
    w_q, w_k : (C, C) float arrays
    n_head : int
        H, divides C (RoPE needs an even head width D = C / H).
    scheme : {"none", "sinusoidal", "learned", "rope", "alibi"}
    learned : (>= T, C) float array, optional
        The position table for ``scheme="learned"``.

    Returns
    -------
    weights : ndarray, shape (H, T, T), dtype of ``x``
    """
    x = as_float_array("x", x, ndim=2)
    T, C = x.shape
    w_q, w_k, n_head = _check_projections(x, w_q, w_k, n_head)
    scheme = check_choice("scheme", scheme, SCHEMES)
    if scheme == "sinusoidal":
        x = x + sinusoidal(T, C, dtype=x.dtype)  # (T, C)
    elif scheme == "learned":
        if learned is None:
            raise ValueError("learned must be given for scheme='learned'")
        x = x + _check_learned(learned, T, C, x.dtype)  # (T, C)
    q = split_heads(x @ w_q, n_head)  # (H, T, D)
    k = split_heads(x @ w_k, n_head)  # (H, T, D)
    if scheme == "rope":
        q, k = rope(q), rope(k)  # rotate row t by angle t * base**(-2i/D)
    bias = alibi_bias(n_head, T, dtype=x.dtype) if scheme == "alibi" else None  # (H, T, T)
    _, weights = scaled_dot_product_attention(q, k, k, bias=bias)  # (H, T, T)
    return weights


def position_similarity(scheme: str, T: int, d_model: int, *, learned=None, rope_vector=None) -> np.ndarray:
    """How alike two positions look to a model, as a (T, T) cosine similarity.

    ``sinusoidal``: cosine of the rows of the sinusoidal table; ``learned``: of the rows of ``learned``;
    ``rope``: the score of one vector ``u`` placed at positions m and n, ``<R_m u, R_n u> / |u|²``.
    All three tables have rows of equal length except the learned one, so for those two the cosine is
    the dot product divided by a constant.

    Parameters
    ----------
    scheme : {"sinusoidal", "learned", "rope"}
    T : int
        Number of positions.
    d_model : int
        Width C (even for sinusoidal and RoPE).
    learned : (>= T, C) float array, optional
        Required for ``"learned"``.
    rope_vector : (C,) float array, optional
        The vector ``u`` for ``"rope"``; required there.

    Returns
    -------
    sim : ndarray of float64, shape (T, T)
    """
    scheme = check_choice("scheme", scheme, SIMILARITY_SCHEMES)
    T = check_int("T", T, low=1)
    C = check_int("d_model", d_model, low=2)
    if scheme == "sinusoidal":
        table = sinusoidal(T, C)  # (T, C)
    elif scheme == "learned":
        if learned is None:
            raise ValueError("learned must be given for scheme='learned'")
        table = _check_learned(learned, T, C, np.float64)
    else:
        if rope_vector is None:
            raise ValueError("rope_vector must be given for scheme='rope'")
        u = as_float_array("rope_vector", rope_vector, ndim=1).astype(np.float64)
        if u.shape != (C,):
            raise ValueError(f"rope_vector must have shape ({C},), got {u.shape}")
        table = rope(np.tile(u, (T, 1)))  # (T, C): row m is u rotated to position m
    return cosine_similarity(table)


# ---------------------------------------------------------------------------------------------------------
# 1. permutation equivariance


def permutation_figure(
    tokens: Sequence[str],
    x,
    w_q,
    w_k,
    n_head: int,
    permutations,
    *,
    learned,
    head: int = 0,
    name: str = "perm",
):
    """Shuffle the sentence and compare: with no position the attention only permutes, with position it changes.

    For every permutation ``p`` (rows of ``permutations``) and scheme the figure holds the shuffled sentence's
    attention ``A(x[p])`` and the difference ``A(x[p])`` un-shuffled minus ``A(x)``, i.e.
    ``A(x[p])[p⁻¹][:, p⁻¹] - A(x)``, zero everywhere exactly when attention is permutation-equivariant.

    Parameters
    ----------
    tokens : sequence of str, length T
    x : (T, C) float array
    w_q, w_k : (C, C) float arrays
    n_head : int
    permutations : (P, T) int array
        Each row a permutation of ``0..T-1``; the first is shown first.
    learned : (>= T, C) float array
        Position table of the ``learned`` scheme.
    head : int, optional
        The head shown (0-based).
    name : str, optional
        Prefix of every model's name.
    """
    x = as_float_array("x", x, ndim=2)
    T, C = x.shape
    tokens = check_tokens("tokens", tokens, T)
    permutations = as_int_array("permutations", permutations, ndim=2, low=0, high=T)
    if permutations.shape[1] != T or permutations.shape[0] < 2:
        raise ValueError(f"permutations must have shape (P >= 2, T={T}), got {permutations.shape}")
    for p in permutations:
        if not np.array_equal(np.sort(p), np.arange(T)):
            raise ValueError(
                f"every row of permutations must be a permutation of 0..{T - 1}, got {p.tolist()}"
            )
    n_head = check_int("n_head", n_head, low=1)
    head = check_int("head", head, low=0, high=n_head - 1)

    P = len(permutations)
    shuffled = np.zeros((P, len(SCHEMES), T * T), np.float32)  # A(x[p]) of the chosen head
    diff = np.zeros((P, len(SCHEMES), T * T), np.float32)  # un-shuffled minus original
    max_diff = np.zeros((P, len(SCHEMES)), np.float32)
    for s, scheme in enumerate(SCHEMES):
        base = scheme_attention(x, w_q, w_k, n_head, scheme, learned=learned)[head]  # (T, T)
        for i, p in enumerate(permutations):
            a = scheme_attention(x[p], w_q, w_k, n_head, scheme, learned=learned)[head]  # (T, T)
            inv = np.argsort(p)
            d = a[np.ix_(inv, inv)] - base  # back in the original order
            shuffled[i, s] = float32("shuffled", a).ravel()
            diff[i, s] = float32("diff", d).ravel()
            max_diff[i, s] = np.abs(d).max()
    labels = [[tokens[j] for j in p] for p in permutations]
    reach = max(float(max_diff.max()), 1e-3)  # one colour scale for every state, so sizes compare
    options = [(str(i), f"{i + 1}: " + " ".join(lab)) for i, lab in enumerate(labels)]
    options[0] = ("0", "original: " + " ".join(labels[0]))

    left = attention_heatmap(
        shuffled[0, 0].reshape(T, T),
        labels[0],
        labels[0],
        name=f"{name}-shuffled",
        title="Attention of the shuffled sentence",
        width=370,
        height=330,
    )
    right = attention_heatmap(
        diff[0, 0].reshape(T, T),
        tokens,
        tokens,
        name=f"{name}-diff",
        title="Un-shuffled minus original",
        width=370,
        height=330,
        palette=_SMOOTH,
        low=-reach,
        high=reach,
    )
    perm = Select(title="Order of the words", value="0", options=options, name=f"{name}-order", width=330)
    shuffle = Button(label="Shuffle", name=f"{name}-shuffle", width=90, align="end")
    scheme = Select(
        title="Position information",
        value="none",
        name=f"{name}-scheme",
        width=260,
        options=[(s, SCHEME_LABELS[s]) for s in SCHEMES],
    )
    readout = Div(text="", name=f"{name}-readout", width=740)
    update = js_callback(
        "position_permutation",
        perm=perm,
        scheme=scheme,
        readout=readout,
        left_source=left.select_one({"name": f"{name}-shuffled-source"}),
        right_source=right.select_one({"name": f"{name}-diff-source"}),
        left_x=left.xaxis[0],
        left_y=left.yaxis[0],
        left_plot=left,
        shuffled=shuffled,
        diff=diff,
        max_diff=max_diff,
        labels=labels,
        schemes=list(SCHEMES),
        scheme_labels=[SCHEME_LABELS[s] for s in SCHEMES],
    )
    perm.js_on_change("value", update)
    scheme.js_on_change("value", update)
    shuffle.js_on_event("button_click", js_callback("position_shuffle", select=perm))
    layout = column(row(perm, shuffle, scheme), row(left, right), readout, name=f"{name}-layout")
    return on_document_ready(layout, update)


# ---------------------------------------------------------------------------------------------------------
# 2. the sinusoidal table


def sinusoidal_figure(T: int, d_model: int, *, base: float = 10000.0, dim: int = 0, name: str = "sinusoid"):
    """The sinusoidal table as an image, with a slider picking one dimension whose wave is drawn below.

    Parameters
    ----------
    T : int
        Positions (rows).
    d_model : int
        C, even.
    base : float, optional
    dim : int, optional
        The dimension shown first.
    name : str, optional
    """
    T = check_int("T", T, low=2)
    C = check_int("d_model", d_model, low=2)
    base = check_real("base", base, low=1.0, low_inclusive=False)
    dim = check_int("dim", dim, low=0, high=C - 1)
    pe = sinusoidal(T, C, base)  # (T, C)
    pair = np.arange(C) // 2
    wavelength = 2 * np.pi * base ** (2 * pair / C)  # (C,) positions per full turn of dimension c

    matrix = figure(
        name=f"{name}-matrix",
        title=f"PE (T={T} positions × C={C} dimensions)",
        width=360,
        height=360,
        x_range=(-0.5, C - 0.5),
        y_range=(T - 0.5, -0.5),
        **_PLAIN,
    )
    mapper = LinearColorMapper(palette=list(_SMOOTH), low=-1, high=1, name=f"{name}-mapper")
    image = matrix.image(image=[float32("pe", pe)], x=-0.5, y=-0.5, dw=C, dh=T, color_mapper=mapper)
    image.data_source.name = f"{name}-image"
    band = ColumnDataSource(dict(x=[float(dim)], y=[(T - 1) / 2]), name=f"{name}-band")
    matrix.rect("x", "y", 1, T, source=band, fill_alpha=0, line_color="black", line_width=2)
    matrix.xaxis.axis_label = "dimension c"
    matrix.yaxis.axis_label = "position t"
    matrix.add_layout(ColorBar(color_mapper=mapper, width=10, name=f"{name}-colorbar"), "right")

    wave = ColumnDataSource(
        dict(t=np.arange(T, dtype=np.float32), value=float32("pe", pe[:, dim])), name=f"{name}-wave"
    )
    line = figure(
        name=f"{name}-line",
        title=f"dimension c = {dim}",
        width=380,
        height=360,
        y_range=(-1.15, 1.15),
        x_range=(-0.5, T - 0.5),
        **_PLAIN,
    )
    line.line("t", "value", source=wave, line_width=2, color="#2166ac")
    line.scatter("t", "value", source=wave, size=4, color="#2166ac")
    line.xaxis.axis_label = "position t"
    line.yaxis.axis_label = "PE[t, c]"
    slider = Slider(start=0, end=C - 1, value=dim, step=1, title="Dimension c", name=f"{name}-dim", width=360)
    readout = Div(text="", name=f"{name}-readout", width=740)
    update = js_callback(
        "position_sinusoid",
        slider=slider,
        wave=wave,
        band=band,
        line=line,
        readout=readout,
        pe=float32("pe", pe.T.copy()),
        wavelength=float32("wavelength", wavelength),
        T=T,
    )
    slider.js_on_change("value", update)
    layout = column(slider, row(matrix, line), readout, name=f"{name}-layout")
    return on_document_ready(layout, update)


# ---------------------------------------------------------------------------------------------------------
# 3. similarity between positions against distance


def similarity_figure(similarities: Mapping[str, np.ndarray], *, position: int = 0, name: str = "similarity"):
    """Similarity of every pair of positions, and of one position with all others against their distance.

    Parameters
    ----------
    similarities : mapping of str to (T, T) float array
        One matrix per entry of the scheme select, labelled by its key (e.g. from
        :func:`position_similarity`); all the same T. The first is shown first.
    position : int, optional
        The reference position shown first.
    name : str, optional
    """
    if not isinstance(similarities, Mapping) or not similarities:
        raise TypeError("similarities must be a non-empty mapping of label to (T, T) array")
    labels = list(similarities)
    if not all(isinstance(k, str) for k in labels):
        raise TypeError("similarities must be keyed by str labels")
    sims = [as_float_array(f"similarities[{k!r}]", v, ndim=2) for k, v in similarities.items()]
    T = sims[0].shape[0]
    for k, v in zip(labels, sims, strict=True):
        if v.shape != (T, T):
            raise ValueError(f"similarities[{k!r}] must have shape (T, T) = ({T}, {T}), got {v.shape}")
    if T < 2:
        raise ValueError(f"similarities must be at least 2 x 2, got T={T}")
    sims = np.stack(sims)  # (S, T, T)
    position = check_int("position", position, low=0, high=T - 1)
    spread = np.stack([diagonal_profile(s)[2] for s in sims])  # (S, 2T - 1)
    ii, jj = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")

    cells = ColumnDataSource(
        dict(
            x=jj.ravel().astype(np.float32),
            y=ii.ravel().astype(np.float32),
            value=float32("sim", sims[0]).ravel(),
        ),
        name=f"{name}-cells",
    )
    grid = figure(
        name=f"{name}-grid",
        title="cos(position m, position n)",
        width=360,
        height=350,
        x_range=(-0.5, T - 0.5),
        y_range=(T - 0.5, -0.5),
        **_PLAIN,
    )
    mapper = LinearColorMapper(palette=list(_SMOOTH), low=-1, high=1, name=f"{name}-mapper")
    rects = grid.rect(
        "x", "y", 1, 1, source=cells, line_color=None, fill_color={"field": "value", "transform": mapper}
    )
    grid.add_tools(
        HoverTool(renderers=[rects], tooltips=[("m", "@y"), ("n", "@x"), ("cos", "@value{0.000}")])
    )
    marker = ColumnDataSource(dict(x=[(T - 1) / 2], y=[float(position)]), name=f"{name}-marker")
    grid.rect("x", "y", T, 1, source=marker, fill_alpha=0, line_color="black", line_width=2)
    grid.xaxis.axis_label = "position n"
    grid.yaxis.axis_label = "position m"
    grid.add_layout(ColorBar(color_mapper=mapper, width=10, name=f"{name}-colorbar"), "right")

    # Every row against distance n - m, in grey, and the chosen row on top: rows that fall on one curve
    # mean the similarity depends on the distance only.
    offsets = np.arange(T)[None, :] - np.arange(T)[:, None]  # (T, T) n - m
    all_rows = ColumnDataSource(
        dict(
            xs=[offsets[m].astype(np.float32) for m in range(T)],
            ys=[float32("sim", sims[0, m]) for m in range(T)],
        ),
        name=f"{name}-rows",
    )
    chosen = ColumnDataSource(
        dict(d=offsets[position].astype(np.float32), value=float32("sim", sims[0, position])),
        name=f"{name}-chosen",
    )
    curve = figure(
        name=f"{name}-curve",
        title=f"cos(position {position}, position n) against n − {position}",
        width=380,
        height=350,
        x_range=(-T + 0.5, T - 0.5),
        y_range=(-1.05, 1.05),
        **_PLAIN,
    )
    curve.multi_line("xs", "ys", source=all_rows, color="#bbbbbb", line_width=1)
    curve.line("d", "value", source=chosen, color="#b2182b", line_width=2.5)
    curve.scatter("d", "value", source=chosen, color="#b2182b", size=5)
    curve.xaxis.axis_label = "distance n − m"
    curve.yaxis.axis_label = "cosine similarity"

    scheme = Select(
        title="Position scheme",
        value="0",
        name=f"{name}-scheme",
        width=340,
        options=[(str(i), label) for i, label in enumerate(labels)],
    )
    slider = Slider(
        start=0,
        end=T - 1,
        value=position,
        step=1,
        title="Reference position m",
        name=f"{name}-position",
        width=300,
    )
    readout = Div(text="", name=f"{name}-readout", width=740)
    update = js_callback(
        "position_similarity",
        scheme=scheme,
        slider=slider,
        cells=cells,
        all_rows=all_rows,
        chosen=chosen,
        marker=marker,
        curve=curve,
        readout=readout,
        sims=float32("sims", sims),
        max_spread=float32("spread", spread.max(axis=1)),
        labels=labels,
        T=T,
    )
    scheme.js_on_change("value", update)
    slider.js_on_change("value", update)
    layout = column(row(scheme, slider), row(grid, curve), readout, name=f"{name}-layout")
    return on_document_ready(layout, update)


# ---------------------------------------------------------------------------------------------------------
# 4. ALiBi


def alibi_recency(n_head: int, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Where ALiBi alone makes the last query look: its weights when every content score is equal.

    Parameters
    ----------
    n_head : int
        H.
    T : int
        Sequence length; the query is the last position, ``T - 1``, and may see every key (causal).

    Returns
    -------
    weights : ndarray of float64, shape (H, T)
        ``softmax_j(-slope_h (T - 1 - j))``.
    half : ndarray of int64, shape (H,)
        How many of the most recent keys (the query's own included) hold at least half of the weight.
    """
    n_head = check_int("n_head", n_head, low=1)
    T = check_int("T", T, low=1)
    bias = alibi_bias(n_head, T)[:, -1:, :]  # (H, 1, T): the last query's row
    q, k = np.zeros((n_head, 1, 1)), np.zeros((n_head, T, 1))  # every content score q·k is 0
    _, weights = scaled_dot_product_attention(q, k, k, bias=bias)  # (H, 1, T)
    weights = weights[:, 0, :]  # (H, T)
    half = 1 + np.argmax(np.cumsum(weights[:, ::-1], axis=1) >= 0.5, axis=1)  # (H,)
    return weights, half


def alibi_figure(n_head: int, T: int, *, head: int = 0, name: str = "alibi"):
    """ALiBi's slope per head, the bias matrix of one head (causal) and where its last query looks.

    The bottom panel is ``softmax`` of the last row of the bias alone: the attention the head would pay to
    each earlier key if every content score were equal.

    Parameters
    ----------
    n_head : int
    T : int
    head : int, optional
        Head shown first (0-based).
    name : str, optional
    """
    n_head = check_int("n_head", n_head, low=1)
    T = check_int("T", T, low=2)
    head = check_int("head", head, low=0, high=n_head - 1)
    slopes = alibi_slopes(n_head)  # (H,)
    bias = alibi_bias(n_head, T)  # (H, T, T)
    causal = np.tril(np.ones((T, T), dtype=bool))
    shown = np.where(causal, bias, np.nan)  # the upper triangle is masked in a causal model
    last, half = alibi_recency(n_head, T)  # (H, T), (H,)

    ii, jj = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    cells = ColumnDataSource(
        dict(
            x=jj.ravel().astype(np.float32),
            y=ii.ravel().astype(np.float32),
            value=shown[head].astype(np.float32).ravel(),
        ),
        name=f"{name}-cells",
    )
    low = float(bias.min())
    grid = figure(
        name=f"{name}-grid",
        title=f"Head {head + 1}",
        width=380,
        height=340,
        x_range=(-0.5, T - 0.5),
        y_range=(T - 0.5, -0.5),
        **_PLAIN,
    )
    mapper = LinearColorMapper(
        palette=list(SEQUENTIAL)[::-1], low=low, high=0, nan_color=NAN_COLOR, name=f"{name}-mapper"
    )
    rects = grid.rect(
        "x",
        "y",
        1,
        1,
        source=cells,
        line_color="white",
        line_width=0.3,
        fill_color={"field": "value", "transform": mapper},
    )
    grid.add_tools(
        HoverTool(renderers=[rects], tooltips=[("query i", "@y"), ("key j", "@x"), ("bias", "@value{0.000}")])
    )
    grid.xaxis.axis_label = "key j"
    grid.yaxis.axis_label = "query i"
    grid.add_layout(ColorBar(color_mapper=mapper, width=10, name=f"{name}-colorbar"), "right")

    bars = ColumnDataSource(
        dict(
            h=np.arange(1, n_head + 1, dtype=np.float32),
            slope=slopes.astype(np.float32),
            color=["#9ecae1"] * n_head,
        ),
        name=f"{name}-bars",
    )
    slope_plot = figure(
        name=f"{name}-slopes",
        title="Slope m_h per head",
        width=360,
        height=340,
        y_axis_type="log",
        x_range=(0.4, n_head + 0.6),
        y_range=(slopes.min() / 2, 1.0),
        **_PLAIN,
    )
    slope_plot.vbar("h", 0.8, "slope", source=bars, bottom=slopes.min() / 2, color="color")
    slope_plot.xaxis.axis_label = "head h"
    slope_plot.yaxis.axis_label = "slope (log scale)"

    weights = ColumnDataSource(
        dict(j=np.arange(T, dtype=np.float32), w=last[head].astype(np.float32)), name=f"{name}-weights"
    )
    look = figure(
        name=f"{name}-look",
        title=f"Head {head + 1}: the last query's weights",
        width=740,
        height=220,
        x_range=(-0.5, T - 0.5),
        y_range=(0, float(last.max()) * 1.08),
        **_PLAIN,
    )
    look.vbar("j", 0.8, "w", source=weights, color="#2171b5")
    look.xaxis.axis_label = f"key j (the query is the last position, {T - 1})"
    look.yaxis.axis_label = "weight"

    slider = Slider(
        start=1, end=n_head, value=head + 1, step=1, title="Head h", name=f"{name}-head", width=360
    )
    readout = Div(text="", name=f"{name}-readout", width=740)
    update = js_callback(
        "position_alibi",
        slider=slider,
        cells=cells,
        bars=bars,
        weights=weights,
        grid=grid,
        look=look,
        readout=readout,
        shown=float32("bias", np.nan_to_num(shown, nan=-np.inf)),
        slopes=float32("slopes", slopes),
        last=float32("last", last),
        half=half.astype(np.int32),
        T=T,
    )
    slider.js_on_change("value", update)
    layout = column(slider, row(grid, slope_plot), look, readout, name=f"{name}-layout")
    return on_document_ready(layout, update)


# ---------------------------------------------------------------------------------------------------------
# 5. one sentence, every scheme


def schemes_figure(tokens: Sequence[str], x, w_q, w_k, n_head: int, *, learned, name: str = "schemes"):
    """The same sentence's attention under each position scheme, per head, and how it differs from no position.

    Parameters
    ----------
    tokens : sequence of str, length T
    x : (T, C) float array
    w_q, w_k : (C, C) float arrays
    n_head : int
    learned : (>= T, C) float array
    name : str, optional
    """
    x = as_float_array("x", x, ndim=2)
    T, C = x.shape
    tokens = check_tokens("tokens", tokens, T)
    n_head = check_int("n_head", n_head, low=1)
    weights = np.stack(
        [scheme_attention(x, w_q, w_k, n_head, s, learned=learned) for s in SCHEMES]
    )  # (S, H, T, T)
    change = weights - weights[:1]  # (S, H, T, T) what the position signal changed
    reach = max(float(np.abs(change).max()), 1e-3)
    # The first repeated token: its two rows are identical exactly when nothing tells the positions apart.
    twin = next(((i, tokens.index(t)) for i, t in enumerate(tokens) if tokens.index(t) < i), None)
    if twin is None:
        twin_diff, twin_label = np.zeros((len(SCHEMES), n_head)), ""
    else:
        twin_diff = np.abs(weights[:, :, twin[0]] - weights[:, :, twin[1]]).max(axis=-1)  # (S, H)
        twin_label = f"“{tokens[twin[1]]}” (position {twin[1]}) and “{tokens[twin[0]]}” (position {twin[0]})"

    heat = attention_heatmap(
        weights[0, 0],
        tokens,
        tokens,
        name=f"{name}-attention",
        title="Attention weights",
        width=370,
        height=340,
    )
    diff = attention_heatmap(
        change[0, 0],
        tokens,
        tokens,
        name=f"{name}-change",
        title="Change from no position",
        width=370,
        height=340,
        palette=_SMOOTH,
        low=-reach,
        high=reach,
    )
    scheme = Select(
        title="Position scheme",
        value="none",
        name=f"{name}-scheme",
        width=300,
        options=[(s, SCHEME_LABELS[s]) for s in SCHEMES],
    )
    head = numbered_select("Head", n_head, name=f"{name}-head", width=80)
    readout = Div(text="", name=f"{name}-readout", width=740)
    update = js_callback(
        "position_schemes",
        scheme=scheme,
        head=head,
        readout=readout,
        heat=heat,
        source=heat.select_one({"name": f"{name}-attention-source"}),
        change_source=diff.select_one({"name": f"{name}-change-source"}),
        weights=float32("weights", weights),
        change=float32("change", change),
        schemes=list(SCHEMES),
        scheme_labels=[SCHEME_LABELS[s] for s in SCHEMES],
        twin_diff=float32("twin_diff", twin_diff),
        twin_label=twin_label,
    )
    scheme.js_on_change("value", update)
    head.js_on_change("value", update)
    layout = column(row(scheme, head), row(heat, diff), readout, name=f"{name}-layout")
    return on_document_ready(layout, update)
