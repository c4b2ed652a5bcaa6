"""Position encodings: sinusoidal values, RoPE's relative-position identity and adjoint, ALiBi slopes."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnbook import positional as P

SMALL = settings(max_examples=30, deadline=None)


# ---------------------------------------------------------------------------------------------------------
# sinusoidal


def test_sinusoidal_matches_formula():
    T, d = 7, 10
    pe = P.sinusoidal(T, d)
    assert pe.shape == (T, d) and pe.dtype == np.float64
    for pos in range(T):
        for i in range(d // 2):
            denom = 10000.0 ** (2 * i / d)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(pos / denom), abs=1e-14)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos / denom), abs=1e-14)


def test_sinusoidal_dtype_and_base():
    pe32 = P.sinusoidal(5, 4, dtype=np.float32)
    assert pe32.dtype == np.float32
    np.testing.assert_allclose(pe32, P.sinusoidal(5, 4), atol=1e-7)
    pe = P.sinusoidal(3, 2, base=100.0)
    assert pe[2, 0] == pytest.approx(math.sin(2.0)) and pe[2, 1] == pytest.approx(math.cos(2.0))


def test_sinusoidal_dot_product_depends_on_distance_only():
    # PE(p) . PE(p + k) = sum_i cos(k w_i): independent of p, a fact the book plots.
    pe = P.sinusoidal(40, 16)
    for k in (1, 3, 7):
        dots = np.einsum("tc,tc->t", pe[:-k], pe[k:])
        np.testing.assert_allclose(dots, dots[0], atol=1e-10)


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        ((5, 3), {}, ValueError, "d_model"),
        ((5, 0), {}, ValueError, "d_model"),
        ((0, 4), {}, ValueError, "T"),
        ((5, 4.0), {}, TypeError, "d_model"),
        ((5, 4), {"base": 1.0}, ValueError, "base"),
        ((5, 4), {"dtype": np.int64}, TypeError, "dtype"),
    ],
)
def test_sinusoidal_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        P.sinusoidal(*args, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# RoPE


def rope_loop(x, positions, base=10000.0):
    """Independent RoPE on a (T, D) array: rotate each interleaved pair with a 2x2 matrix."""
    T, D = x.shape
    out = np.empty_like(x)
    for t in range(T):
        for i in range(D // 2):
            a = positions[t] * base ** (-2 * i / D)
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            out[t, 2 * i : 2 * i + 2] = rot @ x[t, 2 * i : 2 * i + 2]
    return out


def test_rope_matches_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6))
    np.testing.assert_allclose(P.rope(x), rope_loop(x, np.arange(5)), atol=1e-12)
    pos = np.array([3, 0, 9, 2, 2])
    np.testing.assert_allclose(P.rope(x, pos, base=50.0), rope_loop(x, pos, base=50.0), atol=1e-12)


def test_rope_position_zero_is_identity():
    x = np.random.default_rng(1).normal(size=(1, 8))
    np.testing.assert_array_equal(P.rope(x), x)


@SMALL
@given(m=st.integers(0, 200), n=st.integers(0, 200), shift=st.integers(-50, 300), half_d=st.integers(1, 8))
def test_rope_relative_position_identity(m, n, shift, half_d):
    D = 2 * half_d
    rng = np.random.default_rng(m * 1000 + n)
    q, k = rng.normal(size=(2, 1, D))
    dot = np.sum(P.rope(q, [m]) * P.rope(k, [n]))
    dot_shifted = np.sum(P.rope(q, [m + shift]) * P.rope(k, [n + shift]))
    assert abs(dot - dot_shifted) < 1e-10
    # and it is the same as rotating only the query by m - n
    assert abs(dot - np.sum(P.rope(q, [m - n]) * k)) < 1e-10


@SMALL
@given(lead=st.lists(st.integers(1, 3), max_size=2), T=st.integers(1, 6), half_d=st.integers(1, 5))
def test_rope_preserves_norms_shape_dtype(lead, T, half_d):
    rng = np.random.default_rng(T)
    x = rng.normal(size=(*lead, T, 2 * half_d))
    y = P.rope(x)
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12)
    y32 = P.rope(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y, atol=1e-5)


def test_rope_backward_is_adjoint_and_inverse():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 7, 8))
    g = rng.normal(size=(2, 3, 7, 8))
    pos = np.array([4, 1, 0, 9, 9, 2, 30])
    lhs = np.sum(P.rope(x, pos, base=500.0) * g)
    rhs = np.sum(x * P.rope_backward(g, pos, base=500.0))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))
    np.testing.assert_allclose(P.rope_backward(P.rope(x, pos), pos), x, atol=1e-12)
    assert P.rope_backward(g.astype(np.float32)).dtype == np.float32


def test_rope_angles():
    theta = P.rope_angles(np.array([0, 2]), 4)
    np.testing.assert_allclose(theta, [[0.0, 0.0], [2.0, 2.0 / 100.0]], rtol=1e-15)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: P.rope(np.ones((3, 5))), ValueError, "x"),
        (lambda: P.rope(np.ones(4)), ValueError, "x"),
        (lambda: P.rope(np.ones((3, 4), dtype=np.int64)), TypeError, "x"),
        (lambda: P.rope(np.full((3, 4), np.nan)), ValueError, "x"),
        (lambda: P.rope(np.ones((3, 4)), positions=[0, 1]), ValueError, "positions"),
        (lambda: P.rope(np.ones((3, 4)), positions=np.array([0.0, 1.0, 2.0])), TypeError, "positions"),
        (lambda: P.rope(np.ones((3, 4)), base=0.5), ValueError, "base"),
        (lambda: P.rope_backward(np.ones((3, 3))), ValueError, "dout"),
    ],
)
def test_rope_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------------------------------------
# ALiBi


def paper_slopes(n):
    """Press et al. (2021), section 3: for 2^k heads the slopes are the geometric sequence that starts at
    2^(-8/n) with ratio 2^(-8/n). Otherwise take the 2^floor(log2 n) slopes of the closest lower power of
    two, then fill up with the odd-numbered slopes (1st, 3rd, ...) of twice that power."""

    def geometric(heads):
        start = 2.0 ** (-8.0 / heads)
        return [start * start**i for i in range(heads)]

    p = 1
    while p * 2 <= n:
        p *= 2
    if p == n:
        return geometric(n)
    return geometric(p) + geometric(2 * p)[::2][: n - p]


def test_alibi_slopes_eight_heads():
    np.testing.assert_allclose(P.alibi_slopes(8), [1 / 2**k for k in range(1, 9)], rtol=1e-15)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 12, 16, 20])
def test_alibi_slopes_paper_rule(n):
    s = P.alibi_slopes(n)
    assert s.shape == (n,) and s.dtype == np.float64
    np.testing.assert_allclose(s, paper_slopes(n), rtol=1e-14)


def test_alibi_slopes_non_power_of_two_by_hand():
    # n = 6: 4-head slopes 2^-2, 2^-4, 2^-6, 2^-8, then 8-head slopes 1 and 3: 2^-1, 2^-3.
    np.testing.assert_allclose(P.alibi_slopes(6), [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3], rtol=1e-15)
    # n = 12: eight slopes 2^-1..2^-8, then 16-head slopes 1, 3, 5, 7: 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
    expected = [2.0**-k for k in range(1, 9)] + [2.0**-0.5, 2.0**-1.5, 2.0**-2.5, 2.0**-3.5]
    np.testing.assert_allclose(P.alibi_slopes(12), expected, rtol=1e-14)


def test_alibi_bias_values():
    H, T = 3, 5
    b = P.alibi_bias(H, T)
    s = paper_slopes(H)
    assert b.shape == (H, T, T) and b.dtype == np.float64
    for h in range(H):
        for i in range(T):
            for j in range(T):
                assert b[h, i, j] == pytest.approx(-s[h] * abs(i - j), rel=1e-14, abs=0)
    assert P.alibi_bias(2, 3, dtype=np.float32).dtype == np.float32
    assert P.alibi_slopes(4, dtype=np.float32).dtype == np.float32


def test_alibi_bias_softmax_matches_official_form():
    # The official implementation adds slope * j to every row; on causal entries it differs from ours by a
    # per-row constant, so the softmax over the causal keys is the same.
    H, T = 4, 6
    b = P.alibi_bias(H, T)
    official = P.alibi_slopes(H)[:, None, None] * np.arange(T)[None, None, :] * np.ones((H, T, T))
    for i in range(T):
        ours = np.exp(b[:, i, : i + 1])
        theirs = np.exp(official[:, i, : i + 1])
        np.testing.assert_allclose(
            ours / ours.sum(-1, keepdims=True), theirs / theirs.sum(-1, keepdims=True), rtol=1e-12
        )


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: P.alibi_slopes(0), ValueError, "n_head"),
        (lambda: P.alibi_slopes(2.0), TypeError, "n_head"),
        (lambda: P.alibi_bias(0, 4), ValueError, "n_head"),
        (lambda: P.alibi_bias(4, 0), ValueError, "T"),
        (lambda: P.alibi_bias(4, 3, dtype=np.int32), TypeError, "dtype"),
    ],
)
def test_alibi_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
