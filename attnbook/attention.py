"""Scaled dot-product and multi-head attention (Vaswani et al. 2017) in NumPy, with every step exposed.

Masks are boolean with True = may attend (PyTorch's convention). A query row with no allowed key gets
all-zero weights and a zero output rather than NaN, and the book says so.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array, check_int, check_real

__all__ = [
    "AttentionSteps",
    "attention_steps",
    "merge_heads",
    "multi_head_attention",
    "scaled_dot_product_attention",
    "softmax",
    "split_heads",
]


class AttentionSteps(NamedTuple):
    """Every intermediate of multi-head attention, in the order of the book's nine steps."""

    x: np.ndarray  # (T, C) input token vectors
    q: np.ndarray  # (H, T, D) queries
    k: np.ndarray  # (H, T, D) keys
    v: np.ndarray  # (H, T, D) values
    scores: np.ndarray  # (H, T, T) q k^T
    scaled: np.ndarray  # (H, T, T) scores / sqrt(D) / temperature (+ bias)
    masked: np.ndarray  # (H, T, T) scaled with disallowed entries set to -inf
    weights: np.ndarray  # (H, T, T) softmax over keys; rows with no allowed key are zero
    weighted: np.ndarray  # (H, T, D) weights @ v
    concat: np.ndarray  # (T, C) heads side by side
    out: np.ndarray  # (T, C) concat @ w_o


# ---------------------------------------------------------------------------------------------------------
# validation helpers


