"""Figures of a real pretrained model's attention: BertViz-style head and model views (Vig 2019), the
head-pattern statistics of Clark et al. 2019, and attention rollout beside raw attention (Abnar & Zuidema 2020).

The builders take attention tensors already computed (by :mod:`attnbook.pretrained.minilm` in the book) for a
few preset sentences and ship them into the page; every statistic is computed here with
:mod:`attnbook.pretrained.patterns` and :mod:`attnbook.pretrained.rollout`. The head and model views carry the
weights quantised to 8 bits (:func:`quantize`): six layers times twelve heads of ``T x T`` weights for every
sentence would otherwise take most of the page budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    Div,
    FixedTicker,
    HoverTool,
    LinearColorMapper,
    Select,
    Slider,
    TapTool,
    Toggle,
)
from bokeh.palettes import Category10
from bokeh.plotting import figure

from .._checks import as_float_array, check_int, check_real, check_tokens
from ..pretrained.patterns import PATTERNS, HeadStatistics, head_statistics, top_heads
from ..pretrained.rollout import attention_rollout, raw_attention
from .core import SEQUENTIAL, diagram_figure, float32, js_callback, numbered_select, on_document_ready
from .heatmap import attention_heatmap

__all__ = [
    "ALL_HEADS_THRESHOLD",
    "HEAD_COLORS",
    "HEAD_THRESHOLD",
    "PRESETS",
    "QUANT_MAX_ERROR",
    "STATISTICS",
    "STATISTIC_LABELS",
    "SentenceAttention",
    "dequantize",
    "head_view_figure",
    "model_view_figure",
    "model_view_grid",
    "patterns_figure",
    "preset_label",
    "quantize",
    "rollout_figure",
]

# Sentences the chapter offers: (text, text_pair or None). Two pairs carry [SEP] in the middle and token
# type 1 after it; "bank", "flies", "like", "the" and "eiffel tower" repeat, so the same-word statistic has
# something to find; commas and semicolons give the punctuation statistic keys.
PRESETS: tuple[tuple[str, str | None], ...] = (
    ("The cat sat on the mat because it was tired.", None),
    ("The keys to the old cabinet are on the table.", None),
    ("I sat on the river bank, then walked to the bank to get money.", None),
    ("Time flies like an arrow; fruit flies like a banana.", None),
    ("She said that the book, which I lent her, was boring.", None),
    ("Where is the Eiffel Tower?", "The Eiffel Tower is in Paris, France."),
    ("A man is playing a guitar.", "Someone is playing music on stage."),
)

# Head statistics shown by the figures, in order: the patterns, then entropy (low = focused).
STATISTICS = (*PATTERNS, "entropy")
STATISTIC_LABELS = {
    "previous_token": "previous token",
    "next_token": "next token",
    "cls": "[CLS]",
    "sep": "[SEP]",
    "same_word": "same word",
    "punctuation": "punctuation",
    "entropy": "entropy (nats, low = focused)",
}
_SHORT = ("prev", "next", "CLS", "SEP", "same", "punct", "H")

# Line thresholds of the head view: below them a line would be invisible anyway (opacity = weight), and
# skipping them keeps the all-heads overlay at a few hundred segments instead of 12 T².
HEAD_THRESHOLD = 0.01
ALL_HEADS_THRESHOLD = 0.1
# One colour per head in the all-heads overlay (Category10 and two darker ones).
HEAD_COLORS = (*Category10[10], "#393b79", "#8c6d31")

QUANT_LEVELS = 255
QUANT_MAX_ERROR = 0.5 / QUANT_LEVELS  # rounding to the nearest of 256 levels in [0, 1]


class SentenceAttention(NamedTuple):
    """One preset sentence: its label in the select, its tokens and every head's attention weights."""

    label: str
    tokens: tuple[str, ...]  # T tokens, e.g. ("[CLS]", "the", ..., "[SEP]")
    attentions: np.ndarray  # (L, H, T, T), rows are queries and sum to 1


