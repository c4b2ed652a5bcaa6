"""Head importance (Michel et al. 2019, "Are Sixteen Heads Really Better than One?"): the loss change of removing
each head alone, against the gradient of the loss with respect to a gate on the head's output.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import model as _model
from .._checks import as_int_array
from ..analysis import token_losses
from ..config import ModelConfig

__all__ = ["HeadImportance", "head_gate_gradients", "head_importance"]


class HeadImportance(NamedTuple):
    """Ablation loss change and gradient importance of every head."""

    base_loss: float  # mean loss of the intact model
    ablation_delta: np.ndarray  # (n_layer, H) loss with the head removed minus base_loss
    importance: np.ndarray  # (n_layer, H) Michel et al.'s I_h = mean over windows of |d loss / d xi_h|
    gradient: np.ndarray  # (n_layer, W, H) d (loss of window w) / d xi_h


def head_gate_gradients(params: dict, cfg: ModelConfig, x, y) -> np.ndarray:
    """Derivative of each window's mean loss with respect to each head's gate ``xi_h`` at ``xi = 1``.

    The gate multiplies the head's output ``y_h`` (its D columns of the concatenated heads) before the
    output projection ``W_O``, so ``dL/dxi_h = sum over the head's rows i of W_O and all columns c of
    W_O[i, c] * dL/dW_O[i, c]``: one backward pass per window gives every head's derivative at once.

    Parameters
    ----------
    params : dict of str to ndarray
        Cast to float64.
    cfg : ModelConfig
    x, y : ndarray of int, shape (W, T)

    Returns
    -------
    grad : ndarray of float64, shape (n_layer, W, H)
    """
    y = as_int_array("y", y, ndim=2, low=0, high=cfg.vocab_size)
    if np.shape(x) != y.shape:
        raise ValueError(f"x and y must have the same shape, got {np.shape(x)} and {y.shape}")
    p64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    H, D, C = cfg.n_head, cfg.head_dim, cfg.d_model
    out = np.empty((cfg.n_layer, y.shape[0], H))
    for w in range(y.shape[0]):
        logits, cache = _model.forward(p64, x[w : w + 1], cfg)
        _, dlogits = _model.loss(logits, y[w : w + 1])
        grads = _model.backward(dlogits, cache)
        for layer in range(cfg.n_layer):
            key = f"blocks.{layer}.attn.w_o"
            out[layer, w] = (p64[key] * grads[key]).reshape(H, D, C).sum(axis=(1, 2))  # (H,)
    return out


def head_importance(params: dict, cfg: ModelConfig, x, y) -> HeadImportance:
    """Remove each head alone, and compute Michel et al.'s gradient importance at the intact model.

    Parameters
    ----------
    params : dict of str to ndarray
    cfg : ModelConfig
    x, y : ndarray of int, shape (W, T)
        Evaluation windows and targets.

    Returns
    -------
    HeadImportance
        ``importance[l, h]`` is the mean over windows of ``|d loss / d xi_h|`` (:func:`head_gate_gradients`);
        ``ablation_delta[l, h]`` the mean loss with ``head_mask[l, h] = 0`` minus the intact mean loss.
    """
    ones = np.ones((cfg.n_layer, cfg.n_head))
    base = token_losses(_model.forward(params, x, cfg)[0], y).mean()
    delta = np.empty_like(ones)
    for layer in range(cfg.n_layer):
        for h in range(cfg.n_head):
            m = ones.copy()
            m[layer, h] = 0.0
            logits, _ = _model.forward(params, x, cfg, head_mask=m)
            delta[layer, h] = token_losses(logits, y).mean() - base
    grad = head_gate_gradients(params, cfg, x, y)  # (n_layer, W, H)
    return HeadImportance(float(base), delta, np.abs(grad).mean(axis=1), grad)
