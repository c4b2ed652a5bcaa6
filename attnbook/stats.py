"""Statistics the book plots: histograms, similarity along diagonals, and signal/gradient profiles across depth.

The depth profiles run the project's own GPT (:mod:`attnbook.model`) at initialisation, forward and backward,
the measurement behind the Pre-LN vs Post-LN discussion of Xiong et al. (2020).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from attnbook import model
from attnbook._checks import as_float_array, check_bool, check_choice, check_int
from attnbook.analysis import layer_grad_norms
from attnbook.config import ModelConfig

__all__ = [
    "INITS",
    "SignalProfile",
    "cosine_similarity",
    "diagonal_profile",
    "histogram",
    "signal_profile",
    "signal_sweep",
    "xavier_params",
]

# "gpt2": attnbook.model.init_params (N(0, 0.02²), residual projections scaled by 1/sqrt(2·n_layer)).
# "xavier": every matrix N(0, 2 / (fan_in + fan_out)) with no depth scaling, the setting Xiong et al. analyse.
INITS = ("gpt2", "xavier")


def histogram(x, bins: int = 30, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of the entries of ``x`` in each of ``bins`` equal-width bins.

    Parameters
    ----------
    x : float array, any shape
        Finite values; flattened.
    bins : int, optional
        Number of bins, ``>= 1``.
    value_range : (float, float), optional
        ``(low, high)`` with ``low < high``; defaults to the min and max of ``x`` (widened by 0.5 on each
        side when they are equal). Values outside the range are not counted.

    Returns
    -------
    fractions : ndarray of float64, shape (bins,)
        Sums to 1 when every value lies in the range.
    edges : ndarray of float64, shape (bins + 1,)
    """
    x = as_float_array("x", x)
    if x.size == 0:
        raise ValueError("x must not be empty")
    bins = check_int("bins", bins, low=1)
    x64 = x.astype(np.float64, copy=False).ravel()
    if value_range is None:
        lo, hi = float(x64.min()), float(x64.max())
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
    else:
        vr = as_float_array("value_range", value_range, ndim=1)
        if vr.shape != (2,) or not vr[0] < vr[1]:
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
        lo, hi = float(vr[0]), float(vr[1])
    counts, edges = np.histogram(x64, bins=bins, range=(lo, hi))
    return counts / x64.size, edges


def cosine_similarity(a, b=None) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``: ``a_i · b_j / (|a_i| |b_j|)``.

    Parameters
    ----------
    a : (T, C) float array
    b : (S, C) float array, optional
        Defaults to ``a``.

    Returns
    -------
    sim : ndarray, shape (T, S), dtype of ``a``
        0 where a row has zero length.
    """
    a = as_float_array("a", a, ndim=2)
    b = a if b is None else as_float_array("b", b, ndim=2)
    if b.shape[1] != a.shape[1]:
        raise ValueError(f"b must have {a.shape[1]} columns like a, got shape {b.shape}")
    if b.dtype != a.dtype:
        raise TypeError(f"b must have the dtype of a ({a.dtype}), got {b.dtype}")
    na = np.linalg.norm(a, axis=1)  # (T,)
    nb = np.linalg.norm(b, axis=1)  # (S,)
    denom = na[:, None] * nb[None, :]  # (T, S)
    dots = a @ b.T  # (T, S)
    return np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)


def diagonal_profile(m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and spread (max - min) of a square matrix along each diagonal ``j - i = k``.

    A matrix that depends only on ``j - i`` (a Toeplitz matrix) has zero spread on every diagonal.

    Parameters
    ----------
    m : (T, T) float array

    Returns
    -------
    offsets : ndarray of int64, shape (2T - 1,)
        ``k = j - i`` from ``-(T - 1)`` to ``T - 1``.
    mean : ndarray of float64, shape (2T - 1,)
    spread : ndarray of float64, shape (2T - 1,)
    """
    m = as_float_array("m", m, ndim=2)
    T = m.shape[0]
    if m.shape != (T, T) or T < 1:
        raise ValueError(f"m must be a non-empty square matrix (T, T), got shape {m.shape}")
    offsets = np.arange(-(T - 1), T)
    mean = np.empty(2 * T - 1)
    spread = np.empty(2 * T - 1)
    for n, k in enumerate(offsets):
        d = np.diagonal(m, offset=k).astype(np.float64)  # entries (i, i + k)
        mean[n] = d.mean()
        spread[n] = d.max() - d.min()
    return offsets, mean, spread


