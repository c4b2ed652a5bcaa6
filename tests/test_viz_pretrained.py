"""The pretrained-model figures: inputs validated, every model named, payloads equal to what attnbook computes."""

import re

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, CustomJS, Div, Select, Slider, Toggle, Widget

from attnbook.pretrained.patterns import HeadStatistics, head_statistics, top_heads
from attnbook.pretrained.rollout import attention_rollout, raw_attention
from attnbook.viz import show
from attnbook.viz.core import JS_DIR
from attnbook.viz.pretrained import (
    PRESETS,
    QUANT_MAX_ERROR,
    STATISTICS,
    SentenceAttention,
    dequantize,
    head_view_figure,
    model_view_figure,
    model_view_grid,
    patterns_figure,
    preset_label,
    quantize,
    rollout_figure,
)

L, H = 3, 4


def _attention(T: int, seed: int, dtype=np.float32) -> np.ndarray:
    """Random softmax rows, shape (L, H, T, T), sharpened so heads differ."""
    scores = 3.0 * np.random.default_rng(seed).standard_normal((L, H, T, T))
    w = np.exp(scores - scores.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)).astype(dtype)


def _sentences() -> list[SentenceAttention]:
    first = ("[CLS]", "the", "cat", "sat", ",", "the", "end", "[SEP]")
    second = ("[CLS]", "where", "?", "[SEP]", "here", ".", "[SEP]")
    return [
        SentenceAttention("first", first, _attention(len(first), 0)),
        SentenceAttention("second", second, _attention(len(second), 1)),
    ]


FIGURES = {
    "head": head_view_figure,
    "model": model_view_figure,
    "patterns": patterns_figure,
    "rollout": rollout_figure,
}


def _callback(layout, widget_name: str, attr: str = "value") -> CustomJS:
    widget = layout.select_one({"name": widget_name})
    return widget.js_property_callbacks[f"change:{attr}"][0]


# --- quantisation --------------------------------------------------------------------------------------------
def test_quantize_round_trip_within_half_a_level():
    w = _attention(9, 3, np.float64)
    q = quantize(w)
    assert q.dtype == np.uint8 and q.shape == w.shape
    err = np.abs(dequantize(q) - w).max()
    assert err <= QUANT_MAX_ERROR + 1e-7
    assert QUANT_MAX_ERROR == pytest.approx(1 / 510)
    assert quantize(np.array([0.0, 1.0])).tolist() == [0, 255]


