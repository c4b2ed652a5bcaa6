"""The sentence-builder figure: payload against NumPy, what each state shows, names, Bokeh validation, bad input."""

import numpy as np
import pytest
from bokeh.core.validation.check import check_integrity
from bokeh.models import ColumnDataSource, RadioButtonGroup, Widget

from attnbook.data import ADJECTIVES, NOUNS, VERBS
from attnbook.viz.figure import pick
from attnbook.viz.kit import cell_value_columns, radio
from attnbook.viz.tokens import (
    NO_PRESET,
    PRESETS,
    SLOTS,
    layout,
    payload,
    sentence_builder_figure,
    structured_sentence,
)
from attnbook.words import WORDS, word_ids, word_table
from attnbook.wordvec import unit_rows

C = 6


@pytest.fixture(scope="module")
def tables():
    return {"random": unit_rows(word_table(C, seed=1)), "other": word_table(C, seed=2)}


@pytest.fixture(scope="module")
def p(tables):
    return payload(tables)


def state(mode=0, table="random", words=("red", "cat", "sees", "cat"), preset=None):
    if preset is None:  # the preset select reads "none" exactly when the structured sentence is shown
        preset = NO_PRESET if mode == 0 else PRESETS[0]
    return {"mode": mode, "table": table, **dict(zip(SLOTS, words, strict=True)), "preset": preset}


def dot_products(table, ids):
    """Entry (i, j) of X Xᵀ, pair by pair: the reference the payload's gathered E Eᵀ must match."""
    return np.array([[sum(table[a, c] * table[b, c] for c in range(C)) for b in ids] for a in ids])


def test_payload_holds_every_table_and_its_dot_products(p, tables):
    assert p.tables == tuple(tables) and p.words == tuple(WORDS)
    assert p.embeddings.dtype == np.float32 and p.similarities.dtype == np.float32
    for k, table in enumerate(tables.values()):
        np.testing.assert_allclose(p.embeddings[k], table, rtol=1e-6)
        np.testing.assert_allclose(
            p.similarities[k], dot_products(table, range(len(WORDS))), rtol=1e-5, atol=1e-6
        )
        assert p.emb_limits[k] == np.float32(np.abs(table).max())


@pytest.mark.parametrize(
    ("st", "sentence"),
    [
        (state(), "the red cat sees the cat."),
        (
            state(words=("clever", "queen", "hears", "frog"), table="other"),
            "the clever queen hears the frog.",
        ),
        (state(mode=1, preset=PRESETS[2]), PRESETS[2]),
        (state(mode=1, preset=PRESETS[-1], table="other"), PRESETS[-1]),
    ],
)
def test_view_gathers_rows_and_dot_products_of_the_sentence(p, tables, st, sentence):
    tokens, ids = word_ids(sentence)
    T, table = len(tokens), tables[st["table"]]
    assert p.sentence(st) == ids.tolist()
    shown = p.view(st)
    emb, sim = shown["embedding-cells"], shown["similarity-cells"]
    np.testing.assert_allclose(emb["value"].reshape(T, C), table[ids], rtol=1e-6)
    np.testing.assert_allclose(sim["value"].reshape(T, T), dot_products(table, ids), rtol=1e-5, atol=1e-6)
    assert emb["token"][::C] == tokens and emb["dim"][:C] == [f"c{j}" for j in range(C)]
    assert sim["token_i"][::T] == tokens and sim["token_j"][:T] == tokens
    # every value is written once, white on the dark cells, and only while the (T, T) cells are large enough
    limit = float(pick(p, "sim_limits", st))
    for k, v in enumerate(sim["value"].tolist()):
        text = sim["label_light"][k] if abs(v) > 0.6 * limit else sim["label"][k]
        assert text == ("" if T > 10 else f"{v:.2f}".replace("-0.00", "0.00"))
    assert all(sim["label"][k] == "" or sim["label_light"][k] == "" for k in range(T * T))
    assert shown["similarity-yaxis"]["major_label_overrides"] == {-i: t for i, t in enumerate(tokens)}
    assert shown["similarity-xticks"]["ticks"] == list(range(T))
    assert shown["embedding"]["title.text"] == f"X = E[ids]:  (T, C) = ({T}, {C})"
    assert shown["similarity-mapper"] == {"low": -limit, "high": limit}
    assert shown["strip-boxes"]["token"] == tokens
    assert shown["strip-boxes"]["id_text"] == [f"id {i}" for i in ids]


