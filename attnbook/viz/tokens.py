"""The sentence-builder figure (chapter 1): a sentence's tokens and ids, their embedding rows and dot products.

Payload from embedding tables passed in (:func:`payload`); callback ``js/sentence_builder.mjs``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from bokeh.core.properties import value
from bokeh.layouts import column, row
from bokeh.models import Range1d

from .._checks import as_float_array, check_choice, check_int
from ..data import ADJECTIVES, NOUNS, VERBS
from ..words import WORDS, word_ids
from .core import check_name, diagram_figure, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source, pick
from .kit import (
    cell_value_columns,
    control_row,
    described,
    description,
    empty_source,
    fit,
    labelled_select,
    radio,
    scroller,
    select,
    value_grid,
)

__all__ = [
    "MODES",
    "NO_PRESET",
    "PRESETS",
    "STRUCTURED_TEMPLATE",
    "TokensPayload",
    "payload",
    "layout",
    "sentence_builder_figure",
    "structured_sentence",
]

MODES = ("structured sentence", "preset sentence")
# The preset select's value while the structured sentence is shown: the select says so instead of showing a preset
# that is not on screen. Picking it switches back to the structured sentence.
NO_PRESET = ""
NO_PRESET_LABEL = "— none: the structured sentence is shown —"

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
SLOTS = ("adjective", "noun", "verb", "object-noun")  # the selects' names, in the template's order
_SLOT_CHOICES = dict(zip(SLOTS, (ADJECTIVES, NOUNS, VERBS, NOUNS), strict=True))
_MAX_LABELLED_T = 10  # longer sentences show the (T, T) values on hover only: the cells get too small
# The token strip, in pixels: canvas width and height, glyph width of a character, box padding, gap between
# boxes, row pitch, top of the first row, box height; tints of the boxes of a repeated id.
STRIP = dict(width=740, height=150, char=7.3, pad=12, gap=6, row=44, top=42, box=36)
TINTS = ("#fde0c5", "#d5e8d4", "#dae8fc", "#e1d5e7")
# The heatmaps' extra columns (filled by the callback) and hover.
_EMB_COLUMNS = dict(token="str", id="float", pos="float", dim="str")
_EMB_TIPS = [("token", "@token (position @pos, id @id)"), ("dimension", "@dim"), ("value", "@value{0.000}")]
_SIM_COLUMNS = dict(token_i="str", token_j="str", i="float", j="float")
_SIM_TIPS = [
    ("token i", "@token_i (position @i)"),
    ("token j", "@token_j (position @j)"),
    ("dot product", "@value{0.000}"),
]


def structured_sentence(adjective: str, noun: str, verb: str, object_noun: str) -> str:
    """The sentence of the structured mode, e.g. ``"the big cat sees the dog."``."""
    for slot, word in zip(SLOTS, (adjective, noun, verb, object_noun), strict=True):
        check_choice(slot.replace("-", "_"), word, _SLOT_CHOICES[slot])
    return STRUCTURED_TEMPLATE.format(adjective=adjective, noun=noun, verb=verb, object_noun=object_noun)


def _two_decimals(v: float) -> str:
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


class TokensPayload(NamedTuple):
    """Every embedding table ``E`` (V, C) and its dot products ``E Eᵀ`` (V, V), and how the widgets pick a
    sentence: the structured template with one id per slot select, or a preset's ids."""

    controls: tuple  # mode (0 structured, 1 preset), table, the four slot selects, preset
    axes: dict
    words: tuple  # the vocabulary, V words; id i is words[i]
    tables: tuple  # the tables' labels
    embeddings: np.ndarray  # (n_tables, V, C) float32
    similarities: np.ndarray  # (n_tables, V, V) float32: E Eᵀ
    emb_limits: np.ndarray  # (n_tables,) colour range ± max |E|
    sim_limits: np.ndarray  # (n_tables,) colour range ± max |E Eᵀ|
    template_ids: np.ndarray  # (T0,) ids of the structured sentence (slot positions are overwritten)
    slot_positions: np.ndarray  # (4,) positions of the slots in it
    ids_adjective: np.ndarray  # (8,) id of each option of the adjective select
    ids_noun: np.ndarray
    ids_verb: np.ndarray
    ids_object_noun: np.ndarray
    presets: (
        list  # (1 + n_presets,) records {"ids": [...]}: NO_PRESET's (empty), then each preset sentence's ids
    )
    max_labelled_t: int  # the (T, T) cells show their values up to this T
    strip: dict  # the token strip's geometry (STRIP) and tints

    def sentence(p, state: dict) -> list[int]:
        """The ids of the sentence the widgets select (the callback keeps mode 1 and a preset together)."""
        if state["mode"] == 1 and state["preset"] != NO_PRESET:
            return [int(i) for i in pick(p, "presets", state)["ids"]]
        ids = [int(i) for i in p.template_ids]
        for k, slot in enumerate(SLOTS):
            ids[int(p.slot_positions[k])] = int(pick(p, f"ids_{slot.replace('-', '_')}", state))
        return ids

    def view(p, state: dict) -> dict:
        """The heatmaps' cells, axes, ranges, colour ranges and titles, and the token strip, for ``state``."""
        ids = p.sentence(state)
        tokens = [p.words[i] for i in ids]
        E, S = pick(p, "embeddings", state), pick(p, "similarities", state)  # (V, C), (V, V)
        e_lim, s_lim = float(pick(p, "emb_limits", state)), float(pick(p, "sim_limits", state))
        T, (V, C) = len(ids), E.shape

        def cells(values, limit, show):
            texts = [_two_decimals(v) if show else "" for v in values.tolist()]
            return dict(
                value=values, **cell_value_columns(texts, [abs(v) > 0.6 * limit for v in values.tolist()])
            )

        ii, jj = np.divmod(np.arange(T * C), C)
        emb = dict(x=jj.astype(np.float32), y=-ii.astype(np.float32), **cells(E[ids].ravel(), e_lim, True))
        emb.update(
            token=[tokens[i] for i in ii], id=[ids[i] for i in ii], pos=ii.tolist(), dim=[f"c{j}" for j in jj]
        )
        ii, jj = np.divmod(np.arange(T * T), T)
        sim = dict(x=jj.astype(np.float32), y=-ii.astype(np.float32))
        sim.update(cells(S[np.ix_(ids, ids)].ravel(), s_lim, T <= p.max_labelled_t))
        sim.update(
            token_i=[tokens[i] for i in ii], token_j=[tokens[j] for j in jj], i=ii.tolist(), j=jj.tolist()
        )
        rows, cols = [-i for i in range(T)], list(range(T))
        strip = p._strip(state, ids, tokens, V, C)
        return {
            "description": _describe(tokens, ids, S[np.ix_(ids, ids)], strip["strip-lines"]["text"]),
            "embedding-cells": emb,
            "similarity-cells": sim,
            "embedding-mapper": {"low": -e_lim, "high": e_lim},
            "similarity-mapper": {"low": -s_lim, "high": s_lim},
            "embedding": {"title.text": f"X = E[ids]:  (T, C) = ({T}, {C})", "y_range.start": -T + 0.5},
            "similarity": {
                "title.text": f"Dot products X Xᵀ:  (T, T) = ({T}, {T})",
                "x_range.end": T - 0.5,
                "y_range.start": -T + 0.5,
            },
            "embedding-yticks": {"ticks": rows},
            "similarity-yticks": {"ticks": rows},
            "similarity-xticks": {"ticks": cols},
            "embedding-yaxis": {"major_label_overrides": dict(zip(rows, tokens, strict=True))},
            "similarity-yaxis": {"major_label_overrides": dict(zip(rows, tokens, strict=True))},
            "similarity-xaxis": {"major_label_overrides": dict(zip(cols, tokens, strict=True))},
            **strip,
            # the slot selects are greyed out while a preset is shown
            **{slot: {"disabled": state["mode"] == 1} for slot in SLOTS},
        }

    def _strip(p, state, ids, tokens, V, C) -> dict:
        """Every token in a box over its id (boxes of a repeated id share a tint), wrapped onto a new row when
        the sentence is long; a line above, the shapes of the lookup and the repeats below."""
        g, T = p.strip, len(ids)
        positions: dict[int, list[int]] = {}
        for i, t in enumerate(ids):
            positions.setdefault(t, []).append(i)
        repeats = [(t, pos) for t, pos in positions.items() if len(pos) > 1]
        tint = {t: g["tints"][k % len(g["tints"])] for k, (t, _) in enumerate(repeats)}
        box = {k: [] for k in ("x", "y", "y_token", "y_id", "w", "token", "id_text", "fill")}
        left, y = 4, -g["top"]
        for tok, t in zip(tokens, ids, strict=True):
            id_text = f"id {t}"
            w = max(len(tok), len(id_text)) * g["char"] + g["pad"]
            if left + w > g["width"] - 4 and left > 4:
                left, y = 4, y - g["row"]
            for k, v in zip(
                box, (left + w / 2, y, y + 8, y - 8, w, tok, id_text, tint.get(t, "#ffffff")), strict=True
            ):
                box[k].append(v)
            left += w + g["gap"]
        preset = [c for c in p.controls if c.widget == "preset"][0].values.index(state["preset"])
        source = "Structured sentence" if preset == 0 else f"Preset {preset}"
        table = p.tables[[c for c in p.controls if c.widget == "table"][0].values.index(state["table"])]
        below = y - g["row"] / 2 - 4
        same = ", ".join(f"{p.words[t]} (positions {', '.join(map(str, pos))})" for t, pos in repeats)
        lines = dict(
            x=[4, 4, 4],
            y=[-10, below - 6, below - 24],
            color=["#555555", "#222222", "#222222"],
            text=[
                f"{source} · table: {table} · T = {T} tokens, V = {V}, C = {C}",
                f"one-hot (T, V) = ({T}, {V}) · E (V, C) = ({V}, {C}) → X (T, C) = ({T}, {C})",
                f"same id, same row of E: {same}" if repeats else "no token repeats",
            ],
        )
        return {"strip-boxes": box, "strip-lines": lines}


