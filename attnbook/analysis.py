"""The statistics the chapters and experiments quote, each defined once: attention entropy, head scores, per-layer
gradient norms, ranks and Spearman's correlation, per-token losses.

Arrays in, arrays out, pure NumPy: nothing here runs a model (pass in the attention maps, gradients or logits
that :mod:`attnbook.model` returned), so the experiments and the figures' payloads can share these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from attnbook._checks import as_float_array, as_int_array, check_int

__all__ = [
    "attention_entropy",
    "copy_targets",
    "copy_weight",
    "layer_grad_norms",
    "prefix_matching_score",
    "previous_token_score",
    "rank_values",
    "spearman",
    "token_losses",
]


# ----------------------------------------------------------------------------------------------------
# Attention


def attention_entropy(weights) -> np.ndarray:
    """Entropy of each attention row in nats, ``-sum_j w_j log w_j`` (``0 log 0 = 0``; zero rows give 0).

    0 for a row that puts all its weight on one key, ``ln n`` for a row uniform over ``n`` keys.

    Parameters
    ----------
    weights : float array, shape (..., Tq, Tk)
        Non-negative attention weights, rows are queries (any leading axes: layers, batch, heads).

    Returns
    -------
    entropy : ndarray, shape (..., Tq), dtype of ``weights``
        Average it over the axes you need, e.g. ``.mean(axis=-1)`` for each head's mean row entropy.
    """
    weights = as_float_array("weights", weights, min_ndim=1)
    if (weights < 0).any():
        raise ValueError("weights must be non-negative")
    safe = np.where(weights > 0, weights, np.ones((), dtype=weights.dtype))  # log(1) = 0 for the zeros
    return -np.sum(weights * np.log(safe), axis=-1) + 0.0  # + 0.0 turns -0.0 into 0.0


def _check_maps(maps) -> np.ndarray:
    maps = as_float_array("maps", maps, min_ndim=4)
    if maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"maps must have shape (..., W, H, T, T), got {maps.shape}")
    return maps


def previous_token_score(maps) -> np.ndarray:
    """Mean attention from each query to the token just before it.

    Parameters
    ----------
    maps : float array, shape (..., W, H, T, T)
        Attention weights of H heads on W windows, rows are queries (leading axes, e.g. snapshots and
        layers, are kept). A single window of heads ``(H, T, T)`` is ``maps[None]``.

    Returns
    -------
    score : ndarray of float64, shape (..., H)
        Mean of ``maps[..., w, h, i, i - 1]`` over the queries ``i >= 1`` and the W windows; 1 for a perfect
        previous-token head, ``mean(1 / (i + 1))`` for a causal head that attends uniformly.
    """
    maps = _check_maps(maps)
    T = maps.shape[-1]
    if T < 2:
        raise ValueError(f"maps must have T >= 2 positions to have a previous token, got shape {maps.shape}")
    i = np.arange(1, T)
    prev = maps[..., i, i - 1].astype(np.float64)  # (..., W, H, T-1)
    return prev.mean(axis=(-3, -1))


def prefix_matching_score(maps, source) -> np.ndarray:
    """Olsson et al.'s prefix-matching score: attention from a repeated token to what followed it last time.

    Parameters
    ----------
    maps : float array, shape (..., W, H, T, T)
        Attention weights of H heads on W windows, rows are queries.
    source : int array, shape (W, T)
        The key each query should attend (``-1``: the query is not scored), e.g.
        :attr:`attnbook.experiments.induction.WindowRoles.source`.

    Returns
    -------
    score : ndarray of float64, shape (..., H)
        Mean of ``maps[..., w, h, i, source[w, i]]`` over the scored queries; 1 for a perfect induction head.
    """
    maps = _check_maps(maps)
    W, T = maps.shape[-4], maps.shape[-1]
    source = as_int_array("source", source, ndim=2, low=-1, high=T)
    if source.shape != (W, T):
        raise ValueError(f"source must have shape (W, T) = {(W, T)}, got {source.shape}")
    w, i = np.nonzero(source >= 0)
    if w.size == 0:
        raise ValueError("source has no scored query (all -1)")
    picked = maps[..., w, :, i, source[w, i]].astype(np.float64)  # (n, ..., H): advanced indices go first
    return picked.mean(axis=0)


def copy_targets(tokens) -> list[tuple[int, list[int]]]:
    """Where an induction head should look in one sequence: for each query ``i`` whose token occurred before, the
    keys just after its earlier occurrences.

    Parameters
    ----------
    tokens : sequence of hashable, length T
        The sequence (characters or token ids).

    Returns
    -------
    targets : list of (i, keys)
        ``keys = [j + 1 for j < i - 1 if tokens[j] == tokens[i]]``, for every query with at least one such key
        (``j = i - 1`` is left out: the key after it is the query itself).
    """
    if isinstance(tokens, (str, bytes)):
        tokens = list(tokens)
    if not hasattr(tokens, "__len__"):
        raise TypeError(f"tokens must be a sequence, got {type(tokens).__name__}")
    tokens = list(tokens)
    out = []
    for i, t in enumerate(tokens):
        keys = [j + 1 for j in range(i - 1) if tokens[j] == t]
        if keys:
            out.append((i, keys))
    return out


def copy_weight(weights, tokens) -> np.ndarray:
    """The attention an induction head pays to "the character after the earlier occurrence" of the current one.

    Parameters
    ----------
    weights : float array, shape (..., T, T)
        Attention weights of one sequence, rows are queries (e.g. ``(n_layer, H, T, T)``).
    tokens : sequence, length T
        The sequence; its :func:`copy_targets` are scored.

    Returns
    -------
    weight : ndarray of float64, shape (...)
        For each map, the total weight each scored query puts on its targets, averaged over the scored queries:
        1 for a perfect induction head, about (earlier occurrences) / i for uniform attention. NaN when no token
        of ``tokens`` occurred before.
    """
    weights = as_float_array("weights", weights, min_ndim=2)
    T = weights.shape[-1]
    if weights.shape[-2] != T:
        raise ValueError(f"weights must have shape (..., T, T), got {weights.shape}")
    if len(tokens) != T:
        raise ValueError(f"tokens must have T = {T} entries, got {len(tokens)}")
    targets = copy_targets(tokens)
    if not targets:
        return np.full(weights.shape[:-2], np.nan)
    w = weights.astype(np.float64)
    return np.mean([w[..., i, keys].sum(axis=-1) for i, keys in targets], axis=0)


# ----------------------------------------------------------------------------------------------------
# Gradients


def layer_grad_norms(
    grads: Mapping[str, np.ndarray], n_layer: int, include: Iterable[str] | None = None
) -> np.ndarray:
    """The 2-norm of one block's parameter gradients taken together, for each block.

    Parameters
    ----------
    grads : dict of str to float array
        As returned by :func:`attnbook.model.backward`; the keys ``"blocks.<l>.<name>"`` are grouped by
        ``l`` and every other key (embeddings, final norm, output head) is left out.
    n_layer : int
        Number of blocks; every block must have at least one gradient.
    include : iterable of str, optional
        Only these ``<name>`` inside each block (e.g. ``("mlp.w_in", "mlp.w_out")``); default all of them.
        Each must be present in every block.

    Returns
    -------
    norms : ndarray of float64, shape (n_layer,)
        ``sqrt(sum of the squared entries)``, accumulated in float64.
    """
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of arrays, got {type(grads).__name__}")
    n_layer = check_int("n_layer", n_layer, low=1)
    if include is not None:
        if isinstance(include, str):
            raise TypeError("include must be an iterable of str, not a single str")
        include = tuple(include)
        if not include or not all(isinstance(n, str) for n in include):
            raise ValueError(f"include must be a non-empty iterable of str, got {include!r}")
    sumsq = np.zeros(n_layer)
    found: list[set[str]] = [set() for _ in range(n_layer)]
    for key, g in grads.items():
        parts = str(key).split(".")
        if parts[0] != "blocks":
            continue
        if len(parts) < 3 or not parts[1].isdigit():
            raise ValueError(f"grads key {key!r} is not of the form 'blocks.<layer>.<name>'")
        layer, name = int(parts[1]), ".".join(parts[2:])
        if layer >= n_layer:
            raise ValueError(f"grads has {key!r} but n_layer is {n_layer}")
        if include is not None and name not in include:
            continue
        g = as_float_array(f"grads[{key!r}]", g)
        sumsq[layer] += float(np.sum(np.square(g, dtype=np.float64)))
        found[layer].add(name)
    for layer, names in enumerate(found):
        if not names:
            raise ValueError(f"grads has no entries for block {layer}")
        if include is not None and len(names) != len(include):
            missing = sorted(set(include) - names)
            raise ValueError(f"grads has no {missing} in block {layer} (include)")
    return np.sqrt(sumsq)


# ----------------------------------------------------------------------------------------------------
# Ranks


def rank_values(a) -> np.ndarray:
    """Ranks 1..n of the values (smallest first), ties getting the mean of the ranks they span.

    Parameters
    ----------
    a : float array, shape (n,)

    Returns
    -------
    ranks : ndarray of float64, shape (n,)
    """
    a = as_float_array("a", a, ndim=1).astype(np.float64)
    order = np.argsort(a, kind="stable")
    s = a[order]
    ranks = np.empty(a.size, dtype=np.float64)
    start = 0
    for end in range(1, a.size + 1):
        if end == a.size or s[end] != s[start]:
            ranks[order[start:end]] = 0.5 * (start + end - 1) + 1.0  # mean of ranks start+1 .. end
            start = end
    return ranks


def spearman(a, b) -> float:
    """Spearman's rank correlation: the Pearson correlation of the ranks (ties get their mean rank).

    Parameters
    ----------
    a, b : float arrays, any shape, the same number n of values
        Finite values, ``n >= 2``; flattened (so an ``(n_layer, H)`` grid of head scores works as is).

    Returns
    -------
    rho : float
        In [-1, 1]; NaN when either input is constant (its ranks have no spread).
    """
    a = as_float_array("a", a).reshape(-1)
    b = as_float_array("b", b).reshape(-1)
    if a.size != b.size or a.size < 2:
        raise ValueError(f"a and b must have the same number (>= 2) of values, got {a.size} and {b.size}")
    ra, rb = rank_values(a), rank_values(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb / den) if den > 0 else math.nan


# ----------------------------------------------------------------------------------------------------
# Losses


def token_losses(logits, targets) -> np.ndarray:
    """Cross-entropy of every next-token prediction, not averaged.

    Parameters
    ----------
    logits : float array, shape (..., V)
        E.g. the first output of :func:`attnbook.model.forward`, shape (B, T, V).
    targets : int array, shape ``logits.shape[:-1]``
        Token ids in ``[0, V)``.

    Returns
    -------
    losses : ndarray of float64, shape ``logits.shape[:-1]``
        ``-log softmax(logits)[..., target]`` in nats, computed in float64; their mean is
        :func:`attnbook.model.loss`.
    """
    logits = as_float_array("logits", logits, min_ndim=1)
    V = logits.shape[-1]
    if V < 1:
        raise ValueError(f"logits must have a vocabulary axis of size >= 1, got shape {logits.shape}")
    targets = as_int_array("targets", targets, low=0, high=V)
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape logits.shape[:-1] = {logits.shape[:-1]}, got {targets.shape}"
        )
    z = logits.astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    logz = np.log(np.exp(z).sum(axis=-1))  # (...,)
    return logz - np.take_along_axis(z, targets[..., None], axis=-1)[..., 0]
