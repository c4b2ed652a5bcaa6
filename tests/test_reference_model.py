"""Every layer and the whole GPT (forward, loss, backward) against a PyTorch autograd twin with the same weights.

The twin, :mod:`attnbook.reference.torch_gpt`, is written from the definitions with PyTorch's own ops
(``F.layer_norm``, ``F.rms_norm``, ``F.gelu``, complex multiplication for RoPE, ...), not by porting the NumPy
code; its attention is itself checked against ``F.scaled_dot_product_attention``. float64 must agree to 1e-9
and float32 to 1e-4 (relative to the largest entry).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook import masks, model
from attnbook.config import ModelConfig, from_preset
from attnbook.layers import activations, attention, block, embedding, linear, loss, norm
from attnbook.reference import torch_gpt as tg

pytestmark = pytest.mark.reference

TOL = {np.float64: 1e-9, np.float32: 1e-4}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def assert_close(name: str, ours, ref, dtype) -> None:
    """Max-abs difference relative to the reference's largest entry; on failure show both side by side."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = (
        ref.detach().numpy().astype(np.float64)
        if isinstance(ref, torch.Tensor)
        else np.asarray(ref, np.float64)
    )
    assert ours.shape == ref.shape, f"{name}: shape {ours.shape} != reference {ref.shape}"
    scale = max(np.abs(ref).max(initial=0.0), 1e-30)
    err = np.abs(ours - ref).max(initial=0.0) / scale
    if not err <= TOL[dtype]:
        flat = np.argsort(-np.abs(ours - ref).ravel())[:8]
        rows = "\n".join(
            f"  {np.unravel_index(i, ref.shape)}: numpy {ours.flat[i]: .12e}  torch {ref.flat[i]: .12e}"
            for i in flat
        )
        raise AssertionError(f"{name}: relative error {err:.3e} > {TOL[dtype]:.0e}; worst entries:\n{rows}")


def T(a, dtype, grad=True):
    return torch.tensor(np.asarray(a), dtype=TORCH_DTYPE[dtype], requires_grad=grad)


DTYPES = [np.float64, np.float32]


