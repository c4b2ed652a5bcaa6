"""Multi-head self-attention (Vaswani et al. 2017) with masks, RoPE and ALiBi, forward and backward passes.

Activations stay 2-D ``(B·T, C)`` around the projections so each is one BLAS call; the per-head part
works on ``(B, H, T, D)`` with batched matmuls. Masks follow :mod:`attnbook.masks` (True = may attend)
and become an additive score bias of 0 / -inf, to which ALiBi's linear distance penalty is added.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from attnbook import positional
from attnbook._checks import as_float_array, check_choice, check_int, check_real
from attnbook.layers._common import check_dout, check_shape, colsum, optional_vector, rowsum, same_dtype
from attnbook.layers.dropout import _mask as _dropout_mask
from attnbook.layers.dropout import as_generator

__all__ = ["POSITIONS", "AttentionCache", "backward", "forward", "rope_tables", "score_bias"]

POSITIONS = ("none", "rope", "alibi")  # the schemes that act inside attention (the others add to x)


class AttentionCache(NamedTuple):
    """Everything :func:`backward` needs; ``att`` holds the attention weights the book plots."""

    x: np.ndarray  # (N, C) input rows, N = B·T
    q: np.ndarray  # (B, H, T, D) queries after RoPE, already multiplied by 1/√D
    k: np.ndarray  # (B, H, T, D) keys after RoPE
    v: np.ndarray  # (B, H, T, D) values
    att: np.ndarray  # (B, H, T, T) softmax weights, rows sum to 1 (0 for a row that may attend nothing)
    drop: np.ndarray | None  # (B, H, T, T) scaled dropout keep-mask on the weights, None without dropout
    y: np.ndarray  # (N, C) heads concatenated, the input of the output projection
    w_qkv: np.ndarray  # (C, 3C)
    w_o: np.ndarray  # (C, C)
    has_bias: bool
    rope: tuple[np.ndarray, np.ndarray] | None  # (cos, sin), each (T, D/2), when pos="rope"
    head_mask: np.ndarray | None  # (H,) multipliers on the heads' outputs
    shape: tuple[int, int, int]  # (B, T, C)
    n_head: int


# ----------------------------------------------------------------------------------------------------
# Position tables and score bias, computed once per (T, dtype, ...) and shared by every layer and step.


@lru_cache(maxsize=64)
def _rope_tables(T: int, D: int, base: float, dtype_str: str) -> tuple[np.ndarray, np.ndarray]:
    theta = positional.rope_angles(np.arange(T), D, base)  # (T, D/2), float64
    cos, sin = np.cos(theta).astype(dtype_str), np.sin(theta).astype(dtype_str)
    cos.flags.writeable = False
    sin.flags.writeable = False
    return cos, sin


def rope_tables(T: int, D: int, base: float = 10000.0, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Cosines and sines of RoPE's angles for positions ``0..T-1`` (read-only, cached).

    Parameters
    ----------
    T : int
        Sequence length.
    D : int
        Head dimension, even.
    base : float, optional
    dtype : NumPy floating dtype, optional

    Returns
    -------
    cos, sin : ndarray, shape (T, D/2) each
    """
    T = check_int("T", T, low=1)
    D = check_int("D", D, low=2)
    base = check_real("base", base, low=1.0, low_inclusive=False)
    return _rope_tables(T, D, base, np.dtype(dtype).str)


def _rope_apply(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, out: np.ndarray, inverse: bool = False):
    """Rotate the interleaved pairs ``(x[2i], x[2i+1])`` of the last axis, as :func:`positional.rope` does.

    The inverse rotation (angle -θ) is the backward pass: a rotation's transpose is its inverse.
    """
    x0, x1 = x[..., 0::2], x[..., 1::2]  # (..., T, D/2) each
    o0, o1 = out[..., 0::2], out[..., 1::2]
    if inverse:
        np.multiply(x0, cos, out=o0)
        o0 += x1 * sin
        np.multiply(x1, cos, out=o1)
        o1 -= x0 * sin
    else:
        np.multiply(x0, cos, out=o0)
        o0 -= x1 * sin
        np.multiply(x1, cos, out=o1)
        o1 += x0 * sin
    return out


