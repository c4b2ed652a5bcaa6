"""The GPT of :mod:`attnbook.model` written a second time with PyTorch's own ops, the autograd oracle that the tests
and chapter 7's gradient check compare the hand-written backward pass with.

Every part is written from its definition (``F.layer_norm``, ``F.rms_norm``, ``F.gelu``, complex multiplication
for RoPE, Press et al.'s ALiBi slopes, boolean masks), not ported from the NumPy code. Parameters are the same
dotted names as :func:`attnbook.model.init_params`, as ``torch.Tensor``. Needs ``torch`` (the ``reference``
dependency group); nothing else in :mod:`attnbook` imports this module, so the package runs without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from attnbook.config import ModelConfig

__all__ = [
    "activation",
    "alibi",
    "attend",
    "attention",
    "block",
    "block_grads",
    "gpt",
    "mask",
    "norm",
    "rope",
    "sinusoidal",
]


def mask(kind: str, T: int, window: int = 2, n_global: int = 1) -> torch.Tensor:
    """Boolean (T, T) attention mask, True = may attend: ``"causal"``, ``"local"`` or ``"global_local"``.

    ``local`` sees the ``window`` keys before the query and itself; ``global_local`` also lets every later
    token see the first ``n_global`` tokens (and those tokens see everything before them). Both are causal.
    """
    if kind not in ("causal", "local", "global_local"):
        raise ValueError(f"kind must be 'causal', 'local' or 'global_local', got {kind!r}")
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    causal = j <= i
    if kind == "causal":
        return causal
    near = (i - j).abs() <= window
    if kind == "local":
        return causal & near
    return causal & (near | (j < n_global) | (i < n_global))


def _geometric_slopes(n: int) -> list[float]:
    return [2.0 ** (-8.0 * (h + 1) / n) for h in range(n)]


def alibi(n_head: int, T: int, dtype: torch.dtype) -> torch.Tensor:
    """Press et al.'s score bias ``-m_h |i - j|``, shape (H, T, T).

    Slopes ``m_h = 2^(-8 (h + 1) / H)`` for a power-of-two H; otherwise those of the closest lower power of
    two ``p`` followed by every other slope of ``2p`` heads (the paper's rule).
    """
    p = 2 ** int(math.floor(math.log2(n_head)))
    slopes = _geometric_slopes(p) + _geometric_slopes(2 * p)[0::2][: n_head - p]
    m = torch.tensor(slopes, dtype=dtype)
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    return -m[:, None, None] * (i - j).abs().to(dtype)


def rope(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE on interleaved pairs of the last axis as a complex multiplication ``(x0 + i x1) e^{i t θ_k}``."""
    *lead, T, D = x.shape
    cdtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
    theta = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)  # (D/2,)
    angles = torch.arange(T, dtype=torch.float64)[:, None] * theta[None, :]  # (T, D/2)
    rot = torch.polar(torch.ones_like(angles), angles).to(cdtype)
    xc = torch.view_as_complex(x.reshape(*lead, T, D // 2, 2).contiguous())
    return torch.view_as_real(xc * rot).reshape(*lead, T, D)


def sinusoidal(T: int, C: int, dtype: torch.dtype) -> torch.Tensor:
    """Vaswani et al.'s encodings: ``sin(t / 10000^(2i/C))`` in column 2i, ``cos`` in column 2i + 1, shape (T, C)."""
    t = torch.arange(T, dtype=torch.float64)[:, None]
    div = 10000.0 ** (torch.arange(0, C, 2, dtype=torch.float64) / C)
    pe = torch.zeros(T, C, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(t / div)
    pe[:, 1::2] = torch.cos(t / div)
    return pe.to(dtype)


def activation(h: torch.Tensor, kind: str) -> torch.Tensor:
    """The MLP non-linearity: relu, gelu (tanh approximation, GPT-2's), gelu_exact, swish, or swiglu."""
    if kind == "relu":
        return F.relu(h)
    if kind == "gelu":
        return F.gelu(h, approximate="tanh")
    if kind == "gelu_exact":
        return F.gelu(h)
    if kind == "swish":
        return F.silu(h)
    if kind == "swiglu":
        gate, lin = h.chunk(2, dim=-1)  # the first half gates the second
        return F.silu(gate) * lin
    raise ValueError(f"kind must be relu, gelu, gelu_exact, swish or swiglu, got {kind!r}")


def norm(x: torch.Tensor, p: Mapping[str, torch.Tensor], name: str, cfg: ModelConfig) -> torch.Tensor:
    """LayerNorm (gain ``<name>.w``, bias ``<name>.b`` if present) or RMSNorm over the last axis, as ``cfg.norm``."""
    C = x.shape[-1]
    if cfg.norm == "layernorm":
        return F.layer_norm(x, (C,), p[f"{name}.w"], p.get(f"{name}.b"), eps=cfg.norm_eps)
    if cfg.norm == "rmsnorm":
        return F.rms_norm(x, (C,), p[f"{name}.w"], eps=cfg.norm_eps)
    raise ValueError(f"cfg.norm must be 'layernorm' or 'rmsnorm' to normalise, got {cfg.norm!r}")


def attend(q, k, v, mask=None, bias=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q kᵀ / sqrt(D) + bias, masked) v`` and the weights; q, k, v (..., T, D), mask True = may attend."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    att = torch.softmax(scores, dim=-1)
    return att @ v, att


def attention(x, w_qkv, b_qkv, w_o, b_o, n_head: int, mask=None, pos: str = "none", head_mask=None):
    """Multi-head self-attention on (B, T, C); returns the output (B, T, C) and the weights (B, H, T, T).

    ``pos`` ``"rope"`` rotates queries and keys, ``"alibi"`` adds Press et al.'s bias; any other value leaves
    the scores alone (additive positions act on the embeddings). ``head_mask`` (H,) scales each head's output.
    """
    B, T, C = x.shape
    H = n_head
    D = C // H
    qkv = x @ w_qkv + (b_qkv if b_qkv is not None else 0.0)
    q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in qkv.split(C, dim=-1))  # (B, H, T, D)
    if pos == "rope":
        q, k = rope(q), rope(k)
    bias = alibi(H, T, x.dtype) if pos == "alibi" else None
    y, att = attend(q, k, v, mask, bias)
    if head_mask is not None:
        y = y * head_mask[:, None, None]
    y = y.transpose(1, 2).reshape(B, T, C)
    return y @ w_o + (b_o if b_o is not None else 0.0), att


def block(x, p: Mapping[str, torch.Tensor], cfg: ModelConfig, head_mask=None, maps: list | None = None):
    """One transformer block on (B, T, C), parameters named as in :mod:`attnbook.layers.block` (``"ln1.w"``, ...).

    Pre-LN ``x + f(norm(x))``, Post-LN ``norm(x + f(x))``, Sandwich ``x + norm_post(f(norm(x)))``, for the
    attention sublayer and (unless ``cfg.attn_only``) the MLP. The attention weights are appended to ``maps``.
    """
    T = x.shape[1]
    m = mask(cfg.mask, T, cfg.window, cfg.n_global)
    has_norm = cfg.norm != "none"
    bias = cfg.bias

    def attn(z):
        w = (p["attn.w_qkv"], p.get("attn.b_qkv"), p["attn.w_o"], p.get("attn.b_o"))
        out, att = attention(z, *w, cfg.n_head, m, cfg.pos, head_mask)
        if maps is not None:
            maps.append(att)
        return out

    def mlp(z):
        h = z @ p["mlp.w_in"] + (p["mlp.b_in"] if bias else 0.0)
        return activation(h, cfg.activation) @ p["mlp.w_out"] + (p["mlp.b_out"] if bias else 0.0)

    def sublayer(z, s, f):
        u = norm(z, p, f"ln{s}", cfg) if has_norm and cfg.block in ("pre", "sandwich") else z
        u = f(u)
        if has_norm and cfg.block == "sandwich":
            u = norm(u, p, f"ln{s}_post", cfg)
        h = z + u
        return norm(h, p, f"ln{s}", cfg) if has_norm and cfg.block == "post" else h

    x = sublayer(x, "1", attn)
    return x if cfg.attn_only else sublayer(x, "2", mlp)


def gpt(p: Mapping[str, torch.Tensor], idx: torch.Tensor, cfg: ModelConfig, head_mask=None):
    """The whole GPT: logits (B, T, V) and every layer's attention weights (n_layer, B, H, T, T).

    ``idx`` (B, T) int64 token ids; ``head_mask`` (n_layer, H) as in :func:`attnbook.model.forward`.
    """
    T = idx.shape[1]
    x = F.embedding(idx, p["wte"])
    if cfg.pos == "learned":
        x = x + p["wpe"][:T]
    elif cfg.pos == "sinusoidal":
        x = x + sinusoidal(T, cfg.d_model, p["wte"].dtype)
    maps: list = []
    for layer in range(cfg.n_layer):
        prefix = f"blocks.{layer}."
        lp = {k[len(prefix) :]: v for k, v in p.items() if k.startswith(prefix)}
        x = block(x, lp, cfg, None if head_mask is None else head_mask[layer], maps)
    if cfg.norm != "none" and cfg.block != "post":
        x = norm(x, p, "ln_f", cfg)
    head = p["wte"].T if cfg.tie_weights else p["lm_head"]
    return x @ head, torch.stack(maps)


def block_grads(cfg: ModelConfig, x, params: Mapping[str, np.ndarray], dout) -> dict[str, np.ndarray]:
    """Gradients of ``sum(block(x) * dout)`` by autograd in float64: ``"x"`` and every block parameter.

    Parameters
    ----------
    cfg : ModelConfig
        With ``dropout == 0``.
    x, dout : float arrays, shape (B, T, C)
    params : dict of str to float array
        Named as :func:`attnbook.layers.block.param_shapes`.

    Returns
    -------
    grads : dict of str to ndarray of float64
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    if cfg.dropout > 0:
        raise ValueError(f"cfg.dropout must be 0 for a deterministic reference, got {cfg.dropout}")
    p = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=True)
    out = block(tx, p, cfg)
    (out * torch.tensor(np.asarray(dout), dtype=torch.float64)).sum().backward()
    return {"x": tx.grad.numpy(), **{k: t.grad.numpy() for k, t in p.items()}}