# ----------------------------------------------------------------------------------------- per op


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_embedding_norms(dtype):
    r = np.random.default_rng(0)
    x = r.standard_normal((3, 4, 8)).astype(dtype)
    w = r.standard_normal((8, 5)).astype(dtype)
    b = r.standard_normal(5).astype(dtype)
    g = r.standard_normal(8).astype(dtype)
    dout5 = r.standard_normal((3, 4, 5)).astype(dtype)
    dout8 = r.standard_normal((3, 4, 8)).astype(dtype)

    out, cache = linear.forward(x, w, b)
    dx, dw, db = linear.backward(dout5, cache)
    tx, tw, tb = T(x, dtype), T(w, dtype), T(b, dtype)
    tout = tx @ tw + tb
    tout.backward(T(dout5, dtype, False))
    for name, a, t in [("out", out, tout), ("dx", dx, tx.grad), ("dw", dw, tw.grad), ("db", db, tb.grad)]:
        assert_close(f"linear {name}", a, t, dtype)

    idx = r.integers(0, 5, (3, 4))
    table = r.standard_normal((5, 8)).astype(dtype)
    out, cache = embedding.forward(idx, table)
    dtable = embedding.backward(dout8, cache)
    tt = T(table, dtype)
    tout = F.embedding(torch.from_numpy(idx), tt)
    tout.backward(T(dout8, dtype, False))
    assert_close("embedding out", out, tout, dtype)
    assert_close("embedding dw", dtable, tt.grad, dtype)

    for kind in ("layernorm", "rmsnorm"):
        tx, tg, tb = T(x, dtype), T(g + 1.0, dtype), T(g, dtype)
        if kind == "layernorm":
            out, cache = norm.layernorm_forward(x, g + 1.0, g, eps=1e-5)
            dx, dw, db = norm.layernorm_backward(dout8, cache)
            tout = F.layer_norm(tx, (8,), tg, tb, eps=1e-5)
        else:
            out, cache = norm.rmsnorm_forward(x, g + 1.0, eps=1e-5)
            dx, dw = norm.rmsnorm_backward(dout8, cache)
            tout = F.rms_norm(tx, (8,), tg, eps=1e-5)
        tout.backward(T(dout8, dtype, False))
        assert_close(f"{kind} out", out, tout, dtype)
        assert_close(f"{kind} dx", dx, tx.grad, dtype)
        assert_close(f"{kind} dw", dw, tg.grad, dtype)
        if kind == "layernorm":
            assert_close(f"{kind} db", db, tb.grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", activations.KINDS)
def test_activations(kind, dtype):
    r = np.random.default_rng(1)
    x = (r.standard_normal((6, 10)) * 3.0).astype(dtype)
    out, cache = activations.forward(x, kind)
    dout = r.standard_normal(out.shape).astype(dtype)
    dx = activations.backward(dout, cache)
    tx = T(x, dtype)
    tout = tg.activation(tx, kind)
    tout.backward(T(dout, dtype, False))
    assert_close(f"{kind} out", out, tout, dtype)
    assert_close(f"{kind} dx", dx, tx.grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ignore", [None, 3])
def test_cross_entropy(dtype, ignore):
    r = np.random.default_rng(2)
    logits = (r.standard_normal((2, 5, 7)) * 4.0).astype(dtype)
    targets = r.integers(0, 7, (2, 5))
    value, dlogits = loss.softmax_cross_entropy(logits, targets, ignore_index=ignore)
    tl = T(logits, dtype)
    t_ignore = -100 if ignore is None else ignore  # -100 is PyTorch's default: nothing ignored
    tloss = F.cross_entropy(tl.reshape(-1, 7), torch.from_numpy(targets).reshape(-1), ignore_index=t_ignore)
    tloss.backward()
    assert_close("loss", value, tloss, dtype)
    assert_close("dlogits", dlogits, tl.grad, dtype)


# ------------------------------------------------------------------------------ attention (torch)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", [None, "causal", "local", "global_local"])
def test_twin_attention_matches_pytorch_sdpa(kind, dtype):
    # The twin's softmax(q k^T / sqrt(D)) v against PyTorch's fused kernel, so the oracle is checked too.
    r = np.random.default_rng(6)
    q, k, v = (T(r.standard_normal((2, 3, 7, 4)), dtype, False) for _ in range(3))
    m = None if kind is None else tg.mask(kind, 7, window=2, n_global=1)
    y, att = tg.attend(q, k, v, m)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    torch.testing.assert_close(y, ref, rtol=1e-4 if dtype is np.float32 else 1e-10, atol=1e-6)
    torch.testing.assert_close(att.sum(-1), torch.ones_like(att[..., 0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("mask_kind", "pos", "bias", "use_head_mask"),
    [
        ("none", "none", True, False),
        ("causal", "none", True, False),
        ("causal", "rope", False, True),
        ("local", "alibi", True, False),
        ("global_local", "rope", True, True),
        ("padding", "none", True, False),
    ],
)
def test_attention(mask_kind, pos, bias, use_head_mask, dtype):
    B, T_, C, H = 2, 6, 16, 4
    r = np.random.default_rng(3)
    x = r.standard_normal((B, T_, C)).astype(dtype)
    w_qkv = (r.standard_normal((C, 3 * C)) * 0.4).astype(dtype)
    w_o = (r.standard_normal((C, C)) * 0.4).astype(dtype)
    b_qkv = (r.standard_normal(3 * C) * 0.1).astype(dtype) if bias else None
    b_o = (r.standard_normal(C) * 0.1).astype(dtype) if bias else None
    hm = np.array([1.0, 0.0, 0.5, 2.0], dtype) if use_head_mask else None
    if mask_kind == "none":
        np_mask = t_mask = None
    elif mask_kind == "padding":
        np_mask = masks.padding(np.array([T_, 3]), T_)[:, None]  # (B, 1, T, T)
        t_mask = torch.arange(T_)[None, None, None, :] < torch.tensor([T_, 3])[:, None, None, None]
    else:
        t_mask = tg.mask(mask_kind, T_)
        np_mask = t_mask.numpy()
    out, cache = attention.forward(x, w_qkv, b_qkv, w_o, b_o, n_head=H, mask=np_mask, pos=pos, head_mask=hm)
    dout = r.standard_normal(out.shape).astype(dtype)
    dx, grads = attention.backward(dout, cache)

    tx, twq, two = T(x, dtype), T(w_qkv, dtype), T(w_o, dtype)
    tbq, tbo = (T(b_qkv, dtype), T(b_o, dtype)) if bias else (None, None)
    thm = T(hm, dtype, False) if use_head_mask else None
    tout, tatt = tg.attention(tx, twq, tbq, two, tbo, H, t_mask, pos, thm)
    tout.backward(T(dout, dtype, False))
    assert_close("out", out, tout, dtype)
    assert_close("attention weights", cache.att, tatt, dtype)
    assert_close("dx", dx, tx.grad, dtype)
    assert_close("dw_qkv", grads["w_qkv"], twq.grad, dtype)
    assert_close("dw_o", grads["w_o"], two.grad, dtype)
    if bias:
        assert_close("db_qkv", grads["b_qkv"], tbq.grad, dtype)
        assert_close("db_o", grads["b_o"], tbo.grad, dtype)


# ------------------------------------------------------------------------ blocks and the whole GPT


MODEL_CONFIGS = {
    "pre-layernorm-gelu-learned": dict(),
    "post-rmsnorm-swiglu-rope": dict(block="post", norm="rmsnorm", activation="swiglu", pos="rope"),
    "sandwich-layernorm-swish-alibi-local": dict(
        block="sandwich", activation="swish", pos="alibi", mask="local", window=3
    ),
    "pre-none-relu-sinusoidal-tied": dict(norm="none", activation="relu", pos="sinusoidal", tie_weights=True),
    "attn-only-global-local-nobias": dict(
        attn_only=True, pos="none", mask="global_local", window=2, n_global=2, bias=False
    ),
}


def _perturbed(params, seed):
    # Move away from the initial values so every parameter (gains, biases) carries a non-trivial gradient.
    r = np.random.default_rng(seed)
    return {k: (v + 0.1 * r.standard_normal(v.shape)).astype(v.dtype) for k, v in params.items()}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MODEL_CONFIGS))
def test_full_model_forward_loss_backward(name, dtype):
    sizes = dict(vocab_size=11, block_size=12, d_model=16, n_layer=2, n_head=4, d_ff=24)
    cfg = ModelConfig(**sizes, **MODEL_CONFIGS[name])
    params = _perturbed(model.init_params(cfg, 0, dtype=dtype), 1)
    r = np.random.default_rng(2)
    idx = r.integers(0, cfg.vocab_size, (3, 10))
    targets = r.integers(0, cfg.vocab_size, (3, 10))
    head_mask = (
        np.array([[1.0, 0.0, 1.0, 1.0], [0.5, 1.0, 1.0, 0.0]]) if name.startswith("pre-layer") else None
    )

    logits, cache = model.forward(params, idx, cfg, head_mask=head_mask)
    value, dlogits = model.loss(logits, targets)
    grads = model.backward(dlogits, cache)

    tp = {k: T(v, dtype) for k, v in params.items()}
    thm = None if head_mask is None else T(head_mask, dtype, False)
    tlogits, tmaps = tg.gpt(tp, torch.from_numpy(idx), cfg, thm)
    tloss = F.cross_entropy(tlogits.reshape(-1, cfg.vocab_size), torch.from_numpy(targets).reshape(-1))
    tloss.backward()

    assert_close("logits", logits, tlogits, dtype)
    assert_close("attention maps", model.attention_maps(cache), tmaps, dtype)
    assert_close("loss", value, tloss, dtype)
    assert set(grads) == set(tp)
    for k in params:
        assert_close(f"grad {k}", grads[k], tp[k].grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_block_placements_match(dtype):
    # One block on its own, through the public block API, for each placement.
    for placement in ("pre", "post", "sandwich"):
        cfg = ModelConfig(d_model=16, n_head=2, d_ff=20, block=placement, pos="rope")
        r = np.random.default_rng(4)
        shapes = block.param_shapes(cfg)
        params = {k: (r.standard_normal(s) * 0.3 + k.endswith(".w")).astype(dtype) for k, s in shapes.items()}
        x = r.standard_normal((2, 7, 16)).astype(dtype)
        out, cache = block.forward(x, params, cfg)
        dout = r.standard_normal(out.shape).astype(dtype)
        dx, grads = block.backward(dout, cache)
        lp = {k: T(v, dtype) for k, v in params.items()}
        tx = T(x, dtype)
        h = tg.block(tx, lp, cfg)
        h.backward(T(dout, dtype, False))
        assert_close(f"{placement} out", out, h, dtype)
        assert_close(f"{placement} dx", dx, tx.grad, dtype)
        for k in params:
            assert_close(f"{placement} grad {k}", grads[k], lp[k].grad, dtype)


def test_small_preset_float32_step():
    # The benchmark's "small" size in float32: a realistic scale for the 1e-4 agreement.
    cfg = from_preset("small", block_size=32)
    params = model.init_params(cfg, 0)
    r = np.random.default_rng(5)
    idx = r.integers(0, cfg.vocab_size, (4, 32))
    targets = r.integers(0, cfg.vocab_size, (4, 32))
    logits, cache = model.forward(params, idx, cfg)
    value, dlogits = model.loss(logits, targets)
    grads = model.backward(dlogits, cache)
    tp = {k: T(v, np.float32) for k, v in params.items()}
    tlogits, _ = tg.gpt(tp, torch.from_numpy(idx), cfg)
    tloss = F.cross_entropy(tlogits.reshape(-1, cfg.vocab_size), torch.from_numpy(targets).reshape(-1))
    tloss.backward()
    assert_close("logits", logits, tlogits, np.float32)
    assert_close("loss", value, tloss, np.float32)
    for k in params:
        assert_close(f"grad {k}", grads[k], tp[k].grad, np.float32)