_WHAT = (
    "Sentence builder: the sentence's tokens with their ids, the embedding rows X = E[ids] as a heatmap of tokens "
    "by dimensions, and the dot products X Xᵀ between every two tokens."
)


def _describe(tokens, ids, sims, lines) -> dict:
    """The figure's description: the sentence and its ids, the strip's lines, the largest dot product."""
    T = len(ids)
    text = f"Sentence “{' '.join(tokens)}” (ids {', '.join(map(str, ids))}). " + ". ".join(lines) + "."
    pairs = [(i, j) for i in range(T) for j in range(i + 1, T)]
    if pairs:
        i, j = pairs[int(np.argmax([sims[i, j] for i, j in pairs]))]
        text += (
            f" Largest dot product between two positions: {_two_decimals(float(sims[i, j]))}, "
            f"“{tokens[i]}” ({i}) with “{tokens[j]}” ({j})."
        )
    return described(_WHAT, html.escape(text))


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


def _check_presets(presets) -> list[list[int]]:
    if isinstance(presets, str) or not isinstance(presets, Sequence) or not presets:
        raise TypeError("presets must be a non-empty sequence of sentences (str)")
    if len(set(presets)) != len(presets):
        raise ValueError("presets must be distinct")
    out = []
    for k, sentence in enumerate(presets):
        if not isinstance(sentence, str):
            raise TypeError(f"presets[{k}] must be a str, got {type(sentence).__name__}")
        if sentence == NO_PRESET:
            raise ValueError(f"presets[{k}] must be a sentence, got {NO_PRESET!r} (the select's 'none')")
        out.append([int(i) for i in word_ids(sentence)[1]])  # ValueError naming unknown words
    return out


