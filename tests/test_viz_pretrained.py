"""The pretrained-model figures: payloads and views against independent computations, names, callbacks, bad input."""

import numpy as np
import pytest
from _callbacks import assert_callbacks_match_their_args
from bokeh.models import ColumnDataSource, Select, Slider, Toggle, Widget

from attnbook.experiments.pretrained import STATISTICS, SentenceAttention, attention_sweep
from attnbook.pretrained.patterns import HeadStatistics, head_statistics, top_heads
from attnbook.pretrained.rollout import attention_rollout, raw_attention
from attnbook.viz import show
from attnbook.viz.core import JS_DIR
from attnbook.viz.figure import pick
from attnbook.viz.pretrained import (
    GEOMETRY,
    HEAD_COLORS,
    QUANT_MAX_ERROR,
    STATISTIC_LABELS,
    dequantize,
    head_view_figure,
    head_view_layout,
    head_view_payload,
    model_view_figure,
    model_view_layout,
    model_view_payload,
    patterns_figure,
    patterns_payload,
    quantize,
    rollout_figure,
    rollout_layout,
    rollout_payload,
    tiled,
)

L, H = 3, 4
FIRST = ("[CLS]", "the", "cat", "sat", ",", "the", "end", "[SEP]")  # T = 8, the longest
SECOND = ("[CLS]", "where", "?", "[SEP]", "here", ".", "[SEP]")  # T = 7


def _attention(T: int, seed: int, dtype=np.float32) -> np.ndarray:
    """Random softmax rows, shape (L, H, T, T), sharpened so heads differ."""
    scores = 3.0 * np.random.default_rng(seed).standard_normal((L, H, T, T))
    w = np.exp(scores - scores.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)).astype(dtype)


@pytest.fixture(scope="module")
def sweep():
    return attention_sweep(
        [
            SentenceAttention("first", FIRST, _attention(8, 0)),
            SentenceAttention("second", SECOND, _attention(7, 1)),
        ]
    )


FIGURES = {
    "headview": (head_view_figure, head_view_payload),
    "modelview": (model_view_figure, model_view_payload),
    "patterns": (patterns_figure, patterns_payload),
    "rollout": (rollout_figure, rollout_payload),
}


# --- quantisation --------------------------------------------------------------------------------------------
def test_quantize_round_trip_within_half_a_level():
    w = _attention(9, 3, np.float64)
    q = quantize(w)
    assert q.dtype == np.uint8 and q.shape == w.shape
    assert np.abs(dequantize(q) - w).max() <= QUANT_MAX_ERROR
    assert QUANT_MAX_ERROR == pytest.approx(1 / 510)
    assert quantize(np.array([0.0, 1.0])).tolist() == [0, 255]