def preset_label(text: str, text_pair: str | None = None) -> str:
    """The select label of a preset: the text, and ``" ‖ "`` plus the pair when there is one."""
    if not isinstance(text, str) or (text_pair is not None and not isinstance(text_pair, str)):
        raise TypeError("text and text_pair must be str (text_pair may be None)")
    return text if text_pair is None else f"{text} ‖ {text_pair}"


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
    """Inverse of :func:`quantize`: uint8 levels back to float32 weights ``levels / 255``."""
    if not isinstance(levels, np.ndarray) or levels.dtype != np.uint8:
        raise TypeError(
            f"levels must be a uint8 ndarray, got {getattr(levels, 'dtype', type(levels).__name__)}"
        )
    return levels.astype(np.float32) / np.float32(QUANT_LEVELS)


def _check_sentences(sentences) -> list[SentenceAttention]:
    """Validate the sentences: labels, tokens and (L, H, T, T) weights with one L and H for all."""
    if (
        isinstance(sentences, (str, SentenceAttention))
        or not isinstance(sentences, Sequence)
        or not sentences
    ):
        raise TypeError("sentences must be a non-empty sequence of SentenceAttention")
    out = []
    shape_lh = None
    for k, s in enumerate(sentences):
        if not isinstance(s, SentenceAttention):
            raise TypeError(f"sentences[{k}] must be a SentenceAttention, got {type(s).__name__}")
        if not isinstance(s.label, str) or not s.label:
            raise TypeError(f"sentences[{k}].label must be a non-empty str")
        a = as_float_array(f"sentences[{k}].attentions", s.attentions, ndim=4)
        L, H, T, Tk = a.shape
        if T != Tk or T < 2 or L < 1 or H < 1:
            raise ValueError(
                f"sentences[{k}].attentions must have shape (L, H, T, T) with T >= 2, got {a.shape}"
            )
        if shape_lh is not None and (L, H) != shape_lh:
            raise ValueError(
                f"sentences[{k}].attentions has (L, H) = {(L, H)}, the first sentence {shape_lh}"
            )
        shape_lh = (L, H)
        if a.min() < -1e-6 or a.max() > 1 + 1e-6:
            raise ValueError(f"sentences[{k}].attentions must be softmax weights in [0, 1]")
        tokens = check_tokens(f"sentences[{k}].tokens", s.tokens, T)
        out.append(SentenceAttention(s.label, tokens, a))
    labels = [s.label for s in out]
    if len(set(labels)) != len(labels):
        raise ValueError("sentences must have distinct labels")
    return out


def _check_head(layer, head, L: int, H: int) -> tuple[int, int]:
    return check_int("layer", layer, low=0, high=L - 1), check_int("head", head, low=0, high=H - 1)


def _sentence_select(sentences, name: str, width: int, extra: Sequence[tuple[str, str]] = ()) -> Select:
    options = [(str(k), s.label) for k, s in enumerate(sentences)] + list(extra)
    return Select(title="Sentence", value="0", options=options, name=f"{name}-sentence", width=width)


def _statistics(sentences: list[SentenceAttention]) -> np.ndarray:
    """Every head statistic of every sentence, shape (n, 7, L, H), in the order of :data:`STATISTICS`."""
    out = []
    for s in sentences:
        stats = head_statistics(s.attentions, s.tokens)
        out.append(np.stack([getattr(stats, name) for name in STATISTICS]))  # (7, L, H)
    return np.stack(out)  # (n, 7, L, H)


def _ranks(stats: np.ndarray) -> np.ndarray:
    """Rank (1 = strongest) of every head among all L·H heads, per sentence and statistic (entropy: lowest)."""
    n, S, L, H = stats.shape
    flat = stats.reshape(n, S, L * H).copy()
    flat[:, STATISTICS.index("entropy")] *= -1  # the most focused head ranks first
    order = np.argsort(-flat, axis=-1, kind="stable")  # (n, S, L*H)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, L * H + 1)[None, None, :], axis=-1)
    return ranks.reshape(n, S, L, H).astype(np.int32)