def _check_mask(mask, target: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        got = mask.dtype if isinstance(mask, np.ndarray) else type(mask).__name__
        raise TypeError(f"mask must be a NumPy bool array (True = may attend), got {got}")
    if not _broadcasts_to(mask.shape, target):
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to the scores' shape {target}")
    return mask


def _check_bias(bias, target: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    if bias is None:
        return None
    bias = as_float_array("bias", bias)
    if not _broadcasts_to(bias.shape, target):
        raise ValueError(f"bias of shape {bias.shape} does not broadcast to the scores' shape {target}")
    # Cast so a float64 table (e.g. ALiBi) does not promote float32 scores to float64.
    return bias.astype(dtype, copy=False)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _same_dtype(first: str, arrays: dict[str, np.ndarray]) -> np.dtype:
    dtype = arrays[first].dtype
    for name, a in arrays.items():
        if a.dtype != dtype:
            raise TypeError(f"{name} has dtype {a.dtype} but {first} has {dtype}; they must match")
    return dtype


# ---------------------------------------------------------------------------------------------------------
# softmax and the attention core


def _softmax(x: np.ndarray, mask: np.ndarray | None, axis: int = -1) -> np.ndarray:
    """Masked, stable softmax without validation; ``-inf`` entries count as disallowed."""
    allowed = x > -np.inf if mask is None else np.broadcast_to(mask, x.shape) & (x > -np.inf)
    # Subtract the max over the allowed entries only; a row with none keeps shift 0 (and ends up all zero).
    row_max = np.max(x, axis=axis, keepdims=True, where=allowed, initial=-np.inf)
    row_max = np.where(np.isfinite(row_max), row_max, 0).astype(x.dtype)
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(np.where(allowed, x - row_max, -np.inf))  # exp(-inf) = 0, no warning
    total = np.sum(e, axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def softmax(x, axis: int = -1, mask=None) -> np.ndarray:
    """Numerically stable softmax, optionally over the allowed entries only.

    Entries where ``mask`` is False (or ``x`` is ``-inf``) get weight 0; a slice with no allowed entry
    is all zeros instead of NaN.

    Parameters
    ----------
    x : ndarray of float, any shape
        Logits; ``-inf`` is allowed and means "masked", NaN and ``+inf`` are not.
    axis : int, optional
        Axis to normalise over.
    mask : ndarray of bool, optional
        Broadcastable to ``x.shape``; True = keep.

    Returns
    -------
    p : ndarray, same shape and dtype as ``x``
    """
    x = as_float_array("x", x, min_ndim=1, finite=False)
    if np.isnan(x).any() or (x == np.inf).any():
        raise ValueError("x must not contain NaN or +inf (-inf is allowed and means masked)")
    axis = check_int("axis", axis, low=-x.ndim, high=x.ndim - 1)
    mask = _check_mask(mask, x.shape)
    return _softmax(x, mask, axis=axis)


class _Core(NamedTuple):
    scores: np.ndarray
    scaled: np.ndarray
    masked: np.ndarray
    weights: np.ndarray
    out: np.ndarray


def _attend(q, k, v, mask, bias, temperature: float) -> _Core:
    """Attention on validated arrays, keeping every intermediate (shared by all public entry points)."""
    D = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2)  # (..., Tq, Tk)
    with np.errstate(over="ignore"):
        scaled = scores * (1.0 / (math.sqrt(D) * temperature))  # Python float keeps the dtype
        if bias is not None:
            scaled = scaled + bias
    if not np.all(np.isfinite(scaled)):
        raise ValueError(
            f"scaled scores overflow {scaled.dtype}: temperature={temperature} is too small for these inputs"
        )
    masked = scaled if mask is None else np.where(mask, scaled, np.array(-np.inf, dtype=scaled.dtype))
    weights = _softmax(masked, None)  # -inf entries are the disallowed ones
    out = weights @ v  # (..., Tq, Dv)
    return _Core(scores, scaled, masked, weights, out)


def scaled_dot_product_attention(q, k, v, mask=None, bias=None, temperature: float = 1.0):
    """Scaled dot-product attention ``softmax(q k^T / sqrt(D) / temperature + bias) v``.

    Parameters
    ----------
    q : ndarray, shape (..., Tq, D)
        Queries.
    k : ndarray, shape (..., Tk, D)
        Keys (same dtype as ``q``; leading axes broadcast with ``q``'s).
    v : ndarray, shape (..., Tk, Dv)
        Values (same dtype as ``q``).
    mask : ndarray of bool, optional
        Broadcastable to ``(..., Tq, Tk)``; True = may attend. Rows with no allowed key give zero
        weights and a zero output.
    bias : ndarray of float, optional
        Broadcastable to ``(..., Tq, Tk)``; added to the scaled scores (e.g. ALiBi). Cast to ``q``'s dtype.
    temperature : float, optional
        Divides the scaled scores, ``> 0``; large values flatten the weights, small ones sharpen them.

    Returns
    -------
    out : ndarray, shape (..., Tq, Dv)
    weights : ndarray, shape (..., Tq, Tk)
        Rows sum to 1 where any key is allowed, else 0.
    """
    q = as_float_array("q", q, min_ndim=2)
    k = as_float_array("k", k, min_ndim=2)
    v = as_float_array("v", v, min_ndim=2)
    dtype = _same_dtype("q", {"q": q, "k": k, "v": v})
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"k must have the same last axis D as q: q {q.shape}, k {k.shape}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have as many rows (Tk) as k: k {k.shape}, v {v.shape}")
    if q.shape[-1] < 1 or k.shape[-2] < 1 or q.shape[-2] < 1:
        raise ValueError(f"q and k need Tq, Tk, D >= 1: q {q.shape}, k {k.shape}")
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"q, k, v leading (batch) axes must broadcast: q {q.shape}, k {k.shape}, v {v.shape}"
        ) from None
    target = (*lead, q.shape[-2], k.shape[-2])
    temperature = check_real("temperature", temperature, low=0.0, low_inclusive=False)
    mask = _check_mask(mask, target)
    bias = _check_bias(bias, target, dtype)
    core = _attend(q, k, v, mask, bias, temperature)
    return core.out, core.weights


# ---------------------------------------------------------------------------------------------------------
# multi-head attention


def split_heads(x, n_head: int) -> np.ndarray:
    """Split the last axis into heads: ``(..., T, C) -> (..., H, T, D)`` with ``D = C / H``.

    Head ``h`` takes columns ``h*D:(h+1)*D``.

    Parameters
    ----------
    x : ndarray, shape (..., T, C)
    n_head : int
        Number of heads H; must divide C.

    Returns
    -------
    xh : ndarray, shape (..., H, T, D)
    """
    x = as_float_array("x", x, min_ndim=2)
    n_head = _check_n_head(n_head, x.shape[-1])
    return _split(x, n_head)