def test_repeated_tokens_share_a_row_and_a_tint(p):
    shown = p.view(state(words=("red", "cat", "sees", "cat")))  # the red cat sees the cat .
    x = shown["embedding-cells"]["value"].reshape(-1, C)
    np.testing.assert_array_equal(x[0], x[4])
    np.testing.assert_array_equal(x[2], x[5])
    fill = shown["strip-boxes"]["fill"]
    assert fill[0] == fill[4] != fill[2] == fill[5] and fill[1] == "#ffffff"
    assert (
        shown["strip-lines"]["text"][2]
        == "same id, same row of E: the (positions 0, 4), cat (positions 2, 5)"
    )
    assert p.view(state(mode=1, preset="the dog."))["strip-lines"]["text"][2] == "no token repeats"


def test_long_sentences_wrap_the_strip(tables):
    long = (
        "the happy girl likes the quiet boy. the boy hears the girl. the clever queen follows the old king."
    )
    p = payload(tables, presets=["the dog.", long])
    boxes = p.view(state(mode=1, preset=long))["strip-boxes"]
    assert len(set(boxes["y"])) == 2  # two rows of boxes
    assert max(x + w / 2 for x, w in zip(boxes["x"], boxes["w"], strict=True)) <= 740
    lines = p.view(state(mode=1, preset=long))["strip-lines"]["text"]
    assert lines[0].startswith("Preset 2 · table: random · T = 22 tokens")


def test_the_slot_selects_offer_their_word_classes(p):
    values = {c.widget: c.values for c in p.controls}
    assert values["adjective"] == ADJECTIVES and values["verb"] == VERBS
    assert values["noun"] == values["object-noun"] == NOUNS
    assert [WORDS[i] for i in p.ids_object_noun] == list(NOUNS)
    assert structured_sentence("big", "dog", "likes", "frog") == "the big dog likes the frog."


@pytest.fixture(scope="module")
def fig(tables):
    return sentence_builder_figure(tables, structured=("red", "cat", "sees", "cat"))


def test_every_widget_and_source_is_named_and_drives_the_callback(fig, p):
    models = list(fig.document.models)
    for m in models:
        if isinstance(m, (Widget, ColumnDataSource)):
            assert m.name and m.name.startswith("tokens-"), m
    names = [m.name for m in models if m.name]
    assert len(names) == len(set(names)), "names must be unique"
    for c in p.controls:
        widget = fig.select_one({"name": f"tokens-{c.widget}"})
        assert widget.js_property_callbacks[f"change:{c.attr}"], c.widget
    assert isinstance(fig.select_one({"name": "tokens-mode"}), RadioButtonGroup)
    assert fig.select_one({"name": "tokens-adjective"}).value == "red"
    for role in ("embedding-cells", "similarity-cells", "strip-boxes", "strip-lines", "similarity-yaxis"):
        assert fig.select_one({"name": f"tokens-{role}"}) is not None, role


def test_the_document_passes_bokeh_validation(fig):
    """Chapter 1 printed E-1001 (a glyph naming a column its source lacks): no error or warning may remain."""
    issues = check_integrity(list(fig.document.models))
    assert not issues.error, issues.error
    assert not issues.warning, issues.warning


def test_width_fits_the_text_column(fig):
    views = fig.select_one({"name": "tokens-views"})
    assert sum(p.width for p in views.children) <= 740


