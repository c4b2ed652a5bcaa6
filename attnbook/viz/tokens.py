"""The sentence-builder figure: tokens, their ids, their embedding rows and their dot-product similarities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    HoverTool,
    LinearColorMapper,
    RadioButtonGroup,
    Range1d,
    Select,
)
from bokeh.plotting import figure

from .._checks import as_float_array, check_choice
from ..data import ADJECTIVES, NOUNS, VERBS
from ..words import WORDS, word_ids
from .core import DIVERGING, check_name, diagram_figure, float32, js_callback, on_document_ready
from .heatmap import label_axes

__all__ = ["MODES", "PRESETS", "STRUCTURED_TEMPLATE", "sentence_builder_figure", "structured_sentence"]

MODES = ("structured sentence", "preset sentence")
_STRIP_WIDTH, _STRIP_HEIGHT, _BOX_HEIGHT = 740, 150, 36  # pixels

# Preset sentences of different lengths. "the dog sees the dog." repeats two tokens; the list of words by
# class shows the block structure of a learned table; "a" never occurs in the training corpus.
PRESETS = (
    "the dog.",
    "the cat sees the dog.",
    "the dog sees the dog.",
    "the old king loves the young queen.",
    "a clever girl helps a happy boy.",
    "the small red bird finds the big old frog.",
    "big red old cat dog king sees likes helps",
    "the happy girl likes the quiet boy. the boy hears the girl.",
)

# The structured sentence: "the" appears twice, so two rows always share one embedding vector.
STRUCTURED_TEMPLATE = "the {adjective} {noun} {verb} the {object_noun}."
_SLOTS = ("adjective", "noun", "verb", "object_noun")
_SLOT_CHOICES = {"adjective": ADJECTIVES, "noun": NOUNS, "verb": VERBS, "object_noun": NOUNS}
_MAX_LABELLED_T = 10  # longer sentences show the (T, T) values on hover only: the cells get too small
_SLOT_TITLES = {"adjective": "adjective", "noun": "noun", "verb": "verb", "object_noun": "object noun"}


def structured_sentence(adjective: str, noun: str, verb: str, object_noun: str) -> str:
    """The sentence of the structured mode, e.g. ``"the big cat sees the dog."``."""
    for slot, value in zip(_SLOTS, (adjective, noun, verb, object_noun), strict=True):
        check_choice(slot, value, _SLOT_CHOICES[slot])
    return STRUCTURED_TEMPLATE.format(adjective=adjective, noun=noun, verb=verb, object_noun=object_noun)


def _check_tables(tables) -> tuple[list[str], list[np.ndarray]]:
    if not isinstance(tables, Mapping) or not tables:
        raise TypeError("tables must be a non-empty mapping of label -> (V, C) embedding table")
    labels, arrays = [], []
    for label, table in tables.items():
        if not isinstance(label, str):
            raise TypeError(f"tables keys must be str labels, got {type(label).__name__}")
        table = as_float_array(f"tables[{label!r}]", table, ndim=2)
        if table.shape[0] != len(WORDS):
            raise ValueError(
                f"tables[{label!r}] must have one row per word of WORDS (V={len(WORDS)}), got {table.shape}"
            )
        if arrays and table.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"all tables must have the same width C, got {table.shape[1]} and {arrays[0].shape[1]}"
            )
        labels.append(label)
        arrays.append(table)
    return labels, arrays


def _symmetric_limit(x: np.ndarray) -> float:
    """Colour range ±limit that covers ``x`` (1 for an all-zero array)."""
    m = float(np.abs(x).max())
    return m if m > 0 else 1.0


def sentence_builder_figure(
    tables: Mapping[str, np.ndarray],
    *,
    presets: Sequence[str] = PRESETS,
    structured: Sequence[str] = ("big", "cat", "sees", "dog"),
    name: str = "tokens",
):
    """Build the sentence builder: structured or preset sentence, embedding table select, three views.

    The views are a strip of tokens with their ids, the embedding rows ``X = E[ids]`` as a (T, C) heatmap
    and the dot products ``X Xᵀ`` as a (T, T) heatmap with hover. Every table ``E`` (V, C) and its
    similarity table ``E Eᵀ`` (V, V) are computed here and shipped as float32; the page only gathers rows
    and columns by token id.

    Parameters
    ----------
    tables : mapping of str to (V, C) float arrays
        Embedding tables by label (shown in the table select), one row per word of :data:`attnbook.words.WORDS`,
        all of the same width C.
    presets : sequence of str
        Preset sentences in the vocabulary of ``WORDS`` (at least one).
    structured : (adjective, noun, verb, object noun)
        The structured sentence shown first (see :data:`STRUCTURED_TEMPLATE`).
    name : str
        Prefix of every model's name (``<name>-mode``, ``<name>-embedding-source``...), for tests.
    """
    labels, arrays = _check_tables(tables)
    check_name(name)
    if isinstance(presets, str) or not isinstance(presets, Sequence) or not presets:
        raise TypeError("presets must be a non-empty sequence of sentences (str)")
    if len(set(presets)) != len(presets):
        raise ValueError("presets must be distinct")
    preset_ids = []
    for k, sentence in enumerate(presets):
        if not isinstance(sentence, str):
            raise TypeError(f"presets[{k}] must be a str, got {type(sentence).__name__}")
        preset_ids.append(word_ids(sentence)[1])  # ValueError naming unknown words
    if isinstance(structured, str) or len(structured) != len(_SLOTS):
        raise ValueError(f"structured must be ({', '.join(_SLOTS)}), got {structured!r}")
    tokens0, ids0 = word_ids(structured_sentence(*structured))
    template_ids = [int(i) for i in ids0]
    slot_positions = [tokens0.index(w) for w in structured[:3]] + [len(tokens0) - 2]  # object noun before "."

    V, C = arrays[0].shape
    embeddings = [float32("tables", t) for t in arrays]  # (V, C) each
    similarities = [float32("similarities", t @ t.T) for t in arrays]  # (V, V) each: every pair of words
    emb_limits = [_symmetric_limit(e) for e in embeddings]
    sim_limits = [_symmetric_limit(s) for s in similarities]
    dims = [f"c{j}" for j in range(C)]
    T0 = len(tokens0)

    # --- widgets -----------------------------------------------------------------------------------------
    mode = RadioButtonGroup(labels=list(MODES), active=0, name=f"{name}-mode")
    table = Select(title="Embedding table", value=labels[0], options=labels, name=f"{name}-table", width=250)
    slots = {
        slot: Select(
            title=_SLOT_TITLES[slot],
            value=value,
            options=list(_SLOT_CHOICES[slot]),
            width=110,
            name=f"{name}-{slot.replace('_', '-')}",
        )
        for slot, value in zip(_SLOTS, structured, strict=True)
    }
    preset = Select(
        title="Preset sentence",
        value="0",
        options=[(str(k), s) for k, s in enumerate(presets)],
        name=f"{name}-preset",
        width=330,
    )
    strip, strip_boxes, strip_lines = _token_strip(name)

    # --- (T, C) embedding heatmap and (T, T) similarity heatmap ----------------------------------------------
    emb_source = ColumnDataSource(
        _embedding_columns(tokens0, ids0, embeddings[0], emb_limits[0]), name=f"{name}-embedding-source"
    )
    emb_plot, emb_mapper = _matrix_plot(
        f"{name}-embedding",
        f"X = E[ids]:  (T, C) = ({T0}, {C})",
        emb_source,
        (T0, C),
        emb_limits[0],
        [("token", "@token (position @pos, id @id)"), ("dimension", "@dim"), ("value", "@value{0.000}")],
        size=(330, 340),
    )
    label_axes(emb_plot, tokens0, dims)
    emb_plot.xaxis.major_label_orientation = 0

    sim_source = ColumnDataSource(
        _similarity_columns(tokens0, ids0, similarities[0], sim_limits[0]), name=f"{name}-similarity-source"
    )
    sim_plot, sim_mapper = _matrix_plot(
        f"{name}-similarity",
        f"Dot products X Xᵀ:  (T, T) = ({T0}, {T0})",
        sim_source,
        (T0, T0),
        sim_limits[0],
        [
            ("token i", "@token_i (position @i)"),
            ("token j", "@token_j (position @j)"),
            ("dot product", "@value{0.000}"),
        ],
        size=(400, 380),
    )
    label_axes(sim_plot, tokens0, tokens0)
    for plot in (emb_plot, sim_plot):
        _name_parts(plot)

    # --- callbacks ----------------------------------------------------------------------------------------
    common = dict(
        mode=mode,
        table=table,
        adjective=slots["adjective"],
        noun=slots["noun"],
        verb=slots["verb"],
        object_noun=slots["object_noun"],
        preset=preset,
        strip_boxes=strip_boxes,
        strip_lines=strip_lines,
        strip_width=_STRIP_WIDTH,
        emb_source=emb_source,
        emb_plot=emb_plot,
        emb_mapper=emb_mapper,
        emb_yaxis=emb_plot.yaxis[0],
        sim_source=sim_source,
        sim_plot=sim_plot,
        sim_mapper=sim_mapper,
        sim_xaxis=sim_plot.xaxis[0],
        sim_yaxis=sim_plot.yaxis[0],
        words=list(WORDS),
        labels=labels,
        embeddings=embeddings,
        similarities=similarities,
        emb_limits=emb_limits,
        sim_limits=sim_limits,
        preset_ids=[[int(i) for i in p] for p in preset_ids],
        template_ids=template_ids,
        slot_positions=slot_positions,
        slot_options=[list(_SLOT_CHOICES[s]) for s in _SLOTS],
        slot_option_ids=[[int(word_ids(w)[1][0]) for w in _SLOT_CHOICES[s]] for s in _SLOTS],
        max_labelled_t=_MAX_LABELLED_T,
    )

    # One callback for every widget (the arrays travel once); it tells the widgets apart by cb_obj.
    update = js_callback("sentence_builder", **common)
    update.name = f"{name}-update"
    mode.js_on_change("active", update)
    table.js_on_change("value", update)
    for select in slots.values():
        select.js_on_change("value", update)  # also switches to the structured mode
    preset.js_on_change("value", update)  # also switches to the preset mode

    controls = column(
        row(mode, table, name=f"{name}-controls-top"),
        row(*slots.values(), name=f"{name}-controls-structured"),
        row(preset, name=f"{name}-controls-preset"),
        name=f"{name}-controls",
    )
    layout = column(controls, strip, row(emb_plot, sim_plot, name=f"{name}-views"), name=name)
    return on_document_ready(layout, update)


def _token_strip(name: str):
    """The strip of token boxes (token over its id) with a line above and two below, drawn on a canvas.

    A canvas, not HTML: replacing a Div's HTML makes Bokeh re-lay out the whole page, which cost the
    callback three times its own work. Data units are pixels; the callback places the boxes and wraps them
    onto a second row when the sentence is long.
    """
    plot = diagram_figure(
        name=f"{name}-strip",
        width=_STRIP_WIDTH,
        height=_STRIP_HEIGHT,
        x_range=Range1d(0, _STRIP_WIDTH, name=f"{name}-strip-x-range"),
        y_range=Range1d(-_STRIP_HEIGHT, 0, name=f"{name}-strip-y-range"),
        min_border=0,
    )
    boxes = ColumnDataSource(
        dict(x=[], y=[], y_token=[], y_id=[], w=[], token=[], id_text=[], fill=[]), name=f"{name}-strip-boxes"
    )
    lines = ColumnDataSource(dict(x=[], y=[], text=[], color=[]), name=f"{name}-strip-lines")
    plot.rect("x", "y", "w", _BOX_HEIGHT, source=boxes, fill_color="fill", line_color="#bbbbbb", line_width=1)
    for field, y, color, style in (
        ("token", "y_token", "#222222", "bold"),
        ("id_text", "y_id", "#666666", "normal"),
    ):
        plot.text(
            "x",
            y,
            text=field,
            source=boxes,
            text_align="center",
            text_baseline="middle",
            text_font="monospace",
            text_font_size="9pt",
            text_color=color,
            text_font_style=style,
        )
    plot.text(
        "x", "y", text="text", source=lines, text_color="color", text_font_size="9pt", text_baseline="middle"
    )
    return plot, boxes, lines


def _matrix_plot(name: str, title: str, source, shape: tuple[int, int], limit: float, tooltips, *, size):
    """A signed heatmap of ``source`` (rows down, columns across) with its colour bar and hover; returns
    the plot and its colour mapper (the callback rescales both when the sentence or the table changes)."""
    n_rows, n_cols = shape
    plot = figure(
        name=name,
        title=title,
        width=size[0],
        height=size[1],
        x_range=Range1d(-0.5, n_cols - 0.5, name=f"{name}-x-range"),
        y_range=Range1d(-n_rows + 0.5, 0.5, name=f"{name}-y-range"),
        x_axis_location="above",
        tools="",
        toolbar_location=None,
    )
    mapper = LinearColorMapper(palette=list(DIVERGING), low=-limit, high=limit, name=f"{name}-mapper")
    cells = plot.rect(
        "x",
        "y",
        1,
        1,
        source=source,
        line_color="white",
        line_width=0.5,
        fill_color={"field": "value", "transform": mapper},
    )
    _cell_text(plot, source)
    plot.add_tools(HoverTool(renderers=[cells], name=f"{name}-hover", tooltips=tooltips))
    plot.add_layout(ColorBar(color_mapper=mapper, width=8, name=f"{name}-colorbar"), "right")
    return plot, mapper


def _name_parts(plot) -> None:
    """Name the parts Bokeh creates inside a figure (axes, title, renderers), so tests can find every model."""
    plot.title.name = f"{plot.name}-title"
    for side, axis in (("x", plot.xaxis[0]), ("y", plot.yaxis[0])):
        axis.name = f"{plot.name}-{side}axis"
        axis.formatter.name = f"{plot.name}-{side}formatter"
    for k, renderer in enumerate(plot.renderers):
        renderer.name = f"{plot.name}-renderer-{k}"


def _fmt(v: float) -> str:
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


def _cell_text(plot, source) -> None:
    """Cell values as text: dark on light cells (column ``label``), white on the dark ends (``label_light``).

    Two glyphs with fixed colours rather than one with a per-cell colour column: BokehJS 3.9 fails to paint
    a text glyph whose colour column changes length with the data.
    """
    for field, color in (("label", "#222222"), ("label_light", "white")):
        plot.text(
            "x",
            "y",
            text=field,
            source=source,
            text_align="center",
            text_baseline="middle",
            text_font_size="7pt",
            text_color=color,
        )


def _labels(value: np.ndarray, limit: float, show: bool = True) -> dict[str, list[str]]:
    """The ``label``/``label_light`` columns: each value goes to one of them, by the darkness of its cell."""
    dark = [abs(v) > 0.6 * limit for v in value.tolist()]
    text = [_fmt(v) if show else "" for v in value.tolist()]
    return dict(
        label=["" if d else t for d, t in zip(dark, text, strict=True)],
        label_light=[t if d else "" for d, t in zip(dark, text, strict=True)],
    )


def _embedding_columns(tokens, ids, table, limit) -> dict:
    """The (T, C) heatmap's columns: cell (i, j) at x = j, y = -i (the page rebuilds them the same way)."""
    T, C = len(tokens), table.shape[1]
    ii, jj = np.meshgrid(np.arange(T), np.arange(C), indexing="ij")  # (T, C)
    value = table[ids].ravel()  # (T * C,)
    return dict(
        x=jj.ravel().astype(np.float32),
        y=-ii.ravel().astype(np.float32),
        value=value,
        **_labels(value, limit),
        token=[tokens[i] for i in ii.ravel()],
        id=[int(ids[i]) for i in ii.ravel()],
        pos=ii.ravel().tolist(),
        dim=[f"c{j}" for j in jj.ravel()],
    )


def _similarity_columns(tokens, ids, similarity, limit) -> dict:
    """The (T, T) heatmap's columns: cell (i, j) = similarity[ids[i], ids[j]] at x = j, y = -i."""
    T = len(tokens)
    ii, jj = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")  # (T, T)
    value = similarity[np.ix_(ids, ids)].ravel()  # (T * T,)
    return dict(
        x=jj.ravel().astype(np.float32),
        y=-ii.ravel().astype(np.float32),
        value=value,
        **_labels(value, limit, show=T <= _MAX_LABELLED_T),
        token_i=[tokens[i] for i in ii.ravel()],
        token_j=[tokens[j] for j in jj.ravel()],
        i=ii.ravel().tolist(),
        j=jj.ravel().tolist(),
    )
