"""Statistics that locate attention-head patterns (previous/next token, [CLS]/[SEP] sinks, same word,
punctuation, entropy) in an ``(L, H, T, T)`` attention tensor, after Clark et al. 2019 ("What Does BERT
Look At?").

Each statistic is a number per head, so the book can point at "the previous-token head" by computation
rather than by eye. Every statistic except entropy is an average, over query rows, of the attention
weight that lands on a set of keys; it is 1 for a head that puts all its weight there.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array, check_int
from attnbook.analysis import attention_entropy

__all__ = [
    "PATTERNS",
    "HeadScore",
    "HeadStatistics",
    "head_statistics",
    "is_punctuation",
    "rank_heads",
    "top_heads",
]

# The statistics where a large value means "this head shows the pattern".
PATTERNS = ("previous_token", "next_token", "cls", "sep", "same_word", "punctuation")


class HeadStatistics(NamedTuple):
    """Per-head statistics, each an array of shape ``(L, H)``."""

    previous_token: np.ndarray  # mean weight of query i on key i - 1 (queries 1..T-1)
    next_token: np.ndarray  # mean weight of query i on key i + 1 (queries 0..T-2)
    cls: np.ndarray  # mean weight on [CLS] keys
    sep: np.ndarray  # mean weight on [SEP] keys (all of them, summed)
    same_word: np.ndarray  # mean weight on other positions holding the same token string
    punctuation: np.ndarray  # mean weight on punctuation tokens
    entropy: np.ndarray  # mean row entropy in nats (0 = one key only, log T = uniform)


class HeadScore(NamedTuple):
    """One head and its statistic, as returned by :func:`top_heads`."""

    layer: int
    head: int
    value: float


def is_punctuation(token: str) -> bool:
    """True if every character of ``token`` (ignoring a WordPiece ``##`` prefix) is Unicode punctuation."""
    body = token[2:] if token.startswith("##") and len(token) > 2 else token
    return bool(body) and all(unicodedata.category(c).startswith("P") for c in body)


def _check_tokens(tokens, T: int) -> list[str]:
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise TypeError(f"tokens must be a sequence of str, got {type(tokens).__name__}")
    tokens = list(tokens)
    if not all(isinstance(t, str) for t in tokens):
        raise TypeError("tokens must contain only str")
    if len(tokens) != T:
        raise ValueError(f"tokens must have length T = {T} (the attention's last axis), got {len(tokens)}")
    return tokens


def head_statistics(
    attentions,
    tokens: Sequence[str],
    *,
    cls_token: str = "[CLS]",
    sep_token: str = "[SEP]",
    special_tokens: Sequence[str] = ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"),
) -> HeadStatistics:
    """Compute the pattern statistics of every head.

    Parameters
    ----------
    attentions : ndarray, shape (L, H, T, T)
        Attention weights, rows indexed by query, each row a distribution over keys.
    tokens : sequence of str, length T
        The token strings (WordPiece tokens for BERT).
    cls_token, sep_token : str, optional
        Strings of the classification and separator tokens.
    special_tokens : sequence of str, optional
        Tokens left out of the same-word statistic (two [SEP]s are not "the same word").

    Returns
    -------
    stats : HeadStatistics
        Seven arrays of shape ``(L, H)``, dtype of ``attentions``. ``same_word`` averages over the
        queries whose token occurs elsewhere in the sequence; it is 0 when no token repeats.
    """
    a = as_float_array("attentions", attentions, ndim=4)
    L, H, T, Tk = a.shape
    if T != Tk or T < 1:
        raise ValueError(f"attentions must have shape (L, H, T, T) with T >= 1, got {a.shape}")
    if np.any(a < 0):
        raise ValueError("attentions must be non-negative (softmax weights)")
    tokens = _check_tokens(tokens, T)
    zeros = np.zeros((L, H), dtype=a.dtype)

    if T > 1:
        previous_token = np.diagonal(a, offset=-1, axis1=2, axis2=3).mean(axis=-1)  # (L, H): a[..., i, i-1]
        next_token = np.diagonal(a, offset=1, axis1=2, axis2=3).mean(axis=-1)  # (L, H): a[..., i, i+1]
    else:
        previous_token = next_token = zeros

    def weight_on(keys: np.ndarray) -> np.ndarray:
        """Mean over queries of the total weight on the boolean key set ``keys`` (T,)."""
        return a[..., keys].sum(axis=-1).mean(axis=-1)  # (L, H, T) -> (L, H)

    toks = np.array(tokens, dtype=object)
    cls = weight_on(toks == cls_token)
    sep = weight_on(toks == sep_token)
    punctuation = weight_on(np.array([is_punctuation(t) for t in tokens], dtype=bool))

    special = set(special_tokens)
    same = (toks[:, None] == toks[None, :]) & ~np.eye(T, dtype=bool)  # (T, T) query i, key j: same string
    ordinary = np.array([t not in special for t in tokens], dtype=bool)
    same &= ordinary[:, None] & ordinary[None, :]
    has_twin = same.any(axis=1)  # (T,) queries whose token occurs elsewhere
    if has_twin.any():
        same_word = (a * same).sum(axis=-1)[..., has_twin].mean(axis=-1)  # (L, H)
    else:
        same_word = zeros

    entropy = attention_entropy(a).mean(axis=-1)  # (L, H, T) -> (L, H)

    stats = (previous_token, next_token, cls, sep, same_word, punctuation, entropy)
    return HeadStatistics(*(np.asarray(s, dtype=a.dtype) for s in stats))


def top_heads(stats: HeadStatistics, k: int = 3) -> dict[str, list[HeadScore]]:
    """The ``k`` heads that show each pattern most strongly.

    Parameters
    ----------
    stats : HeadStatistics
        Output of :func:`head_statistics` (or any per-statistic mean of several, shapes ``(L, H)``).
    k : int, optional
        Heads per pattern, ``1 <= k``; fewer are returned if there are fewer heads.

    Returns
    -------
    top : dict of str to list of HeadScore
        For each name in :data:`PATTERNS`, the heads with the largest statistic, best first; under
        ``"entropy"`` the heads with the *lowest* entropy (the most focused ones). Ties keep
        (layer, head) order.
    """
    if not isinstance(stats, HeadStatistics):
        raise TypeError(f"stats must be a HeadStatistics, got {type(stats).__name__}")
    k = check_int("k", k, low=1)
    top: dict[str, list[HeadScore]] = {}
    for name in (*PATTERNS, "entropy"):
        values = as_float_array(f"stats.{name}", getattr(stats, name), ndim=2)
        flat = values.ravel()
        order = np.argsort(flat if name == "entropy" else -flat, kind="stable")[:k]
        top[name] = [
            HeadScore(int(i // values.shape[1]), int(i % values.shape[1]), float(flat[i])) for i in order
        ]
    return top


def rank_heads(stats: HeadStatistics) -> HeadStatistics:
    """Rank of every head among all ``L * H`` heads for each statistic, in the order of :func:`top_heads`.

    Parameters
    ----------
    stats : HeadStatistics
        Arrays of shape ``(L, H)`` (from :func:`head_statistics`, or a mean of several).

    Returns
    -------
    ranks : HeadStatistics
        int32 arrays of shape ``(L, H)``: 1 for the head :func:`top_heads` lists first (largest value; lowest
        entropy), ``L * H`` for the last. Ties keep (layer, head) order.
    """
    if not isinstance(stats, HeadStatistics):
        raise TypeError(f"stats must be a HeadStatistics, got {type(stats).__name__}")
    out = []
    for name in HeadStatistics._fields:
        values = as_float_array(f"stats.{name}", getattr(stats, name), ndim=2)
        flat = values.ravel()
        order = np.argsort(flat if name == "entropy" else -flat, kind="stable")  # (L*H,) best first
        ranks = np.empty(flat.size, dtype=np.int32)
        ranks[order] = np.arange(1, flat.size + 1, dtype=np.int32)
        out.append(ranks.reshape(values.shape))
    return HeadStatistics(*out)
