"""The multi-head figures: head counts, grid layout, payload against independent computations, bad input."""

import re

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, CustomJS, RadioButtonGroup, Widget

from attnbook import model
from attnbook.attention import attention_steps
from attnbook.config import ModelConfig
from attnbook.masks import causal
from attnbook.viz.core import JS_DIR
from attnbook.viz.multihead import (
    HEAD_COLORS,
    HeadsView,
    divisors,
    grid_shape,
    head_split_figure,
    heads_view,
    model_heads_view,
    multihead_figure,
)

T, C = 5, 6
COUNTS = (1, 2, 3, 6)


def random_views(seed=0, counts=COUNTS):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, C))
    ws = [rng.standard_normal((C, C)) for _ in range(4)]
    return {H: heads_view(attention_steps(x, *ws, H, mask=causal(T))) for H in counts}


def callback_args(widget, attr):
    (cb,) = widget.js_property_callbacks[f"change:{attr}"]
    assert isinstance(cb, CustomJS)
    return cb.args


def named(layout, suffix):
    (m,) = [m for m in layout.references() if getattr(m, "name", None) == suffix]
    return m


def destructured(name):
    code = (JS_DIR / f"{name}.mjs").read_text()
    assert "import" not in re.sub(r"//.*", "", code)
    head = re.search(r"export default \(\{(.*?)\}", code, re.S).group(1)
    return {n.strip() for n in head.split(",") if n.strip()}


def test_divisors_against_a_loop():
    for n in (1, 7, 12, 16, 40):
        assert divisors(n) == tuple(h for h in range(1, 17) if h <= n and n % h == 0)
    assert divisors(12) == (1, 2, 3, 4, 6, 12)


@pytest.mark.parametrize("n_head", [1, 2, 3, 4, 5, 6, 8, 12, 16])
def test_grid_shape_fits_and_has_no_empty_row(n_head):
    ncols, nrows, size = grid_shape(n_head, 740, 500)
    assert ncols * nrows >= n_head > (nrows - 1) * ncols
    assert ncols * size + (ncols - 1) * 14 <= 740 + 1e-9
    assert nrows * (size + 16) + (nrows - 1) * 14 <= 500 + 1e-9
    # no other column count gives bigger square panels
    for c in range(1, n_head + 1):
        r = -(-n_head // c)
        assert min((740 - 14 * (c - 1)) / c, (500 - 16 * r - 14 * (r - 1)) / r) <= size + 1e-9


def test_model_heads_view_matches_a_hand_written_layer():
    cfg = ModelConfig(vocab_size=7, block_size=8, d_model=C, n_layer=2, n_head=3, d_ff=12)
    p = model.init_params(cfg, seed=1, dtype=np.float64)
    p = {k: v + 0.3 * np.random.default_rng(2).standard_normal(v.shape) for k, v in p.items()}  # not tiny
    ids = np.array([1, 4, 2, 2, 6])
    view = model_heads_view(p, cfg, ids, layer=0)

    x = p["wte"][ids] + p["wpe"][:T]  # (T, C)
    ln = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + cfg.norm_eps)
    ln = ln * p["blocks.0.ln1.w"] + p["blocks.0.ln1.b"]
    qkv = ln @ p["blocks.0.attn.w_qkv"] + p["blocks.0.attn.b_qkv"]  # (T, 3C)
    q, k, v = np.split(qkv, 3, axis=-1)
    H, D = 3, C // 3
    heads, weights = [], []
    for h in range(H):
        s = q[:, h * D : (h + 1) * D] @ k[:, h * D : (h + 1) * D].T / np.sqrt(D)
        s[~causal(T)] = -np.inf
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        weights.append(w)
        heads.append(w @ v[:, h * D : (h + 1) * D])
    concat = np.concatenate(heads, axis=-1)
    np.testing.assert_allclose(view.weights, np.stack(weights), atol=1e-10)
    np.testing.assert_allclose(view.concat, concat, atol=1e-10)
    np.testing.assert_allclose(view.out, concat @ p["blocks.0.attn.w_o"] + p["blocks.0.attn.b_o"], atol=1e-10)
    with pytest.raises(ValueError, match="layer"):
        model_heads_view(p, cfg, ids, layer=2)
    with pytest.raises(TypeError, match="cfg"):
        model_heads_view(p, {"d_model": C}, ids)


def test_heads_view_rejects_other_inputs():
    with pytest.raises(TypeError, match="steps"):
        heads_view((1, 2, 3))