def _limit(x: np.ndarray) -> float:
    """Colour range ±limit that covers ``x`` (1 for an all-zero array)."""
    m = float(np.abs(x).max())
    return m if m > 0 else 1.0


def payload(tables: Mapping[str, np.ndarray], *, presets: Sequence[str] = PRESETS) -> TokensPayload:
    """Every table ``E`` and its dot products ``E Eᵀ`` as float32, and the ids the sentence widgets select.

    Parameters
    ----------
    tables : mapping of str to (V, C) float arrays
        Embedding tables by label (shown in the table select), one row per word of :data:`attnbook.words.WORDS`,
        all of the same width C.
    presets : sequence of str
        Preset sentences in the vocabulary of ``WORDS`` (at least one, distinct).
    """
    labels, arrays = _check_tables(tables)
    preset_ids = _check_presets(presets)
    embeddings = np.stack(arrays).astype(np.float32)  # (n_tables, V, C)
    similarities = np.stack([e @ e.T for e in arrays]).astype(np.float32)  # (n_tables, V, V)
    fill = {slot: "{" + slot.replace("-", "_") + "}" for slot in SLOTS}
    template = STRUCTURED_TEMPLATE.replace(".", " .").split()
    slot_ids = {
        f"ids_{slot.replace('-', '_')}": np.array([word_ids(w)[1][0] for w in _SLOT_CHOICES[slot]], np.int32)
        for slot in SLOTS
    }
    controls = (
        Control("mode", (0, 1), "active"),
        Control("table", tuple(labels)),
        *(Control(slot, tuple(_SLOT_CHOICES[slot])) for slot in SLOTS),
        Control("preset", (NO_PRESET, *presets)),
    )
    axes = {"embeddings": ("table",), "similarities": ("table",), "emb_limits": ("table",)}
    axes.update(sim_limits=("table",), presets=("preset",))
    axes.update({f"ids_{slot.replace('-', '_')}": (slot,) for slot in SLOTS})
    return TokensPayload(
        controls=controls,
        axes=axes,
        words=tuple(WORDS),
        tables=tuple(labels),
        embeddings=embeddings,
        similarities=similarities,
        emb_limits=np.array([_limit(e) for e in embeddings], np.float32),
        sim_limits=np.array([_limit(s) for s in similarities], np.float32),
        template_ids=word_ids(structured_sentence(ADJECTIVES[0], NOUNS[0], VERBS[0], NOUNS[0]))[1].astype(
            np.int32
        ),
        slot_positions=np.array([template.index(fill[slot]) for slot in SLOTS], np.int32),
        **slot_ids,
        presets=[{"ids": []}] + [{"ids": ids} for ids in preset_ids],
        max_labelled_t=_MAX_LABELLED_T,
        strip={**STRIP, "tints": list(TINTS)},
    )


