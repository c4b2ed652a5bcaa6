"""Attention heatmaps: numeric axes with token tick labels (so repeated tokens work), colour bar, hover."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bokeh.models import ColorBar, ColumnDataSource, FixedTicker, HoverTool, LinearColorMapper
from bokeh.plotting import figure

from .._checks import as_float_array, check_int, check_real, check_tokens
from .core import NAN_COLOR, SEQUENTIAL, check_name, float32

__all__ = ["heatmap_columns", "attention_heatmap", "label_axes", "token_grid"]


def heatmap_columns(weights, q_tokens: Sequence[str], k_tokens: Sequence[str], scores=None) -> dict:
    """The ColumnDataSource columns of a (Tq, Tk) heatmap: one row per cell, query ``i`` at ``y = -i``.

    Parameters
    ----------
    weights : (Tq, Tk) float array
    q_tokens, k_tokens : sequences of str, lengths Tq and Tk
    scores : (Tq, Tk) float array, optional
        Pre-softmax scores shown on hover (may contain -inf for masked cells).
    """
    weights = as_float_array("weights", weights, ndim=2)
    Tq, Tk = weights.shape
    q_tokens = check_tokens("q_tokens", q_tokens, Tq)
    k_tokens = check_tokens("k_tokens", k_tokens, Tk)
    if scores is None:
        scores = np.full((Tq, Tk), np.nan)
    else:
        scores = as_float_array("scores", scores, ndim=2, finite=False)
        if scores.shape != weights.shape:
            raise ValueError(f"scores must have the shape of weights {weights.shape}, got {scores.shape}")
    ii, jj = np.meshgrid(np.arange(Tq), np.arange(Tk), indexing="ij")
    return dict(
        x=jj.ravel().astype(np.float32),
        y=-ii.ravel().astype(np.float32),
        weight=float32("weights", weights).ravel(),
        score=scores.astype(np.float32).ravel(),  # NaN when unknown, -inf when masked
        q_token=[q_tokens[i] for i in ii.ravel()],
        k_token=[k_tokens[j] for j in jj.ravel()],
    )


def label_axes(plot, q_tokens: Sequence[str], k_tokens: Sequence[str]) -> None:
    """Put token labels on numeric axes: column j at x = j (top), row i at y = -i (left)."""
    plot.xaxis.ticker = FixedTicker(ticks=list(range(len(k_tokens))), name=f"{plot.name}-xticks")
    plot.xaxis.major_label_overrides = {j: t for j, t in enumerate(k_tokens)}
    plot.yaxis.ticker = FixedTicker(ticks=[-i for i in range(len(q_tokens))], name=f"{plot.name}-yticks")
    plot.yaxis.major_label_overrides = {-i: t for i, t in enumerate(q_tokens)}
    plot.xaxis.major_label_orientation = 0.9
    plot.axis.major_tick_line_color = None
    plot.axis.minor_tick_line_color = None
    plot.axis.axis_line_color = None
    plot.grid.visible = False


def token_grid(
    source: ColumnDataSource,
    *,
    name: str,
    title: str,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    color_field: str,
    mapper: LinearColorMapper,
    width: int = 360,
    height: int = 340,
    margin_cols: float = 0.0,
    colorbar: bool = False,
):
    """A grid of cells coloured by ``color_field`` with token labels on both axes (queries down, keys across).

    ``margin_cols`` leaves room right of the grid for a readout column (see :func:`cell_text`).
    Returns ``(plot, cells renderer)``.
    """
    check_name(name)
    q_tokens = check_tokens("q_tokens", q_tokens)
    k_tokens = check_tokens("k_tokens", k_tokens)
    plot = figure(
        name=name,
        title=title,
        width=width,
        height=height,
        x_range=(-0.5, len(k_tokens) - 0.5 + margin_cols),
        y_range=(-len(q_tokens) + 0.5, 0.5),
        x_axis_location="above",
        tools="",
        toolbar_location=None,
    )
    cells = plot.rect(
        "x",
        "y",
        1,
        1,
        source=source,
        line_color="white",
        line_width=0.5,
        fill_color={"field": color_field, "transform": mapper},
    )
    label_axes(plot, q_tokens, k_tokens)
    plot.outline_line_color = None
    if colorbar:
        plot.add_layout(ColorBar(color_mapper=mapper, width=10, name=f"{name}-colorbar"), "right")
    return plot, cells


def attention_heatmap(
    weights,
    q_tokens: Sequence[str],
    k_tokens: Sequence[str],
    *,
    scores=None,
    name: str = "attention",
    title: str = "Attention weights",
    width: int = 360,
    height: int = 340,
    palette: Sequence[str] = SEQUENTIAL,
    low: float = 0.0,
    high: float = 1.0,
):
    """A heatmap of attention weights with token labels, a colour bar and hover (query, key, score, weight).

    The data source is named ``<name>-source`` and the plot ``<name>``; callbacks replace the source's
    ``weight``/``score`` columns (and the axis label overrides when the tokens change).

    Parameters
    ----------
    weights : (Tq, Tk) float array
        Rows are queries, columns keys.
    q_tokens, k_tokens : sequences of str
    scores : (Tq, Tk) float array, optional
    """
    check_name(name)
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    width = check_int("width", width, low=50)
    height = check_int("height", height, low=50)
    palette = check_tokens("palette", palette)
    if not palette:
        raise ValueError("palette must hold at least one colour")
    low = check_real("low", low)
    high = check_real("high", high)
    if not low < high:
        raise ValueError(f"low must be < high, got low={low}, high={high}")
    source = ColumnDataSource(heatmap_columns(weights, q_tokens, k_tokens, scores), name=f"{name}-source")
    mapper = LinearColorMapper(
        palette=list(palette), low=low, high=high, nan_color=NAN_COLOR, name=f"{name}-mapper"
    )
    plot, cells = token_grid(
        source,
        name=name,
        title=title,
        q_tokens=q_tokens,
        k_tokens=k_tokens,
        color_field="weight",
        mapper=mapper,
        width=width,
        height=height,
        colorbar=True,
    )
    plot.add_tools(
        HoverTool(
            renderers=[cells],
            tooltips=[
                ("query", "@q_token"),
                ("key", "@k_token"),
                ("score", "@score{0.000}"),
                ("weight", "@weight{0.000}"),
            ],
        )
    )
    return plot
