"""Softmax cross-entropy over the last axis, mean over the targets, with its fused gradient."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array, as_int_array, check_int, check_real
from attnbook.layers._common import rowsum

__all__ = ["CrossEntropyCache", "backward", "forward", "softmax_cross_entropy"]


class CrossEntropyCache(NamedTuple):
    """Saved by :func:`forward`: the gradient of the mean loss, ready to be scaled by ``dloss``."""

    dlogits: np.ndarray  # (..., V), softmax minus one-hot, divided by the number of counted targets


def _softmax_cross_entropy(
    logits2: np.ndarray, targets1: np.ndarray, ignore_index: int | None
) -> tuple[float, np.ndarray]:
    N = logits2.shape[0]
    rows = np.arange(N)
    valid = None if ignore_index is None else targets1 != ignore_index  # (N,)
    t = targets1 if valid is None else np.where(valid, targets1, 0)
    # Shifting each row by its max makes exp safe; when every logit is moderate the shift changes
    # nothing but costs a slow reduction over short rows, so it is skipped.
    if logits2.max() <= 60.0 and logits2.min() >= -60.0:
        z = logits2
    else:
        z = logits2 - logits2.max(axis=-1, keepdims=True)  # (N, V)
    probs = np.exp(z)
    s = rowsum(probs)[:, None]  # (N, 1)
    nll = np.log(s[:, 0]) - z[rows, t]  # (N,), -log softmax at the target
    n = N if valid is None else int(valid.sum())
    if n == 0:  # every target ignored: nothing to learn from this batch
        return 0.0, np.zeros_like(logits2)
    if valid is not None:
        nll = nll[valid]
    value = float(np.sum(nll, dtype=np.float64) / n)
    # d mean(nll) / d logits = (softmax - onehot) / n, computed in place in the exp buffer.
    probs /= s
    probs[rows, t] -= 1.0
    if valid is not None:
        probs[~valid] = 0.0
    probs *= 1.0 / n
    return value, probs


def _check(logits, targets, ignore_index):
    logits = as_float_array("logits", logits, min_ndim=1)
    targets = as_int_array("targets", targets)
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape logits.shape[:-1] = {logits.shape[:-1]}, got {targets.shape}"
        )
    V = logits.shape[-1]
    if ignore_index is not None:
        ignore_index = check_int("ignore_index", ignore_index)
    bad = (targets < 0) | (targets >= V)
    if ignore_index is not None:
        bad &= targets != ignore_index
    if np.any(bad):
        raise ValueError(f"targets values must be in [0, {V}) (or ignore_index), got {targets[bad].flat[0]}")
    return logits, targets, ignore_index


def softmax_cross_entropy(logits, targets, ignore_index: int | None = None) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(logits)`` against integer targets, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (..., V)
        E.g. (B, T, V).
    targets : ndarray of int, shape (...)
        Class ids in ``[0, V)``, or ``ignore_index``.
    ignore_index : int, optional
        Targets equal to it are left out of the mean (e.g. the prompt half of a copy task). If every
        target is ignored the loss is 0 and the gradient is zero.

    Returns
    -------
    value : float
        Mean negative log-likelihood in nats (``ln V`` for uniform predictions).
    dlogits : ndarray, shape (..., V)
        Gradient of ``value``, already divided by the number of counted targets.
    """
    logits, targets, ignore_index = _check(logits, targets, ignore_index)
    V = logits.shape[-1]
    value, dlogits = _softmax_cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index)
    return value, dlogits.reshape(logits.shape)


def forward(logits, targets, ignore_index: int | None = None) -> tuple[float, CrossEntropyCache]:
    """Forward half of :func:`softmax_cross_entropy`: ``(value, cache)``; see that function."""
    value, dlogits = softmax_cross_entropy(logits, targets, ignore_index)
    return value, CrossEntropyCache(dlogits)


def backward(dloss, cache: CrossEntropyCache) -> np.ndarray:
    """Gradient of :func:`forward` with respect to the logits.

    Parameters
    ----------
    dloss : float
        Upstream gradient of the scalar loss (1.0 when the loss is the objective).
    cache : CrossEntropyCache

    Returns
    -------
    dlogits : ndarray, shape (..., V)
    """
    dloss = check_real("dloss", dloss)
    return cache.dlogits * dloss