def merge_heads(x) -> np.ndarray:
    """Concatenate heads side by side, ``(..., H, T, D) -> (..., T, H*D)``; inverse of :func:`split_heads`.

    Parameters
    ----------
    x : ndarray, shape (..., H, T, D)

    Returns
    -------
    out : ndarray, shape (..., T, C)
    """
    x = as_float_array("x", x, min_ndim=3)
    return _merge(x)


def _check_n_head(n_head, d_model: int) -> int:
    n_head = check_int("n_head", n_head, low=1)
    if d_model % n_head:
        raise ValueError(f"n_head={n_head} must divide d_model={d_model}")
    return n_head


def _split(x: np.ndarray, n_head: int) -> np.ndarray:
    *lead, T, C = x.shape
    xh = x.reshape(*lead, T, n_head, C // n_head)  # (..., T, H, D)
    return np.swapaxes(xh, -2, -3)  # (..., H, T, D)


def _merge(x: np.ndarray) -> np.ndarray:
    *lead, H, T, D = x.shape
    return np.swapaxes(x, -2, -3).reshape(*lead, T, H * D)  # (..., T, C)


def attention_steps(
    x, w_q, w_k, w_v, w_o, n_head: int, mask=None, bias=None, temperature: float = 1.0
) -> AttentionSteps:
    """Multi-head self-attention keeping every intermediate, for the book's step-by-step figure.

    Projections have no bias: ``q = x @ w_q`` and so on (the book's notation).

    Parameters
    ----------
    x : ndarray, shape (T, C)
        Token vectors (leading batch axes ``(..., T, C)`` also work; every shape below then gains them).
    w_q, w_k, w_v, w_o : ndarray, shape (C, C)
        Projection matrices, same dtype as ``x``.
    n_head : int
        Number of heads H; must divide C (then ``D = C / H``).
    mask : ndarray of bool, optional
        Broadcastable to ``(H, T, T)`` (e.g. a ``(T, T)`` causal mask); True = may attend.
    bias : ndarray of float, optional
        Broadcastable to ``(H, T, T)`` (e.g. ALiBi), added to the scaled scores.
    temperature : float, optional
        Divides the scaled scores, ``> 0``.

    Returns
    -------
    steps : AttentionSteps
        ``x (T, C), q, k, v (H, T, D), scores, scaled, masked, weights (H, T, T), weighted (H, T, D),
        concat (T, C), out (T, C)``.
    """
    x = as_float_array("x", x, min_ndim=2)
    T, C = x.shape[-2], x.shape[-1]
    if T < 1 or C < 1:
        raise ValueError(f"x must have T >= 1 and d_model >= 1, got shape {x.shape}")
    ws = {}
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v), ("w_o", w_o)):
        w = as_float_array(name, w, ndim=2)
        if w.shape != (C, C):
            raise ValueError(f"{name} must have shape (C, C) = ({C}, {C}) for x {x.shape}, got {w.shape}")
        ws[name] = w
    _same_dtype("x", {"x": x, **ws})
    n_head = _check_n_head(n_head, C)
    temperature = check_real("temperature", temperature, low=0.0, low_inclusive=False)
    target = (*x.shape[:-2], n_head, T, T)
    mask = _check_mask(mask, target)
    bias = _check_bias(bias, target, x.dtype)

    q = _split(x @ ws["w_q"], n_head)  # (..., H, T, D)
    k = _split(x @ ws["w_k"], n_head)  # (..., H, T, D)
    v = _split(x @ ws["w_v"], n_head)  # (..., H, T, D)
    core = _attend(q, k, v, mask, bias, temperature)
    concat = _merge(core.out)  # (..., T, C)
    out = concat @ ws["w_o"]  # (..., T, C)
    return AttentionSteps(
        x, q, k, v, core.scores, core.scaled, core.masked, core.weights, core.out, concat, out
    )


def multi_head_attention(x, w_q, w_k, w_v, w_o, n_head: int, mask=None, bias=None, temperature: float = 1.0):
    """Multi-head self-attention ``concat_h(attention(x w_q^h, x w_k^h, x w_v^h)) @ w_o``.

    Parameters are those of :func:`attention_steps`.

    Returns
    -------
    out : ndarray, shape (T, C)
    weights : ndarray, shape (H, T, T)
    """
    steps = attention_steps(x, w_q, w_k, w_v, w_o, n_head, mask=mask, bias=bias, temperature=temperature)
    return steps.out, steps.weights