def score_bias(mask=None, alibi_heads: int | None = None, T: int | None = None, dtype=np.float64):
    """Additive score bias: 0 where ``mask`` allows, -inf where it forbids, plus ALiBi's penalty.

    Parameters
    ----------
    mask : ndarray of bool, broadcastable to (B, H, T, T), optional
        True = may attend.
    alibi_heads : int, optional
        Number of heads H to add ``attnbook.positional.alibi_bias(H, T)`` for.
    T : int, optional
        Sequence length (needed with ``alibi_heads``).
    dtype : NumPy floating dtype, optional

    Returns
    -------
    bias : ndarray or None
        Broadcastable to (B, H, T, T); None when there is neither a mask nor ALiBi.
    """
    bias = None
    if mask is not None:
        bias = np.where(mask, 0.0, -np.inf).astype(dtype)
    if alibi_heads is not None:
        alibi = positional.alibi_bias(alibi_heads, T, dtype=dtype)  # (H, T, T)
        bias = alibi if bias is None else bias + alibi
    return bias


# ----------------------------------------------------------------------------------------------------
# Kernels (no checks): the model calls these directly.


# Largest score for which softmax may skip the per-row max shift: exp(60) ≈ 1e26, so a row of up to
# 1e12 such terms still sums to a finite float32. Computing the row maxima is the slowest step of a
# NumPy softmax (a reduction over short rows), while the global maximum is cheap.
_EXP_SAFE = 60.0
# Smallest row sum accepted on that path: below it a row's weights could have lost precision to
# underflow (or the row may attend nothing), and the row-max-shifted softmax is used instead.
_SUM_SAFE = 1e-20


def _softmax_fast(s2: np.ndarray) -> bool:
    """Softmax of each row in place without the max shift; False (and ``s2`` spoiled) if unsafe."""
    if not s2.max() <= _EXP_SAFE:
        return False
    np.exp(s2, out=s2)
    tot = rowsum(s2)  # (rows,)
    if not tot.min() >= _SUM_SAFE:
        return False
    s2 *= (1.0 / tot)[:, None]
    return True


def _softmax_stable(s2: np.ndarray) -> None:
    """Softmax of each row in place, shifted by the row max; a row of only -inf becomes zeros, not NaN."""
    m = s2.max(axis=1, keepdims=True)  # (rows, 1)
    m[np.isneginf(m)] = 0.0
    s2 -= m
    np.exp(s2, out=s2)
    tot = rowsum(s2)
    tot[tot == 0.0] = 1.0
    s2 *= (1.0 / tot)[:, None]


def _batch_chunks(B: int, H: int, T: int):
    # Blocks of whole sequences whose (b, H, T, T) score tensor fits in cache (about 256 KB in float32).
    step = max(1, 65536 // (H * T * T))
    return [slice(b, min(B, b + step)) for b in range(0, B, step)], step


def _bias_rows(bias: np.ndarray | None, sl: slice) -> np.ndarray | None:
    # A bias with a batch axis (e.g. padding) is sliced like the batch; (T, T) or (H, T, T) broadcasts.
    if bias is not None and bias.ndim == 4 and bias.shape[0] != 1:
        return bias[sl]
    return bias


def _forward(
    x2: np.ndarray,
    B: int,
    T: int,
    n_head: int,
    w_qkv: np.ndarray,
    b_qkv: np.ndarray | None,
    w_o: np.ndarray,
    b_o: np.ndarray | None,
    bias: np.ndarray | None,
    rope: tuple[np.ndarray, np.ndarray] | None,
    head_mask: np.ndarray | None,
    p_drop: float,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, AttentionCache]:
    C = x2.shape[1]
    H, D = n_head, C // n_head
    dtype = x2.dtype
    qkv = x2 @ w_qkv  # (N, 3C)
    if b_qkv is not None:
        qkv += b_qkv
    qkv = qkv.reshape(B, T, 3, H, D).transpose(2, 0, 3, 1, 4)  # (3, B, H, T, D), a view
    q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, T, D) each, strided views (BLAS-compatible)
    scale = 1.0 / math.sqrt(D)
    if rope is not None:
        cos, sin = rope
        k = _rope_apply(k, cos, sin, np.empty(k.shape, dtype))
        q = _rope_apply(q, cos, sin, np.empty(q.shape, dtype))
        q *= scale
    else:
        q = q * scale  # scaling q (T·D values) is cheaper than scaling the scores (T·T)
    drop = _dropout_mask((B, H, T, T), p_drop, rng, dtype) if p_drop > 0.0 else None
    att = np.empty((B, H, T, T), dtype=dtype)
    y4 = np.empty((B, T, H, D), dtype=dtype)  # heads side by side: reshapes to (N, C) for free
    yh = y4.transpose(0, 2, 1, 3)  # (B, H, T, D) view
    chunks, _ = _batch_chunks(B, H, T)
    for sl in chunks:
        # Scores, softmax and weighted sum for a few sequences at a time, while they are in cache.
        s = att[sl]  # (b, H, T, T) view
        bias_sl = _bias_rows(bias, sl)
        np.matmul(q[sl], k[sl].swapaxes(-1, -2), out=s)
        if bias_sl is not None:
            s += bias_sl
        if not _softmax_fast(s.reshape(-1, T)):
            np.matmul(q[sl], k[sl].swapaxes(-1, -2), out=s)
            if bias_sl is not None:
                s += bias_sl
            _softmax_stable(s.reshape(-1, T))
        p = s if drop is None else s * drop[sl]
        np.matmul(p, v[sl], out=yh[sl])  # (b, H, T, D)
    if head_mask is not None:
        y4 *= head_mask[:, None]  # ablate / scale whole heads before w_o mixes them
    y = y4.reshape(B * T, C)  # (N, C)
    out = y @ w_o  # (N, C)
    if b_o is not None:
        out += b_o
    cache = AttentionCache(
        x2, q, k, v, att, drop, y, w_qkv, w_o, b_qkv is not None, rope, head_mask, (B, T, C), n_head
    )
    return out, cache