def layout(
    p: TokensPayload,
    *,
    name: str = "tokens",
    mode: int = 0,
    table: str | None = None,
    structured: Sequence[str] = ("big", "cat", "sees", "dog"),
    preset: str | None = None,
):
    """The figure: mode and table, the slot selects, the preset select, the token strip, X and X Xᵀ side by side.

    ``structured`` is the (adjective, noun, verb, object noun) the slot selects show first.
    """
    check_name(name)
    check_payload(p)
    values = {c.widget: c.values for c in p.controls}
    state = _initial_state(p, mode, table, structured, preset)
    tokens0 = [p.words[i] for i in p.sentence(state)]
    dims = [f"c{j}" for j in range(p.embeddings.shape[2])]
    widgets = {
        "mode": radio(f"{name}-mode", MODES, mode),
        "table": select(f"{name}-table", "Embedding table", values["table"], state["table"], width=250),
        **{s: select(f"{name}-{s}", s.replace("-", " "), values[s], state[s], width=110) for s in SLOTS},
        "preset": labelled_select(
            f"{name}-preset",
            "Preset sentence",
            [(v, v or NO_PRESET_LABEL) for v in values["preset"]],
            state["preset"],
            width=370,
        ),
    }
    emb, emb_cells, emb_mapper = value_grid(
        f"{name}-embedding", "X = E[ids]", tokens0, dims, tooltips=_EMB_TIPS, width=330, **_EMB_COLUMNS
    )
    emb.xaxis.major_label_orientation = 0
    sim, sim_cells, sim_mapper = value_grid(
        f"{name}-similarity",
        "Dot products X Xᵀ",
        tokens0,
        tokens0,
        tooltips=_SIM_TIPS,
        width=400,
        height=380,
        **_SIM_COLUMNS,
    )
    strip, boxes, lines = _token_strip(name)
    update = js_callback(
        "sentence_builder",
        payload=payload_source(p, name=name),
        widgets=widgets,
        plots=[emb, sim],
        sources=[emb_cells, sim_cells],
        mappers=[emb_mapper, sim_mapper],
        axes=[emb.yaxis[0], sim.yaxis[0], sim.xaxis[0]],
        strip_boxes=boxes,
        strip_lines=lines,
        description=description(name, _WHAT),
    )
    for s in SLOTS:
        widgets[s].disabled = state["mode"] == 1
    for c in p.controls:
        widgets[c.widget].js_on_change(c.attr, update)  # a slot or preset select also switches the mode
    controls = column(
        control_row(f"{name}-controls-top", widgets["mode"], widgets["table"]),
        control_row(f"{name}-controls-structured", *(widgets[s] for s in SLOTS)),
        control_row(f"{name}-controls-preset", widgets["preset"]),
        name=f"{name}-controls",
    )
    fig = column(controls, scroller(strip), row(emb, sim, name=f"{name}-views"), name=name)
    return on_document_ready(fit(fig), update)


