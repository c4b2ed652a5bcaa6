"""The heads chapter's figures: inputs validated, every model named, payloads equal to what attnbook computes."""

import re

import numpy as np
import pytest
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    Div,
    Plot,
    RadioButtonGroup,
    Select,
    Slider,
    Toggle,
    Widget,
)

from attnbook.analysis import rank_values, spearman
from attnbook.experiments.induction import all_head_masks
from attnbook.viz import show
from attnbook.viz.heads import (
    extrapolation_figure,
    head_ablation_figure,
    head_importance_figure,
    induction_training_figure,
    lower_triangles,
)

S, L, H, T = 4, 2, 2, 6
TOKENS = ("a", "b", "c", "a", "b", "c")  # repeated tokens: numeric axes with labels


def _causal(shape, seed):
    """Random causal softmax rows, shape (..., T, T)."""
    s = 2.0 * np.random.default_rng(seed).standard_normal(shape)
    s = np.where(np.tril(np.ones(shape[-2:], dtype=bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def _training(**kw):
    rng = np.random.default_rng(0)
    args = dict(
        steps=np.array([0, 10, 20, 30]),
        attention=_causal((S, L, H, T, T), 1),
        tokens=TOKENS,
        induction=rng.random((S, L, H)),
        previous=rng.random((S, L, H)),
        entropy=2 * rng.random((S, L, H)),
        eval_steps=np.array([0, 15, 30]),
        val_loss=np.array([3.0, 2.0, 1.5]),
        control_loss=np.array([3.0, 2.8, 2.7]),
        ln_v=3.1,
        floor=1.2,
    )
    args.update(kw)
    pos = [args.pop(k) for k in ("steps", "attention", "tokens", "induction", "previous", "entropy")]
    pos += [args.pop("eval_steps"), args.pop("val_loss")]
    return induction_training_figure(*pos, **args)


def _ablation(**kw):
    K = 16
    rng = np.random.default_rng(2)
    args = dict(
        masks=all_head_masks(L, H),
        repeat_loss=rng.random(K),
        fresh_loss=rng.random(K) + 3,
        position_loss=rng.random((K, T)),
        attention=_causal((K, H, T, T), 3),
        tokens=TOKENS,
        ln_v=3.0,
    )
    args.update(kw)
    pos = [
        args.pop(k) for k in ("masks", "repeat_loss", "fresh_loss", "position_loss", "attention", "tokens")
    ]
    return head_ablation_figure(*pos, **args)


LENGTHS = np.array([4, 8, 16])


def _extrapolation(**kw):
    rng = np.random.default_rng(4)
    args = dict(
        schemes=("alibi", "rope", "sinusoidal"),
        lengths=LENGTHS,
        loss=rng.random((3, 3)),
        position_loss=[rng.random((3, int(t))) for t in LENGTHS],
        train_len=4,
    )
    args.update(kw)
    pos = [args.pop(k) for k in ("schemes", "lengths", "loss", "position_loss")]
    return extrapolation_figure(*pos, **args)


def _models():
    rng = np.random.default_rng(5)
    return [(label, rng.random((2, 4)), rng.random((2, 4)) - 0.1) for label in ("alibi", "rope")]


def _importance(**kw):
    args = dict(models=_models(), threshold=0.05)
    args.update(kw)
    return head_importance_figure(args.pop("models"), **args)


FIGURES = {
    "training": _training,
    "ablation": _ablation,
    "extrapolation": _extrapolation,
    "importance": _importance,
}


def _callback(layout, widget_name: str) -> CustomJS:
    widget = layout.select_one({"name": widget_name})
    attr = "active" if isinstance(widget, (Toggle, RadioButtonGroup)) else "value"
    return widget.js_property_callbacks[f"change:{attr}"][0]


# --- every figure -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(FIGURES))
def test_every_widget_and_source_is_named_once(kind):
    layout = FIGURES[kind]()
    models = [m for m in layout.references() if isinstance(m, (Widget, ColumnDataSource, Plot))]
    names = [m.name for m in models]
    assert all(names), f"unnamed: {[type(m).__name__ for m in models if not m.name]}"
    assert len(set(names)) == len(names)
    for m in layout.references():
        if isinstance(m, (Select, Slider, Toggle, RadioButtonGroup)):
            attr = "active" if isinstance(m, (Toggle, RadioButtonGroup)) else "value"
            assert m.js_property_callbacks.get(f"change:{attr}"), f"{m.name} has no callback"
        if isinstance(m, Div):  # a callback rewrites it: fixed size, no re-layout
            assert m.width and m.height, m.name
        if isinstance(m, Plot):
            assert m.width <= 400, m.name  # two side by side fit the ~740 px text column


@pytest.mark.parametrize("kind", list(FIGURES))
def test_callback_modules_destructure_exactly_their_arguments(kind):
    layout = FIGURES[kind]()
    callbacks = {m for m in layout.references() if isinstance(m, CustomJS)}
    assert callbacks
    for cb in callbacks:
        head = re.search(r"export default \(\{([^}]*)\}", cb.code, re.S)
        assert head, cb.code[:200]
        names = {n.strip() for n in head.group(1).split(",") if n.strip()}
        assert names == set(cb.args), names ^ set(cb.args)
        assert not re.search(r"^\s*import\b|\bimport\s*\(", cb.code, re.M)  # no import in any callback


@pytest.mark.parametrize("kind", list(FIGURES))
def test_figure_embeds_as_one_html_block(kind):
    html = show(FIGURES[kind]()).html
    assert html.startswith('<div class="attnbook-figure"')
    assert "cdn.bokeh.org" not in html


# --- lower triangles --------------------------------------------------------------------------------------
def test_lower_triangles_unpack_like_the_callbacks():
    w = _causal((3, T, T), 7)
    tri = lower_triangles(w)
    assert tri.dtype == np.float32 and tri.shape == (3, T * (T + 1) // 2)
    # the callbacks read w[i, j] at i (i + 1) / 2 + j
    back = np.zeros((3, T, T), dtype=np.float32)
    for i in range(T):
        for j in range(i + 1):
            back[:, i, j] = tri[:, i * (i + 1) // 2 + j]
    np.testing.assert_allclose(back, w, atol=1e-7)
    with pytest.raises(ValueError, match="T, T"):
        lower_triangles(np.ones((2, 3, 4)))


# --- training figure --------------------------------------------------------------------------------------
def test_training_payload():
    rng = np.random.default_rng(0)
    attention = _causal((S, L, H, T, T), 1)
    layout = _training(attention=attention)
    args = _callback(layout, "heads-train-step").args
    np.testing.assert_array_equal(args["tri"], lower_triangles(attention))
    assert args["curves"].shape == (3, S, L * H) and args["curves"].dtype == np.float32
    np.testing.assert_allclose(args["curves"][0], rng.random((S, L, H)).reshape(S, L * H), rtol=1e-6)
    np.testing.assert_allclose(
        args["loss_at"], np.interp([0, 10, 20, 30], [0, 15, 30], [3.0, 2.0, 1.5]), rtol=1e-6
    )
    legend = layout.select_one({"name": "heads-train-scores-legend"})
    assert [i.label.value for i in legend.items] == ["L1 H1", "L1 H2", "L2 H1", "L2 H2"]
    assert layout.select_one({"name": "heads-train-step"}).end == S - 1
    assert layout.select_one({"name": "heads-train-play"}) is not None
    assert [o[0] for o in layout.select_one({"name": "heads-train-score"}).options] == [
        "induction",
        "previous",
        "entropy",
    ]
    # the heatmaps draw only the causal cells, in the order the callback copies the triangles in
    src = layout.select_one({"name": "heads-train-l2h1-source"})
    np.testing.assert_array_equal(src.data["weight"], lower_triangles(attention[0, 1, 0]))
    i, j = np.tril_indices(T)
    np.testing.assert_array_equal(src.data["x"], j)
    np.testing.assert_array_equal(src.data["y"], -i)
    assert src.data["q_token"] == [TOKENS[a] for a in i] and src.data["k_token"] == [TOKENS[b] for b in j]
    # the heatmaps label their numeric axes with the (repeated) tokens
    plot = layout.select_one({"name": "heads-train-l1h1"})
    assert plot.xaxis[0].major_label_overrides == dict(enumerate(TOKENS))


def test_training_figure_refuses_bad_input():
    with pytest.raises(ValueError, match="steps"):
        _training(steps=np.array([0, 20, 10, 30]))
    with pytest.raises(ValueError, match="snapshots"):
        _training(steps=np.array([0, 10, 20]))
    with pytest.raises(ValueError, match="induction"):
        _training(induction=np.zeros((S, L, H + 1)))
    with pytest.raises(ValueError, match="tokens"):
        _training(tokens=TOKENS[:-1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        _training(attention=2 * _causal((S, L, H, T, T), 1))
    with pytest.raises(ValueError, match="control_loss"):
        _training(control_loss=np.ones(2))
    with pytest.raises(TypeError, match="ln_v"):
        _training(ln_v="3")


# --- ablation figure --------------------------------------------------------------------------------------
def test_ablation_toggles_pick_the_matching_mask_row():
    masks = all_head_masks(L, H)[np.random.default_rng(9).permutation(16)]
    masks = np.concatenate([all_head_masks(L, H)[:1], masks[~np.all(masks == 1, axis=(1, 2))]])
    rng = np.random.default_rng(2)
    repeat = rng.random(16)
    layout = _ablation(masks=masks, repeat_loss=repeat)
    args = _callback(layout, "heads-ablation-l1h1").args
    row_of = args["row_of"]
    for code in range(16):
        off = [(b // H, b % H) for b in range(L * H) if code >> b & 1]
        expected = np.ones((L, H))
        for layer, h in off:
            expected[layer, h] = 0
        np.testing.assert_array_equal(masks[row_of[code]], expected)
    np.testing.assert_allclose(args["repeat_loss"], repeat, rtol=1e-6)
    toggles = args["toggles"]
    assert [t.name for t in toggles] == [f"heads-ablation-l{a}h{b}" for a in (1, 2) for b in (1, 2)]


def test_ablation_figure_refuses_bad_masks():
    with pytest.raises(ValueError, match="each of the 16"):
        _ablation(masks=np.ones((16, L, H)))
    with pytest.raises(ValueError, match="only 0"):
        _ablation(masks=0.5 * all_head_masks(L, H))
    with pytest.raises(ValueError, match="intact"):
        _ablation(masks=all_head_masks(L, H)[::-1])
    with pytest.raises(ValueError, match="repeat_loss"):
        _ablation(repeat_loss=np.ones(3))
    with pytest.raises(ValueError, match="attention"):
        _ablation(attention=_causal((16, H, T + 1, T + 1), 3))


# --- extrapolation figure ---------------------------------------------------------------------------------
def test_extrapolation_payload_and_select():
    rng = np.random.default_rng(4)
    loss = rng.random((3, 3))
    pos = [rng.random((3, int(t))) for t in LENGTHS]
    layout = _extrapolation(loss=loss, position_loss=pos)
    args = _callback(layout, "heads-alibi-length").args
    np.testing.assert_allclose(args["loss"], loss, rtol=1e-6)
    for a, b in zip(args["pos_loss"], pos, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-6)
    select = layout.select_one({"name": "heads-alibi-length"})
    assert [o[0] for o in select.options] == ["4", "8", "16"] and select.value == "16"


def test_extrapolation_figure_refuses_bad_input():
    with pytest.raises(ValueError, match="loss"):
        _extrapolation(loss=np.ones((2, 3)))
    with pytest.raises(TypeError, match="position_loss"):
        _extrapolation(position_loss=[np.ones((3, 4))])
    with pytest.raises(ValueError, match=r"position_loss\[1\]"):
        _extrapolation(position_loss=[np.ones((3, 4)), np.ones((3, 9)), np.ones((3, 16))])
    with pytest.raises(TypeError, match="schemes"):
        _extrapolation(schemes="alibi")
    with pytest.raises(ValueError, match="lengths"):
        _extrapolation(lengths=np.array([8, 4, 16]))


# --- importance figure ------------------------------------------------------------------------------------
def test_importance_payload_uses_attnbook_statistics():
    models = _models()
    layout = _importance(models=models, threshold=0.3)
    args = _callback(layout, "heads-importance-model").args
    for k, (_, imp, delta) in enumerate(models):
        assert args["rho"][k] == pytest.approx(spearman(imp, delta))
        np.testing.assert_allclose(args["ranks"][k, 0], rank_values(imp.ravel()))
        np.testing.assert_allclose(args["ranks"][k, 1], rank_values(delta.ravel()))
        assert args["below"][k] == int((delta < 0.3).sum())
        d = delta.ravel()[args["order"][k]]
        assert np.all(np.diff(d) <= 0)  # bars largest first
    assert _callback(layout, "heads-importance-axes") is _callback(layout, "heads-importance-model")


def test_importance_figure_refuses_bad_input():
    good = _models()
    with pytest.raises(ValueError, match="empty"):
        _importance(models=[])
    with pytest.raises(TypeError, match="models"):
        _importance(models=[("a", np.ones((2, 2)))])
    with pytest.raises(ValueError, match="shape"):
        _importance(models=[good[0], ("b", np.ones((2, 3)), np.ones((2, 3)))])
    with pytest.raises(ValueError, match="distinct"):
        _importance(models=[good[0], good[0]])
    with pytest.raises(ValueError, match="threshold"):
        _importance(threshold=0.0)