def _backward(dout2: np.ndarray, c: AttentionCache) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    B, T, C = c.shape
    H, D = c.n_head, C // c.n_head
    N = B * T
    dtype = dout2.dtype
    grads = {"w_o": c.y.T @ dout2}  # (C, C)
    if c.has_bias:
        grads["b_o"] = colsum(dout2)
    dy = dout2 @ c.w_o.T  # (N, C), gradient of the (head-masked) head outputs
    # Softmax backward needs sum_j dP_ij P_ij per query; it equals dy_i · y_i (FlashAttention's
    # identity, since y = P v), which costs T·D per row instead of T·T. It also holds with dropout
    # and with the head mask, because y is stored after both.
    dot = rowsum((dy * c.y).reshape(N * H, D)).reshape(B, T, H).transpose(0, 2, 1)  # (B, H, T)
    dy4 = dy.reshape(B, T, H, D)
    if c.head_mask is not None:
        dy4 = dy4 * c.head_mask[:, None]
    dyh = dy4.transpose(0, 2, 1, 3)  # (B, H, T, D) view
    dqkv = np.empty((B, T, 3, H, D), dtype=dtype)  # laid out like qkv, so it reshapes to (N, 3C)
    dq, dk, dv = dqkv.transpose(2, 0, 3, 1, 4)  # (B, H, T, D) views
    if c.rope is not None:  # gradients of the rotated q, k first; rotated back below
        dq_rot, dk_rot = np.empty((B, H, T, D), dtype), np.empty((B, H, T, D), dtype)
    else:
        dq_rot, dk_rot = dq, dk
    chunks, step = _batch_chunks(B, H, T)
    buf = np.empty((step, H, T, T), dtype=dtype)
    for sl in chunks:
        p = c.att[sl]  # (b, H, T, T)
        ds = buf[: p.shape[0]]
        p_used = p if c.drop is None else p * c.drop[sl]
        np.matmul(p_used.swapaxes(-1, -2), dyh[sl], out=dv[sl])  # (b, H, T, D)
        np.matmul(dyh[sl], c.v[sl].swapaxes(-1, -2), out=ds)  # dP, (b, H, T, T)
        if c.drop is not None:
            ds *= c.drop[sl]
        ds -= dot[sl][..., None]
        ds *= p  # dS = P (dP - sum_j dP P): the scores' gradient
        # S = q k^T with q pre-scaled: dq_rot = dS k / √D, dk_rot = dS^T q_scaled.
        np.matmul(ds, c.k[sl], out=dq_rot[sl])
        np.matmul(ds.swapaxes(-1, -2), c.q[sl], out=dk_rot[sl])
    dq_rot *= 1.0 / math.sqrt(D)
    if c.rope is not None:
        cos, sin = c.rope
        _rope_apply(dq_rot, cos, sin, dq, inverse=True)
        _rope_apply(dk_rot, cos, sin, dk, inverse=True)
    dqkv2 = dqkv.reshape(N, 3 * C)  # (N, 3C)
    grads["w_qkv"] = c.x.T @ dqkv2  # (C, 3C)
    if c.has_bias:
        grads["b_qkv"] = colsum(dqkv2)
    dx = dqkv2 @ c.w_qkv.T  # (N, C)
    return dx, grads


# ----------------------------------------------------------------------------------------------------
# Public, checked API.