def _focus_options(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """The focus select of the head view: all tokens, then one query (from) and one key (to) per token."""
    opts = [("all", "none: every token")]
    opts += [(f"q{i}", f"from {t} ({i})") for i, t in enumerate(tokens)]
    opts += [(f"k{i}", f"to {t} ({i})") for i, t in enumerate(tokens)]
    return opts


def _text_panel(name: str, width: int, height: int, title: str = "", font_size: str = "8.5pt"):
    """A small table drawn as text glyphs on a plot whose data units are pixels (x right, y down as -y).

    Updating a glyph source only repaints this canvas; updating a Div's text re-lays out the whole figure,
    which costs several times more per callback.

    Returns
    -------
    plot, text_source (x, y, text, color, style, align), band_source (x, y, w, h, color)
    """
    text_source = ColumnDataSource(
        dict(x=[], y=[], text=[], color=[], style=[], align=[]), name=f"{name}-text"
    )
    band_source = ColumnDataSource(dict(x=[], y=[], w=[], h=[], color=[]), name=f"{name}-bands")
    plot = diagram_figure(
        name=name,
        width=width,
        height=height,
        x_range=(0, width),
        y_range=(-height + (30 if title else 0), 0),
        title=title,
        min_border=0,
    )
    plot.rect("x", "y", "w", "h", source=band_source, fill_color="color", line_color=None)
    plot.text(
        "x",
        "y",
        text="text",
        source=text_source,
        text_color="color",
        text_font_style="style",
        text_align="align",
        text_baseline="middle",
        text_font_size=font_size,
    )
    return plot, text_source, band_source


# --- head view ---------------------------------------------------------------------------------------------
# Geometry (data units): query tokens in a left column, keys in a right one, lines between x = 0 and x = 1.
_LEFT_BOX, _RIGHT_BOX, _BOX_W = -0.55, 1.55, 0.9
_LEFT_TEXT, _RIGHT_TEXT = -0.16, 1.16
_LINE_X0, _LINE_X1 = -0.06, 1.06


def head_view_figure(
    sentences: Sequence[SentenceAttention],
    *,
    layer: int = 0,
    head: int = 0,
    threshold: float = HEAD_THRESHOLD,
    all_heads_threshold: float = ALL_HEADS_THRESHOLD,
    name: str = "headview",
):
    """A head view as in BertViz: queries left, keys right, one line per weight (opacity = weight).

    Widgets: sentence, layer, head ("all heads" overlays every head in its colour) and focus (one token's
    lines only, as a query or as a key). Hovering a token sets the focus and tapping pins it; tapping a
    colour square picks that head. A table beside the lines lists the statistics of the layer's heads.

    Parameters
    ----------
    sentences : sequence of SentenceAttention
        Attention weights ``(L, H, T, T)`` of each sentence, one L and H for all.
    layer, head : int
        The (0-based) head shown first.
    threshold, all_heads_threshold : float
        Weights below these are not drawn (one head / all heads overlaid).
    name : str
        Prefix of every model's name.
    """
    sentences = _check_sentences(sentences)
    L, H = sentences[0].attentions.shape[:2]
    layer, head = _check_head(layer, head, L, H)
    threshold = check_real("threshold", threshold, low=0.0, high=1.0)
    all_heads_threshold = check_real("all_heads_threshold", all_heads_threshold, low=0.0, high=1.0)
    if H > len(HEAD_COLORS):
        raise ValueError(f"the head view colours at most {len(HEAD_COLORS)} heads, got H = {H}")
    t_max = max(len(s.tokens) for s in sentences)
    stats = _statistics(sentences)

    tokens_source = ColumnDataSource(
        dict(bx=[], y=[], tx=[], text=[], align=[], key=[], fill=[], alpha=[], bw=[]), name=f"{name}-tokens"
    )
    lines_source = ColumnDataSource(
        dict(x0=[], y0=[], x1=[], y1=[], color=[], alpha=[], width=[]), name=f"{name}-lines"
    )
    legend_x = np.linspace(-0.95, 2.05, H).astype(np.float32)
    legend_source = ColumnDataSource(
        dict(
            x=legend_x,
            y=np.full(H, 1.15, np.float32),
            color=list(HEAD_COLORS[:H]),
            alpha=np.ones(H, np.float32),
            text=[str(h + 1) for h in range(H)],
            value=[str(h + 1) for h in range(H)],
        ),
        name=f"{name}-legend",
    )
    plot = diagram_figure(
        name=f"{name}-plot",
        width=375,
        height=max(60 + 22 * t_max, 70 + 18 * H),
        title="",
        x_range=(-1.1, 2.2),
        y_range=(-t_max + 0.4, 1.5),
    )
    plot.segment(
        "x0",
        "y0",
        "x1",
        "y1",
        source=lines_source,
        line_color="color",
        line_alpha="alpha",
        line_width="width",
    )
    boxes = plot.rect(
        "bx", "y", "bw", 0.84, source=tokens_source, fill_color="fill", fill_alpha="alpha", line_color=None
    )
    plot.text(
        "tx",
        "y",
        text="text",
        source=tokens_source,
        text_align="align",
        text_baseline="middle",
        text_font_size="10pt",
        text_color="#222222",
    )
    squares = plot.rect(
        "x", "y", 0.22, 0.5, source=legend_source, fill_color="color", fill_alpha="alpha", line_color=None
    )
    plot.text(
        "x",
        "y",
        text="text",
        source=legend_source,
        text_align="center",
        text_baseline="middle",
        text_font_size="8pt",
        text_color="white",
    )

    sentence = _sentence_select(sentences, name, 340)
    layer_select = numbered_select("Layer", L, value=layer + 1, name=f"{name}-layer", width=70)
    head_select = Select(
        title="Head",
        value=str(head + 1),
        options=[("all", "all heads")] + [(str(h + 1), str(h + 1)) for h in range(H)],
        name=f"{name}-head",
        width=90,
    )
    focus = Select(
        title="Focus token",
        value="all",
        options=_focus_options(sentences[0].tokens),
        name=f"{name}-focus",
        width=150,
    )
    table, table_text, table_bands = _text_panel(
        f"{name}-table", width=345, height=max(60 + 22 * t_max, 70 + 18 * H), title="Heads of this layer"
    )
    hint = Div(
        text="Hover a token to keep only its lines (left: where it looks; right: who looks at it); tap it to "
        "pin that view (tap again to release); tap a coloured square to pick that head.",
        name=f"{name}-hint",
        width=720,
    )

    update = js_callback(
        "pretrained_head_view",
        sentence=sentence,
        layer=layer_select,
        head=head_select,
        focus=focus,
        tokens_source=tokens_source,
        lines_source=lines_source,
        legend_source=legend_source,
        plot=plot,
        table=dict(plot=table, text=table_text, bands=table_bands),
        tokens=[list(s.tokens) for s in sentences],
        weights=[quantize(s.attentions) for s in sentences],  # (L, H, T, T) uint8 each
        stats=[float32("stats", st) for st in stats],  # (7, L, H) each
        stat_short=list(_SHORT),
        colors=list(HEAD_COLORS[:H]),
        geometry=dict(
            left_box=_LEFT_BOX,
            right_box=_RIGHT_BOX,
            box_w=_BOX_W,
            left_text=_LEFT_TEXT,
            right_text=_RIGHT_TEXT,
            x0=_LINE_X0,
            x1=_LINE_X1,
        ),
        threshold=threshold,
        all_heads_threshold=all_heads_threshold,
    )
    for widget in (sentence, layer_select, head_select, focus):
        widget.js_on_change("value", update)
    pick = js_callback(
        "pretrained_head_focus",
        focus=focus,
        head=head_select,
        tokens_source=tokens_source,
        legend_source=legend_source,
    )
    plot.add_tools(
        HoverTool(renderers=[boxes], tooltips=None, callback=pick, name=f"{name}-hover"),
        TapTool(renderers=[boxes, squares], behavior="inspect", callback=pick, name=f"{name}-tap"),
    )
    controls = row(sentence, layer_select, head_select, focus, name=f"{name}-controls")
    layout = column(controls, hint, row(plot, table), name=name)
    return on_document_ready(layout, update)


# --- model view --------------------------------------------------------------------------------------------
def model_view_grid(attentions) -> np.ndarray:
    """Every head's quantised weights tiled into one image: layers down, heads across, one empty pixel between.

    Parameters
    ----------
    attentions : float array, shape (L, H, T, T)

    Returns
    -------
    grid : uint8 array, shape (L (T + 1) - 1, H (T + 1) - 1)
        ``grid[l (T + 1) + i, h (T + 1) + j] = quantize(attentions[l, h, i, j])``; the gaps hold 0.
    """
    a = as_float_array("attentions", attentions, ndim=4)
    L, H, T, Tk = a.shape
    if T != Tk:
        raise ValueError(f"attentions must have shape (L, H, T, T), got {a.shape}")
    padded = np.zeros((L, T + 1, H, T + 1), np.uint8)
    padded[:, :T, :, :T] = quantize(a).transpose(0, 2, 1, 3)  # (L, T, H, T): query rows, then heads across
    return np.ascontiguousarray(padded.reshape(L * (T + 1), H * (T + 1))[:-1, :-1])


def _detail_heatmap(tokens, weights, name: str, title: str, width: int, height: int):
    """An attention heatmap whose hover shows query, key and weight (no pre-softmax score here)."""
    plot = attention_heatmap(weights, tokens, tokens, name=name, title=title, width=width, height=height)
    plot.select_one(HoverTool).tooltips = [
        ("query", "@q_token"),
        ("key", "@k_token"),
        ("weight", "@weight{0.000}"),
    ]
    return plot


def _heatmap_handles(plot) -> dict:
    """The models a callback changes to redraw a heatmap built by :func:`attention_heatmap`."""
    name = plot.name
    return dict(
        source=plot.select_one({"name": f"{name}-source"}),
        plot=plot,
        xaxis=plot.xaxis[0],
        yaxis=plot.yaxis[0],
    )


def model_view_figure(
    sentences: Sequence[SentenceAttention], *, layer: int = 0, head: int = 0, name: str = "modelview"
):
    """A model view as in BertViz: every layer × head as a thumbnail; tap one (or use the sliders) to enlarge it.

    The thumbnails are one image (:func:`model_view_grid`) with a frame per head; beside the enlarged heatmap,
    the head's statistics on the sentence and their rank among all heads.

    Parameters
    ----------
    sentences : sequence of SentenceAttention
    layer, head : int
        The (0-based) head enlarged first.
    name : str
        Prefix of every model's name.
    """
    sentences = _check_sentences(sentences)
    L, H = sentences[0].attentions.shape[:2]
    layer, head = _check_head(layer, head, L, H)
    head_stats = _statistics(sentences)
    ranks = _ranks(head_stats)
    grids = [model_view_grid(s.attentions) for s in sentences]

    # Data units are image pixels: head h of layer l covers x in [h (T+1), h (T+1) + T], y in -[l (T+1) + T, l (T+1)].
    image_source = ColumnDataSource(
        dict(image=[grids[0]], x=[0], y=[0], dw=[1], dh=[1]), name=f"{name}-image"
    )
    thumbs_source = ColumnDataSource(dict(x=[], y=[], size=[], layer=[], head=[]), name=f"{name}-thumbs")
    frame_source = ColumnDataSource(dict(x=[], y=[], size=[]), name=f"{name}-frame")
    grid = figure(
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
    mapper = LinearColorMapper(palette=list(SEQUENTIAL), low=0, high=QUANT_LEVELS, name=f"{name}-mapper")
    grid.image(
        image="image",
        x="x",
        y="y",
        dw="dw",
        dh="dh",
        source=image_source,
        color_mapper=mapper,
        origin="top_left",
        anchor="top_left",
    )
    thumbs = grid.rect(
        "x", "y", "size", "size", source=thumbs_source, fill_alpha=0, line_color="#c6dbef", line_width=1
    )
    grid.rect(
        "x", "y", "size", "size", source=frame_source, fill_alpha=0, line_color="#d62728", line_width=2.5
    )
    grid.xaxis.ticker = FixedTicker(ticks=[], name=f"{name}-xticks")
    grid.yaxis.ticker = FixedTicker(ticks=[], name=f"{name}-yticks")
    grid.xaxis.axis_label = "head"
    grid.yaxis.axis_label = "layer"
    grid.axis.major_tick_line_color = None
    grid.axis.minor_tick_line_color = None
    grid.axis.axis_line_color = None
    grid.grid.visible = False
    grid.outline_line_color = None

    s0 = sentences[0]
    detail = _detail_heatmap(
        s0.tokens, s0.attentions[layer, head], f"{name}-detail", "Layer 1, head 1", width=420, height=400
    )
    stats, stats_text, stats_bands = _text_panel(f"{name}-stats", width=300, height=400, font_size="9pt")
    sentence = _sentence_select(sentences, name, 400)
    layer_slider = Slider(
        start=1, end=L, value=layer + 1, step=1, title="Layer", name=f"{name}-layer", width=140
    )
    head_slider = Slider(start=1, end=H, value=head + 1, step=1, title="Head", name=f"{name}-head", width=150)

    update = js_callback(
        "pretrained_model_view",
        sentence=sentence,
        layer=layer_slider,
        head=head_slider,
        grid=dict(plot=grid, xaxis=grid.xaxis[0], yaxis=grid.yaxis[0]),
        image_source=image_source,
        thumbs_source=thumbs_source,
        frame_source=frame_source,
        detail=_heatmap_handles(detail),
        stats_panel=dict(plot=stats, text=stats_text, bands=stats_bands),
        tokens=[list(s.tokens) for s in sentences],
        grids=grids,
        stats=[float32("stats", st) for st in head_stats],
        ranks=list(ranks),
        stat_labels=[STATISTIC_LABELS[k] for k in STATISTICS],
        levels=QUANT_LEVELS,
    )
    for widget in (sentence, layer_slider, head_slider):
        widget.js_on_change("value", update)
    tap = js_callback(
        "pretrained_model_tap", layer=layer_slider, head=head_slider, thumbs_source=thumbs_source
    )
    grid.add_tools(
        TapTool(renderers=[thumbs], behavior="inspect", callback=tap, name=f"{name}-tap"),
        HoverTool(
            renderers=[thumbs], tooltips=[("layer", "@layer"), ("head", "@head")], name=f"{name}-hover"
        ),
    )
    controls = row(sentence, layer_slider, head_slider, name=f"{name}-controls")
    layout = column(controls, grid, row(detail, stats), name=name)
    return on_document_ready(layout, update)


# --- patterns ----------------------------------------------------------------------------------------------
def patterns_figure(sentences: Sequence[SentenceAttention], *, k: int = 3, name: str = "patterns"):
    """Where each head pattern lives: a layer × head map of one statistic, its top heads, and a table of all.

    The sentence select also offers the mean of every statistic over all sentences.

    Parameters
    ----------
    sentences : sequence of SentenceAttention
    k : int
        Top heads listed per pattern.
    name : str
        Prefix of every model's name.
    """
    sentences = _check_sentences(sentences)
    L, H = sentences[0].attentions.shape[:2]
    k = check_int("k", k, low=1, high=L * H)
    stats = _statistics(sentences)  # (n, 7, L, H)
    stats = np.concatenate([stats, stats.mean(axis=0, keepdims=True)])  # the last entry: mean over sentences
    tops = []  # per entry: (7, k, 3) as (layer, head, value)
    for st in stats:
        top = top_heads(HeadStatistics(*st), k)
        tops.append(float32("top", [[[s.layer, s.head, s.value] for s in top[key]] for key in STATISTICS]))
    # Entropy's colour scale ends at the largest possible value, log T of the longest sentence.
    highs = [1.0] * len(PATTERNS) + [float(np.log(max(len(s.tokens) for s in sentences)))]

    hh, ll = np.meshgrid(np.arange(H), np.arange(L))
    cells = ColumnDataSource(
        dict(
            x=hh.ravel().astype(np.float32),
            y=(-ll.ravel()).astype(np.float32),
            layer=(ll.ravel() + 1).astype(np.int32),
            head=(hh.ravel() + 1).astype(np.int32),
            value=float32("value", stats[0, 0].ravel()),
            text=[""] * (L * H),
            text_color=["#222222"] * (L * H),
        ),
        name=f"{name}-cells",
    )
    top_source = ColumnDataSource(dict(x=[], y=[], rank=[]), name=f"{name}-top")
    plot = figure(
        name=f"{name}-map",
        width=740,
        height=70 + 44 * L,
        x_range=(-0.5, H - 0.5),
        y_range=(-L + 0.5, 0.5),
        tools="",
        toolbar_location=None,
        x_axis_location="above",
        title="",
    )
    mapper = LinearColorMapper(palette=list(SEQUENTIAL), low=0, high=1, name=f"{name}-mapper")
    rects = plot.rect(
        "x",
        "y",
        0.96,
        0.92,
        source=cells,
        fill_color={"field": "value", "transform": mapper},
        line_color=None,
    )
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
    plot.rect("x", "y", 0.96, 0.92, source=top_source, fill_alpha=0, line_color="#d62728", line_width=2.5)
    plot.xaxis.ticker = FixedTicker(ticks=list(range(H)), name=f"{name}-xticks")
    plot.xaxis.major_label_overrides = {h: str(h + 1) for h in range(H)}
    plot.yaxis.ticker = FixedTicker(ticks=[-li for li in range(L)], name=f"{name}-yticks")
    plot.yaxis.major_label_overrides = {-li: str(li + 1) for li in range(L)}
    plot.xaxis.axis_label = "head"
    plot.yaxis.axis_label = "layer"
    plot.axis.major_tick_line_color = None
    plot.axis.minor_tick_line_color = None
    plot.axis.axis_line_color = None
    plot.grid.visible = False
    plot.outline_line_color = None
    plot.add_tools(
        HoverTool(
            renderers=[rects],
            tooltips=[("layer", "@layer"), ("head", "@head"), ("value", "@value{0.000}")],
            name=f"{name}-hover",
        )
    )

    sentence = _sentence_select(
        sentences, name, 460, extra=[("mean", f"mean over all {len(sentences)} sentences")]
    )
    pattern = Select(
        title="Statistic",
        value=STATISTICS[0],
        options=[(key, STATISTIC_LABELS[key]) for key in STATISTICS],
        name=f"{name}-pattern",
        width=230,
    )
    table, table_text, table_bands = _text_panel(f"{name}-table", width=740, height=40 + 22 * len(STATISTICS))
    update = js_callback(
        "pretrained_patterns",
        sentence=sentence,
        pattern=pattern,
        cells=cells,
        top_source=top_source,
        mapper=mapper,
        plot=plot,
        table=dict(text=table_text, bands=table_bands),
        stats=[float32("stats", st) for st in stats],  # (7, L, H) each, the last one the mean
        tops=tops,
        keys=list(STATISTICS),
        labels=[STATISTIC_LABELS[key] for key in STATISTICS],
        highs=highs,
    )
    for widget in (sentence, pattern):
        widget.js_on_change("value", update)
    layout = column(row(sentence, pattern, name=f"{name}-controls"), plot, table, name=name)
    return on_document_ready(layout, update)


# --- rollout -----------------------------------------------------------------------------------------------
def _summary(m: np.ndarray, tokens: Sequence[str]) -> np.ndarray:
    """Per layer: mean weight of a query on itself, on [CLS] and on [SEP] keys, shape (L, 3)."""
    toks = np.array(tokens, dtype=object)
    diag = np.diagonal(m, axis1=1, axis2=2).mean(axis=-1)  # (L,)
    cls = m[..., toks == "[CLS]"].sum(axis=-1).mean(axis=-1)  # (L,)
    sep = m[..., toks == "[SEP]"].sum(axis=-1).mean(axis=-1)  # (L,)
    return np.stack([diag, cls, sep], axis=-1)


def rollout_figure(
    sentences: Sequence[SentenceAttention], *, layer: int | None = None, name: str = "rollout"
):
    """Raw attention (head mean of one layer) beside attention rollout up to that layer, with a layer slider.

    A toggle switches the residual term of rollout, ``(A + I) / 2``, on and off.

    Parameters
    ----------
    sentences : sequence of SentenceAttention
    layer : int, optional
        The (0-based) layer shown first, the last one by default.
    name : str
        Prefix of every model's name.
    """
    sentences = _check_sentences(sentences)
    L = sentences[0].attentions.shape[0]
    layer = L - 1 if layer is None else check_int("layer", layer, low=0, high=L - 1)
    raw = [float32("raw", raw_attention(s.attentions)) for s in sentences]  # (L, T, T) each
    rolled = [
        [float32("rollout", attention_rollout(s.attentions, residual=r)) for s in sentences]
        for r in (False, True)
    ]
    summary = [
        float32("summary", np.stack([_summary(m, s.tokens) for m in (r, rolled[0][k], rolled[1][k])]))
        for k, (s, r) in enumerate(zip(sentences, raw, strict=True))
    ]  # (3 kinds: raw, rollout without, with residual; L, 3) each

    s0 = sentences[0]
    raw_plot = _detail_heatmap(
        s0.tokens, raw[0][layer], f"{name}-raw", "Raw attention", width=365, height=380
    )
    roll_plot = _detail_heatmap(
        s0.tokens, rolled[1][0][layer], f"{name}-rollout", "Attention rollout", width=365, height=380
    )
    sentence = _sentence_select(sentences, name, 400)
    layer_slider = Slider(
        start=1, end=L, value=layer + 1, step=1, title="Layer", name=f"{name}-layer", width=160
    )
    residual = Toggle(
        label="Residual (A + I) / 2", active=True, name=f"{name}-residual", width=150, align="end"
    )
    note = Div(
        text="The three numbers in each title: the mean weight of a query on <b>itself</b> · on <b>[CLS]</b> · "
        "on <b>[SEP]</b>.",
        name=f"{name}-note",
        width=740,
    )
    update = js_callback(
        "pretrained_rollout",
        sentence=sentence,
        layer=layer_slider,
        residual=residual,
        raw_plot=_heatmap_handles(raw_plot),
        roll_plot=_heatmap_handles(roll_plot),
        tokens=[list(s.tokens) for s in sentences],
        raw=raw,
        rolled=rolled,
        summary=summary,
    )
    for widget, attr in ((sentence, "value"), (layer_slider, "value"), (residual, "active")):
        widget.js_on_change(attr, update)
    controls = row(sentence, layer_slider, residual, name=f"{name}-controls")
    for p in (raw_plot, roll_plot):
        p.title.text_font_size = "9pt"
    layout = column(controls, note, row(raw_plot, roll_plot), name=name)
    return on_document_ready(layout, update)
