"""Attention rollout across layers (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").

Raw attention shows, layer by layer, how each token mixes the tokens *of the layer below*. Rollout
follows that mixing down to the input: the residual connection is modelled by averaging each layer's
head-mean attention with the identity, ``Â = (A + I) / 2`` (rows re-normalised), and the per-layer
matrices are multiplied, ``R_l = Â_l Â_{l-1} ... Â_0``. Row ``i`` of ``R_l`` is then a distribution over
input tokens. It is a heuristic for information flow, not an explanation of the model's output.
"""

from __future__ import annotations

import numpy as np

from attnbook._checks import as_float_array, check_bool

__all__ = ["attention_rollout", "raw_attention"]


def _check_attentions(attentions) -> np.ndarray:
    """Validate an ``(L, H, T, T)`` non-negative attention tensor."""
    a = as_float_array("attentions", attentions, ndim=4)
    L, H, Tq, Tk = a.shape
    if L < 1 or H < 1 or Tq < 1:
        raise ValueError(f"attentions must have shape (L, H, T, T) with L, H, T >= 1, got {a.shape}")
    if Tq != Tk:
        raise ValueError(f"attentions must be square in its last two axes (L, H, T, T), got {a.shape}")
    if np.any(a < 0):
        raise ValueError("attentions must be non-negative (softmax weights)")
    return a


def raw_attention(attentions) -> np.ndarray:
    """Per-layer attention averaged over heads, the "raw attention" that rollout is compared with.

    Parameters
    ----------
    attentions : ndarray, shape (L, H, T, T)
        Attention weights of every layer and head, rows indexed by query.

    Returns
    -------
    raw : ndarray, shape (L, T, T)
        Mean over heads, same dtype as ``attentions``.
    """
    a = _check_attentions(attentions)
    return a.mean(axis=1)  # (L, T, T)


def attention_rollout(attentions, *, residual: bool = True) -> np.ndarray:
    """Attention rollout after every layer (Abnar & Zuidema 2020).

    Parameters
    ----------
    attentions : ndarray, shape (L, H, T, T)
        Attention weights of every layer and head, rows indexed by query.
    residual : bool, optional
        Model the residual connection as in the paper, ``Â = (A + I) / 2`` with rows re-normalised
        (default). With ``False`` the head-mean attentions are multiplied as they are.

    Returns
    -------
    rollout : ndarray, shape (L, T, T)
        ``rollout[l] = Â_l @ ... @ Â_0``: row ``i`` is how much of input token ``j`` reaches position ``i``
        after layer ``l``. Rows sum to 1 when the input rows do. Same dtype as ``attentions``.
    """
    a = _check_attentions(attentions)
    residual = check_bool("residual", residual)
    L, _, T, _ = a.shape
    mixed = a.mean(axis=1)  # (L, T, T) heads averaged first, as in the paper
    if residual:
        mixed = 0.5 * mixed + 0.5 * np.eye(T, dtype=a.dtype)  # (L, T, T)
        # Re-normalise so each row stays a distribution even if the input rows were not exactly 1.
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
    out = np.empty_like(mixed)
    out[0] = mixed[0]
    for layer in range(1, L):
        out[layer] = mixed[layer] @ out[layer - 1]  # (T, T): later layer on the left
    return out
