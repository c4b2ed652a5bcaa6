"""The masks figure: reachable states, payload against an independent computation, names, bad input."""

import re

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, CustomJS, Widget

from attnbook import masks
from attnbook.viz.core import JS_DIR
from attnbook.viz.masks import MASK_TYPES, PAD_TOKEN, MaskState, mask_states, masks_figure, state_mask

T, C = 6, 4


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    tokens = [f"w{i}" for i in range(T)]
    x = rng.standard_normal((T, C))
    w_q, w_k, w_v = (rng.standard_normal((C, C)) for _ in range(3))
    return tokens, x, w_q, w_k, w_v, rng.standard_normal(C)


def callback_args(layout):
    (select,) = [m for m in layout.select({"type": Widget}) if m.name.endswith("-type")]
    (cb,) = select.js_property_callbacks["change:value"]
    assert isinstance(cb, CustomJS)
    return cb.args


def naive_attention(x, w_q, w_k, allowed):
    """Loop-by-loop attention weights of one head: the reference the figure's payload must match."""
    q, k = x @ w_q, x @ w_k
    out = np.zeros((T, T))
    for i in range(T):
        keys = [j for j in range(T) if allowed[i][j]]
        if not keys:
            continue  # a row that sees nothing: all zeros
        s = np.array([q[i] @ k[j] / np.sqrt(C) for j in keys])
        e = np.exp(s - s.max())
        out[i, keys] = e / e.sum()
    return out


def test_states_cover_every_widget_position_once():
    states = mask_states(T, 2)
    keys = [s.key for s in states]
    assert len(keys) == len(set(keys))
    assert {s.kind for s in states} == set(MASK_TYPES)
    assert sorted(s.window for s in states if s.kind == "local") == list(range(T - 1))
    assert sorted(s.length for s in states if s.kind == "padding") == list(range(T + 1))
    assert len([s for s in states if s.kind == "global-local"]) == (T - 1) * 2


def test_state_mask_is_the_library_mask():
    np.testing.assert_array_equal(state_mask(MaskState("causal", None, None, None), T), masks.causal(T))
    np.testing.assert_array_equal(state_mask(MaskState("local", 1, None, None), T), masks.local(T, 1))
    np.testing.assert_array_equal(
        state_mask(MaskState("global-local", 1, 2, None), T), masks.global_local(T, 1, 2)
    )
    np.testing.assert_array_equal(
        state_mask(MaskState("padding", None, None, 3), T), masks.padding([3], T)[0]
    )
    assert state_mask(MaskState("none", None, None, None), T).all()


def test_every_widget_and_source_is_named():
    layout = masks_figure(*inputs())
    for m in [*layout.select({"type": Widget}), *layout.select({"type": ColumnDataSource})]:
        assert m.name and m.name.startswith("masks-"), m
    names = [m.name for m in layout.references() if getattr(m, "name", None)]
    assert len(names) == len(set(names)), "model names must be unique"


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("none", lambda i, j, L: True),
        ("causal", lambda i, j, L: j <= i),
        ("local:1", lambda i, j, L: abs(i - j) <= 1),
        ("global-local:0:2", lambda i, j, L: i < 2 or j < 2 or i == j),
        ("padding:4", lambda i, j, L: j < 4),
        ("padding:0", lambda i, j, L: False),
    ],
)
def test_payload_matches_an_independent_computation(key, allowed):
    tokens, x, w_q, w_k, w_v, pad = inputs(1)
    args = callback_args(masks_figure(tokens, x, w_q, w_k, w_v, pad, max_global=2))
    s = args["index"][key]
    grid = [[allowed(i, j, None) for j in range(T)] for i in range(T)]
    xs = x.copy()
    if key.startswith("padding"):
        L = int(key.split(":")[1])
        xs[L:] = pad
        assert args["labels"][s] == tokens[:L] + [PAD_TOKEN] * (T - L)
    expected = naive_attention(xs, w_q, w_k, grid)
    np.testing.assert_allclose(args["weights"][s], expected, atol=1e-6)
    assert args["weights"].dtype == np.float32
    np.testing.assert_array_equal(args["codes"][s] > 0, np.array(grid))
    assert args["counts"][s] == sum(map(sum, grid))
    np.testing.assert_array_equal(args["row_counts"][s], np.array(grid).sum(1))
    np.testing.assert_allclose(args["row_sums"][s], expected.sum(1), atol=1e-6)
    assert args["empty_rows"][s] == sum(not any(r) for r in grid)
    assert np.all(np.isneginf(args["scores"][s][~np.array(grid)]))


def test_global_pairs_are_marked_and_labelled():
    args = callback_args(masks_figure(*inputs(), max_global=2))
    s = args["index"]["global-local:0:2"]
    codes = args["codes"][s]
    assert (codes[:2, 2:] == 2).all() and (codes[2:, :2] == 2).all()
    assert codes[3, 3] == 1 and codes[3, 4] == 0
    assert args["labels"][s][0].startswith("★") and not args["labels"][s][2].startswith("★")


def test_callback_destructures_exactly_its_arguments():
    layout = masks_figure(*inputs())
    args = callback_args(layout)
    code = (JS_DIR / "masks_update.mjs").read_text()
    head = re.search(r"export default \(\{(.*?)\}", code, re.S).group(1)
    assert {n.strip() for n in head.split(",") if n.strip()} == set(args)
    assert "import" not in re.sub(r"//.*", "", code)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda a: a.update(tokens=a["tokens"][:-1]), ValueError, "tokens"),
        (lambda a: a.update(tokens="abcdef"), TypeError, "tokens"),
        (lambda a: a.update(x=a["x"][:2], tokens=a["tokens"][:2]), ValueError, "at least 3"),
        (lambda a: a.update(x=np.ones((T, C), dtype=int)), TypeError, "x"),
        (lambda a: a.update(w_k=np.ones((C, C + 1))), ValueError, "w_k"),
        (lambda a: a.update(pad_vector=np.ones(C + 1)), ValueError, "pad_vector"),
        (lambda a: a.update(kind="banded"), ValueError, "kind"),
        (lambda a: a.update(window=T - 1), ValueError, "window"),
        (lambda a: a.update(n_global=0), ValueError, "n_global"),
        (lambda a: a.update(length=T + 1), ValueError, "length"),
        (lambda a: a.update(max_global=T), ValueError, "max_global"),
    ],
)
def test_bad_input(change, error, match):
    tokens, x, w_q, w_k, w_v, pad = inputs()
    a = dict(tokens=tokens, x=x, w_q=w_q, w_k=w_k, w_v=w_v, pad_vector=pad)
    change(a)
    with pytest.raises(error, match=match):
        masks_figure(**a)


def test_state_helpers_validate():
    with pytest.raises(ValueError, match="max_global"):
        mask_states(T, T)
    with pytest.raises(TypeError, match="state"):
        state_mask(("causal", None, None, None), T)
    with pytest.raises(ValueError, match="kind"):
        state_mask(MaskState("banded", 1, None, None), T)
