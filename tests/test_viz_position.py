"""Position figures: the attention under each scheme, similarity tables, ALiBi reach, builders' payloads and names."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.models import AbstractButton, ColumnDataSource, InputWidget, Slider

from attnbook.attention import scaled_dot_product_attention
from attnbook.positional import alibi_bias, rope, sinusoidal
from attnbook.stats import diagonal_profile
from attnbook.viz import show
from attnbook.viz.position import (
    SCHEMES,
    alibi_figure,
    alibi_recency,
    permutation_figure,
    position_similarity,
    scheme_attention,
    schemes_figure,
    similarity_figure,
    sinusoidal_figure,
)

T, C, H = 5, 8, 2
TOKENS = ["the", "cat", "sees", "the", "dog"]


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, C))
    x[3] = x[0]  # the two "the" share their word vector, as in a real embedding table
    w_q, w_k = rng.standard_normal((2, C, C)) / np.sqrt(C)
    learned = rng.standard_normal((T + 3, C))
    return x, w_q, w_k, learned


def _heads(a):
    return a.reshape(T, H, C // H).transpose(1, 0, 2)  # (H, T, D)


def _reference(x, w_q, w_k, learned, scheme):
    """The scheme written out directly from the formulas, for comparison."""
    if scheme == "sinusoidal":
        x = x + sinusoidal(T, C)
    if scheme == "learned":
        x = x + learned[:T]
    q, k = _heads(x @ w_q), _heads(x @ w_k)
    if scheme == "rope":
        q, k = rope(q), rope(k)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(C // H)
    if scheme == "alibi":
        s = s + alibi_bias(H, T)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_attention_matches_formula(setup, scheme):
    x, w_q, w_k, learned = setup
    w = scheme_attention(x, w_q, w_k, H, scheme, learned=learned)
    assert w.shape == (H, T, T)
    np.testing.assert_allclose(w, _reference(x, w_q, w_k, learned, scheme), atol=1e-12)


def test_scheme_attention_equivariance_only_without_position(setup):
    x, w_q, w_k, learned = setup
    p = np.array([2, 0, 4, 1, 3])
    for scheme in SCHEMES:
        a = scheme_attention(x, w_q, w_k, H, scheme, learned=learned)
        b = scheme_attention(x[p], w_q, w_k, H, scheme, learned=learned)
        permuted = a[:, p][:, :, p]
        if scheme == "none":
            np.testing.assert_allclose(b, permuted, atol=1e-12)
        else:
            assert np.abs(b - permuted).max() > 1e-3, scheme


def test_scheme_attention_keeps_float32(setup):
    x, w_q, w_k, learned = setup
    f32 = [a.astype(np.float32) for a in (x, w_q, w_k)]
    for scheme in SCHEMES:
        assert scheme_attention(*f32, H, scheme, learned=learned).dtype == np.float32


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        ({"scheme": "absolute"}, ValueError, "scheme"),
        ({"scheme": "learned", "learned": None}, ValueError, "learned"),
        ({"scheme": "learned", "learned": np.ones((2, C))}, ValueError, "learned"),
        ({"n_head": 3}, ValueError, "n_head"),
        ({"w_q": np.ones((C, C + 1))}, ValueError, "w_q"),
        ({"w_k": np.ones((C, C), dtype=np.float32)}, TypeError, "w_k"),
        ({"x": np.ones((T, C), dtype=int)}, TypeError, "x"),
    ],
)
def test_scheme_attention_bad_input(setup, kw, exc, match):
    x, w_q, w_k, learned = setup
    args = {"x": x, "w_q": w_q, "w_k": w_k, "n_head": H, "scheme": "none", "learned": learned, **kw}
    with pytest.raises(exc, match=match):
        scheme_attention(
            args["x"], args["w_q"], args["w_k"], args["n_head"], args["scheme"], learned=args["learned"]
        )


def test_position_similarity_relative_schemes_are_toeplitz():
    u = np.random.default_rng(1).standard_normal(16)
    for scheme, kw in (("sinusoidal", {}), ("rope", {"rope_vector": u})):
        sim = position_similarity(scheme, 12, 16, **kw)
        assert sim.shape == (12, 12)
        np.testing.assert_allclose(np.diag(sim), 1.0)
        assert diagonal_profile(sim)[2].max() < 1e-12
    table = np.random.default_rng(2).standard_normal((12, 16))
    sim = position_similarity("learned", 12, 16, learned=table)
    assert diagonal_profile(sim)[2].max() > 0.1
    # sinusoidal: cos of PE rows, i.e. sum_i cos((m - n) w_i) / (C / 2)
    pe = sinusoidal(12, 16)
    np.testing.assert_allclose(position_similarity("sinusoidal", 12, 16), pe @ pe.T / 8, atol=1e-12)


def test_position_similarity_bad_input():
    with pytest.raises(ValueError, match="scheme"):
        position_similarity("alibi", 4, 8)
    with pytest.raises(ValueError, match="learned"):
        position_similarity("learned", 4, 8)
    with pytest.raises(ValueError, match="rope_vector"):
        position_similarity("rope", 4, 8)
    with pytest.raises(ValueError, match="rope_vector"):
        position_similarity("rope", 4, 8, rope_vector=np.ones(6))


def test_alibi_recency():
    w, half = alibi_recency(4, 10)
    assert w.shape == (4, 10) and half.shape == (4,)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(np.diff(w, axis=1) > 0)  # nearer keys always get more
    for h in range(4):
        tail = np.cumsum(w[h, ::-1])
        assert tail[half[h] - 1] >= 0.5 and (half[h] == 1 or tail[half[h] - 2] < 0.5)
    assert half[0] < half[-1]  # the steepest slope looks closest
    _, w_ref = scaled_dot_product_attention(
        np.zeros((4, 1, 1)), np.zeros((4, 10, 1)), np.zeros((4, 10, 1)), bias=alibi_bias(4, 10)[:, -1:]
    )
    np.testing.assert_allclose(w, w_ref[:, 0])


# ---------------------------------------------------------------------------------------------------------
# builders


def _check_names(layout):
    for m in layout.references():
        if isinstance(m, (InputWidget, AbstractButton, Slider, ColumnDataSource)):
            assert m.name and m.name.strip(), f"unnamed {type(m).__name__}"
    names = [m.name for m in layout.references() if m.name]
    assert len(names) == len(set(names)), "names must be unique"


def _args(layout, widget_name):
    w = layout.select_one({"name": widget_name})
    cb = w.js_property_callbacks["change:value"][0]
    return cb.args


def test_permutation_figure_payload(setup):
    x, w_q, w_k, learned = setup
    perms = np.array([np.arange(T), np.arange(T)[::-1], [1, 0, 3, 2, 4]])
    layout = permutation_figure(TOKENS, x, w_q, w_k, H, perms, learned=learned, head=1)
    _check_names(layout)
    args = _args(layout, "perm-order")
    shuffled, diff, max_diff = args["shuffled"], args["diff"], args["max_diff"]
    assert shuffled.dtype == np.float32 and shuffled.shape == (3, len(SCHEMES), T * T)
    for s, scheme in enumerate(SCHEMES):
        base = scheme_attention(x, w_q, w_k, H, scheme, learned=learned)[1]
        for i, p in enumerate(perms):
            a = scheme_attention(x[p], w_q, w_k, H, scheme, learned=learned)[1]
            np.testing.assert_allclose(shuffled[i, s].reshape(T, T), a, atol=1e-6)
            inv = np.argsort(p)
            np.testing.assert_allclose(diff[i, s].reshape(T, T), a[inv][:, inv] - base, atol=1e-6)
    assert max_diff[:, 0].max() < 1e-6 and max_diff[1:, 1:4].min() > 1e-3
    # ALiBi's bias depends on |i - j| only, which reversing the order preserves; another shuffle breaks it
    alibi = SCHEMES.index("alibi")
    assert max_diff[1, alibi] < 1e-6 and max_diff[2, alibi] > 1e-4
    assert args["labels"][1] == TOKENS[::-1]
    assert "perm-shuffle" in {m.name for m in layout.references()}
    assert "data-attnbook-figure" in show(layout).html


def test_permutation_figure_bad_input(setup):
    x, w_q, w_k, learned = setup
    good = np.array([np.arange(T), np.arange(T)[::-1]])
    with pytest.raises(ValueError, match="permutation"):
        permutation_figure(TOKENS, x, w_q, w_k, H, np.array([np.arange(T), [0, 0, 1, 2, 3]]), learned=learned)
    with pytest.raises(ValueError, match="permutations"):
        permutation_figure(TOKENS, x, w_q, w_k, H, good[:1], learned=learned)
    with pytest.raises(ValueError, match="tokens"):
        permutation_figure(TOKENS[:-1], x, w_q, w_k, H, good, learned=learned)
    with pytest.raises(TypeError, match="tokens"):
        permutation_figure("the cat", x, w_q, w_k, H, good, learned=learned)
    with pytest.raises(ValueError, match="head"):
        permutation_figure(TOKENS, x, w_q, w_k, H, good, learned=learned, head=H)


def test_sinusoidal_figure_payload():
    layout = sinusoidal_figure(10, 6, dim=3)
    _check_names(layout)
    args = _args(layout, "sinusoid-dim")
    np.testing.assert_allclose(args["pe"].reshape(6, 10), sinusoidal(10, 6).T, atol=1e-6)
    np.testing.assert_allclose(
        args["wavelength"], 2 * np.pi * 10000.0 ** (2 * (np.arange(6) // 2) / 6), rtol=1e-6
    )
    assert layout.select_one({"name": "sinusoid-dim"}).value == 3
    with pytest.raises(ValueError, match="dim"):
        sinusoidal_figure(10, 6, dim=6)
    with pytest.raises(ValueError, match="d_model"):
        sinusoidal_figure(10, 1)


def test_similarity_figure_payload():
    sims = {"a": np.eye(4), "b": np.diag([0.0, 1.0, 2.0, 3.0])}
    layout = similarity_figure(sims, position=2)
    _check_names(layout)
    args = _args(layout, "similarity-position")
    np.testing.assert_array_equal(args["sims"], np.stack(list(sims.values())).astype(np.float32))
    np.testing.assert_allclose(
        args["max_spread"], [0.0, 3.0]
    )  # eye is Toeplitz; the main diagonal 0..3 is not
    assert args["labels"] == ["a", "b"]
    with pytest.raises(ValueError, match="shape"):
        similarity_figure({"a": np.eye(4), "b": np.eye(3)})
    with pytest.raises(TypeError, match="similarities"):
        similarity_figure({})
    with pytest.raises(ValueError, match="position"):
        similarity_figure(sims, position=4)


def test_alibi_figure_payload():
    layout = alibi_figure(4, 6, head=2)
    _check_names(layout)
    args = _args(layout, "alibi-head")
    shown = args["shown"].reshape(4, 6, 6)
    bias = alibi_bias(4, 6)
    lower = np.tril(np.ones((6, 6), dtype=bool))
    np.testing.assert_allclose(shown[:, lower], bias[:, lower], atol=1e-6)
    assert np.all(np.isneginf(shown[:, ~lower]))
    w, half = alibi_recency(4, 6)
    np.testing.assert_allclose(args["last"], w, atol=1e-6)
    np.testing.assert_array_equal(args["half"], half)
    with pytest.raises(ValueError, match="head"):
        alibi_figure(4, 6, head=4)


def test_schemes_figure_payload(setup):
    x, w_q, w_k, learned = setup
    layout = schemes_figure(TOKENS, x, w_q, w_k, H, learned=learned)
    _check_names(layout)
    args = _args(layout, "schemes-scheme")
    weights = np.stack([scheme_attention(x, w_q, w_k, H, s, learned=learned) for s in SCHEMES])
    np.testing.assert_allclose(args["weights"], weights, atol=1e-6)
    np.testing.assert_allclose(args["change"], weights - weights[:1], atol=1e-6)
    # the two "the" rows (positions 0 and 3): equal without position, different with
    np.testing.assert_allclose(
        args["twin_diff"], np.abs(weights[:, :, 3] - weights[:, :, 0]).max(-1), atol=1e-6
    )
    assert args["twin_diff"][0].max() < 1e-6 and args["twin_diff"][1:].min() > 1e-4
    assert "position 0" in args["twin_label"] and "position 3" in args["twin_label"]
