"""The own-text figure: payload, view against an independent computation (NumPy's model and sampler), notices,
names, bad input, and the callback module with the in-page model inlined."""

import re

import numpy as np
import pytest
from _callbacks import assert_callbacks_match_their_args
from bokeh.models import ColumnDataSource, Widget

from attnbook import model
from attnbook.config import ModelConfig, TrainConfig
from attnbook.data import CharTokenizer
from attnbook.experiments.own_text import OwnTextModel, reference
from attnbook.sample import next_token_distribution
from attnbook.viz.core import js_module
from attnbook.viz.own_text import (
    HEAT_LABELS,
    HEAT_MARGIN,
    LINE_MIN,
    N_PREDICT,
    N_TOP,
    TEMPERATURES,
    layout,
    notice,
    own_text_figure,
    payload,
    sampling_probs,
)

CHARS = "\n .abcdefghiklmnopqrstuvwy"
B = 12  # block size of the test model


def tiny(seed=0, **over):
    cfg = ModelConfig(vocab_size=len(CHARS), block_size=B, d_model=8, n_layer=2, n_head=2, d_ff=16, **over)
    params = model.init_params(cfg, seed)
    rng = np.random.default_rng(seed)  # weights far from the initial ones, so predictions differ by position
    params = {k: (v + rng.normal(0, 0.5, v.shape)).astype(np.float32) for k, v in params.items()}
    return OwnTextModel(params, cfg, TrainConfig(), CharTokenizer(CHARS), 0, {}, {}, {"kind": "grammar"})


def state(layer="1", head="1", temperature=1.0, top_k="all", position=B - 1):
    return {"layer": layer, "head": head, "temperature": temperature, "top_k": top_k, "position": position}


def make(text="the cat sees", m=None):
    m = m or tiny()
    return m, payload(m, reference(m.params, m.cfg, CHARS, [text]))


def figure(text="the cat sees"):
    m = tiny()
    return own_text_figure(m, reference(m.params, m.cfg, CHARS, [text]))