def _initial_state(p: TokensPayload, mode, table, structured, preset) -> dict:
    """The widgets' first state, each value checked against its control's values."""
    values = {c.widget: c.values for c in p.controls}
    state = {"mode": check_int("mode", mode, low=0, high=1)}
    state["table"] = values["table"][0] if table is None else table
    if isinstance(structured, str) or len(structured) != len(SLOTS):
        raise ValueError(f"structured must be ({', '.join(SLOTS)}), got {structured!r}")
    state.update(zip(SLOTS, structured, strict=True))
    if preset is None:  # the structured sentence: no preset; a preset: the first
        preset = values["preset"][state["mode"]]
    if (preset == NO_PRESET) != (state["mode"] == 0):
        raise ValueError(
            f"preset must be {NO_PRESET!r} in the structured mode and a preset sentence in the other"
        )
    state["preset"] = preset
    for key, v in state.items():
        if key != "mode":
            check_choice(key.replace("-", "_") if key in SLOTS else key, v, values[key])
    return state


def sentence_builder_figure(
    tables: Mapping[str, np.ndarray], *, presets: Sequence[str] = PRESETS, name: str = "tokens", **initial
):
    """``layout(payload(tables, presets=presets))``: the figure the chapter shows (``initial``: mode, table,
    structured, preset)."""
    return layout(payload(tables, presets=presets), name=name, **initial)


def _token_strip(name: str):
    """The strip of token boxes (token over its id) with a line above and two below, drawn on a canvas.

    A canvas, not HTML: replacing a Div's HTML makes Bokeh re-lay out the whole page, which cost the
    callback three times its own work. Data units are pixels; the callback places the boxes.
    """
    w, h = STRIP["width"], STRIP["height"]
    plot = diagram_figure(
        name=f"{name}-strip",
        width=w,
        height=h,
        x_range=Range1d(0, w, name=f"{name}-strip-x-range"),
        y_range=Range1d(-h, 0, name=f"{name}-strip-y-range"),
        min_border=0,
    )
    boxes = empty_source(
        f"{name}-strip-boxes",
        0,
        x="float",
        y="float",
        y_token="float",
        y_id="float",
        w="float",
        token="str",
        id_text="str",
        fill="str",
    )
    lines = empty_source(f"{name}-strip-lines", 0, x="float", y="float", text="str", color="str")
    plot.rect(
        "x", "y", "w", STRIP["box"], source=boxes, fill_color="fill", line_color="#bbbbbb", line_width=1
    )
    for text, y, color, style in (
        ("token", "y_token", "#222222", "bold"),
        ("id_text", "y_id", "#666666", "normal"),
    ):
        plot.text(
            "x",
            y,
            text=text,
            source=boxes,
            text_align="center",
            text_baseline="middle",
            text_font=value("monospace"),  # a value: a bare string would name a column (Bokeh's E-1001)
            text_font_size="9pt",
            text_color=color,
            text_font_style=style,
        )
    plot.text(
        "x", "y", text="text", source=lines, text_color="color", text_font_size="9pt", text_baseline="middle"
    )
    return plot, boxes, lines
