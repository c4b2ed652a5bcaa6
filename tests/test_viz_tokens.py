"""The sentence-builder figure: names, the shipped payload against NumPy, the callback's arguments, bad input."""

import re

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, CustomJS, Div, Select, Widget

from attnbook.data import ADJECTIVES, NOUNS, VERBS
from attnbook.viz.core import JS_DIR
from attnbook.viz.tokens import PRESETS, sentence_builder_figure, structured_sentence
from attnbook.words import WORDS, word_ids, word_table
from attnbook.wordvec import unit_rows

C = 6


@pytest.fixture(scope="module")
def tables():
    return {"random": unit_rows(word_table(C, seed=1)), "other": word_table(C, seed=2)}


@pytest.fixture(scope="module")
def fig(tables):
    return sentence_builder_figure(tables, structured=("red", "cat", "sees", "cat"))


def by_name(layout, name):
    return layout.select_one({"name": name})


def the_callback(layout):
    (cb,) = [m for m in layout.document.models if isinstance(m, CustomJS)]
    return cb


def test_every_widget_source_and_view_is_named(fig):
    models = list(fig.document.models)
    for m in models:
        if isinstance(m, (Widget, ColumnDataSource, Div)):
            assert m.name and m.name.startswith("tokens-"), m
    names = [m.name for m in models if m.name]
    assert len(names) == len(set(names)), "names must be unique"
    for role in (
        "mode",
        "table",
        "adjective",
        "noun",
        "verb",
        "object-noun",
        "preset",
        "strip",
        "strip-boxes",
        "strip-lines",
        "embedding-source",
        "similarity-source",
        "embedding-mapper",
        "similarity-mapper",
        "similarity-xticks",
        "similarity-yticks",
        "embedding-yticks",
        "similarity-x-range",
    ):
        assert by_name(fig, f"tokens-{role}") is not None, role


def test_initial_sources_gather_rows_of_the_table(fig, tables):
    tokens, ids = word_ids("the red cat sees the cat.")
    T = len(tokens)
    e = tables["random"]
    emb = by_name(fig, "tokens-embedding-source").data
    np.testing.assert_allclose(np.asarray(emb["value"]).reshape(T, C), e[ids], rtol=1e-6)
    assert emb["token"][::C] == tokens
    sim = by_name(fig, "tokens-similarity-source").data
    expected = np.array([[e[a] @ e[b] for b in ids] for a in ids])  # (T, T), pair by pair
    np.testing.assert_allclose(np.asarray(sim["value"]).reshape(T, T), expected, rtol=1e-5, atol=1e-6)
    # the repeated tokens ("the" twice, "cat" twice) have identical rows
    x = np.asarray(emb["value"]).reshape(T, C)
    np.testing.assert_array_equal(x[0], x[4])
    np.testing.assert_array_equal(x[2], x[5])
    assert list(by_name(fig, "tokens-similarity-yticks").ticks) == [-i for i in range(T)]
    assert by_name(fig, "tokens-similarity").yaxis[0].major_label_overrides == {
        -i: t for i, t in enumerate(tokens)
    }


def test_callback_payload(fig, tables):
    args = the_callback(fig).args
    assert args["labels"] == list(tables)
    for shipped, sim, table in zip(args["embeddings"], args["similarities"], tables.values(), strict=True):
        assert shipped.dtype == np.float32 and sim.dtype == np.float32
        np.testing.assert_allclose(shipped, table, rtol=1e-6)
        np.testing.assert_allclose(sim, table @ table.T, rtol=1e-5, atol=1e-6)
    assert args["preset_ids"] == [word_ids(p)[1].tolist() for p in PRESETS]
    assert args["words"] == list(WORDS)
    # the template with the slots filled by the initial selects is the initial sentence
    ids = list(args["template_ids"])
    for k, select in enumerate(("adjective", "noun", "verb", "object_noun")):
        value = args[select].value
        ids[args["slot_positions"][k]] = args["slot_option_ids"][k][args["slot_options"][k].index(value)]
    assert ids == word_ids("the red cat sees the cat.")[1].tolist()
    for options, option_ids in zip(args["slot_options"], args["slot_option_ids"], strict=True):
        assert [WORDS[i] for i in option_ids] == options


def test_js_module_destructures_exactly_the_python_names(fig):
    src = (JS_DIR / "sentence_builder.mjs").read_text()
    assert "import " not in src
    head = re.search(r"export default \(\{(.*?)\}, obj\)", src, re.S).group(1)
    names = {n.strip() for n in head.split(",") if n.strip()}
    assert names == set(the_callback(fig).args)


def test_every_widget_triggers_the_callback(fig):
    cb = the_callback(fig)
    widgets = [m for m in fig.document.models if isinstance(m, Widget) and not isinstance(m, Div)]
    assert len(widgets) == 7
    for w in widgets:
        callbacks = [c for cbs in w.js_property_callbacks.values() for c in cbs]
        assert cb in callbacks, w.name


def test_presets_and_selects():
    assert 6 <= len(PRESETS) <= 8
    assert len({len(word_ids(p)[0]) for p in PRESETS}) >= 5  # varying lengths
    assert structured_sentence("big", "dog", "likes", "frog") == "the big dog likes the frog."
    layout = sentence_builder_figure({"t": word_table(4, seed=0)})
    options = {m.name: m.options for m in layout.document.models if isinstance(m, Select)}
    assert options["tokens-adjective"] == list(ADJECTIVES)
    assert options["tokens-noun"] == list(NOUNS) and options["tokens-object-noun"] == list(NOUNS)
    assert options["tokens-verb"] == list(VERBS)


def test_width_fits_the_text_column(fig):
    views = by_name(fig, "tokens-views")
    assert sum(p.width for p in views.children) <= 740


@pytest.mark.parametrize(
    "tables, kwargs, err",
    [
        ([np.zeros((len(WORDS), 3))], {}, TypeError),
        ({}, {}, TypeError),
        ({"a": np.zeros((5, 3))}, {}, ValueError),
        ({"a": np.zeros((len(WORDS), 3)), "b": np.zeros((len(WORDS), 4))}, {}, ValueError),
        ({"a": np.zeros((len(WORDS), 3), dtype=np.int64)}, {}, TypeError),
        ({"a": np.full((len(WORDS), 3), np.nan)}, {}, ValueError),
        ({1: np.zeros((len(WORDS), 3))}, {}, TypeError),
        ({"a": np.zeros((len(WORDS), 3))}, {"presets": ["the unicorn."]}, ValueError),
        ({"a": np.zeros((len(WORDS), 3))}, {"presets": ["the dog.", "the dog."]}, ValueError),
        ({"a": np.zeros((len(WORDS), 3))}, {"presets": "the dog."}, TypeError),
        ({"a": np.zeros((len(WORDS), 3))}, {"structured": ("big", "cat", "sees")}, ValueError),
        ({"a": np.zeros((len(WORDS), 3))}, {"structured": ("cat", "cat", "sees", "dog")}, ValueError),
        ({"a": np.zeros((len(WORDS), 3))}, {"name": ""}, TypeError),
    ],
)
def test_bad_input(tables, kwargs, err):
    with pytest.raises(err):
        sentence_builder_figure(tables, **kwargs)


def test_structured_sentence_bad_input():
    with pytest.raises(ValueError, match="verb"):
        structured_sentence("big", "cat", "cat", "dog")