def probs(m, window):
    """NumPy's next-character probabilities at every position (float64 pass of the float32 weights)."""
    ids = np.array([CHARS.index(c) for c in window])[None]
    logits, cache = model.forward({k: v.astype(np.float64) for k, v in m.params.items()}, ids, m.cfg)
    z = logits[0] - logits[0].max(-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(-1, keepdims=True), model.attention_maps(cache)[:, 0]


def test_payload_ships_the_weights_once_as_float32_with_the_config():
    m, p = make()
    assert p.config == m.cfg.to_dict() and p.chars == CHARS and p.axes == {}
    assert set(p.weights) == set(m.params)
    for k, v in p.weights.items():
        assert v.dtype == np.float32 and v.shape == m.params[k].shape
        np.testing.assert_array_equal(v, m.params[k])
    assert [c.widget for c in p.controls] == ["layer", "head", "temperature", "top_k", "position"]
    assert p.controls[4].values == tuple(range(B)) and p.controls[2].values == TEMPERATURES


@pytest.mark.parametrize(
    "st",
    [state(), state("2", "2"), state(position=3), state(position=0), state("2", "1", 0.0, "3", 5)],
)
def test_view_is_numpys_model(st):
    m, p = make("the cat sees")
    P, att = probs(m, "the cat sees")
    T, pos = 12, min(st["position"], 11)
    v = p.view(st)
    A = att[int(st["layer"]) - 1, int(st["head"]) - 1]
    (shown,) = v["cells"]["image"]
    assert shown.shape == (T, T) and v["cells"]["x"] == [-0.5] and v["cells"]["y"] == [0.5 - T]
    np.testing.assert_allclose(np.tril(shown), np.tril(A), atol=1e-6)
    assert np.isnan(shown[np.triu_indices(T, 1)]).all()
    assert [c.replace("␣", " ") for c in v["chars"]["char"]] == list("the cat sees")
    drawn = A[np.tril_indices(T)] >= LINE_MIN
    np.testing.assert_allclose(v["links"]["weight"], A[np.tril_indices(T)][drawn], atol=1e-6)
    assert (
        v["links"]["color"].count("#e6550d") == (A[pos, : pos + 1] >= LINE_MIN).sum()
    )  # the picked query's lines
    assert v["next"]["char"] == list(CHARS)
    np.testing.assert_allclose(v["next"]["prob"], P[-1], atol=1e-6)
    order = np.argsort(-P[-1], kind="stable")[:N_TOP]
    np.testing.assert_allclose(v["top"]["prob"], P[-1][order], atol=1e-6)
    k = None if st["top_k"] == "all" else int(st["top_k"])
    sampled = next_token_distribution(
        m.params, m.cfg, np.array([CHARS.index(c) for c in "the cat sees"]), st["temperature"], k
    )
    np.testing.assert_allclose(v["top"]["sample"], sampled[order], atol=1e-5)
    np.testing.assert_allclose(v["predict"]["prob"], np.sort(P[pos])[::-1][:N_PREDICT], atol=1e-6)
    assert v["pick"]["x"].tolist() == [pos]
    np.testing.assert_allclose(v["argmax"]["prob"], P.max(-1), atol=1e-6)
    assert v["argmax"]["char"] == [{" ": "␣", "\n": "⏎"}.get(CHARS[i], CHARS[i]) for i in P.argmax(-1)]
    assert v["flow"]["image"][0].shape == (len(p.stages), T)
    (vec,) = v["stream"]["image"]
    assert vec.shape == (len(p.stages), m.cfg.d_model)
    assert v["stream-mapper"]["high"] == -v["stream-mapper"]["low"] == np.abs(vec).max()
    shown_char = {" ": "␣"}.get("the cat sees"[pos], "the cat sees"[pos])
    assert v["caption"]["text"].startswith(f"Position {pos} “{shown_char}”: next “")


@pytest.mark.parametrize("n", [HEAT_LABELS, HEAT_LABELS + 1])
def test_the_heatmap_labels_its_characters_only_while_its_columns_are_wide_enough(n):
    cfg = ModelConfig(vocab_size=len(CHARS), block_size=64, d_model=8, n_layer=1, n_head=2, d_ff=16)
    m = OwnTextModel(model.init_params(cfg, 0), cfg, TrainConfig(), CharTokenizer(CHARS), 0, {}, {}, {})
    text = ("the cat sees the dog. " * 3)[:n]
    v = payload(m, reference(m.params, cfg, CHARS, [text])).view(state(position=0))
    assert (
        len(v["chars"]["char"]) == len(v["flow-chars"]["char"]) == n
    )  # the lines and the end-to-end picture
    # the heatmap spans the text (its cells get narrower, the plot keeps its size): labels up to HEAT_LABELS
    assert v["heat-chars"] == (v["chars"] if n <= HEAT_LABELS else {"x": [], "y": [], "char": []})
    assert v["heat-x"]["end"] == n - 0.5 and v["heat-y"]["start"] == -(n - 0.5)
    band = (
        v["heat-x"]["end"] - v["heat-x"]["start"] - n
    )  # the labels' band: the same share of the plot for any n
    assert band == pytest.approx(HEAT_MARGIN * n) and v["heat-y"]["end"] - 0.5 == pytest.approx(band)
    # the lines and the end-to-end picture span 32 positions up to 32 characters, then the whole window
    assert v["lines-x"]["end"] == v["model-x"]["end"] == pytest.approx(31.8 if n <= 32 else 63.8)


@pytest.mark.parametrize(
    ("text", "position", "end", "value"), [("the cat", 63, 6, 6), ("the cat", 2, 6, 2), ("t", 5, 1, 1)]
)
def test_the_position_slider_spans_the_text(text, position, end, value):
    m, p = make(text)
    v = p.view(state(position=position))
    assert v["position"] == {"end": end, "value": value}
    assert v["pick"]["x"].tolist() == [min(value, len(text) - 1)]


def test_caption_names_what_follows_and_marks_it_green():
    m, p = make("the cat sees")
    P, _ = probs(m, "the cat sees")
    v = p.view(state(position=2))  # "the": a space follows
    assert v["caption"]["text"].endswith(f", typed “␣” {P[2, 1]:.2f}")
    green = [
        c for c, col in zip(v["predict"]["char"], v["predict"]["color"], strict=True) if col == "#31a354"
    ]
    assert green in ([], ["␣"])
    assert p.view(state())["caption"]["text"].endswith("(nothing typed yet)")


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("", ["Type some text"]),
        ("!?", ["None of these characters", "Skipped 2 characters outside the vocabulary: <code>!</code>"]),
        ("!?!", ["Skipped 3 characters outside the vocabulary: <code>!</code> ×2 <code>?</code>."]),
        (
            "The cat<",
            [
                "Capitals folded to lower case (the training text has none): <code>T</code>.",
                "Skipped 1 character outside the vocabulary: <code>&lt;</code>.",
            ],
        ),
        (
            "the cat sees the dog",
            ["longer than the model's window of 12 characters: it reads only the last 12"],
        ),
        ("the cat", ["Every character is in the model's vocabulary."]),
    ],
)
def test_notices(text, expect):
    _, p = make(text)
    shown = p.view(state())["notice"]["text"]
    for part in expect:
        assert part in shown


