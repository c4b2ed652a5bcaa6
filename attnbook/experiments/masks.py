"""Chapter 3's experiment: one attention head over one sentence under every mask the figure's widgets reach.

Global-local is Longformer's pattern (Beltagy et al. 2020). Masks come from :mod:`attnbook.masks`, weights
from :func:`attnbook.attention.scaled_dot_product_attention`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_int, check_tokens
from ..attention import scaled_dot_product_attention
from ..masks import causal, global_local, local, padding

__all__ = ["MaskSweep", "mask_sweep"]


class MaskSweep(NamedTuple):
    """Masks, scores and weights of one head for every mask setting; per-type arrays lead with their settings."""

    tokens: tuple[str, ...]  # the sentence, T tokens
    windows: tuple[int, ...]  # local / global-local window w: 0 .. T-2
    n_globals: tuple[int, ...]  # global tokens: 1 .. max_global
    lengths: tuple[int, ...]  # padding: real tokens 0 .. T, the rest <pad>
    masks: dict  # type -> bool (T, T) | (W, T, T) | (W, G, T, T) | (L, T, T); True = may attend
    scores: dict  # type -> scaled scores q·k/√D, same shapes (the values the softmax saw before masking)
    weights: dict  # type -> attention weights, same shapes (rows that see nothing are zeros)


def _head(x, w_q, w_k, w_v, mask):
    q, k, v = x @ w_q, x @ w_k, x @ w_v  # (T, C) each, one head with D = C
    _, weights = scaled_dot_product_attention(q, k, v, mask=mask)  # (T, T)
    return (q @ k.T) / np.sqrt(x.shape[1]), weights  # (T, T), (T, T)


def mask_sweep(tokens: Sequence[str], x, w_q, w_k, w_v, pad_vector, *, max_global: int = 3) -> MaskSweep:
    """Run one head ``softmax(q kᵀ / √D, masked) v`` (``q = x w_q`` ...) under every mask setting.

    Parameters
    ----------
    tokens : sequence of str, length T (T >= 3)
    x : (T, C) token vectors
    w_q, w_k, w_v : (C, C) projections of one head (D = C)
    pad_vector : (C,) vector of the padding token; in padding mode tokens from ``length`` on are replaced by it
    max_global : int
        Largest number of global tokens, ``1 <= max_global <= T - 1``.
    """
    x = as_float_array("x", x, ndim=2)
    T, C = x.shape
    tokens = check_tokens("tokens", tokens, T)
    if T < 3:
        raise ValueError(f"x must have at least 3 rows (tokens) for the masks to differ, got T={T}")
    ws = []
    for wname, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v)):
        w = as_float_array(wname, w, ndim=2)
        if w.shape != (C, C):
            raise ValueError(f"{wname} must have shape (C, C) = ({C}, {C}), got {w.shape}")
        ws.append(w.astype(x.dtype, copy=False))
    pad_vector = as_float_array("pad_vector", pad_vector, ndim=1)
    if pad_vector.shape != (C,):
        raise ValueError(f"pad_vector must have shape (C,) = ({C},), got {pad_vector.shape}")
    max_global = check_int("max_global", max_global, low=1, high=T - 1)
    windows, n_globals, lengths = tuple(range(T - 1)), tuple(range(1, max_global + 1)), tuple(range(T + 1))

    masks = {
        "none": np.ones((T, T), dtype=bool),
        "causal": causal(T),
        "local": np.stack([local(T, w) for w in windows]),  # (W, T, T)
        "global-local": np.stack(
            [[global_local(T, w, g) for g in n_globals] for w in windows]
        ),  # (W, G, T, T)
        "padding": padding(list(lengths), T),  # (L, T, T)
    }
    scores, weights = {}, {}
    for kind, m in masks.items():
        s_out, w_out = np.zeros(m.shape), np.zeros(m.shape)
        for idx in np.ndindex(m.shape[:-2]):
            xs = x
            if kind == "padding":
                xs = x.copy()
                xs[lengths[idx[0]] :] = pad_vector  # the padded tail of the sentence
            s_out[idx], w_out[idx] = _head(xs, *ws, m[idx])
        scores[kind], weights[kind] = s_out, w_out
    return MaskSweep(tokens, windows, n_globals, lengths, masks, scores, weights)