def test_split_figure_payload_and_names():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((T, C))
    layout = head_split_figure([f"t{i}" for i in range(T)], q, COUNTS, n_head=2, frames=8)
    for m in [*layout.select({"type": Widget}), *layout.select({"type": ColumnDataSource})]:
        assert m.name and m.name.startswith("split-"), m
    names = [m.name for m in layout.references() if getattr(m, "name", None)]
    assert len(names) == len(set(names))
    select = named(layout, "split-heads")
    assert select.options == [str(h) for h in COUNTS] and select.value == "2"
    args = callback_args(select, "value")
    np.testing.assert_array_equal(args["q"], q.astype(np.float32).ravel())
    assert args["frames"] == 8 and set(args) == destructured("multihead_split")
    assert named(layout, "split-progress").end == 8


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(head_counts=(1, 4)), ValueError, "divide"),
        (dict(head_counts=(2, 1)), ValueError, "increasing"),
        (dict(head_counts="12"), TypeError, "head_counts"),
        (dict(head_counts=()), TypeError, "head_counts"),
        (dict(n_head=4), ValueError, "n_head"),
        (dict(frames=7), ValueError, "frames"),
        (dict(tokens=["a"] * (T + 1)), ValueError, "tokens"),
        (dict(q=np.ones((T, C), dtype=int)), TypeError, "q"),
    ],
)
def test_split_figure_bad_input(kwargs, error, match):
    a = dict(tokens=[f"t{i}" for i in range(T)], q=np.ones((T, C)), head_counts=COUNTS)
    a.update(kwargs)
    with pytest.raises(error, match=match):
        head_split_figure(**a)


def test_grid_figure_payload():
    views = {"random": random_views(0), "other": random_views(1)}
    mask = causal(T)
    layout = multihead_figure([f"t{i}" for i in range(T)], views, mask=mask, n_head=3, mode="random")
    for m in [*layout.select({"type": Widget}), *layout.select({"type": ColumnDataSource})]:
        assert m.name and m.name.startswith("multihead-"), m
    group = named(layout, "multihead-weights")
    assert isinstance(group, RadioButtonGroup) and group.labels == ["random", "other"] and group.active == 0
    args = callback_args(named(layout, "multihead-heads"), "value")
    assert set(args) == destructured("multihead_grid")
    assert args["counts"] == list(COUNTS)
    np.testing.assert_array_equal(args["mask"], mask.ravel())
    for mi, mode in enumerate(views):
        for ci, H in enumerate(COUNTS):
            w = views[mode][H].weights
            np.testing.assert_array_equal(args["weights"][mi][ci], w.astype(np.float32).ravel())
            np.testing.assert_allclose(args["means"][mi][ci], (w.sum(0) / H).ravel(), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(args["concats"][mi][ci], views[mode][H].concat.ravel(), rtol=1e-6)
            np.testing.assert_allclose(args["outs"][mi][ci], views[mode][H].out.ravel(), rtol=1e-6)
            safe = np.where(w > 0, w, 1.0)
            np.testing.assert_allclose(
                args["entropies"][mi][ci], -(w * np.log(safe)).sum(-1).mean(-1), rtol=1e-6
            )
    assert args["colors"] == list(HEAD_COLORS)


def test_grid_figure_single_mode_has_no_toggle():
    layout = multihead_figure([f"t{i}" for i in range(T)], {"random": random_views()})
    assert not [m for m in layout.references() if isinstance(m, RadioButtonGroup)]
    assert named(layout, "multihead-heads").value == str(COUNTS[1])


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda v: {}, TypeError, "views"),
        (lambda v: {"a": v["a"], "b": {H: v["a"][H] for H in COUNTS[:-1]}}, ValueError, "head counts"),
        (lambda v: {"a": {**v["a"], 2: (1, 2, 3)}}, TypeError, "HeadsView"),
        (
            lambda v: {"a": {**v["a"], 2: HeadsView(np.ones((3, T, T)), v["a"][2].concat, v["a"][2].out)}},
            ValueError,
            "weights",
        ),
        (
            lambda v: {"a": {**v["a"], 2: HeadsView(v["a"][2].weights, np.ones((T, C + 1)), v["a"][2].out)}},
            ValueError,
            "concat",
        ),
        (lambda v: {"a": {**v["a"], 4: v["a"][2]}}, ValueError, "divide"),
    ],
)
def test_grid_figure_bad_views(change, error, match):
    views = change({"a": random_views()})
    with pytest.raises(error, match=match):
        multihead_figure([f"t{i}" for i in range(T)], views)


def test_grid_figure_bad_options():
    views = {"a": random_views()}
    tokens = [f"t{i}" for i in range(T)]
    with pytest.raises(ValueError, match="mask"):
        multihead_figure(tokens, views, mask=np.ones((T, T)))
    with pytest.raises(ValueError, match="n_head"):
        multihead_figure(tokens, views, n_head=4)
    with pytest.raises(ValueError, match="mode"):
        multihead_figure(tokens, views, mode="b")
    with pytest.raises(ValueError, match="tokens"):
        multihead_figure(tokens[:-1], views)
