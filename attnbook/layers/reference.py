"""Readable reference versions of the kernels the book explains: forward and backward side by side, in the style
of llm.c's ``doc/layernorm/layernorm.py``.

These are what the chapters show. The fast kernels beside them (``linear``, ``norm``, ``attention``,
:class:`attnbook.optim.AdamW`) compute the same numbers in chunks and in place; ``tests/test_layers_reference.py``
checks that they agree. No input validation here: the public, checked API is the fast layers.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "linear_forward",
    "linear_backward",
    "layernorm_forward",
    "layernorm_backward",
    "attention_forward",
    "attention_backward",
    "adamw_step",
]


def linear_forward(x, w, b):
    out = x @ w + b  # (N, C_in) @ (C_in, C_out) -> (N, C_out)
    cache = (x, w)
    return out, cache


def linear_backward(dout, cache):
    x, w = cache
    dx = dout @ w.T  # (N, C_in)
    dw = x.T @ dout  # (C_in, C_out)
    db = dout.sum(axis=0)  # (C_out,)
    return dx, dw, db


def layernorm_forward(x, w, b, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)  # (N, 1)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # (N, 1), biased, as in the paper
    rstd = 1.0 / np.sqrt(var + eps)  # (N, 1)
    xhat = (x - mean) * rstd  # (N, C), zero mean and unit variance per row
    out = xhat * w + b  # (N, C)
    cache = (xhat, rstd, w)
    return out, cache


def layernorm_backward(dout, cache):
    xhat, rstd, w = cache
    dw = (dout * xhat).sum(axis=0)  # (C,)
    db = dout.sum(axis=0)  # (C,)
    dxhat = dout * w  # (N, C)
    # the two means come from differentiating through the row mean and the row variance
    dx = rstd * (dxhat - dxhat.mean(-1, keepdims=True) - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    return dx, dw, db


def attention_forward(x, w_qkv, w_o, n_head, mask):
    T, C = x.shape
    D = C // n_head
    q, k, v = np.split(x @ w_qkv, 3, axis=-1)  # (T, C) each
    q, k, v = (a.reshape(T, n_head, D).transpose(1, 0, 2) for a in (q, k, v))  # (H, T, D)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(D)  # (H, T, T)
    scores = np.where(mask, scores, -np.inf)  # mask: (T, T), True = may attend
    att = np.exp(scores - scores.max(axis=-1, keepdims=True))
    att = att / att.sum(axis=-1, keepdims=True)  # (H, T, T), rows sum to 1
    y = (att @ v).transpose(1, 0, 2).reshape(T, C)  # (T, C), heads side by side
    out = y @ w_o  # (T, C)
    cache = (x, q, k, v, att, y, w_qkv, w_o)
    return out, cache


def attention_backward(dout, cache):
    x, q, k, v, att, y, w_qkv, w_o = cache
    H, T, D = q.shape
    dw_o = y.T @ dout  # (C, C)
    dy = (dout @ w_o.T).reshape(T, H, D).transpose(1, 0, 2)  # (H, T, D)
    datt = dy @ v.transpose(0, 2, 1)  # (H, T, T)
    dv = att.transpose(0, 2, 1) @ dy  # (H, T, D)
    dscores = att * (datt - (datt * att).sum(axis=-1, keepdims=True))  # softmax backward
    dq = dscores @ k / np.sqrt(D)  # (H, T, D)
    dk = dscores.transpose(0, 2, 1) @ q / np.sqrt(D)  # (H, T, D)
    dqkv = np.concatenate([a.transpose(1, 0, 2).reshape(T, H * D) for a in (dq, dk, dv)], axis=-1)  # (T, 3C)
    dw_qkv = x.T @ dqkv  # (C, 3C)
    dx = dqkv @ w_qkv.T  # (T, C)
    return dx, dw_qkv, dw_o


def adamw_step(p, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """One AdamW update of one parameter: returns the new ``(p, m, v)``; ``t`` counts steps from 1."""
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * g  # running mean of the gradient
    v = beta2 * v + (1 - beta2) * g**2  # running mean of its square
    m_hat = m / (1 - beta1**t)  # undo the bias of averages that start at zero
    v_hat = v / (1 - beta2**t)
    p = p * (1 - lr * weight_decay)  # decoupled weight decay: shrink, whatever the gradient's scale
    p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p, m, v
