"""Chapter 5's experiments: attention under each position scheme against the formulas written out, shuffles,
the repeated word, similarity of positions and ALiBi's heads; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from attnbook.experiments.position import (
    SCHEMES,
    alibi_heads,
    alibi_recency,
    permutation_sweep,
    position_similarity,
    scheme_attention,
    scheme_sweep,
    similarity_sweep,
)
from attnbook.positional import alibi_bias, alibi_slopes, rope, sinusoidal

T, C, H = 5, 8, 2
TOKENS = ("the", "cat", "sees", "the", "dog")


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, C))
    x[3] = x[0]  # the two "the" share their word vector, as in a real embedding table
    w_q, w_k = rng.standard_normal((2, C, C)) / np.sqrt(C)
    learned = rng.standard_normal((T + 3, C))
    return x, w_q, w_k, learned


def reference(x, w_q, w_k, learned, scheme):
    """The scheme written out from the formulas, head by head and row by row: (H, T, T)."""
    n = len(x)
    if scheme == "sinusoidal":
        x = x + sinusoidal(n, C)
    if scheme == "learned":
        x = x + learned[:n]
    D = C // H
    out = np.zeros((H, n, n))
    for h in range(H):
        q, k = (x @ w_q)[:, h * D : (h + 1) * D], (x @ w_k)[:, h * D : (h + 1) * D]  # (T, D) each
        if scheme == "rope":
            q, k = rope(q), rope(k)
        for i in range(n):
            s = np.array([q[i] @ k[j] / np.sqrt(D) for j in range(n)])
            if scheme == "alibi":
                s -= alibi_slopes(H)[h] * np.abs(i - np.arange(n))
            e = np.exp(s - s.max())
            out[h, i] = e / e.sum()
    return out


@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_attention_matches_the_formulas(setup, scheme):
    x, w_q, w_k, learned = setup
    w = scheme_attention(x, w_q, w_k, H, scheme, learned=learned)
    assert w.shape == (H, T, T) and w.dtype == np.float64
    np.testing.assert_allclose(w, reference(x, w_q, w_k, learned, scheme), atol=1e-12)


def test_scheme_attention_is_equivariant_only_without_position(setup):
    x, w_q, w_k, learned = setup
    p = np.array([2, 0, 4, 1, 3])
    for scheme in SCHEMES:
        a = scheme_attention(x, w_q, w_k, H, scheme, learned=learned)
        b = scheme_attention(x[p], w_q, w_k, H, scheme, learned=learned)
        if scheme == "none":
            np.testing.assert_allclose(b, a[:, p][:, :, p], atol=1e-12)
        else:
            assert np.abs(b - a[:, p][:, :, p]).max() > 1e-3, scheme


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
    a = {"x": x, "w_q": w_q, "w_k": w_k, "n_head": H, "scheme": "none", "learned": learned, **kw}
    with pytest.raises(exc, match=match):
        scheme_attention(a["x"], a["w_q"], a["w_k"], a["n_head"], a["scheme"], learned=a["learned"])


def test_scheme_sweep_stacks_the_schemes_and_finds_the_repeated_word(setup):
    x, w_q, w_k, learned = setup
    sweep = scheme_sweep(TOKENS, x, w_q, w_k, H, learned=learned)
    assert sweep.tokens == TOKENS and sweep.schemes == SCHEMES and sweep.twin == (0, 3)
    for s, scheme in enumerate(SCHEMES):
        np.testing.assert_allclose(sweep.weights[s], reference(x, w_q, w_k, learned, scheme), atol=1e-12)
        for h in range(H):
            rows = sweep.weights[s, h]
            assert sweep.twin_diff[s, h] == pytest.approx(np.abs(rows[3] - rows[0]).max(), abs=1e-15)
    # same word, same query: identical rows without position, different with any scheme
    assert sweep.twin_diff[0].max() < 1e-12 and sweep.twin_diff[1:].min() > 1e-4
    alone = scheme_sweep(["a", "b", "c", "d", "e"], x, w_q, w_k, H, learned=learned)
    assert alone.twin is None and not alone.twin_diff.any() and alone.twin_diff.shape == (len(SCHEMES), H)


def test_permutation_sweep_puts_the_shuffles_back_in_order(setup):
    x, w_q, w_k, learned = setup
    perms = np.array([np.arange(T), np.arange(T)[::-1], [1, 0, 3, 2, 4]])
    sweep = permutation_sweep(TOKENS, x, w_q, w_k, H, perms, learned=learned)
    assert sweep.shuffled.shape == sweep.diff.shape == (3, len(SCHEMES), H, T, T)
    for s, scheme in enumerate(SCHEMES):
        base = reference(x, w_q, w_k, learned, scheme)
        np.testing.assert_allclose(sweep.weights[s], base, atol=1e-12)
        for i, p in enumerate(perms):
            a = reference(x[p], w_q, w_k, learned, scheme)
            np.testing.assert_allclose(sweep.shuffled[i, s], a, atol=1e-12)
            for h in range(H):  # position r of the shuffle holds word p[r]: undo it cell by cell
                back = np.empty((T, T))
                for r in range(T):
                    for c in range(T):
                        back[p[r], p[c]] = a[h, r, c]
                np.testing.assert_allclose(sweep.diff[i, s, h], back - base[h], atol=1e-12)
    worst = np.abs(sweep.diff).max(axis=(2, 3, 4))  # (P, S)
    assert worst[0].max() < 1e-12 and worst[:, 0].max() < 1e-12  # identity, or no position: nothing moves
    assert worst[1:, 1:4].min() > 1e-3
    # ALiBi's bias depends on |i - j| only, which reversing keeps; another shuffle breaks it
    alibi = SCHEMES.index("alibi")
    assert worst[1, alibi] < 1e-12 and worst[2, alibi] > 1e-4


@pytest.mark.parametrize(
    ("perms", "match"),
    [
        (np.array([np.arange(T), [0, 0, 1, 2, 3]]), "permutation"),
        (np.array([np.arange(T)]), "permutations"),
        (np.array([np.arange(T + 1), np.arange(T + 1)]), "permutations"),
        (np.array([np.arange(T), np.arange(T)], dtype=float), "permutations"),
    ],
)
def test_permutation_sweep_bad_permutations(setup, perms, match):
    x, w_q, w_k, learned = setup
    with pytest.raises((ValueError, TypeError), match=match):
        permutation_sweep(TOKENS, x, w_q, w_k, H, perms, learned=learned)


def test_sweeps_check_the_sentence(setup):
    x, w_q, w_k, learned = setup
    good = np.array([np.arange(T), np.arange(T)[::-1]])
    with pytest.raises(ValueError, match="tokens"):
        scheme_sweep(TOKENS[:-1], x, w_q, w_k, H, learned=learned)
    with pytest.raises(TypeError, match="tokens"):
        permutation_sweep("the cat", x, w_q, w_k, H, good, learned=learned)
    with pytest.raises(ValueError, match="learned"):
        scheme_sweep(TOKENS, x, w_q, w_k, H, learned=learned[:2])
    with pytest.raises(ValueError, match="n_head"):
        permutation_sweep(TOKENS, x, w_q, w_k, 3, good, learned=learned)


def test_position_similarity_of_relative_schemes_depends_on_distance_alone():
    u = np.random.default_rng(1).standard_normal(16)
    for scheme, kw in (("sinusoidal", {}), ("rope", {"rope_vector": u})):
        sim = position_similarity(scheme, 12, 16, **kw)
        assert sim.shape == (12, 12)
        np.testing.assert_allclose(np.diag(sim), 1.0)
        for k in range(-11, 12):
            d = np.diagonal(sim, offset=k)
            assert d.max() - d.min() < 1e-12
    pe = sinusoidal(12, 16)  # every row has length sqrt(C / 2): the cosine is the dot product over C / 2
    np.testing.assert_allclose(position_similarity("sinusoidal", 12, 16), pe @ pe.T / 8, atol=1e-12)
    table = np.random.default_rng(2).standard_normal((12, 16))
    norms = np.linalg.norm(table, axis=1)
    np.testing.assert_allclose(
        position_similarity("learned", 12, 16, learned=table), table @ table.T / np.outer(norms, norms)
    )


@pytest.mark.parametrize(
    ("args", "kw", "match"),
    [
        (("alibi", 4, 8), {}, "scheme"),
        (("learned", 4, 8), {}, "learned"),
        (("rope", 4, 8), {}, "rope_vector"),
        (("rope", 4, 8), {"rope_vector": np.ones(6)}, "rope_vector"),
        (("sinusoidal", 0, 8), {}, "T"),
        (("sinusoidal", 4, 1), {}, "d_model"),
    ],
)
def test_position_similarity_bad_input(args, kw, match):
    with pytest.raises(ValueError, match=match):
        position_similarity(*args, **kw)


def test_similarity_sweep_statistics():
    toeplitz = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.5], [0.2, 0.5, 1.0]])
    skewed = np.diag([0.0, 1.0, 3.0])
    sweep = similarity_sweep({"t": toeplitz, "s": skewed})
    assert sweep.labels == ("t", "s") and sweep.similarity.shape == (2, 3, 3)
    np.testing.assert_array_equal(sweep.similarity[1], skewed)
    np.testing.assert_allclose(sweep.spread, [0.0, 3.0])  # the main diagonal 0, 1, 3 spreads by 3
    np.testing.assert_allclose(sweep.near, [0.5, 0.0])  # mean of the entries (m, m + 1)


@pytest.mark.parametrize(
    ("arg", "exc", "match"),
    [
        ({}, TypeError, "similarities"),
        ([np.eye(3)], TypeError, "similarities"),
        ({1: np.eye(3)}, TypeError, "str"),
        ({"a": np.eye(3), "b": np.eye(4)}, ValueError, "shape"),
        ({"a": np.eye(1)}, ValueError, "2 x 2"),
        ({"a": np.eye(3, dtype=int)}, TypeError, "similarities"),
    ],
)
def test_similarity_sweep_bad_input(arg, exc, match):
    with pytest.raises(exc, match=match):
        similarity_sweep(arg)


def test_alibi_recency():
    w, half = alibi_recency(4, 10)
    assert w.shape == (4, 10) and half.shape == (4,)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(np.diff(w, axis=1) > 0)  # nearer keys always get more
    for h in range(4):
        e = np.exp(-alibi_slopes(4)[h] * (9 - np.arange(10)))  # softmax of the bias row alone
        np.testing.assert_allclose(w[h], e / e.sum())
        tail = np.cumsum(w[h, ::-1])
        assert tail[half[h] - 1] >= 0.5 and (half[h] == 1 or tail[half[h] - 2] < 0.5)
    assert half[0] < half[-1]  # the steepest slope looks closest


def test_alibi_heads():
    heads = alibi_heads(4, 6)
    np.testing.assert_array_equal(heads.slopes, alibi_slopes(4))
    lower = np.tril(np.ones((6, 6), dtype=bool))
    np.testing.assert_array_equal(heads.bias[:, lower], alibi_bias(4, 6)[:, lower])
    assert np.isnan(heads.bias[:, ~lower]).all()
    w, half = alibi_recency(4, 6)
    np.testing.assert_array_equal(heads.last, w)
    np.testing.assert_array_equal(heads.half, half)
    with pytest.raises(ValueError, match="T"):
        alibi_heads(4, 1)
    with pytest.raises(TypeError, match="n_head"):
        alibi_heads(4.0, 6)