def xavier_params(cfg: ModelConfig, seed: int, *, dtype=np.float32) -> dict[str, np.ndarray]:
    """Parameters with every matrix drawn from N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio's normal init).

    Biases are 0 and norm gains 1, as in :func:`attnbook.model.init_params`; unlike it, nothing is scaled
    with depth. This is the setting of the original Transformer and of Xiong et al.'s analysis.

    Parameters
    ----------
    cfg : ModelConfig
    seed : int
    dtype : float32 or float64, optional

    Returns
    -------
    params : dict of str to ndarray
        Names and shapes as in :func:`attnbook.model.param_shapes`.
    """
    params = model.init_params(cfg, check_int("seed", seed, low=0), dtype=dtype)
    rng = np.random.default_rng(seed)
    for name, value in params.items():
        if value.ndim == 2:  # (fan_in, fan_out) for linear layers, (rows, C) for embedding tables
            std = math.sqrt(2.0 / (value.shape[0] + value.shape[1]))
            params[name] = rng.normal(0.0, std, size=value.shape).astype(value.dtype)
    return params


class SignalProfile(NamedTuple):
    """The signal and gradients of one randomly initialised model, layer by layer."""

    cfg: ModelConfig
    init: str  # one of INITS
    mean: np.ndarray  # (n_layer + 1,) mean of the residual stream: index 0 the embeddings, l after block l
    std: np.ndarray  # (n_layer + 1,) its standard deviation
    max: np.ndarray  # (n_layer + 1,) its largest absolute value
    grad_norm: np.ndarray  # (n_layer,) 2-norm of each block's parameter gradients
    resid_hist: (
        np.ndarray | None
    )  # (n_layer, bins) fraction of residual-stream entries per bin, after each block
    resid_range: np.ndarray | None  # (n_layer, 2) the bins' (low, high)
    mlp_hist: (
        np.ndarray | None
    )  # (n_layer, bins) the same for the MLP's activation output (None if attn_only)
    mlp_range: np.ndarray | None  # (n_layer, 2)
    loss: float  # cross-entropy on the random targets (about ln V at initialisation)


def _stats(x: np.ndarray) -> tuple[float, float, float]:
    x64 = x.astype(np.float64, copy=False)
    return float(x64.mean()), float(x64.std()), float(np.abs(x64).max())


