"""Attention rollout across layers (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").

Raw attention shows, layer by layer, how each token mixes the tokens *of the layer below*. Rollout
follows that mixing down to the input: the residual connection is modelled by averaging each layer's
head-mean attention with the identity, ``Â = (A + I) / 2`` (rows re-normalised), and the per-layer
matrices are multiplied, ``R_l = Â_l Â_{l-1} ... Â_0``. Row ``i`` of ``R_l`` is then a distribution over
input tokens. It is a heuristic for information flow, not an explanation of the model's output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attnbook._checks import as_float_array, check_bool, check_tokens

__all__ = ["SHARES", "attention_rollout", "attention_shares", "raw_attention"]

# What :func:`attention_shares` measures, in order.
SHARES = ("self", "cls", "sep")


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


def attention_shares(
    matrices, tokens: Sequence[str], *, cls_token: str = "[CLS]", sep_token: str = "[SEP]"
) -> np.ndarray:
    """Mean weight of a query on itself, on the [CLS] keys and on the [SEP] keys, per matrix.

    Parameters
    ----------
    matrices : ndarray, shape (..., T, T)
        Rows indexed by query (raw attention, rollout, one head...).
    tokens : sequence of str, length T
    cls_token, sep_token : str, optional

    Returns
    -------
    shares : ndarray, shape (..., 3)
        In the order of :data:`SHARES`: the mean diagonal, and the mean over queries of the total weight on the
        keys holding ``cls_token`` and ``sep_token`` (0 when there are none). Same dtype as ``matrices``.
    """
    m = as_float_array("matrices", matrices)
    if m.ndim < 2 or m.shape[-1] != m.shape[-2]:
        raise ValueError(f"matrices must have shape (..., T, T), got {m.shape}")
    toks = np.array(check_tokens("tokens", tokens, m.shape[-1]), dtype=object)
    own = np.diagonal(m, axis1=-2, axis2=-1).mean(axis=-1)  # (...,)
    cls = m[..., toks == cls_token].sum(axis=-1).mean(axis=-1)  # (..., T) -> (...,)
    sep = m[..., toks == sep_token].sum(axis=-1).mean(axis=-1)  # (...,)
    return np.stack([own, cls, sep], axis=-1).astype(m.dtype, copy=False)  # (..., 3)
