"""Fully connected layer ``out = x @ w + b`` with its backward pass (weights stored as (in, out))."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array
from attnbook.layers._common import check_dout, colsum, optional_vector, same_dtype

__all__ = ["LinearCache", "backward", "forward"]


class LinearCache(NamedTuple):
    """What :func:`backward` needs: the input, flattened to rows, and the weight."""

    x: np.ndarray  # (N, C_in), the input with every leading axis flattened into N
    w: np.ndarray  # (C_in, C_out)
    has_bias: bool
    shape: tuple[int, ...]  # the input's original shape


def _forward(x2: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    out = x2 @ w  # (N, C_out): one BLAS call for the whole batch
    if b is not None:
        out += b
    return out


def _backward(
    dout2: np.ndarray, x2: np.ndarray, w: np.ndarray, has_bias: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    dx = dout2 @ w.T  # (N, C_in); the transpose is a view, BLAS reads it as is
    dw = x2.T @ dout2  # (C_in, C_out)
    db = colsum(dout2) if has_bias else None  # (C_out,)
    return dx, dw, db


def forward(x, w, b=None) -> tuple[np.ndarray, LinearCache]:
    """Affine map of the last axis.

    Parameters
    ----------
    x : ndarray, shape (..., C_in)
    w : ndarray, shape (C_in, C_out)
    b : ndarray, shape (C_out,), optional

    Returns
    -------
    out : ndarray, shape (..., C_out)
    cache : LinearCache
    """
    x = as_float_array("x", x, min_ndim=1)
    w = as_float_array("w", w, ndim=2)
    if x.shape[-1] != w.shape[0]:
        raise ValueError(
            f"w must have shape (C_in, C_out) with C_in = x.shape[-1] = {x.shape[-1]}, got {w.shape}"
        )
    dtype = same_dtype(x=x, w=w)
    b = optional_vector("b", b, w.shape[1], dtype)
    x2 = x.reshape(-1, x.shape[-1])  # (N, C_in)
    out = _forward(x2, w, b)
    return out.reshape(*x.shape[:-1], w.shape[1]), LinearCache(x2, w, b is not None, x.shape)


def backward(dout, cache: LinearCache) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of :func:`forward`.

    Parameters
    ----------
    dout : ndarray, shape (..., C_out)
    cache : LinearCache

    Returns
    -------
    dx : ndarray, shape (..., C_in)
    dw : ndarray, shape (C_in, C_out)
    db : ndarray, shape (C_out,), or None when the forward pass had no bias
    """
    dout = check_dout(dout, (*cache.shape[:-1], cache.w.shape[1]), cache.w.dtype)
    dx, dw, db = _backward(dout.reshape(-1, cache.w.shape[1]), cache.x, cache.w, cache.has_bias)
    return dx.reshape(cache.shape), dw, db
