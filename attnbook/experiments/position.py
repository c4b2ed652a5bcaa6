"""Chapter 5's experiments: one sentence's attention under each position scheme (none, sinusoidal and learned
tables of Vaswani et al. 2017, RoPE of Su et al. 2021, ALiBi of Press et al. 2022), with the words shuffled, and
how alike the position signals of two positions are.

Position tables and biases come from :mod:`attnbook.positional`, weights from
:func:`attnbook.attention.scaled_dot_product_attention`, similarity statistics from :mod:`attnbook.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, as_int_array, check_choice, check_int, check_tokens
from ..attention import scaled_dot_product_attention, split_heads
from ..positional import alibi_bias, alibi_slopes, rope, sinusoidal
from ..stats import cosine_similarity, diagonal_profile

__all__ = [
    "SCHEMES",
    "SIMILARITY_SCHEMES",
    "AlibiHeads",
    "PermutationSweep",
    "SchemeSweep",
    "SimilaritySweep",
    "alibi_heads",
    "alibi_recency",
    "permutation_sweep",
    "position_similarity",
    "scheme_attention",
    "scheme_sweep",
    "similarity_sweep",
]

SCHEMES = ("none", "sinusoidal", "learned", "rope", "alibi")
SIMILARITY_SCHEMES = ("sinusoidal", "learned", "rope")


def _check_projections(x: np.ndarray, w_q, w_k, n_head: int) -> tuple[np.ndarray, np.ndarray, int]:
    C = x.shape[1]
    w_q = as_float_array("w_q", w_q, ndim=2)
    w_k = as_float_array("w_k", w_k, ndim=2)
    for name, w in (("w_q", w_q), ("w_k", w_k)):
        if w.shape != (C, C):
            raise ValueError(f"{name} must have shape (C, C) = ({C}, {C}), got {w.shape}")
        if w.dtype != x.dtype:
            raise TypeError(f"{name} must have the dtype of x ({x.dtype}), got {w.dtype}")
    n_head = check_int("n_head", n_head, low=1)
    if C % n_head:
        raise ValueError(f"n_head must divide C={C}, got {n_head}")
    return w_q, w_k, n_head


def _check_learned(learned, T: int, C: int, dtype) -> np.ndarray:
    learned = as_float_array("learned", learned, ndim=2)
    if learned.shape[0] < T or learned.shape[1] != C:
        raise ValueError(f"learned must have shape (>= {T}, {C}), got {learned.shape}")
    return learned[:T].astype(dtype, copy=False)


def scheme_attention(x, w_q, w_k, n_head: int, scheme: str, *, learned=None) -> np.ndarray:
    """Attention weights of a sentence under one position scheme (no mask, values not needed).

    ``none``: ``softmax(q kᵀ / √D)`` with ``q = x W_Q``, ``k = x W_K``. ``sinusoidal`` and ``learned`` add a
    position table to ``x`` first; ``rope`` rotates each head's ``q`` and ``k`` by their positions; ``alibi``
    adds ``-slope_h |i - j|`` to the scaled scores.

    Parameters
    ----------
    x : (T, C) float array
        Token vectors, the row order being the positions 0..T-1.
    w_q, w_k : (C, C) float arrays
    n_head : int
        H, divides C (RoPE needs an even head width D = C / H).
    scheme : {"none", "sinusoidal", "learned", "rope", "alibi"}
    learned : (>= T, C) float array, optional
        The position table for ``scheme="learned"``.

    Returns
    -------
    weights : ndarray, shape (H, T, T), dtype of ``x``
    """
    x = as_float_array("x", x, ndim=2)
    T, C = x.shape
    w_q, w_k, n_head = _check_projections(x, w_q, w_k, n_head)
    scheme = check_choice("scheme", scheme, SCHEMES)
    if scheme == "sinusoidal":
        x = x + sinusoidal(T, C, dtype=x.dtype)  # (T, C)
    elif scheme == "learned":
        if learned is None:
            raise ValueError("learned must be given for scheme='learned'")
        x = x + _check_learned(learned, T, C, x.dtype)  # (T, C)
    q = split_heads(x @ w_q, n_head)  # (H, T, D)
    k = split_heads(x @ w_k, n_head)  # (H, T, D)
    if scheme == "rope":
        q, k = rope(q), rope(k)  # rotate row t by angle t * base**(-2i/D)
    bias = alibi_bias(n_head, T, dtype=x.dtype) if scheme == "alibi" else None  # (H, T, T)
    _, weights = scaled_dot_product_attention(q, k, k, bias=bias)  # (H, T, T)
    return weights


def _check_sentence(tokens, x, w_q, w_k, n_head, learned):
    x = as_float_array("x", x, ndim=2)
    T, C = x.shape
    tokens = check_tokens("tokens", tokens, T)
    _check_projections(x, w_q, w_k, n_head)
    _check_learned(learned, T, C, x.dtype)
    return tokens, x


class SchemeSweep(NamedTuple):
    """One sentence's attention under every position scheme, and how its first repeated word's rows differ."""

    tokens: tuple[str, ...]  # the sentence, T tokens
    schemes: tuple[str, ...]  # SCHEMES, S of them
    weights: np.ndarray  # (S, H, T, T) attention weights, dtype of x
    twin: tuple[int, int] | None  # (i, j), i < j: the first word that occurs twice, at positions i and j
    twin_diff: np.ndarray  # (S, H) max_k |weights[s, h, j, k] - weights[s, h, i, k]| (zeros without a twin)


def scheme_sweep(tokens: Sequence[str], x, w_q, w_k, n_head: int, *, learned) -> SchemeSweep:
    """Run :func:`scheme_attention` for every scheme of :data:`SCHEMES` on one sentence.

    The rows of a word that occurs twice are identical exactly when nothing tells the two positions apart
    (same vector, same query): ``twin_diff`` measures how far each scheme moves them apart.

    Parameters
    ----------
    tokens : sequence of str, length T
    x : (T, C) float array
    w_q, w_k : (C, C) float arrays, dtype of ``x``
    n_head : int
    learned : (>= T, C) float array
        Position table of the ``learned`` scheme.
    """
    tokens, x = _check_sentence(tokens, x, w_q, w_k, n_head, learned)
    weights = np.stack([scheme_attention(x, w_q, w_k, n_head, s, learned=learned) for s in SCHEMES])
    twin = next(((tokens.index(t), j) for j, t in enumerate(tokens) if tokens.index(t) < j), None)
    if twin is None:
        twin_diff = np.zeros(weights.shape[:2])
    else:
        i, j = twin
        twin_diff = np.abs(weights[:, :, j] - weights[:, :, i]).max(axis=-1)  # (S, H)
    return SchemeSweep(tokens, SCHEMES, weights, twin, twin_diff)


class PermutationSweep(NamedTuple):
    """Attention of a sentence and of shuffles of it under every scheme, the shuffles put back in order."""

    tokens: tuple[str, ...]  # the sentence, T tokens
    schemes: tuple[str, ...]  # SCHEMES, S of them
    permutations: np.ndarray  # (P, T) int: shuffle p shows the words tokens[p[0]], tokens[p[1]], ...
    weights: np.ndarray  # (S, H, T, T) attention of the sentence A(x)
    shuffled: np.ndarray  # (P, S, H, T, T) attention of the shuffled sentence A(x[p])
    diff: np.ndarray  # (P, S, H, T, T) A(x[p]) un-shuffled minus A(x); zero iff attention only permutes


def permutation_sweep(
    tokens: Sequence[str], x, w_q, w_k, n_head: int, permutations, *, learned
) -> PermutationSweep:
    """Shuffle a sentence and compare its attention with the original's, under every scheme.

    ``diff[p, s] = A(x[p])[p⁻¹][:, p⁻¹] - A(x)``: zero everywhere exactly when attention is
    permutation-equivariant for that shuffle.

    Parameters
    ----------
    tokens : sequence of str, length T
    x : (T, C) float array
    w_q, w_k : (C, C) float arrays, dtype of ``x``
    n_head : int
    permutations : (P, T) int array
        Each row a permutation of ``0..T-1`` (P >= 2; the first is usually the identity).
    learned : (>= T, C) float array
        Position table of the ``learned`` scheme.
    """
    tokens, x = _check_sentence(tokens, x, w_q, w_k, n_head, learned)
    T = len(tokens)
    permutations = as_int_array("permutations", permutations, ndim=2, low=0, high=T)
    if permutations.shape[1] != T or permutations.shape[0] < 2:
        raise ValueError(f"permutations must have shape (P >= 2, T={T}), got {permutations.shape}")
    for p in permutations:
        if not np.array_equal(np.sort(p), np.arange(T)):
            raise ValueError(
                f"every row of permutations must be a permutation of 0..{T - 1}, got {p.tolist()}"
            )
    weights = np.stack([scheme_attention(x, w_q, w_k, n_head, s, learned=learned) for s in SCHEMES])
    shuffled = np.stack(
        [
            np.stack([scheme_attention(x[p], w_q, w_k, n_head, s, learned=learned) for s in SCHEMES])
            for p in permutations
        ]
    )  # (P, S, H, T, T)
    inv = np.argsort(permutations, axis=1)  # (P, T)
    back = np.stack([a[..., q, :][..., q] for a, q in zip(shuffled, inv, strict=True)])  # original order
    return PermutationSweep(tokens, SCHEMES, permutations.copy(), weights, shuffled, back - weights[None])


def position_similarity(scheme: str, T: int, d_model: int, *, learned=None, rope_vector=None) -> np.ndarray:
    """How alike two positions look to a model, as a (T, T) cosine similarity.

    ``sinusoidal``: cosine of the rows of the sinusoidal table; ``learned``: of the rows of ``learned``;
    ``rope``: the score of one vector ``u`` placed at positions m and n, ``<R_m u, R_n u> / |u|²``.

    Parameters
    ----------
    scheme : {"sinusoidal", "learned", "rope"}
    T : int
        Number of positions.
    d_model : int
        Width C (even for sinusoidal and RoPE).
    learned : (>= T, C) float array, optional
        Required for ``"learned"``.
    rope_vector : (C,) float array, optional
        The vector ``u`` for ``"rope"``; required there.

    Returns
    -------
    sim : ndarray of float64, shape (T, T)
    """
    scheme = check_choice("scheme", scheme, SIMILARITY_SCHEMES)
    T = check_int("T", T, low=1)
    C = check_int("d_model", d_model, low=2)
    if scheme == "sinusoidal":
        table = sinusoidal(T, C)  # (T, C)
    elif scheme == "learned":
        if learned is None:
            raise ValueError("learned must be given for scheme='learned'")
        table = _check_learned(learned, T, C, np.float64)
    else:
        if rope_vector is None:
            raise ValueError("rope_vector must be given for scheme='rope'")
        u = as_float_array("rope_vector", rope_vector, ndim=1).astype(np.float64)
        if u.shape != (C,):
            raise ValueError(f"rope_vector must have shape ({C},), got {u.shape}")
        table = rope(np.tile(u, (T, 1)))  # (T, C): row m is u rotated to position m
    return cosine_similarity(table)


class SimilaritySweep(NamedTuple):
    """Several (T, T) position similarities, with how far each is from depending on the distance alone."""

    labels: tuple[str, ...]  # one label per matrix, S of them
    similarity: np.ndarray  # (S, T, T) float64
    spread: np.ndarray  # (S,) largest max - min along one diagonal n - m = k: 0 for a function of distance
    near: np.ndarray  # (S,) mean similarity of neighbours (distance n - m = 1)


def similarity_sweep(similarities: Mapping[str, np.ndarray]) -> SimilaritySweep:
    """Stack labelled (T, T) similarity matrices (e.g. from :func:`position_similarity`) with their statistics.

    Parameters
    ----------
    similarities : mapping of str to (T, T) float array, T >= 2, all the same T
    """
    if not isinstance(similarities, Mapping) or not similarities:
        raise TypeError("similarities must be a non-empty mapping of label to (T, T) array")
    labels = tuple(similarities)
    if not all(isinstance(k, str) for k in labels):
        raise TypeError("similarities must be keyed by str labels")
    sims = [as_float_array(f"similarities[{k!r}]", v, ndim=2) for k, v in similarities.items()]
    T = sims[0].shape[0]
    for k, v in zip(labels, sims, strict=True):
        if v.shape != (T, T):
            raise ValueError(f"similarities[{k!r}] must have shape (T, T) = ({T}, {T}), got {v.shape}")
    if T < 2:
        raise ValueError(f"similarities must be at least 2 x 2, got T={T}")
    profiles = [diagonal_profile(s) for s in sims]  # (offsets, mean, spread) per matrix
    spread = np.array([p[2].max() for p in profiles])  # (S,)
    near = np.array([p[1][T] for p in profiles])  # (S,) offsets run -(T-1)..T-1: index T is offset +1
    return SimilaritySweep(labels, np.stack(sims).astype(np.float64), spread, near)


def alibi_recency(n_head: int, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Where ALiBi alone makes the last query look: its weights when every content score is equal.

    Parameters
    ----------
    n_head : int
        H.
    T : int
        Sequence length; the query is the last position, ``T - 1``, and may see every key (causal).

    Returns
    -------
    weights : ndarray of float64, shape (H, T)
        ``softmax_j(-slope_h (T - 1 - j))``.
    half : ndarray of int64, shape (H,)
        How many of the most recent keys (the query's own included) hold at least half of the weight.
    """
    n_head = check_int("n_head", n_head, low=1)
    T = check_int("T", T, low=1)
    bias = alibi_bias(n_head, T)[:, -1:, :]  # (H, 1, T): the last query's row
    q, k = np.zeros((n_head, 1, 1)), np.zeros((n_head, T, 1))  # every content score q·k is 0
    _, weights = scaled_dot_product_attention(q, k, k, bias=bias)  # (H, 1, T)
    weights = weights[:, 0, :]  # (H, T)
    half = 1 + np.argmax(np.cumsum(weights[:, ::-1], axis=1) >= 0.5, axis=1)  # (H,)
    return weights, half


class AlibiHeads(NamedTuple):
    """ALiBi's per-head slopes and causal biases, and where each head's last query looks on bias alone."""

    slopes: np.ndarray  # (H,) m_h
    bias: np.ndarray  # (H, T, T) -m_h (i - j) on and below the diagonal, NaN above it (masked, causal)
    last: np.ndarray  # (H, T) the last query's weights when every content score is equal
    half: np.ndarray  # (H,) int: the most recent keys holding half of that weight


def alibi_heads(n_head: int, T: int) -> AlibiHeads:
    """Slopes, causal bias tables and recency (:func:`alibi_recency`) of ``n_head`` ALiBi heads over ``T`` positions.

    Parameters
    ----------
    n_head : int
        H >= 1.
    T : int
        Sequence length, >= 2.
    """
    n_head = check_int("n_head", n_head, low=1)
    T = check_int("T", T, low=2)
    causal = np.tril(np.ones((T, T), dtype=bool))  # (T, T) keys j <= i
    bias = np.where(causal, alibi_bias(n_head, T), np.nan)  # (H, T, T)
    last, half = alibi_recency(n_head, T)
    return AlibiHeads(alibi_slopes(n_head), bias, last, half)