def signal_profile(
    cfg: ModelConfig,
    seed: int = 0,
    *,
    init: str = "gpt2",
    batch_size: int = 2,
    bins: int = 30,
    data_seed: int = 0,
    histograms: bool = True,
) -> SignalProfile:
    """Run a freshly initialised model forward and backward on random tokens and measure every layer.

    Parameters
    ----------
    cfg : ModelConfig
    seed : int, optional
        Parameter seed.
    init : {"gpt2", "xavier"}, optional
        :func:`attnbook.model.init_params` or :func:`xavier_params`.
    batch_size : int, optional
        B sequences of ``cfg.block_size`` tokens, uniform over the vocabulary, with uniform random targets.
    bins : int, optional
        Histogram bins.
    data_seed : int, optional
        Seed of the tokens and targets.
    histograms : bool, optional
        Measure the histograms (False leaves the four histogram fields None, for a faster gradient sweep).

    Returns
    -------
    profile : SignalProfile
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be an attnbook.config.ModelConfig, got {type(cfg).__name__}")
    seed = check_int("seed", seed, low=0)
    init = check_choice("init", init, INITS)
    B = check_int("batch_size", batch_size, low=1)
    bins = check_int("bins", bins, low=1)
    histograms = check_bool("histograms", histograms)
    rng = np.random.default_rng(check_int("data_seed", data_seed, low=0))
    T, V = cfg.block_size, cfg.vocab_size
    idx = rng.integers(0, V, size=(B, T))  # (B, T)
    targets = rng.integers(0, V, size=(B, T))  # (B, T)

    params = model.init_params(cfg, seed) if init == "gpt2" else xavier_params(cfg, seed)
    logits, cache = model.forward(params, idx, cfg)  # (B, T, V)
    value, dlogits = model.loss(logits, targets)
    grads = model.backward(dlogits, cache)

    per_layer = model.activation_stats(cache)
    first = _stats(cache.embedding)
    mean = np.concatenate([[first[0]], per_layer["mean"]])
    std = np.concatenate([[first[1]], per_layer["std"]])
    mx = np.concatenate([[first[2]], per_layer["max"]])

    L = cfg.n_layer
    resid_hist = resid_range = mlp_hist = mlp_range = None
    if histograms:
        resid_hist, resid_range = np.empty((L, bins)), np.empty((L, 2))
        for layer, r in enumerate(cache.residuals):
            resid_hist[layer], edges = histogram(r, bins)
            resid_range[layer] = edges[0], edges[-1]
    if histograms and not cfg.attn_only:
        mlp_hist, mlp_range = np.empty((L, bins)), np.empty((L, 2))
        for layer, c in enumerate(cache.blocks):
            mlp_hist[layer], edges = histogram(c.mlp.f.a, bins)  # (N, d_ff) activation output
            mlp_range[layer] = edges[0], edges[-1]
    return SignalProfile(
        cfg,
        init,
        mean,
        std,
        mx,
        layer_grad_norms(grads, L),
        resid_hist,
        resid_range,
        mlp_hist,
        mlp_range,
        float(value),
    )


def signal_sweep(
    base: ModelConfig,
    *,
    norms: Iterable[str] = ("layernorm", "rmsnorm", "none"),
    blocks: Iterable[str] = ("pre", "post", "sandwich"),
    activations: Iterable[str] = ("relu", "gelu", "swish", "swiglu"),
    depths: Iterable[int] = range(2, 13),
    inits: Iterable[str] = ("gpt2",),
    seed: int = 0,
    **kwargs,
) -> dict[tuple[str, str, str, int, str], SignalProfile]:
    """:func:`signal_profile` for every combination of norm, placement, activation, depth and init.

    Every depth is its own model (``base.replace(n_layer=depth, ...)``), not a prefix of a deeper one: the
    GPT-2 initialisation scales the residual projections with depth, and gradients depend on the layers above.
    Without a norm the three placements are the same network (``x + f(x)``), so it is run once and shared.

    Parameters
    ----------
    base : ModelConfig
        Everything else (width, heads, vocabulary, block_size, ...).
    norms, blocks, activations, depths, inits : iterables
        The values to sweep.
    seed : int, optional
    **kwargs
        Passed to :func:`signal_profile` (``batch_size``, ``bins``, ``data_seed``, ``histograms``).

    Returns
    -------
    profiles : dict
        Keyed by ``(norm, block, activation, depth, init)``.
    """
    if not isinstance(base, ModelConfig):
        raise TypeError(f"base must be an attnbook.config.ModelConfig, got {type(base).__name__}")
    norms, blocks, activations, inits = (tuple(v) for v in (norms, blocks, activations, inits))
    depths = tuple(check_int("depths", d, low=1) for d in depths)
    for name, values in (
        ("norms", norms),
        ("blocks", blocks),
        ("activations", activations),
        ("inits", inits),
        ("depths", depths),
    ):
        if not values:
            raise ValueError(f"{name} must not be empty")
    out: dict[tuple[str, str, str, int, str], SignalProfile] = {}
    for init in inits:
        for norm in norms:
            for act in activations:
                for depth in depths:
                    shared = None
                    for block in blocks:
                        cfg = base.replace(norm=norm, block=block, activation=act, n_layer=depth)
                        if norm == "none" and shared is not None:
                            out[norm, block, act, depth, init] = shared._replace(cfg=cfg)
                            continue
                        prof = signal_profile(cfg, seed, init=init, **kwargs)
                        out[norm, block, act, depth, init] = prof
                        if norm == "none":
                            shared = prof
    return out