def test_kit_cell_value_columns_and_radio():
    assert cell_value_columns(["a", "b"], [True, False]) == {"label": ["", "b"], "label_light": ["a", ""]}
    with pytest.raises(ValueError, match="dark"):
        cell_value_columns(["a"], [True, False])
    with pytest.raises(ValueError, match="active"):
        radio("r", ["x", "y"], active=2)


@pytest.mark.parametrize(
    ("tables", "kwargs", "err", "match"),
    [
        ([np.zeros((len(WORDS), 3))], {}, TypeError, "tables"),
        ({}, {}, TypeError, "tables"),
        ({"a": np.zeros((5, 3))}, {}, ValueError, "tables"),
        ({"a": np.zeros((len(WORDS), 3)), "b": np.zeros((len(WORDS), 4))}, {}, ValueError, "width"),
        ({"a": np.zeros((len(WORDS), 3), dtype=np.int64)}, {}, TypeError, "tables"),
        ({"a": np.full((len(WORDS), 3), np.nan)}, {}, ValueError, "tables"),
        ({1: np.zeros((len(WORDS), 3))}, {}, TypeError, "tables"),
        ({"a": np.zeros((len(WORDS), 3))}, {"presets": ["the unicorn."]}, ValueError, "unicorn"),
        ({"a": np.zeros((len(WORDS), 3))}, {"presets": ["the dog.", "the dog."]}, ValueError, "presets"),
        ({"a": np.zeros((len(WORDS), 3))}, {"presets": "the dog."}, TypeError, "presets"),
        ({"a": np.zeros((len(WORDS), 3))}, {"presets": ["the dog.", 3]}, TypeError, "presets"),
    ],
)
def test_payload_bad_input(tables, kwargs, err, match):
    with pytest.raises(err, match=match):
        payload(tables, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"structured": ("big", "cat", "sees")}, ValueError, "structured"),
        ({"structured": ("cat", "cat", "sees", "dog")}, ValueError, "adjective"),
        ({"mode": 2}, ValueError, "mode"),
        ({"table": "learned"}, ValueError, "table"),
        ({"preset": "the cat."}, ValueError, "preset"),
        ({"name": ""}, TypeError, "name"),
    ],
)
def test_layout_bad_input(p, kwargs, err, match):
    with pytest.raises(err, match=match):
        layout(p, **kwargs)


def test_structured_sentence_bad_input():
    with pytest.raises(ValueError, match="verb"):
        structured_sentence("big", "cat", "cat", "dog")


def test_slot_selects_are_greyed_out_while_a_preset_is_shown(p):
    for mode in (0, 1):
        shown = p.view(state(mode=mode))
        assert all(shown[s] == {"disabled": mode == 1} for s in SLOTS)
    fig = layout(p, mode=1)
    assert all(fig.select_one({"name": f"tokens-{s}"}).disabled for s in SLOTS)
    assert not any(layout(p).select_one({"name": f"tokens-{s}"}).disabled for s in SLOTS)


def test_preset_select_says_none_while_the_structured_sentence_is_shown(p):
    select = layout(p).select_one({"name": "tokens-preset"})
    assert select.value == NO_PRESET and select.options[0][1].startswith("— none")
    assert [v for v, _ in select.options[1:]] == list(PRESETS)
    assert layout(p, mode=1).select_one({"name": "tokens-preset"}).value == PRESETS[0]
    lines = p.view(state(mode=1, preset=PRESETS[2]))["strip-lines"]["text"]
    assert lines[0].startswith("Preset 3 ·")
    assert p.view(state())["strip-lines"]["text"][0].startswith("Structured sentence ·")
    with pytest.raises(ValueError, match="preset"):
        layout(p, mode=0, preset=PRESETS[1])
    with pytest.raises(ValueError, match="preset"):
        layout(p, mode=1, preset=NO_PRESET)
