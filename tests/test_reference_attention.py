"""Attention against PyTorch's F.scaled_dot_product_attention in float64 (and float32)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook import masks
from attnbook.attention import multi_head_attention, scaled_dot_product_attention
from attnbook.positional import alibi_bias

pytestmark = pytest.mark.reference

B, H, T, D = 2, 3, 6, 4


def torch_sdpa(q, k, v, attn_mask=None, scale=None):
    """Torch's attention output for NumPy inputs (bool mask: True = may attend; float mask: added)."""
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
    tm = None if attn_mask is None else torch.from_numpy(np.ascontiguousarray(attn_mask))
    return F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, scale=scale).numpy()


def report(ours, theirs):
    return f"\nours:\n{ours}\ntorch:\n{theirs}"


def compare(ours, theirs, allowed_rows, atol):
    """Compare rows with at least one allowed key; on the others we must give zeros (older torch gave NaN,
    torch 2.13's CPU path gives zeros too, so we do not rely on either)."""
    rows = np.broadcast_to(allowed_rows, ours.shape[:-1])
    assert np.allclose(ours[rows], theirs[rows], rtol=0, atol=atol), report(ours, theirs)
    assert (ours[~rows] == 0).all()


def qkv(seed, dtype=np.float64, Tq=T, Tk=T):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(B, H, Tq, D)).astype(dtype),
        rng.normal(size=(B, H, Tk, D)).astype(dtype),
        rng.normal(size=(B, H, Tk, D + 1)).astype(dtype),
    )


MASKS = {
    "none": None,
    "causal": masks.causal(T),
    "local": masks.local(T, 1),
    "local_causal": masks.local(T, 2, causal=True),
    "global_local": masks.global_local(T, 1, 2),
    "padding": masks.padding([T, 3], T)[:, None],  # (B, 1, T, T)
    "padding_empty": masks.padding([0, 2], T)[:, None],  # one sequence sees nothing
    "causal_and_padding": masks.combine(masks.causal(T), masks.padding([4, 1], T)[:, None]),
    "random": np.random.default_rng(0).random((B, H, T, T)) < 0.4,  # has empty rows
}


@pytest.mark.parametrize("name", list(MASKS))
def test_bool_masks_match_torch(name):
    mask = MASKS[name]
    q, k, v = qkv(1)
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    theirs = torch_sdpa(q, k, v, attn_mask=mask)
    rows = np.ones((T,), bool) if mask is None else np.broadcast_to(mask, (B, H, T, T)).any(-1)
    compare(out, theirs, rows, 1e-10)


def test_random_mask_really_has_empty_rows():
    assert not MASKS["random"].any(-1).all()


@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_temperature_is_torch_scale(temperature):
    q, k, v = qkv(2)
    out, _ = scaled_dot_product_attention(q, k, v, mask=masks.causal(T), temperature=temperature)
    theirs = torch_sdpa(q, k, v, attn_mask=masks.causal(T), scale=1.0 / (math.sqrt(D) * temperature))
    compare(out, theirs, np.ones(T, bool), 1e-10)


def test_float_bias_matches_torch_additive_mask():
    q, k, v = qkv(3)
    bias = alibi_bias(H, T) + np.random.default_rng(3).normal(size=(B, H, T, T))
    out, _ = scaled_dot_product_attention(q, k, v, bias=bias)
    compare(out, torch_sdpa(q, k, v, attn_mask=bias), np.ones(T, bool), 1e-10)
    # bias and a bool mask together equal torch's float mask with -inf at the disallowed entries
    mask = masks.causal(T)
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask, bias=bias, temperature=2.0)
    float_mask = np.where(mask, bias, -np.inf)
    theirs = torch_sdpa(q, k, v, attn_mask=float_mask, scale=1.0 / (math.sqrt(D) * 2.0))
    compare(out, theirs, np.ones(T, bool), 1e-10)


def test_cross_attention_shapes_match_torch():
    q, k, v = qkv(4, Tq=3, Tk=5)
    mask = np.random.default_rng(4).random((3, 5)) < 0.5
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    compare(out, torch_sdpa(q, k, v, attn_mask=mask), mask.any(-1), 1e-10)


def test_float32_matches_torch():
    q, k, v = qkv(5, dtype=np.float32)
    mask = masks.causal(T)
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    assert out.dtype == np.float32
    compare(out, torch_sdpa(q, k, v, attn_mask=mask), np.ones(T, bool), 1e-5)


def torch_mha(x, w_q, w_k, w_v, w_o, n_head, attn_mask=None, scale=None):
    """Multi-head attention reimplemented with torch ops: project, split heads, F.sdpa, merge, project."""
    tx = torch.from_numpy(x)
    T_, C = tx.shape[-2:]

    def heads(w):
        y = tx @ torch.from_numpy(w)  # (..., T, C)
        return y.unflatten(-1, (n_head, C // n_head)).transpose(-2, -3)  # (..., H, T, D)

    tm = None if attn_mask is None else torch.from_numpy(np.ascontiguousarray(attn_mask))
    y = F.scaled_dot_product_attention(heads(w_q), heads(w_k), heads(w_v), attn_mask=tm, scale=scale)
    y = y.transpose(-2, -3).flatten(-2)  # (..., T, C)
    return (y @ torch.from_numpy(w_o)).numpy()


@pytest.mark.parametrize("n_head", [1, 2, 4, 8])
@pytest.mark.parametrize("mask_name", ["none", "causal", "local_causal"])
def test_multi_head_attention_matches_torch(n_head, mask_name):
    rng = np.random.default_rng(6)
    C = 8
    x = rng.normal(size=(T, C))
    ws = [rng.normal(size=(C, C)) / math.sqrt(C) for _ in range(4)]
    mask = MASKS[mask_name]
    out, _ = multi_head_attention(x, *ws, n_head, mask=mask, temperature=1.5)
    theirs = torch_mha(x, *ws, n_head, attn_mask=mask, scale=1.0 / (math.sqrt(C // n_head) * 1.5))
    assert np.allclose(out, theirs, rtol=0, atol=1e-10), report(out, theirs)


def test_multi_head_attention_batched_alibi_matches_torch():
    rng = np.random.default_rng(7)
    C, n_head = 12, 3
    x = rng.normal(size=(B, T, C))
    ws = [rng.normal(size=(C, C)) / math.sqrt(C) for _ in range(4)]
    bias = alibi_bias(n_head, T)
    mask = masks.causal(T)
    out, _ = multi_head_attention(x, *ws, n_head, mask=mask, bias=bias)
    theirs = torch_mha(x, *ws, n_head, attn_mask=np.where(mask, bias, -np.inf))
    assert np.allclose(out, theirs, rtol=0, atol=1e-10), report(out, theirs)
