"""Token embedding lookup ``out = w[idx]`` and its backward pass (a scatter-add into the table)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array, as_int_array
from attnbook.layers._common import check_dout

__all__ = ["EmbeddingCache", "backward", "forward"]


class EmbeddingCache(NamedTuple):
    """The looked-up ids and the table's shape."""

    idx: np.ndarray  # (...,) integer ids
    vocab_size: int  # V, rows of the table
    dtype: np.dtype


def _backward(dout2: np.ndarray, idx_flat: np.ndarray, vocab_size: int) -> np.ndarray:
    # Repeated ids must accumulate their gradients. For a small vocabulary the scatter-add is fastest
    # as a matrix product with the one-hot matrix, onehot^T @ dout; otherwise np.add.at does it.
    N = idx_flat.shape[0]
    if N * vocab_size <= 1 << 22:
        onehot = np.equal(idx_flat[:, None], np.arange(vocab_size)).astype(dout2.dtype)  # (N, V)
        return onehot.T @ dout2  # (V, C)
    dw = np.zeros((vocab_size, dout2.shape[1]), dtype=dout2.dtype)  # (V, C)
    np.add.at(dw, idx_flat, dout2)
    return dw


def forward(idx, w) -> tuple[np.ndarray, EmbeddingCache]:
    """Look up one row of ``w`` per id.

    Parameters
    ----------
    idx : ndarray of int, any shape (e.g. (B, T))
        Ids in ``[0, V)``.
    w : ndarray, shape (V, C)

    Returns
    -------
    out : ndarray, shape (*idx.shape, C)
    cache : EmbeddingCache
    """
    w = as_float_array("w", w, ndim=2)
    idx = as_int_array("idx", idx, low=0, high=w.shape[0])
    return w[idx], EmbeddingCache(idx, w.shape[0], w.dtype)


def backward(dout, cache: EmbeddingCache) -> np.ndarray:
    """Gradient of :func:`forward` with respect to the table.

    Parameters
    ----------
    dout : ndarray, shape ``(*idx.shape, C)``
    cache : EmbeddingCache

    Returns
    -------
    dw : ndarray, shape (V, C)
    """
    dout = as_float_array("dout", dout, min_ndim=1)
    dout = check_dout(dout, (*cache.idx.shape, dout.shape[-1]), cache.dtype)
    return _backward(dout.reshape(-1, dout.shape[-1]), cache.idx.reshape(-1), cache.vocab_size)
