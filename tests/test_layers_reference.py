"""The readable reference kernels the book shows compute what the fast kernels compute (float64, ~1e-12), and their
backward passes agree with centred finite differences."""

import numpy as np
import pytest
from _gradcheck import dot_loss, numeric_grad, rel_error

from attnbook.layers import attention, linear, norm
from attnbook.layers import reference as ref
from attnbook.masks import causal
from attnbook.optim import AdamW

RNG = np.random.default_rng(0)
T, C, H = 5, 8, 2


def test_linear_equals_the_fast_kernel():
    x, w, b, dout = (
        RNG.standard_normal((T, C)),
        RNG.standard_normal((C, 3)),
        RNG.standard_normal(3),
        RNG.standard_normal((T, 3)),
    )
    out, cache = ref.linear_forward(x, w, b)
    fast, fcache = linear.forward(x, w, b)
    np.testing.assert_allclose(out, fast, rtol=1e-12, atol=1e-12)
    for a, f in zip(ref.linear_backward(dout, cache), linear.backward(dout, fcache), strict=True):
        np.testing.assert_allclose(a, f, rtol=1e-12, atol=1e-12)


def test_layernorm_equals_the_fast_kernel():
    x, w, b, dout = (
        RNG.standard_normal((T, C)),
        RNG.standard_normal(C),
        RNG.standard_normal(C),
        RNG.standard_normal((T, C)),
    )
    out, cache = ref.layernorm_forward(x, w, b)
    fast, fcache = norm.layernorm_forward(x, w, b)
    np.testing.assert_allclose(out, fast, rtol=1e-12, atol=1e-12)
    for a, f in zip(ref.layernorm_backward(dout, cache), norm.layernorm_backward(dout, fcache), strict=True):
        np.testing.assert_allclose(a, f, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("masked", [False, True])
def test_attention_equals_the_fast_kernel(masked):
    x, w_qkv, w_o = RNG.standard_normal((T, C)), RNG.standard_normal((C, 3 * C)), RNG.standard_normal((C, C))
    dout = RNG.standard_normal((T, C))
    mask = causal(T) if masked else np.ones((T, T), bool)
    out, cache = ref.attention_forward(x, w_qkv, w_o, H, mask)
    fast, fcache = attention.forward(x[None], w_qkv, None, w_o, None, n_head=H, mask=mask)
    np.testing.assert_allclose(out, fast[0], rtol=1e-10, atol=1e-12)
    dx, dw_qkv, dw_o = ref.attention_backward(dout, cache)
    fdx, fgrads = attention.backward(dout[None], fcache)
    np.testing.assert_allclose(dx, fdx[0], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dw_qkv, fgrads["w_qkv"], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dw_o, fgrads["w_o"], rtol=1e-9, atol=1e-11)


def test_reference_backward_passes_agree_with_finite_differences():
    x, w_qkv, w_o = RNG.standard_normal((T, C)), RNG.standard_normal((C, 3 * C)), RNG.standard_normal((C, C))
    dout, mask = RNG.standard_normal((T, C)), causal(T)
    _, cache = ref.attention_forward(x, w_qkv, w_o, H, mask)
    dx, dw_qkv, _ = ref.attention_backward(dout, cache)
    for analytic, arr in ((dx, x), (dw_qkv, w_qkv)):
        numeric = numeric_grad(lambda: dot_loss(ref.attention_forward(x, w_qkv, w_o, H, mask)[0], dout), arr)
        assert rel_error(analytic.ravel(), numeric.ravel()) < 1e-6
    w, b = RNG.standard_normal(C), RNG.standard_normal(C)
    _, cache = ref.layernorm_forward(x, w, b)
    dx, dw, _ = ref.layernorm_backward(dout, cache)
    for analytic, arr in ((dx, x), (dw, w)):
        numeric = numeric_grad(lambda: dot_loss(ref.layernorm_forward(x, w, b)[0], dout), arr)
        assert rel_error(analytic.ravel(), numeric.ravel()) < 1e-6


def test_adamw_step_equals_the_optimiser_over_several_steps():
    p0 = RNG.standard_normal((4, 3))
    params = {"w": p0.copy()}
    opt = AdamW(params, lr=0.01, weight_decay=0.1)
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t in range(1, 6):
        g = RNG.standard_normal(p0.shape)
        opt.step({"w": g})
        p, m, v = ref.adamw_step(p, g, m, v, t, lr=0.01, weight_decay=0.1)
        np.testing.assert_allclose(p, params["w"], rtol=1e-12, atol=1e-14)
    assert not np.allclose(p, p0)