def forward(
    x,
    w_qkv,
    b_qkv,
    w_o,
    b_o,
    *,
    n_head: int,
    mask=None,
    pos: str = "none",
    rope_base: float = 10000.0,
    head_mask=None,
    dropout: float = 0.0,
    rng=None,
) -> tuple[np.ndarray, AttentionCache]:
    """Multi-head self-attention of a batch of sequences.

    Parameters
    ----------
    x : ndarray, shape (B, T, C)
    w_qkv : ndarray, shape (C, 3C)
        Query, key and value projections side by side; head ``h`` uses columns ``h·D:(h+1)·D`` of each.
    b_qkv : ndarray, shape (3C,), or None
    w_o : ndarray, shape (C, C)
        Output projection.
    b_o : ndarray, shape (C,), or None
    n_head : int
        H, must divide C.
    mask : ndarray of bool, broadcastable to (B, H, T, T), optional
        True = may attend (e.g. ``attnbook.masks.causal(T)``, or ``padding(...)[:, None]``). A query
        row that may attend nothing gets zero weights and a zero output.
    pos : {"none", "rope", "alibi"}, optional
        RoPE rotates q and k (:func:`attnbook.positional.rope`); ALiBi adds
        ``attnbook.positional.alibi_bias`` to the scores.
    rope_base : float, optional
        Frequency base of RoPE.
    head_mask : ndarray, shape (H,), optional
        Multiplier on each head's output (0 ablates the head).
    dropout : float, optional
        Dropout probability on the attention weights (needs ``rng`` when > 0).
    rng : int or numpy.random.Generator, optional

    Returns
    -------
    out : ndarray, shape (B, T, C)
    cache : AttentionCache
        ``cache.att`` holds the attention weights, shape (B, H, T, T).
    """
    x = as_float_array("x", x, ndim=3)
    B, T, C = x.shape
    n_head = check_int("n_head", n_head, low=1)
    if C % n_head:
        raise ValueError(f"n_head must divide C = x.shape[-1] = {C}, got {n_head}")
    w_qkv = as_float_array("w_qkv", w_qkv, ndim=2)
    check_shape("w_qkv", w_qkv, (C, 3 * C))
    w_o = as_float_array("w_o", w_o, ndim=2)
    check_shape("w_o", w_o, (C, C))
    dtype = same_dtype(x=x, w_qkv=w_qkv, w_o=w_o)
    b_qkv = optional_vector("b_qkv", b_qkv, 3 * C, dtype)
    b_o = optional_vector("b_o", b_o, C, dtype)
    if (b_qkv is None) != (b_o is None):
        raise ValueError("b_qkv and b_o must be both given or both None")
    check_choice("pos", pos, POSITIONS)
    D = C // n_head
    rope = None
    if pos == "rope":
        if D % 2:
            raise ValueError(f"pos='rope' needs an even head dimension, got D = {D}")
        rope = rope_tables(T, D, rope_base, dtype)
    if mask is not None:
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            got = getattr(mask, "dtype", type(mask).__name__)
            raise TypeError(f"mask must be a NumPy bool array, got {got}")
        try:
            np.broadcast_shapes(mask.shape, (B, n_head, T, T))
        except ValueError:
            want = (B, n_head, T, T)
            raise ValueError(f"mask must broadcast to (B, H, T, T) = {want}, got {mask.shape}") from None
        if mask.ndim > 4:
            raise ValueError(f"mask must have at most 4 dimensions, got shape {mask.shape}")
    bias = score_bias(mask, n_head if pos == "alibi" else None, T, dtype)
    if head_mask is not None:
        head_mask = as_float_array("head_mask", head_mask, ndim=1)
        check_shape("head_mask", head_mask, (n_head,))
        head_mask = head_mask.astype(dtype, copy=False)
    dropout = check_real("dropout", dropout, low=0.0)
    if dropout >= 1.0:
        raise ValueError(f"dropout must be < 1, got {dropout}")
    if dropout > 0.0:
        if rng is None:
            raise ValueError("rng must be given (an int seed or a Generator) when dropout > 0")
        rng = as_generator(rng)
    out, cache = _forward(
        x.reshape(B * T, C), B, T, n_head, w_qkv, b_qkv, w_o, b_o, bias, rope, head_mask, dropout, rng
    )
    return out.reshape(B, T, C), cache


def backward(dout, cache: AttentionCache) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Gradients of :func:`forward`.

    Parameters
    ----------
    dout : ndarray, shape (B, T, C)
    cache : AttentionCache

    Returns
    -------
    dx : ndarray, shape (B, T, C)
    grads : dict
        ``"w_qkv"`` (C, 3C), ``"w_o"`` (C, C), and with biases ``"b_qkv"`` (3C,), ``"b_o"`` (C,).
    """
    B, T, C = cache.shape
    dout = check_dout(dout, cache.shape, cache.w_o.dtype)
    dx, grads = _backward(dout.reshape(B * T, C), cache)
    return dx.reshape(B, T, C), grads
