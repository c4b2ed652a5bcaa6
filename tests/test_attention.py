"""Attention core: against an explicit loop; masked rows, stability, dtypes, the step record, errors."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnbook import masks
from attnbook.analysis import attention_entropy
from attnbook.attention import (
    AttentionSteps,
    attention_steps,
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from attnbook.positional import alibi_bias

SMALL = settings(max_examples=40, deadline=None)


def loop_attention(q, k, v, mask, bias, temperature):
    """Row-by-row attention with Python floats, written independently of the package."""
    lead = q.shape[:-2]
    Tq, D = q.shape[-2:]
    Tk, Dv = v.shape[-2:]
    mask = np.broadcast_to(np.ones((), bool) if mask is None else mask, (*lead, Tq, Tk))
    bias = np.broadcast_to(np.zeros(()) if bias is None else bias, (*lead, Tq, Tk))
    out = np.zeros((*lead, Tq, Dv))
    weights = np.zeros((*lead, Tq, Tk))
    for idx in np.ndindex(*lead):
        for i in range(Tq):
            logits = {}
            for j in range(Tk):
                if mask[idx][i, j]:
                    dot = sum(float(q[idx][i, d]) * float(k[idx][j, d]) for d in range(D))
                    logits[j] = dot / math.sqrt(D) / temperature + float(bias[idx][i, j])
            if not logits:
                continue
            top = max(logits.values())
            z = sum(math.exp(s - top) for s in logits.values())
            for j, s in logits.items():
                weights[idx][i, j] = math.exp(s - top) / z
            out[idx][i] = weights[idx][i] @ v[idx]
    return out, weights


@st.composite
def attention_inputs(draw):
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    Tq, Tk = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    D, Dv = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(*lead, Tq, D))
    k = rng.normal(size=(*lead, Tk, D))
    v = rng.normal(size=(*lead, Tk, Dv))
    kind = draw(st.sampled_from(["none", "full", "row", "random"]))
    mask = {
        "none": None,
        "full": rng.random((*lead, Tq, Tk)) < 0.6,
        "row": rng.random((Tq, Tk)) < 0.6,  # broadcast over the batch axes
        "random": rng.random((1,) * len(lead) + (Tq, 1)) < 0.7,  # whole rows on or off
    }[kind]
    bias = rng.normal(size=(Tq, Tk)) if draw(st.booleans()) else None
    temperature = draw(st.sampled_from([0.5, 1.0, 3.0]))
    return q, k, v, mask, bias, temperature


@SMALL
@given(attention_inputs())
def test_matches_loop_and_rows_sum_to_one(inputs):
    q, k, v, mask, bias, temperature = inputs
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning, even for rows that see nothing
        out, w = scaled_dot_product_attention(q, k, v, mask=mask, bias=bias, temperature=temperature)
    ref_out, ref_w = loop_attention(q, k, v, mask, bias, temperature)
    assert out.shape == ref_out.shape and w.shape == ref_w.shape
    assert np.isfinite(out).all() and np.isfinite(w).all()
    np.testing.assert_allclose(w, ref_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    allowed = np.broadcast_to(True if mask is None else mask, w.shape)
    any_allowed = allowed.any(axis=-1)
    np.testing.assert_allclose(w.sum(-1)[any_allowed], 1.0, rtol=1e-12)
    assert (w[~any_allowed] == 0).all() and (out[~any_allowed] == 0).all()
    assert (w[~allowed] == 0).all()


def test_fully_masked_rows_are_zero_not_nan():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, 4, 5))
    mask = masks.padding([0], 4)[0]  # no key allowed at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert (out == 0).all() and (w == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_at_large_logits(dtype):
    # Scores of +-1e4: a naive exp overflows; the stable softmax gives exact one-hot weights.
    q = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype) * 100.0
    k = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], dtype=dtype) * 100.0 * math.sqrt(2)
    v = np.arange(6, dtype=dtype).reshape(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, w = scaled_dot_product_attention(q, k, v)
    assert w.dtype == dtype and out.dtype == dtype
    np.testing.assert_array_equal(w, np.array([[1, 0, 0], [0, 0, 1]], dtype=dtype))
    np.testing.assert_array_equal(out, v[[0, 2]])
    p = softmax(np.array([1e4, -1e4, 1e4 - 1.0], dtype=dtype))
    np.testing.assert_allclose(p, [1 / (1 + math.exp(-1)), 0.0, math.exp(-1) / (1 + math.exp(-1))], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(dtype):
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(2, 3, 4)).astype(dtype) for _ in range(3))
    bias = alibi_bias(2, 3)  # float64 table must not promote float32 scores
    out, w = scaled_dot_product_attention(q, k, v, mask=masks.causal(3), bias=bias, temperature=2.0)
    assert out.dtype == dtype and w.dtype == dtype
    assert softmax(q).dtype == dtype
    x = rng.normal(size=(3, 4)).astype(dtype)
    ws = [rng.normal(size=(4, 4)).astype(dtype) for _ in range(4)]
    steps = attention_steps(x, *ws, n_head=2, mask=masks.causal(3), bias=alibi_bias(2, 3))
    assert all(a.dtype == dtype for a in steps)


def test_float32_close_to_float64():
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=(3, 2, 5, 4))
    out64, w64 = scaled_dot_product_attention(q, k, v, mask=masks.causal(5))
    out32, w32 = scaled_dot_product_attention(
        *(a.astype(np.float32) for a in (q, k, v)), mask=masks.causal(5)
    )
    np.testing.assert_allclose(w32, w64, atol=1e-5)
    np.testing.assert_allclose(out32, out64, atol=1e-5)


def test_temperature():
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(3, 4, 6))
    # dividing the scores by t is the same as dividing q by t
    out_t, w_t = scaled_dot_product_attention(q, k, v, temperature=2.5)
    out_q, w_q = scaled_dot_product_attention(q / 2.5, k, v)
    np.testing.assert_allclose(w_t, w_q, rtol=1e-12)
    np.testing.assert_allclose(out_t, out_q, rtol=1e-12)
    # hotter is flatter: entropy grows with temperature, tends to log(Tk) and to 0 (argmax) when cold
    ents = [attention_entropy(scaled_dot_product_attention(q, k, v, temperature=t)[1]) for t in (0.1, 1, 10)]
    assert (ents[0] < ents[1]).all() and (ents[1] < ents[2]).all()
    _, hot = scaled_dot_product_attention(q, k, v, temperature=1e6)
    np.testing.assert_allclose(hot, 1 / 4, atol=1e-5)
    _, cold = scaled_dot_product_attention(q, k, v, temperature=1e-4)
    np.testing.assert_array_equal(cold.argmax(-1), (q @ k.T).argmax(-1))
    np.testing.assert_allclose(cold.max(-1), 1.0, atol=1e-6)


def test_bias_is_added_to_scaled_scores():
    rng = np.random.default_rng(4)
    q, k, v = rng.normal(size=(3, 4, 6))
    bias = rng.normal(size=(4, 4))
    _, w = scaled_dot_product_attention(q, k, v, bias=bias, temperature=2.0)
    logits = q @ k.T / math.sqrt(6) / 2.0 + bias
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    # a per-row constant changes nothing; a large negative bias acts like a mask
    _, w_const = scaled_dot_product_attention(q, k, v, bias=np.arange(4.0)[:, None] * np.ones((4, 4)))
    np.testing.assert_allclose(w_const, scaled_dot_product_attention(q, k, v)[1], rtol=1e-12)
    causal = masks.causal(4)
    _, w_big = scaled_dot_product_attention(q, k, v, bias=np.where(causal, 0.0, -1e4))
    np.testing.assert_allclose(w_big, scaled_dot_product_attention(q, k, v, mask=causal)[1], atol=1e-12)


def test_softmax_public():
    x = np.array([[1.0, 2.0, 3.0], [0.0, -np.inf, 0.0], [-np.inf, -np.inf, -np.inf]])
    p = softmax(x)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(p[0], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(p[1], [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(p[2], 0.0)
    m = np.array([True, False, True])
    np.testing.assert_allclose(softmax(x[:1], mask=m)[0], [e[0] / (e[0] + e[2]), 0, e[2] / (e[0] + e[2])])
    np.testing.assert_allclose(softmax(x[:1].T, axis=0)[:, 0], e / e.sum(), rtol=1e-14)


# ---------------------------------------------------------------------------------------------------------
# multi-head attention and the step record


def make_mha(T=5, C=12, seed=5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, C)).astype(dtype)
    ws = [(rng.normal(size=(C, C)) / math.sqrt(C)).astype(dtype) for _ in range(4)]
    return x, ws


def test_split_merge_heads():
    x = np.arange(24.0).reshape(2, 12)  # (T, C)
    xh = split_heads(x, 3)
    assert xh.shape == (3, 2, 4)
    for h in range(3):
        np.testing.assert_array_equal(xh[h], x[:, 4 * h : 4 * h + 4])
    np.testing.assert_array_equal(merge_heads(xh), x)
    xb = np.random.default_rng(0).normal(size=(2, 5, 6))
    assert split_heads(xb, 2).shape == (2, 2, 5, 3)
    np.testing.assert_array_equal(merge_heads(split_heads(xb, 2)), xb)


@pytest.mark.parametrize("n_head", [1, 2, 3, 4, 6, 12])
@pytest.mark.parametrize("use_mask", [False, True])
def test_attention_steps_consistent(n_head, use_mask):
    T, C = 5, 12
    D = C // n_head
    x, (w_q, w_k, w_v, w_o) = make_mha(T, C)
    mask = masks.local(T, 1, causal=True) if use_mask else None
    bias = alibi_bias(n_head, T)
    s = attention_steps(x, w_q, w_k, w_v, w_o, n_head, mask=mask, bias=bias, temperature=1.5)
    assert isinstance(s, AttentionSteps)
    assert s._fields == (
        "x", "q", "k", "v", "scores", "scaled", "masked", "weights", "weighted", "concat", "out"
    )  # fmt: skip
    assert s.x.shape == (T, C) and s.concat.shape == (T, C) and s.out.shape == (T, C)
    for a in (s.q, s.k, s.v, s.weighted):
        assert a.shape == (n_head, T, D)
    for a in (s.scores, s.scaled, s.masked, s.weights):
        assert a.shape == (n_head, T, T)
    np.testing.assert_array_equal(s.x, x)
    for h in range(n_head):
        cols = slice(h * D, (h + 1) * D)
        np.testing.assert_allclose(s.q[h], x @ w_q[:, cols], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(s.k[h], x @ w_k[:, cols], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(s.v[h], x @ w_v[:, cols], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(s.concat[:, cols], s.weighted[h], rtol=1e-12, atol=1e-14)
        out_h, w_h = scaled_dot_product_attention(
            s.q[h], s.k[h], s.v[h], mask=mask, bias=bias[h], temperature=1.5
        )
        np.testing.assert_allclose(s.weights[h], w_h, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(s.weighted[h], out_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s.scores, s.q @ np.swapaxes(s.k, -1, -2), rtol=1e-12)
    np.testing.assert_allclose(s.scaled, s.scores / math.sqrt(D) / 1.5 + bias, rtol=1e-12, atol=1e-14)
    allowed = np.broadcast_to(True if mask is None else mask, s.masked.shape)
    np.testing.assert_array_equal(s.masked[allowed], s.scaled[allowed])
    assert (s.masked[~allowed] == -np.inf).all()
    np.testing.assert_allclose(s.weights, softmax(s.masked), rtol=1e-14)
    np.testing.assert_allclose(s.weighted, s.weights @ s.v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s.out, s.concat @ w_o, rtol=1e-12, atol=1e-14)
    out, w = multi_head_attention(x, w_q, w_k, w_v, w_o, n_head, mask=mask, bias=bias, temperature=1.5)
    np.testing.assert_array_equal(out, s.out)
    np.testing.assert_array_equal(w, s.weights)


def test_one_head_is_plain_attention():
    x, (w_q, w_k, w_v, w_o) = make_mha(4, 6)
    out, w = multi_head_attention(x, w_q, w_k, w_v, w_o, 1)
    ref_out, ref_w = loop_attention(x @ w_q, x @ w_k, x @ w_v, None, None, 1.0)
    np.testing.assert_allclose(w[0], ref_w, rtol=1e-10)
    np.testing.assert_allclose(out, ref_out @ w_o, rtol=1e-10, atol=1e-12)


def test_mha_batched_matches_unbatched():
    rng = np.random.default_rng(6)
    xb = rng.normal(size=(3, 4, 8))
    _, ws = make_mha(4, 8)
    mask = masks.padding([4, 2, 0], 4)[:, None]  # (B, 1, T, T) broadcasts over heads
    out, w = multi_head_attention(xb, *ws, 2, mask=mask)
    assert out.shape == (3, 4, 8) and w.shape == (3, 2, 4, 4)
    for b in range(3):
        out_b, w_b = multi_head_attention(xb[b], *ws, 2, mask=mask[b])
        np.testing.assert_allclose(out[b], out_b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(w[b], w_b, rtol=1e-12, atol=1e-14)
    assert (out[2] == 0).all()


def test_no_position_means_permutation_equivariance():
    # Without masks or position, permuting the tokens permutes the outputs (chapter 5's starting point).
    x, ws = make_mha(6, 8)
    perm = np.array([3, 0, 5, 1, 4, 2])
    out, w = multi_head_attention(x, *ws, 2)
    out_p, w_p = multi_head_attention(x[perm], *ws, 2)
    np.testing.assert_allclose(out_p, out[perm], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w_p, w[:, perm][:, :, perm], rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------------------
# bad input

R = np.random.default_rng(7)
Q, K, V = R.normal(size=(3, 4, 5))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"k": R.normal(size=(4, 6))}, ValueError, "k"),
        ({"v": R.normal(size=(3, 5))}, ValueError, "v"),
        ({"q": R.normal(size=5)}, ValueError, "q"),
        ({"q": np.ones((4, 5), dtype=np.int64)}, TypeError, "q"),
        ({"k": K.astype(np.float32)}, TypeError, "k"),
        ({"v": V.astype(np.float32)}, TypeError, "v"),
        ({"q": np.where(np.eye(4, 5) > 0, np.nan, Q)}, ValueError, "q"),
        ({"k": np.full((4, 5), np.inf)}, ValueError, "k"),
        ({"q": R.normal(size=(2, 4, 5)), "k": R.normal(size=(3, 4, 5))}, ValueError, "batch"),
        ({"mask": np.ones((4, 4))}, TypeError, "mask"),
        ({"mask": np.ones((4, 4), dtype=np.int64)}, TypeError, "mask"),
        ({"mask": [[True] * 4] * 4}, TypeError, "mask"),
        ({"mask": np.ones((4, 3), dtype=bool)}, ValueError, "mask"),
        ({"mask": np.ones((2, 4, 4), dtype=bool)}, ValueError, "mask"),
        ({"bias": np.ones((5, 4))}, ValueError, "bias"),
        ({"bias": np.ones((4, 4), dtype=np.int64)}, TypeError, "bias"),
        ({"bias": np.full((4, 4), -np.inf)}, ValueError, "bias"),
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"temperature": -1.0}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"temperature": 1e-320}, ValueError, "temperature"),
    ],
)
def test_sdpa_bad_input(kwargs, exc, match):
    args = {"q": Q, "k": K, "v": V, **kwargs}
    with pytest.raises(exc, match=match):
        scaled_dot_product_attention(**args)


X, WS = make_mha(4, 6)


@pytest.mark.parametrize(
    ("change", "exc", "match"),
    [
        ({"n_head": 4}, ValueError, "n_head=4 must divide d_model=6"),
        ({"n_head": 0}, ValueError, "n_head"),
        ({"n_head": 2.0}, TypeError, "n_head"),
        ({"w_q": np.ones((6, 5))}, ValueError, "w_q"),
        ({"w_o": np.ones((5, 5))}, ValueError, "w_o"),
        ({"w_k": WS[1].astype(np.float32)}, TypeError, "w_k"),
        ({"x": np.ones(6)}, ValueError, "x"),
        ({"x": np.ones((4, 6), dtype=np.int32)}, TypeError, "x"),
        ({"mask": np.ones((3, 4, 4), dtype=bool)}, ValueError, "mask"),
        ({"mask": np.ones((4, 4))}, TypeError, "mask"),
        ({"bias": np.ones((3, 4, 4))}, ValueError, "bias"),
        ({"temperature": 0}, ValueError, "temperature"),
    ],
)
def test_mha_bad_input(change, exc, match):
    args = {"x": X, "w_q": WS[0], "w_k": WS[1], "w_v": WS[2], "w_o": WS[3], "n_head": 2, **change}
    with pytest.raises(exc, match=match):
        attention_steps(**args)
    with pytest.raises(exc, match=match):
        multi_head_attention(**args)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: split_heads(np.ones((4, 6)), 4), ValueError, "n_head"),
        (lambda: split_heads(np.ones(6), 2), ValueError, "x"),
        (lambda: merge_heads(np.ones((4, 6))), ValueError, "x"),
        (lambda: softmax(np.array([np.nan, 1.0])), ValueError, "x"),
        (lambda: softmax(np.array([np.inf, 1.0])), ValueError, "x"),
        (lambda: softmax(np.ones(3), axis=1), ValueError, "axis"),
        (lambda: softmax(np.ones(3), mask=np.ones(3)), TypeError, "mask"),
        (lambda: softmax(np.ones(3, dtype=np.int64)), TypeError, "x"),
    ],
)
def test_helpers_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