def test_an_empty_window_shows_nothing_and_never_nan_shapes():
    _, p = make("")
    v = p.view(state("2", "2", 0.5, "5", 4))
    assert v["cells"]["image"] == [] and v["links"]["x0"].size == 0 and v["chars"]["char"] == []
    assert v["flow"]["image"] == [] and v["stream"]["image"] == []
    assert np.isnan(v["next"]["prob"]).all() and len(v["next"]["prob"]) == len(CHARS)
    assert v["top"]["x"].size == 0 and v["predict"]["char"] == []
    assert v["caption"]["text"] == "Position: nothing to show"
    assert notice("", "", "", "", 0, 0, B).startswith("Type some text")


@pytest.mark.parametrize(
    ("temperature", "top_k"), [(0.0, "all"), (0.25, "3"), (1.0, "all"), (2.0, "1"), (1.5, "10")]
)
def test_sampling_probs_are_attnbook_samples(temperature, top_k):
    m = tiny(3)
    ids = np.array([CHARS.index(c) for c in "the dog"])
    logits, _ = model.forward(m.params, ids[None], m.cfg)
    k = None if top_k == "all" else int(top_k)
    np.testing.assert_allclose(
        sampling_probs(logits[0, -1], temperature, top_k),
        next_token_distribution(m.params, m.cfg, ids, temperature, k),
        atol=1e-7,
    )


def test_every_model_is_named_and_the_required_names_exist():
    fig = figure()
    for m in [*fig.select({"type": Widget}), *fig.select({"type": ColumnDataSource})]:
        assert m.name and m.name.startswith("live-"), m
    names = [m.name for m in fig.references() if getattr(m, "name", None)]
    assert len(names) == len(set(names)), "model names must be unique"
    assert {"live-text", "live-next", "live-payload", "live-generate", "live-seed"} <= set(names)
    assert {f"live-{c.widget}" for c in make()[1].controls} <= set(names)
    text = fig.select_one({"name": "live-text"})
    assert text.value == text.value_input == "the cat sees"
    assert set(fig.select_one({"name": "live-next"}).data) == {"char", "prob"}


def test_one_callback_serves_every_event():
    fig = figure()
    assert assert_callbacks_match_their_args(fig) == 1
    text = fig.select_one({"name": "live-text"})
    assert {k.split(":")[1] for k in text.js_property_callbacks} == {"value", "value_input"}


def test_the_callback_inlines_the_in_page_model_once():
    code = js_module("own_text_update")
    assert not re.search(r"^\s*import\b", code, re.M)
    assert code.count("const loadModel =") == 1 and code.count("const fmt =") == 1
    assert len(re.findall(r"^export ", code, re.M)) == 1  # only the callback's default export is left
    runtime = js_module("runtime/gpt")
    assert "export const loadModel" in runtime and not re.search(r"^\s*import\b", runtime, re.M)


@pytest.mark.parametrize(
    ("initial", "error", "match"),
    [
        (dict(layer=3), ValueError, "layer"),
        (dict(head=0), ValueError, "head"),
        (dict(temperature=0.3), ValueError, "temperature"),
        (dict(top_k="7"), ValueError, "top_k"),
        (dict(position=B), ValueError, "position"),
        (dict(name=""), TypeError, "name"),
    ],
)
def test_layout_bad_input(initial, error, match):
    with pytest.raises(error, match=match):
        layout(make()[1], **initial)


def test_payload_bad_input():
    m = tiny()
    ref = reference(m.params, m.cfg, CHARS, ["the", "cat"])
    with pytest.raises(TypeError, match="lacks"):
        payload({"params": m.params}, ref)
    with pytest.raises(TypeError, match="ref"):
        payload(m, {"encoded": ()})
    with pytest.raises(ValueError, match="exactly one text"):
        payload(m, ref)
    one = reference(m.params, m.cfg, CHARS, ["the"])
    with pytest.raises(ValueError, match="n_generate"):
        payload(m, one, n_generate=0)
    with pytest.raises(ValueError, match="tokenizer"):
        payload(m._replace(tokenizer=CharTokenizer(CHARS[:-1])), one)


def test_the_figure_fits_any_column_and_every_plot_saves_a_png():
    from bokeh.models import Plot, Row, SaveTool

    fig = figure()
    assert all("flex-wrap" in dict(r.styles) for r in fig.select({"type": Row}))  # panels and controls wrap
    plots = list(fig.select({"type": Plot}))
    assert len(plots) == 6
    for plot in plots:
        assert plot.sizing_mode in ("scale_width", "stretch_width"), plot.name
        saves = [t.filename for t in plot.toolbar.tools if isinstance(t, SaveTool)]
        assert saves == [f"attnbook-{plot.name}"], plot.name
        assert (
            plot.toolbar.active_drag is None and plot.toolbar.active_scroll is None
        )  # a swipe scrolls the page
