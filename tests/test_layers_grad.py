"""Every layer's backward pass against centred finite differences (float64), plus dtype and bad-input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _gradcheck import check_grad, dot_loss

from attnbook import masks, positional
from attnbook.config import ModelConfig
from attnbook.layers import activations, attention, block, dropout, embedding, linear, loss, norm

TOL = 1e-6


def rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------------------- linear


@pytest.mark.parametrize("bias", [True, False])
def test_linear_grad(bias):
    r = rng(1)
    x = r.standard_normal((2, 3, 5))
    w = r.standard_normal((5, 4))
    b = r.standard_normal(4) if bias else None
    dout = r.standard_normal((2, 3, 4))
    out, cache = linear.forward(x, w, b)
    np.testing.assert_allclose(out, np.einsum("btc,cd->btd", x, w) + (b if bias else 0.0), rtol=1e-12)
    dx, dw, db = linear.backward(dout, cache)

    def f():
        return dot_loss(linear.forward(x, w, b)[0], dout)

    check_grad(f, x, dx, "dx")
    check_grad(f, w, dw, "dw")
    if bias:
        check_grad(f, b, db, "db")
    else:
        assert db is None


# ---------------------------------------------------------------------------------------- embedding


def test_embedding_grad_accumulates_repeated_ids():
    r = rng(2)
    w = r.standard_normal((7, 3))
    idx = np.array([[0, 3, 3], [6, 0, 3]])  # repeated ids must sum their gradients
    dout = r.standard_normal((2, 3, 3))
    out, cache = embedding.forward(idx, w)
    np.testing.assert_array_equal(out[1, 0], w[6])
    dw = embedding.backward(dout, cache)
    check_grad(lambda: dot_loss(embedding.forward(idx, w)[0], dout), w, dw, "dw")
    np.testing.assert_allclose(dw[3], dout[0, 1] + dout[0, 2] + dout[1, 2])
    np.testing.assert_array_equal(dw[1], 0.0)


# -------------------------------------------------------------------------------------------- norms


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_grad(bias):
    r = rng(3)
    x = r.standard_normal((2, 3, 6)) * 2.0 + 0.5
    w = 1.0 + 0.3 * r.standard_normal(6)
    b = r.standard_normal(6) if bias else None
    dout = r.standard_normal(x.shape)
    out, cache = norm.layernorm_forward(x, w, b, eps=1e-5)
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + (
        b if bias else 0.0
    )
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    dx, dw, db = norm.layernorm_backward(dout, cache)

    def f():
        return dot_loss(norm.layernorm_forward(x, w, b, eps=1e-5)[0], dout)

    check_grad(f, x, dx, "dx")
    check_grad(f, w, dw, "dw")
    if bias:
        check_grad(f, b, db, "db")


def test_rmsnorm_grad():
    r = rng(4)
    x = r.standard_normal((4, 5)) + 0.3
    w = 1.0 + 0.3 * r.standard_normal(5)
    dout = r.standard_normal(x.shape)
    out, cache = norm.rmsnorm_forward(x, w, eps=1e-6)
    np.testing.assert_allclose(out, x / np.sqrt(np.mean(x**2, -1, keepdims=True) + 1e-6) * w, rtol=1e-12)
    dx, dw = norm.rmsnorm_backward(dout, cache)

    def f():
        return dot_loss(norm.rmsnorm_forward(x, w, eps=1e-6)[0], dout)

    check_grad(f, x, dx, "dx")
    check_grad(f, w, dw, "dw")


# -------------------------------------------------------------------------------------- activations


def _away_from_zero(shape, seed):
    # ReLU's kink is at 0: keep every input at least 0.1 away so centred differences stay on one side.
    x = rng(seed).standard_normal(shape)
    return np.where(x >= 0, x + 0.1, x - 0.1)


@pytest.mark.parametrize("kind", activations.KINDS)
def test_activation_grad(kind):
    x = _away_from_zero((3, 8), 5) * 2.0
    out, cache = activations.forward(x, kind)
    dout = rng(6).standard_normal(out.shape)
    dx = activations.backward(dout, cache)
    check_grad(lambda: dot_loss(activations.forward(x, kind)[0], dout), x, dx, f"d{kind}")


def test_activation_values():
    x = np.linspace(-4.0, 4.0, 17)
    np.testing.assert_allclose(activations.relu_forward(x)[0], np.maximum(x, 0.0))
    exact = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x])
    np.testing.assert_allclose(
        activations.gelu_forward(x, approximate="none")[0], exact, rtol=1e-14, atol=1e-15
    )
    # The tanh approximation is within 1e-3 of the exact GeLU on this range.
    np.testing.assert_allclose(activations.gelu_forward(x)[0], exact, atol=1e-3)
    np.testing.assert_allclose(activations.swish_forward(x)[0], x / (1.0 + np.exp(-x)), rtol=1e-14)
    both = np.concatenate([x, 2.0 * x])
    np.testing.assert_allclose(
        activations.swiglu_forward(both)[0], x / (1.0 + np.exp(-x)) * 2.0 * x, rtol=1e-14
    )
    big = np.array([-1000.0, 1000.0], dtype=np.float32)
    with np.errstate(all="raise"):  # no overflow warnings for extreme inputs
        np.testing.assert_allclose(activations.swish_forward(big)[0], [0.0, 1000.0])


def test_activation_bad_input():
    with pytest.raises(ValueError, match="kind"):
        activations.forward(np.ones(2), "tanh")
    with pytest.raises(ValueError, match="x"):
        activations.swiglu_forward(np.ones((2, 3)))
    with pytest.raises(TypeError, match="x"):
        activations.relu_forward(np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError, match="approximate"):
        activations.gelu_forward(np.ones(2), approximate="erf")


# --------------------------------------------------------------------------------------------- loss


@pytest.mark.parametrize("ignore", [None, -1])
def test_cross_entropy_grad(ignore):
    r = rng(7)
    logits = r.standard_normal((2, 4, 5)) * 3.0
    targets = r.integers(0, 5, (2, 4))
    if ignore is not None:
        targets[0, 1] = targets[1, 3] = ignore
    value, cache = loss.forward(logits, targets, ignore_index=ignore)
    keep = targets != (ignore if ignore is not None else -999)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ref = -np.mean(np.take_along_axis(logp, np.where(keep, targets, 0)[..., None], -1)[..., 0][keep])
    assert value == pytest.approx(ref, rel=1e-12)
    dlogits = loss.backward(1.0, cache)
    check_grad(lambda: loss.forward(logits, targets, ignore_index=ignore)[0], logits, dlogits, "dlogits")
    np.testing.assert_allclose(loss.backward(2.5, cache), 2.5 * dlogits)


def test_cross_entropy_uniform_and_extreme():
    V = 11
    value, dlogits = loss.softmax_cross_entropy(np.zeros((3, V)), np.array([0, 4, 10]))
    assert value == pytest.approx(math.log(V), rel=1e-12)
    big = np.array([[1e4, -1e4, 0.0]], dtype=np.float32)
    value, dlogits = loss.softmax_cross_entropy(big, np.array([1]))
    assert np.isfinite(value) and value == pytest.approx(2e4, rel=1e-6)
    assert dlogits.dtype == np.float32 and np.all(np.isfinite(dlogits))


def test_cross_entropy_bad_input():
    with pytest.raises(ValueError, match="targets"):
        loss.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="targets"):
        loss.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="targets"):
        loss.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


# ------------------------------------------------------------------------------------------ dropout


def test_dropout_grad_and_statistics():
    x = rng(8).standard_normal((50, 40))
    dout = rng(9).standard_normal(x.shape)
    out, cache = dropout.forward(x, 0.25, rng=123)
    kept = out != 0.0
    assert 0.70 < kept.mean() < 0.80  # p = 0.25 of 2000 entries
    np.testing.assert_allclose(out[kept], x[kept] / 0.75)
    dx = dropout.backward(dout, cache)
    # An int seed makes the mask the same at every call, so finite differences see one fixed function.
    small = x[:3, :4].copy()
    small_out, small_cache = dropout.forward(small, 0.5, rng=5)
    d_small = dropout.backward(dout[:3, :4], small_cache)
    check_grad(lambda: dot_loss(dropout.forward(small, 0.5, rng=5)[0], dout[:3, :4]), small, d_small, "dx")
    np.testing.assert_array_equal(dx == 0.0, ~kept)


def test_dropout_off_by_default_and_seeded():
    x = rng(10).standard_normal((4, 4)).astype(np.float32)
    np.testing.assert_array_equal(dropout.forward(x, 0.5, rng=1, training=False)[0], x)
    np.testing.assert_array_equal(dropout.forward(x, 0.0)[0], x)
    a, _ = dropout.forward(x, 0.5, rng=np.random.default_rng(3))
    b, _ = dropout.forward(x, 0.5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    with pytest.raises(ValueError, match="rng"):
        dropout.forward(x, 0.5)
    with pytest.raises(ValueError, match="p"):
        dropout.forward(x, 1.0, rng=0)


# ---------------------------------------------------------------------------------------- attention


def _attn_params(C, bias, seed, scale=0.5):
    r = rng(seed)
    w_qkv = r.standard_normal((C, 3 * C)) * scale
    w_o = r.standard_normal((C, C)) * scale
    b_qkv = r.standard_normal(3 * C) * 0.1 if bias else None
    b_o = r.standard_normal(C) * 0.1 if bias else None
    return w_qkv, b_qkv, w_o, b_o


ATTN_CASES = [
    # (mask name, pos, bias, head_mask, dropout)
    ("none", "none", True, False, 0.0),
    ("causal", "none", True, False, 0.0),
    ("causal", "rope", True, False, 0.0),
    ("causal", "alibi", False, False, 0.0),
    ("local", "rope", True, True, 0.0),
    ("global_local", "alibi", True, False, 0.0),
    ("padding", "none", True, False, 0.0),
    ("causal", "none", True, True, 0.3),
]


def _mask(kind, B, T):
    if kind == "none":
        return None
    if kind == "causal":
        return masks.causal(T)
    if kind == "local":
        return masks.local(T, 1, causal=True)
    if kind == "global_local":
        return masks.global_local(T, 1, 1, causal=True)
    # Padding with an empty sequence: its rows see nothing and must give zeros, not NaN.
    return masks.padding(np.array([T - 2, 0]), T)[:, None]


@pytest.mark.parametrize(("mask_kind", "pos", "bias", "use_head_mask", "p"), ATTN_CASES)
def test_attention_grad(mask_kind, pos, bias, use_head_mask, p):
    B, T, C, H = 2, 5, 8, 2
    x = rng(11).standard_normal((B, T, C))
    w_qkv, b_qkv, w_o, b_o = _attn_params(C, bias, 12)
    mask = _mask(mask_kind, B, T)
    head_mask = np.array([1.0, 0.5]) if use_head_mask else None
    kwargs = dict(n_head=H, mask=mask, pos=pos, head_mask=head_mask, dropout=p, rng=7 if p else None)
    out, cache = attention.forward(x, w_qkv, b_qkv, w_o, b_o, **kwargs)
    assert np.all(np.isfinite(out))
    dout = rng(13).standard_normal(out.shape)
    dx, grads = attention.backward(dout, cache)

    def f():
        return dot_loss(attention.forward(x, w_qkv, b_qkv, w_o, b_o, **kwargs)[0], dout)

    check_grad(f, x, dx, "dx")
    check_grad(f, w_qkv, grads["w_qkv"], "dw_qkv")
    check_grad(f, w_o, grads["w_o"], "dw_o")
    if bias:
        check_grad(f, b_qkv, grads["b_qkv"], "db_qkv")
        check_grad(f, b_o, grads["b_o"], "db_o")
    else:
        assert set(grads) == {"w_qkv", "w_o"}


def _reference_attention(x, w_qkv, b_qkv, w_o, b_o, H, mask, pos):
    """A slow, loop-per-head version written from the definitions, for the forward values."""
    B, T, C = x.shape
    D = C // H
    qkv = x @ w_qkv + b_qkv
    out_heads = []
    for h in range(H):
        q = qkv[..., h * D : (h + 1) * D]
        k = qkv[..., C + h * D : C + (h + 1) * D]
        v = qkv[..., 2 * C + h * D : 2 * C + (h + 1) * D]
        if pos == "rope":
            q, k = positional.rope(q), positional.rope(k)
        s = q @ np.swapaxes(k, -1, -2) / math.sqrt(D)
        if pos == "alibi":
            s = s + positional.alibi_bias(H, T)[h]
        s = np.where(mask, s, -np.inf)
        e = np.exp(s - s.max(-1, keepdims=True))
        out_heads.append((e / e.sum(-1, keepdims=True)) @ v)
    return np.concatenate(out_heads, -1) @ w_o + b_o


@pytest.mark.parametrize("pos", attention.POSITIONS)
def test_attention_matches_definition(pos):
    B, T, C, H = 2, 6, 8, 2
    x = rng(14).standard_normal((B, T, C))
    w_qkv, b_qkv, w_o, b_o = _attn_params(C, True, 15)
    mask = masks.local(T, 2, causal=True)
    out, cache = attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=H, mask=mask, pos=pos)
    ref = _reference_attention(x, w_qkv, b_qkv, w_o, b_o, H, mask, pos)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache.att.sum(-1), 1.0, rtol=1e-12)
    assert np.all(cache.att[..., ~mask] == 0.0)


@pytest.mark.parametrize(("sign", "dtype"), [(1.0, np.float64), (-1.0, np.float64), (1.0, np.float32)])
def test_attention_extreme_scores(sign, dtype):
    # Scores beyond exp's range (sign +1) or rows whose scores are all hugely negative (sign -1, q = -c k)
    # leave the shift-free softmax; the row-max-shifted fallback must give the same values and gradients.
    B, T, C, H = 2, 5, 8, 2
    r = rng(22)
    x = 1.0 + 0.3 * r.standard_normal((B, T, C))
    w_qkv = r.standard_normal((C, 3 * C)) * 0.5
    big = 400.0 if dtype == np.float64 else 40.0  # exp overflows above 709 in float64, 88 in float32
    w_qkv[:, :C] = sign * big * w_qkv[:, C : 2 * C]  # q = ±big k: the diagonal scores are ±big |k|² / √D
    w_o = r.standard_normal((C, C))
    mask = masks.causal(T)
    ref = _reference_attention(x, w_qkv, 0.0, w_o, 0.0, H, mask, "none")  # float64, shifted softmax
    x, w_qkv, w_o = (a.astype(dtype) for a in (x, w_qkv, w_o))
    out, cache = attention.forward(x, w_qkv, None, w_o, None, n_head=H, mask=mask)
    row_max = np.where(mask, cache.q @ np.swapaxes(cache.k, -1, -2), -np.inf).max(-1)  # (B, H, T)
    limit = 710.0 if dtype == np.float64 else 89.0
    assert row_max.max() > limit if sign > 0 else row_max.min() < -limit
    np.testing.assert_allclose(out, ref, rtol=1e-12 if dtype == np.float64 else 1e-4, atol=1e-10)
    if dtype == np.float32:
        return
    dout = rng(23).standard_normal(out.shape)
    dx, grads = attention.backward(dout, cache)

    def f():
        return dot_loss(attention.forward(x, w_qkv, None, w_o, None, n_head=H, mask=mask)[0], dout)

    check_grad(f, x, dx, "dx", eps=1e-9, tol=1e-5)
    check_grad(f, w_o, grads["w_o"], "dw_o")


def test_attention_empty_rows_are_zero_and_head_mask_ablates():
    B, T, C, H = 2, 4, 8, 2
    x = rng(16).standard_normal((B, T, C)).astype(np.float32)
    w_qkv, b_qkv, w_o, b_o = (a.astype(np.float32) for a in _attn_params(C, True, 17))
    mask = masks.padding(np.array([0, 3]), T)[:, None]  # sequence 0 may attend nothing at all
    out, cache = attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=H, mask=mask)
    assert out.dtype == np.float32 and cache.att.dtype == np.float32
    np.testing.assert_array_equal(cache.att[0], 0.0)
    np.testing.assert_allclose(out[0], np.broadcast_to(b_o, (T, C)))  # only the output bias is left
    w0 = np.zeros_like(w_o)
    w0[C // H :] = w_o[C // H :]  # remove head 0's rows of the output projection instead
    ablated, _ = attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=H, head_mask=np.array([0.0, 1.0]))
    by_hand, _ = attention.forward(x, w_qkv, b_qkv, w0, b_o, n_head=H)
    np.testing.assert_allclose(ablated, by_hand, rtol=1e-6, atol=1e-7)


def test_attention_bad_input():
    x = np.zeros((1, 3, 4))
    w_qkv, b_qkv, w_o, b_o = _attn_params(4, True, 0)
    with pytest.raises(ValueError, match="n_head"):
        attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=3)
    with pytest.raises(ValueError, match="w_qkv"):
        attention.forward(x, w_qkv[:, :6], b_qkv, w_o, b_o, n_head=2)
    with pytest.raises(TypeError, match="mask"):
        attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=2, mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="mask"):
        attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=2, mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="pos"):
        attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=2, pos="learned")
    with pytest.raises(ValueError, match="rope"):
        attention.forward(np.zeros((1, 3, 6)), *_attn_params(6, True, 0), n_head=2, pos="rope")
    with pytest.raises(TypeError, match="dtype"):
        attention.forward(x.astype(np.float32), w_qkv, b_qkv, w_o, b_o, n_head=2)
    with pytest.raises(ValueError, match="head_mask"):
        attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=2, head_mask=np.ones(3))


# -------------------------------------------------------------------------------------------- block

BLOCK_CASES = [
    # (norm, block, activation, pos, attn_only, bias, dropout)
    ("layernorm", "pre", "gelu", "none", False, True, 0.0),
    ("rmsnorm", "post", "swiglu", "rope", False, True, 0.0),
    ("layernorm", "sandwich", "swish", "alibi", False, False, 0.0),
    ("none", "pre", "relu", "none", False, True, 0.0),
    ("rmsnorm", "sandwich", "gelu", "rope", True, True, 0.0),
    ("layernorm", "post", "relu", "alibi", True, True, 0.0),
    ("layernorm", "pre", "gelu", "none", False, True, 0.2),
]


def _noisy_params(shapes, seed, scale=0.4):
    """Block parameters far from their initial values, so every term of the backward pass matters."""
    r = rng(seed)
    return {k: r.standard_normal(s) * scale + (1.0 if k.endswith(".w") else 0.0) for k, s in shapes.items()}


@pytest.mark.parametrize(("norm_kind", "placement", "act", "pos", "attn_only", "bias", "p"), BLOCK_CASES)
def test_block_grad(norm_kind, placement, act, pos, attn_only, bias, p):
    sizes = dict(vocab_size=5, block_size=8, d_model=8, n_layer=1, n_head=2, d_ff=6, mask="local", window=2)
    choices = dict(norm=norm_kind, block=placement, activation=act, pos=pos, attn_only=attn_only, bias=bias)
    cfg = ModelConfig(**sizes, **choices, dropout=p)
    params = _noisy_params(block.param_shapes(cfg), 18)
    x = rng(19).standard_normal((2, 5, 8))
    if act == "relu":
        x = x + 0.05  # any pre-activation landing exactly on the kink would be a fluke; keep a fixed seed
    hm = np.array([0.7, 1.0])
    kwargs = dict(head_mask=hm, training=p > 0, rng=3 if p else None)
    out, cache = block.forward(x, params, cfg, **kwargs)
    dout = rng(20).standard_normal(out.shape)
    dx, grads = block.backward(dout, cache)
    assert set(grads) == set(params)

    def f():
        return dot_loss(block.forward(x, params, cfg, **kwargs)[0], dout)

    check_grad(f, x, dx, "dx")
    for name, value in params.items():
        check_grad(f, value, grads[name], name)


def test_block_param_names():
    cfg = ModelConfig(block="sandwich", norm="rmsnorm", activation="swiglu", d_ff=10, bias=False)
    shapes = block.param_shapes(cfg)
    assert shapes["mlp.w_in"] == (cfg.d_model, 20) and shapes["mlp.w_out"] == (10, cfg.d_model)
    assert {"ln1.w", "ln1_post.w", "ln2.w", "ln2_post.w"} <= set(shapes)
    assert not any(k.endswith(".b") or ".b_" in k for k in shapes)
    only = block.param_shapes(ModelConfig(attn_only=True, norm="none"))
    assert set(only) == {"attn.w_qkv", "attn.b_qkv", "attn.w_o", "attn.b_o"}


# --------------------------------------------------------------------------------- dtype and checks


def test_float32_stays_float32():
    r = rng(21)
    x = r.standard_normal((2, 3, 8)).astype(np.float32)
    w = np.ones(8, np.float32)
    for out, cache, bwd in [
        (*linear.forward(x, np.ones((8, 4), np.float32), np.zeros(4, np.float32)), linear.backward),
        (*norm.layernorm_forward(x, w, w), norm.layernorm_backward),
        (*norm.rmsnorm_forward(x, w), norm.rmsnorm_backward),
        *[(*activations.forward(x, k), activations.backward) for k in activations.KINDS],
        (*dropout.forward(x, 0.5, rng=0), dropout.backward),
    ]:
        assert out.dtype == np.float32
        grads = bwd(np.ones_like(out), cache)
        for g in grads if isinstance(grads, tuple) else (grads,):
            assert g is None or g.dtype == np.float32
    cfg = ModelConfig(d_model=8, n_head=2, d_ff=16, pos="rope")
    params = {k: np.full(s, 0.1, np.float32) for k, s in block.param_shapes(cfg).items()}
    out, cache = block.forward(x, params, cfg)
    dx, grads = block.backward(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_layers_bad_input():
    with pytest.raises(ValueError, match="w"):
        linear.forward(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(TypeError, match="dtype"):
        linear.forward(np.ones((2, 3), np.float32), np.ones((3, 2)))
    with pytest.raises(ValueError, match="b"):
        linear.forward(np.ones((2, 3)), np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="x"):
        linear.forward(np.array([[np.nan, 1.0, 2.0]]), np.ones((3, 2)))
    with pytest.raises(ValueError, match="idx"):
        embedding.forward(np.array([0, 5]), np.ones((5, 2)))
    with pytest.raises(TypeError, match="idx"):
        embedding.forward(np.array([0.0, 1.0]), np.ones((5, 2)))
    with pytest.raises(ValueError, match="eps"):
        norm.layernorm_forward(np.ones((2, 3)), np.ones(3), eps=0.0)
    with pytest.raises(ValueError, match="w"):
        norm.rmsnorm_forward(np.ones((2, 3)), np.ones(4))
    _, cache = linear.forward(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="dout"):
        linear.backward(np.ones((2, 3)), cache)
    cfg = ModelConfig(d_model=8, n_head=2)
    with pytest.raises(ValueError, match="params"):
        block.forward(np.ones((1, 2, 8)), {}, cfg)
    with pytest.raises(ValueError, match="x"):
        block.forward(np.ones((1, 2, 6)), {}, cfg)
