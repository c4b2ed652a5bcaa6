"""Chapter 4's experiment: the heads of one attention layer (Vaswani et al. 2017), from random weights or from a
trained model, for every head count the model width allows.

Random heads come from :func:`attnbook.attention.attention_steps`, trained ones from a forward pass of the GPT in
:mod:`attnbook.model`; both are returned as :class:`Heads`, the record :mod:`attnbook.viz.multihead` draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .._checks import as_int_array, check_int
from ..analysis import attention_entropy
from ..attention import AttentionSteps
from ..config import ModelConfig
from ..model import forward

__all__ = ["Heads", "divisors", "heads_from_steps", "heads_from_model"]


class Heads(NamedTuple):
    """One attention layer over one sequence: each head's weights, the heads side by side, the projected output."""

    weights: np.ndarray  # (H, T, T) attention weights of each head
    concat: np.ndarray  # (T, C) the heads' outputs side by side
    out: np.ndarray  # (T, C) concat @ W_O (+ bias)
    entropy: np.ndarray  # (H,) mean entropy of each head's rows, in nats (lower is sharper)


def divisors(n: int, high: int = 16) -> tuple[int, ...]:
    """The head counts a model of width ``n`` allows: every divisor of ``n`` from 1 to ``high``."""
    n = check_int("n", n, low=1)
    high = check_int("high", high, low=1)
    return tuple(h for h in range(1, min(n, high) + 1) if n % h == 0)


def _heads(weights: np.ndarray, concat: np.ndarray, out: np.ndarray) -> Heads:
    return Heads(weights, concat, out, attention_entropy(weights).mean(axis=-1))  # (H,)


def heads_from_steps(steps: AttentionSteps) -> Heads:
    """The :class:`Heads` of one :func:`attnbook.attention.attention_steps` result (one sequence, no batch)."""
    if not isinstance(steps, AttentionSteps):
        raise TypeError(f"steps must be an AttentionSteps, got {type(steps).__name__}")
    if steps.weights.ndim != 3:
        raise ValueError(
            f"steps must be of one sequence (weights (H, T, T)), got weights {steps.weights.shape}"
        )
    return _heads(steps.weights, steps.concat, steps.out)


def heads_from_model(params: Mapping[str, np.ndarray], cfg: ModelConfig, token_ids, layer: int = 0) -> Heads:
    """The :class:`Heads` of one attention layer of the GPT in :mod:`attnbook.model`, for one sequence.

    Parameters
    ----------
    params : dict of str to ndarray
        The model's parameters.
    cfg : attnbook.config.ModelConfig
    token_ids : (T,) int array
    layer : int
        Which block's attention, ``0 <= layer < cfg.n_layer``.
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of parameter names to arrays, got {type(params).__name__}")
    token_ids = as_int_array("token_ids", token_ids, ndim=1, low=0, high=cfg.vocab_size)
    layer = check_int("layer", layer, low=0, high=cfg.n_layer - 1)
    _, cache = forward(dict(params), token_ids[None, :], cfg)  # B = 1
    att = cache.blocks[layer].attn.f  # the layer's AttentionCache
    concat = att.y  # (T, C): heads side by side
    out = concat @ att.w_o  # (T, C)
    b_o = params.get(f"blocks.{layer}.attn.b_o")
    if b_o is not None:
        out = out + b_o
    return _heads(att.att[0], concat, out)  # weights (H, T, T)
