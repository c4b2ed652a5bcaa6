"""The masks experiment and figure: sweep against an independent computation, payload, view, names, bad input."""

import numpy as np
import pytest
from _callbacks import assert_callbacks_match_their_args
from bokeh.models import ColumnDataSource, Widget

from attnbook import masks
from attnbook.experiments.masks import mask_sweep
from attnbook.masks import MASK_TYPES, PAD_TOKEN
from attnbook.viz.figure import pick
from attnbook.viz.masks import GLOBAL_MARK, layout, masks_figure, payload

T, C = 6, 4


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    tokens = [f"w{i}" for i in range(T)]
    x = rng.standard_normal((T, C))
    w_q, w_k, w_v = (rng.standard_normal((C, C)) for _ in range(3))
    return tokens, x, w_q, w_k, w_v, rng.standard_normal(C)


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


def state(kind="causal", window=2, n_global=1, length=3):
    return {"type": kind, "window": window, "global": n_global, "length": length}


@pytest.mark.parametrize(
    ("st", "allowed"),
    [
        (state("none"), lambda i, j: True),
        (state("causal"), lambda i, j: j <= i),
        (state("local", window=1), lambda i, j: abs(i - j) <= 1),
        (state("global-local", window=0, n_global=2), lambda i, j: i < 2 or j < 2 or i == j),
        (state("padding", length=4), lambda i, j: j < 4),
        (state("padding", length=0), lambda i, j: False),
    ],
)
def test_view_matches_an_independent_computation(st, allowed):
    tokens, x, w_q, w_k, w_v, pad = inputs(1)
    p = payload(mask_sweep(tokens, x, w_q, w_k, w_v, pad, max_global=2))
    grid = np.array([[allowed(i, j) for j in range(T)] for i in range(T)])
    xs = x.copy()
    if st["type"] == "padding":
        xs[st["length"] :] = pad
    expected = naive_attention(xs, w_q, w_k, grid)
    shown = p.view(st)
    np.testing.assert_allclose(shown["cells"]["weight"].reshape(T, T), expected, atol=1e-6)
    assert shown["cells"]["weight"].dtype == np.float32
    np.testing.assert_array_equal(np.isnan(shown["cells"]["mask_color"]).reshape(T, T), ~grid)
    assert shown["rows"]["n_keys"][0] == f"{grid[0].sum()} key{'' if grid[0].sum() == 1 else 's'}"
    assert shown["rows"]["row_sum"] == [f"Σ {s:.2f}" for s in expected.sum(1)]
    assert [s == "−∞" for s in shown["cells"]["score"]] == (~grid).ravel().tolist()


def test_sweep_uses_the_library_masks():
    sweep = mask_sweep(*inputs(), max_global=2)
    np.testing.assert_array_equal(sweep.masks["causal"], masks.causal(T))
    np.testing.assert_array_equal(sweep.masks["local"][1], masks.local(T, 1))
    np.testing.assert_array_equal(sweep.masks["global-local"][1, 1], masks.global_local(T, 1, 2))
    np.testing.assert_array_equal(sweep.masks["padding"][3], masks.padding([3], T)[0])
    assert sweep.windows == tuple(range(T - 1)) and sweep.lengths == tuple(range(T + 1))


def test_global_pairs_are_marked_and_labelled():
    p = payload(mask_sweep(*inputs(), max_global=2))
    codes = pick(p, "codes_global", state(window=0, n_global=2))
    assert (codes[:2, 2:] == 2).all() and (codes[2:, :2] == 2).all()
    assert codes[3, 3] == 1 and codes[3, 4] == 0
    labels = p.view(state("global-local", window=0, n_global=2))["cells"]["q_token"]
    assert labels[0].startswith(GLOBAL_MARK) and not labels[2 * T].startswith(GLOBAL_MARK)
    assert p.view(state("padding", length=2))["cells"]["k_token"][:T] == ["w0", "w1"] + [PAD_TOKEN] * 4


def test_every_widget_and_source_is_named():
    fig = masks_figure(mask_sweep(*inputs()))
    for m in [*fig.select({"type": Widget}), *fig.select({"type": ColumnDataSource})]:
        assert m.name and m.name.startswith("masks-"), m
    names = [m.name for m in fig.references() if getattr(m, "name", None)]
    assert len(names) == len(set(names)), "model names must be unique"
    widgets = {m.name for m in fig.select({"type": Widget})}
    assert {f"masks-{c.widget}" for c in payload(mask_sweep(*inputs())).controls} <= widgets


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda a: a.update(tokens=a["tokens"][:-1]), ValueError, "tokens"),
        (lambda a: a.update(tokens="abcdef"), TypeError, "tokens"),
        (lambda a: a.update(x=a["x"][:2], tokens=a["tokens"][:2]), ValueError, "at least 3"),
        (lambda a: a.update(x=np.ones((T, C), dtype=int)), TypeError, "x"),
        (lambda a: a.update(w_k=np.ones((C, C + 1))), ValueError, "w_k"),
        (lambda a: a.update(pad_vector=np.ones(C + 1)), ValueError, "pad_vector"),
        (lambda a: a.update(max_global=T), ValueError, "max_global"),
    ],
)
def test_sweep_bad_input(change, error, match):
    tokens, x, w_q, w_k, w_v, pad = inputs()
    a = dict(tokens=tokens, x=x, w_q=w_q, w_k=w_k, w_v=w_v, pad_vector=pad)
    change(a)
    with pytest.raises(error, match=match):
        mask_sweep(**a)


@pytest.mark.parametrize(
    ("initial", "error", "match"),
    [
        (dict(kind="banded"), ValueError, "kind"),
        (dict(window=T - 1), ValueError, "window"),
        (dict(n_global=0), ValueError, "n_global"),
        (dict(length=T + 1), ValueError, "length"),
        (dict(name=""), TypeError, "name"),
    ],
)
def test_layout_bad_input(initial, error, match):
    p = payload(mask_sweep(*inputs(), max_global=2))
    with pytest.raises(error, match=match):
        layout(p, **initial)


def test_payload_refuses_other_input():
    with pytest.raises(TypeError, match="lacks"):
        payload({"tokens": ["a"]})
    assert set(MASK_TYPES) == {c for c in payload(mask_sweep(*inputs())).controls[0].values}


def test_callbacks_read_exactly_their_arguments():
    assert assert_callbacks_match_their_args(masks_figure(mask_sweep(*inputs()))) == 1