def test_quantize_and_dequantize_refuse_bad_input():
    with pytest.raises(TypeError, match="weights"):
        quantize(np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantize(np.array([0.5, 1.5]))
    with pytest.raises(TypeError, match="uint8"):
        dequantize(np.ones(3, dtype=np.float32))


def test_tiled_puts_every_head_in_its_place():
    levels = quantize(_attention(5, 4))
    grid = tiled(levels)
    assert grid.shape == (L * 6 - 1, H * 6 - 1)
    for li in range(L):
        for h in range(H):
            np.testing.assert_array_equal(grid[li * 6 : li * 6 + 5, h * 6 : h * 6 + 5], levels[li, h])
    assert (grid[5::6, :] == 0).all() and (grid[:, 5::6] == 0).all()


# --- head view -----------------------------------------------------------------------------------------------
def head_state(sentence="first", layer="2", head="3", focus="all"):
    return {"sentence": sentence, "layer": layer, "head": head, "focus": focus}


def test_head_view_payload_pads_and_quantises(sweep):
    p = head_view_payload(sweep)
    assert p.levels.shape == (2, L, H, 8, 8) and p.levels.dtype == np.uint8
    np.testing.assert_array_equal(p.levels[1, :, :, :7, :7], quantize(sweep.attentions[1]))
    assert (p.levels[1, :, :, 7] == 0).all() and p.tokens[1][-1] == "" and p.lengths.tolist() == [8, 7]
    ref = head_statistics(sweep.attentions[0], FIRST)
    np.testing.assert_allclose(p.stats[0, 2, 1], [getattr(ref, s)[2, 1] for s in STATISTICS], rtol=1e-6)
    focus = p.controls[3].values
    assert focus[0] == "all" and focus[len(focus) // 2] in ("q3", "k3")  # the middle value is a real token


@pytest.mark.parametrize("head", ["1", "4", "all"])
@pytest.mark.parametrize("focus", ["all", "q2", "k6"])
def test_head_view_lines_are_the_weights_above_the_threshold(sweep, head, focus):
    p = head_view_payload(sweep, threshold=0.05, all_heads_threshold=0.2)
    shown = p.view(head_state("second", "2", head, focus))
    a = np.round(sweep.attentions[1][1] * 255) / 255  # (H, T, T) layer 2, as stored
    heads = range(H) if head == "all" else [int(head) - 1]
    thr = 0.2 if head == "all" else 0.05
    expected = [
        (-i, -j, HEAD_COLORS[h], a[h, i, j])
        for h in heads
        for i in range(7)
        for j in range(7)
        if a[h, i, j] >= thr and a[h, i, j] > 0 and focus in ("all", f"q{i}", f"k{j}")
    ]
    lines = shown["lines"]
    got = list(zip(lines["y0"], lines["y1"], lines["color"], lines["alpha"], strict=True))
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    np.testing.assert_allclose([g[3] for g in got], [e[3] for e in expected], atol=1e-6)
    what = "all 4 heads" if head == "all" else f"head {head}"
    assert shown["plot"]["title.text"] == f"Layer 2, {what}: {len(expected)} lines with weight ≥ {thr:g}"
    assert shown["tokens"]["text"] == list(SECOND) * 2 and shown["tokens"]["key"][7] == "k0"
    assert shown["tokens"]["bx"][0] == GEOMETRY["left_box"]
    if focus == "q2":  # the keys are shaded by the mean weight query 2 gives them
        np.testing.assert_allclose(shown["tokens"]["alpha"][7:], a[list(heads), 2].mean(0), atol=1e-6)
        assert shown["tokens"]["alpha"][2] == 0.35


def test_head_view_table_lists_every_head_and_the_focus_partner(sweep):
    p = head_view_payload(sweep)
    shown = p.view(head_state("first", "3", "2", "k1"))
    text = shown["table-text"]["text"]
    ref = head_statistics(sweep.attentions[0], FIRST)
    assert f"{ref.cls[2, 3]:.2f}" in text and "← query" in text
    a = np.round(sweep.attentions[0][2] * 255) / 255  # (H, T, T)
    best = int(np.argmax(a[0, :, 1]))
    assert f"{FIRST[best]} {a[0, best, 1]:.2f}" in text
    assert shown["table"]["title.text"] == "Heads of layer 3; focus: the (1) as a key"
    assert shown["table-bands"]["y"] == [-10 - 18 * 2]
    assert shown["legend"]["alpha"] == [0.2, 1.0, 0.2, 0.2]
    assert shown["focus"]["options"][1] == ("q0", "from [CLS] (0)")
    # a focus past the sentence's end is no focus (the page resets it)
    assert p.view(head_state("second", focus="q7"))["tokens"]["alpha"] == [0.0] * 14


# --- model view ----------------------------------------------------------------------------------------------
def test_model_view_view(sweep):
    p = model_view_payload(sweep)
    shown = p.view({"sentence": "second", "layer": 3, "head": 2})
    np.testing.assert_array_equal(shown["image"]["data.image.0"], tiled(quantize(sweep.attentions[1])))
    assert shown["image"]["dw"] == [H * 8 - 1] and shown["image"]["dh"] == [L * 8 - 1]
    detail = shown["detail-cells"]
    np.testing.assert_allclose(
        detail["weight"].reshape(7, 7), sweep.attentions[1][2, 1], atol=QUANT_MAX_ERROR
    )
    assert detail["q_token"][7] == "where" and detail["k_token"][:3] == ["[CLS]", "where", "?"]
    assert shown["detail"]["title.text"] == "Layer 3, head 2" and shown["detail-yticks"]["ticks"][6] == -6
    assert shown["frame"] == dict(x=[1 * 8 + 3.5], y=[-(2 * 8 + 3.5)], size=[7.8])
    assert list(shown["thumbs"]["layer"][: H + 1]) == [1] * H + [2]
    ref = head_statistics(sweep.attentions[1], SECOND)
    top = top_heads(ref, L * H)
    text = shown["stats-text"]["text"]
    for s in STATISTICS:
        rank = [(t.layer, t.head) for t in top[s]].index((2, 1)) + 1
        i = text.index(STATISTIC_LABELS[s])
        assert text[i + 1 : i + 3] == [f"{getattr(ref, s)[2, 1]:.3f}", str(rank)]
        assert (shown["stats-text"]["style"][i] == "bold") == (rank <= 3)


# --- patterns ------------------------------------------------------------------------------------------------
def test_patterns_payload_ranks_like_top_heads_with_the_mean(sweep):
    p = patterns_payload(sweep, k=2)
    per = [head_statistics(a, t) for a, t in zip(sweep.attentions, (FIRST, SECOND), strict=True)]
    mean = HeadStatistics(*[np.mean([getattr(x, f) for x in per], axis=0) for f in HeadStatistics._fields])
    assert p.controls[0].values == ("first", "second", "mean over all 2 sentences")
    for k, ref in enumerate([*per, mean]):
        top = top_heads(ref, 2)
        for q, s in enumerate(STATISTICS):
            assert [(t.layer, t.head) for t in top[s]] == list(
                zip(p.top_layer[k, q], p.top_head[k, q], strict=True)
            )
            np.testing.assert_allclose(p.top_value[k, q], [t.value for t in top[s]], rtol=1e-5)
    assert p.highs == (1.0,) * 6 + (pytest.approx(np.log(8)),)


def test_patterns_view(sweep):
    p = patterns_payload(sweep, k=2)
    state = {"sentence": "mean over all 2 sentences", "pattern": "entropy"}
    shown = p.view(state)
    values = pick(p, "values", state)
    assert shown["cells"]["text"][5] == f"{values.ravel()[5]:.2f}"
    assert shown["mapper"]["high"] == pytest.approx(np.log(8))
    assert shown["map"]["title.text"].startswith(
        "entropy (nats, low = focused): value of every head (mean over"
    )
    assert list(shown["top"]["x"]) == list(p.top_head[-1, -1]) and list(shown["top"]["y"]) == list(
        -p.top_layer[-1, -1]
    )
    assert shown["table-bands"]["y"] == [-14 - 22 * 7]


# --- rollout -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("residual", [False, True])
def test_rollout_view(sweep, residual):
    p = rollout_payload(sweep)
    shown = p.view({"sentence": "second", "layer": 2, "residual": residual})
    a = sweep.attentions[1]
    np.testing.assert_allclose(shown["raw-cells"]["weight"].reshape(7, 7), raw_attention(a)[1], rtol=1e-6)
    rolled = attention_rollout(a, residual=residual)[1]
    np.testing.assert_allclose(shown["rolled-cells"]["weight"].reshape(7, 7), rolled, rtol=1e-5, atol=1e-7)
    seps = [j for j, t in enumerate(SECOND) if t == "[SEP]"]
    numbers = [np.trace(rolled) / 7, rolled[:, 0].mean(), rolled[:, seps].sum(1).mean()]
    suffix = "" if residual else ", no residual"
    assert shown["rolled"]["title.text"] == f"Rollout 1–2{suffix}: " + " · ".join(f"{x:.2f}" for x in numbers)
    assert shown["raw"]["title.text"].startswith("Raw, layer 2 (head mean): ")
    assert shown["raw"]["x_range.end"] == 6.5


# --- every figure --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(FIGURES))
def test_every_model_is_named_and_every_control_is_a_live_widget(sweep, kind):
    build, make = FIGURES[kind]
    fig = build(sweep)
    models = [m for m in fig.references() if isinstance(m, (Widget, ColumnDataSource))]
    names = [m.name for m in models]
    assert all(n and n.startswith(f"{kind}-") for n in names), names
    assert len(set(names)) == len(names)
    for c in make(sweep).controls:
        widget = fig.select_one({"name": f"{kind}-{c.widget}"})
        assert isinstance(widget, (Select, Slider, Toggle)) and widget.js_property_callbacks.get(
            f"change:{c.attr}"
        )
        value = getattr(widget, c.attr)
        assert value in c.values, f"{widget.name} starts at {value!r}, which no control value covers"
    html = show(fig).html
    assert html.startswith('<div class="attnbook-figure"') and "cdn.bokeh.org" not in html


@pytest.mark.parametrize("kind", list(FIGURES))
def test_callback_modules_destructure_exactly_their_arguments(sweep, kind):
    assert assert_callbacks_match_their_args(FIGURES[kind][0](sweep))
    assert all(p.suffix == ".mjs" for p in JS_DIR.glob("pretrained_*"))


def test_initial_widgets(sweep):
    fig = head_view_figure(sweep, layer=2, head=1)
    assert fig.select_one({"name": "headview-layer"}).value == "3"
    assert fig.select_one({"name": "headview-head"}).value == "2"
    fig = model_view_figure(sweep, layer=1, head=3)
    assert fig.select_one({"name": "modelview-head"}).value == 4
    fig = rollout_figure(sweep, residual=False)
    assert fig.select_one({"name": "rollout-layer"}).value == L
    assert fig.select_one({"name": "rollout-residual"}).active is False


@pytest.mark.parametrize("kind", list(FIGURES))
def test_payloads_refuse_other_input(sweep, kind):
    make = FIGURES[kind][1]
    with pytest.raises(TypeError, match="sweep"):
        make({"labels": ["a"]})
    with pytest.raises(ValueError, match="statistic_names"):
        make(sweep._replace(statistic_names=("previous_token", "mystery")))


@pytest.mark.parametrize(
    ("build", "kwargs", "error", "match"),
    [
        (head_view_payload, dict(threshold=1.5), ValueError, "threshold"),
        (head_view_payload, dict(all_heads_threshold=-0.1), ValueError, "all_heads_threshold"),
        (patterns_payload, dict(k=0), ValueError, "k"),
        (patterns_payload, dict(k=L * H + 1), ValueError, "k"),
    ],
)
def test_payload_settings_are_checked(sweep, build, kwargs, error, match):
    with pytest.raises(error, match=match):
        build(sweep, **kwargs)


@pytest.mark.parametrize(
    ("layout", "make", "kwargs", "error", "match"),
    [
        (head_view_layout, head_view_payload, dict(layer=L), ValueError, "layer"),
        (head_view_layout, head_view_payload, dict(head=-1), ValueError, "head"),
        (head_view_layout, head_view_payload, dict(layer=1.0), TypeError, "layer"),
        (model_view_layout, model_view_payload, dict(head=H), ValueError, "head"),
        (rollout_layout, rollout_payload, dict(layer=L), ValueError, "layer"),
        (rollout_layout, rollout_payload, dict(name=""), TypeError, "name"),
        (rollout_layout, rollout_payload, dict(residual=1), TypeError, "residual"),
    ],
)
def test_layout_settings_are_checked(sweep, layout, make, kwargs, error, match):
    with pytest.raises(error, match=match):
        layout(make(sweep), **kwargs)


# --- the kit parts these figures added -----------------------------------------------------------------------
def test_kit_parts():
    from attnbook.viz.kit import labelled_select, text_panel, weight_grid

    s = labelled_select("f-pick", "Pick", [("a", "first"), ("b", "second")], "b")
    assert s.value == "b" and s.options == [("a", "first"), ("b", "second")] and s.name == "f-pick"
    with pytest.raises(ValueError, match="value"):
        labelled_select("f-pick", "Pick", [("a", "first")], "z")
    with pytest.raises(TypeError, match="options"):
        labelled_select("f-pick", "Pick", ["a", "b"], "a")
    with pytest.raises(TypeError, match="options"):
        labelled_select("f-pick", "Pick", {}, "a")
    m = labelled_select("f-pick", "Pick", {"a": "first", "b": "second"}, "a")  # a mapping of value to label
    assert m.options == [("a", "first"), ("b", "second")] and m.value == "a"
    plot, text, bands = text_panel("f-table", width=200, height=100, title="Table")
    assert (plot.name, text.name, bands.name) == ("f-table", "f-table-text", "f-table-bands")
    assert set(text.data) == {"x", "y", "text", "color", "style", "align"} and len(text.data["x"]) == 0
    plot, cells, axes = weight_grid("f-grid", ["a", "b", "a"], title="W")
    assert cells.name == "f-grid-cells" and cells.data["q_token"][3:6] == ["b"] * 3
    assert cells.data["k_token"][:3] == ["a", "b", "a"] and axes == [plot.xaxis[0], plot.yaxis[0]]
    with pytest.raises(TypeError, match="name"):
        weight_grid("", ["a"], title="W")