def test_quantize_and_dequantize_refuse_bad_input():
    with pytest.raises(TypeError, match="weights"):
        quantize(np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantize(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantize(np.array([-0.1]))
    with pytest.raises(TypeError, match="uint8"):
        dequantize(np.ones(3, dtype=np.float32))


def test_model_view_grid_tiles_every_head():
    a = _attention(5, 4)
    grid = model_view_grid(a)
    T = 5
    assert grid.dtype == np.uint8
    assert grid.shape == (L * (T + 1) - 1, H * (T + 1) - 1)
    q = quantize(a)
    for li in range(L):
        for h in range(H):
            tile = grid[li * (T + 1) : li * (T + 1) + T, h * (T + 1) : h * (T + 1) + T]
            np.testing.assert_array_equal(tile, q[li, h])
    gaps = np.zeros_like(grid, dtype=bool)
    gaps[T :: T + 1, :] = True
    gaps[:, T :: T + 1] = True
    assert (grid[gaps] == 0).all()
    with pytest.raises(ValueError, match="attentions"):
        model_view_grid(np.ones((2, 2, 3, 4), np.float32) / 4)


def test_preset_labels():
    assert len(PRESETS) >= 5
    assert sum(p is not None for _, p in PRESETS) >= 2  # sentence pairs, with [SEP] in the middle
    labels = [preset_label(a, b) for a, b in PRESETS]
    assert len(set(labels)) == len(labels)
    assert preset_label("a", "b") == "a ‖ b"
    with pytest.raises(TypeError):
        preset_label(3)


# --- every figure --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(FIGURES))
def test_every_widget_and_source_is_named_once(kind):
    layout = FIGURES[kind](_sentences())
    models = [m for m in layout.references() if isinstance(m, (Widget, ColumnDataSource))]
    names = [m.name for m in models]
    assert all(names), f"unnamed: {[type(m).__name__ for m in models if not m.name]}"
    assert len(set(names)) == len(names)
    for m in layout.references():
        if isinstance(m, (Select, Slider, Toggle)):
            attr = "active" if isinstance(m, Toggle) else "value"
            assert m.js_property_callbacks.get(f"change:{attr}"), f"{m.name} has no callback"


@pytest.mark.parametrize("kind", list(FIGURES))
def test_callback_modules_destructure_exactly_their_arguments(kind):
    layout = FIGURES[kind](_sentences())
    callbacks = {m for m in layout.references() if isinstance(m, CustomJS)}
    assert callbacks
    for cb in callbacks:
        head = re.search(r"export default \(\{([^}]*)\}", cb.code, re.S)
        assert head, cb.code[:200]
        names = {n.strip() for n in head.group(1).split(",") if n.strip()}
        assert names == set(cb.args), names ^ set(cb.args)
    assert all(p.suffix == ".mjs" for p in JS_DIR.glob("pretrained_*"))


@pytest.mark.parametrize("kind", list(FIGURES))
def test_bad_sentences_are_refused(kind):
    build = FIGURES[kind]
    good = _sentences()
    with pytest.raises(TypeError, match="sentences"):
        build([])
    with pytest.raises(TypeError, match="SentenceAttention"):
        build([("x", ("a", "b"), _attention(2, 0))])
    with pytest.raises(ValueError, match="tokens"):
        build([good[0]._replace(tokens=good[0].tokens[:-1])])
    with pytest.raises(ValueError, match=r"\(L, H\)"):
        build([good[0], good[1]._replace(attentions=good[1].attentions[:2])])
    with pytest.raises(ValueError, match="distinct labels"):
        build([good[0], good[1]._replace(label="first")])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        build([good[0]._replace(attentions=-good[0].attentions)])
    with pytest.raises(TypeError, match="float"):
        build([good[0]._replace(attentions=np.ones((L, H, 8, 8), dtype=np.int64))])
    with pytest.raises(ValueError, match="T, T"):
        build([good[0]._replace(attentions=good[0].attentions[..., :-1])])


@pytest.mark.parametrize("kind", list(FIGURES))
def test_figure_embeds_as_one_html_block(kind):
    html = show(FIGURES[kind](_sentences())).html
    assert html.startswith('<div class="attnbook-figure"')
    assert "cdn.bokeh.org" not in html


# --- payloads ------------------------------------------------------------------------------------------------
def test_head_view_payload_and_options():
    sentences = _sentences()
    layout = head_view_figure(sentences, layer=2, head=1)
    args = _callback(layout, "headview-layer").args
    for s, w, st in zip(sentences, args["weights"], args["stats"], strict=True):
        np.testing.assert_array_equal(w, quantize(s.attentions))
        ref = head_statistics(s.attentions, s.tokens)
        np.testing.assert_allclose(st, np.stack([getattr(ref, k) for k in STATISTICS]), rtol=1e-6)
    assert args["tokens"] == [list(s.tokens) for s in sentences]
    assert layout.select_one({"name": "headview-layer"}).value == "3"
    assert layout.select_one({"name": "headview-head"}).value == "2"
    focus = layout.select_one({"name": "headview-focus"})
    T = len(sentences[0].tokens)
    assert len(focus.options) == 2 * T + 1 and focus.value == "all"
    assert focus.options[1] == ("q0", "from [CLS] (0)")
    assert focus.options[T + 1] == ("k0", "to [CLS] (0)")
    assert "all" in [o[0] for o in layout.select_one({"name": "headview-head"}).options]


def test_head_view_refuses_bad_settings():
    sentences = _sentences()
    with pytest.raises(ValueError, match="layer"):
        head_view_figure(sentences, layer=L)
    with pytest.raises(ValueError, match="head"):
        head_view_figure(sentences, head=-1)
    with pytest.raises(TypeError, match="layer"):
        head_view_figure(sentences, layer=1.0)
    with pytest.raises(ValueError, match="threshold"):
        head_view_figure(sentences, threshold=1.5)


def test_model_view_payload_and_ranks():
    sentences = _sentences()
    layout = model_view_figure(sentences, layer=1, head=3)
    args = _callback(layout, "modelview-head").args
    for s, grid, st, rk in zip(sentences, args["grids"], args["stats"], args["ranks"], strict=True):
        np.testing.assert_array_equal(grid, model_view_grid(s.attentions))
        ref = head_statistics(s.attentions, s.tokens)
        top = top_heads(ref, 1)
        for k, key in enumerate(STATISTICS):
            np.testing.assert_allclose(st[k], getattr(ref, key), rtol=1e-6)
            best = top[key][0]
            assert rk[k, best.layer, best.head] == 1  # entropy: the lowest ranks first, as in top_heads
            assert sorted(rk[k].ravel().tolist()) == list(range(1, L * H + 1))
    assert layout.select_one({"name": "modelview-layer"}).value == 2
    assert layout.select_one({"name": "modelview-head"}).value == 4


def test_patterns_payload_includes_the_mean():
    sentences = _sentences()
    layout = patterns_figure(sentences, k=2)
    args = _callback(layout, "patterns-pattern").args
    per = [head_statistics(s.attentions, s.tokens) for s in sentences]
    mean = HeadStatistics(*[np.mean([getattr(p, f) for p in per], axis=0) for f in HeadStatistics._fields])
    assert len(args["stats"]) == len(sentences) + 1
    for st, ref in zip(args["stats"], [*per, mean], strict=True):
        np.testing.assert_allclose(st, np.stack([getattr(ref, k) for k in STATISTICS]), rtol=1e-5)
    tops_mean = args["tops"][-1]
    top = top_heads(mean, 2)
    for k, key in enumerate(STATISTICS):
        for r in range(2):
            assert tuple(tops_mean[k, r, :2]) == (top[key][r].layer, top[key][r].head)
            assert tops_mean[k, r, 2] == pytest.approx(top[key][r].value, rel=1e-5)
    options = [o[0] for o in layout.select_one({"name": "patterns-sentence"}).options]
    assert options[-1] == "mean"
    with pytest.raises(ValueError, match="k"):
        patterns_figure(sentences, k=0)


def test_rollout_payload():
    sentences = _sentences()
    layout = rollout_figure(sentences)
    args = _callback(layout, "rollout-layer").args
    for k, s in enumerate(sentences):
        np.testing.assert_allclose(args["raw"][k], raw_attention(s.attentions), rtol=1e-6)
        for r, residual in enumerate((False, True)):
            np.testing.assert_allclose(
                args["rolled"][r][k], attention_rollout(s.attentions, residual=residual), rtol=1e-5, atol=1e-7
            )
        summary = args["summary"][k]  # (3, L, 3): raw / rollout without / with residual; self, [CLS], [SEP]
        raw = raw_attention(s.attentions)
        assert summary[0, :, 1] == pytest.approx(raw[..., 0].mean(-1), rel=1e-5)
        assert summary[0, :, 0] == pytest.approx(np.diagonal(raw, axis1=1, axis2=2).mean(-1), rel=1e-5)
    assert layout.select_one({"name": "rollout-layer"}).value == L
    assert layout.select_one({"name": "rollout-residual"}).active is True
    assert rollout_figure(sentences, layer=0).select_one({"name": "rollout-layer"}).value == 1
    with pytest.raises(ValueError, match="layer"):
        rollout_figure(sentences, layer=L)


def test_text_panels_are_glyph_sources_that_the_callbacks_write():
    # Tables are text glyphs, not Divs: a Div update re-lays out the whole figure (slow callbacks).
    sentences = _sentences()
    head = head_view_figure(sentences)
    table = _callback(head, "headview-focus").args["table"]
    assert table["text"] is head.select_one({"name": "headview-table-text"})
    assert set(table["text"].data) == {"x", "y", "text", "color", "style", "align"}
    model = model_view_figure(sentences)
    assert _callback(model, "modelview-layer").args["stats_panel"]["text"].name == "modelview-stats-text"
    patterns = patterns_figure(sentences)
    assert _callback(patterns, "patterns-sentence").args["table"]["bands"].name == "patterns-table-bands"
    for layout in (head, model, patterns, rollout_figure(sentences)):
        for cb in {m for m in layout.references() if isinstance(m, CustomJS)}:
            values = [v for a in cb.args.values() for v in (a.values() if isinstance(a, dict) else [a])]
            assert not any(isinstance(v, Div) for v in values), "Divs here are static notes"
