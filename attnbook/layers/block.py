"""The transformer block: attention and MLP sublayers on a residual stream, norms placed Pre-LN, Post-LN or Sandwich.

Placements, for each sublayer ``f`` (attention, then the MLP unless ``attn_only``):

- ``"pre"`` (GPT-2, Xiong et al. 2020): ``x + f(norm(x))``
- ``"post"`` (Vaswani et al. 2017): ``norm(x + f(x))``
- ``"sandwich"`` (Ding et al. 2021, CogView): ``x + norm_post(f(norm(x)))``

Dropout (when training) acts on each sublayer's output just before the residual addition.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from attnbook import masks
from attnbook._checks import as_float_array, check_bool
from attnbook.config import ModelConfig
from attnbook.layers import activations, attention, norm
from attnbook.layers._common import check_dout, colsum
from attnbook.layers.dropout import _mask as _dropout_mask
from attnbook.layers.dropout import as_generator

__all__ = ["BlockCache", "Context", "backward", "context", "forward", "param_shapes"]


class Context(NamedTuple):
    """Per-call constants shared by every block of one forward pass."""

    B: int
    T: int
    bias: np.ndarray | None  # additive score bias (mask as 0/-inf, plus ALiBi), broadcastable to (B, H, T, T)
    rope: tuple[np.ndarray, np.ndarray] | None  # (cos, sin) tables (T, D/2) for pos="rope"
    p_drop: float  # dropout probability in effect (0 when not training)
    rng: np.random.Generator | None


class SublayerCache(NamedTuple):
    """One residual sublayer: its optional norms, its function's cache and its dropout mask."""

    pre: Any  # cache of the norm before f (pre, sandwich) or None
    f: Any  # AttentionCache or MLPCache
    post: Any  # cache of the norm after f (sandwich) or None
    drop: np.ndarray | None  # scaled dropout keep-mask on f's output
    outer: Any  # cache of the norm after the residual addition (post) or None


class MLPCache(NamedTuple):
    """The MLP ``act(x @ w_in + b_in) @ w_out + b_out``."""

    x: np.ndarray  # (N, C)
    h: np.ndarray  # (N, d_ff), or (N, 2·d_ff) for swiglu: pre-activation
    aux: np.ndarray | None  # activation's saved intermediate
    a: np.ndarray  # (N, d_ff) activation output
    w_in: np.ndarray
    w_out: np.ndarray
    has_bias: bool


class BlockCache(NamedTuple):
    """Caches of the block's sublayers; ``attn.f.att`` holds the attention weights (B, H, T, T)."""

    attn: SublayerCache
    mlp: SublayerCache | None  # None for attention-only blocks
    cfg: ModelConfig
    shape: tuple[int, int, int]  # (B, T, C)


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Names (relative to the block, e.g. ``"attn.w_qkv"``) and shapes of one block's parameters.

    Parameters
    ----------
    cfg : ModelConfig

    Returns
    -------
    shapes : dict of str to tuple
    """
    C, F = cfg.d_model, cfg.d_ff
    shapes: dict[str, tuple[int, ...]] = {}

    def add_norm(name: str) -> None:
        if cfg.norm == "none":
            return
        shapes[f"{name}.w"] = (C,)
        if cfg.norm == "layernorm" and cfg.bias:
            shapes[f"{name}.b"] = (C,)

    sublayers = ["1"] if cfg.attn_only else ["1", "2"]
    for s in sublayers:
        add_norm(f"ln{s}")
        if cfg.block == "sandwich":
            add_norm(f"ln{s}_post")
        if s == "1":
            shapes["attn.w_qkv"] = (C, 3 * C)
            if cfg.bias:
                shapes["attn.b_qkv"] = (3 * C,)
            shapes["attn.w_o"] = (C, C)
            if cfg.bias:
                shapes["attn.b_o"] = (C,)
        else:
            # SwiGLU's gate and linear branches side by side in one matrix.
            F_in = 2 * F if cfg.activation == "swiglu" else F
            shapes["mlp.w_in"] = (C, F_in)
            if cfg.bias:
                shapes["mlp.b_in"] = (F_in,)
            shapes["mlp.w_out"] = (F, C)
            if cfg.bias:
                shapes["mlp.b_out"] = (C,)
    return shapes


@lru_cache(maxsize=64)
def _tables(cfg: ModelConfig, T: int, dtype_str: str):
    if cfg.mask == "causal":
        allowed = masks.causal(T)
    elif cfg.mask == "local":
        allowed = masks.local(T, cfg.window, causal=True)
    else:
        allowed = masks.global_local(T, cfg.window, min(cfg.n_global, T), causal=True)
    bias = attention.score_bias(allowed, cfg.n_head if cfg.pos == "alibi" else None, T, np.dtype(dtype_str))
    bias.flags.writeable = False
    rope = attention.rope_tables(T, cfg.head_dim, 10000.0, dtype_str) if cfg.pos == "rope" else None
    return bias, rope


def context(cfg: ModelConfig, B: int, T: int, dtype, *, training: bool = False, rng=None) -> Context:
    """Build the per-call :class:`Context` (mask bias, RoPE tables, dropout) for a config.

    Parameters
    ----------
    cfg : ModelConfig
    B, T : int
        Batch size and sequence length.
    dtype : NumPy floating dtype
    training : bool, optional
        Dropout acts only when training.
    rng : int or numpy.random.Generator, optional
        Required when training with ``cfg.dropout > 0``.

    Returns
    -------
    ctx : Context
    """
    bias, rope = _tables(cfg, T, np.dtype(dtype).str)
    p = cfg.dropout if training else 0.0
    if p > 0.0:
        if rng is None:
            raise ValueError("rng must be given (an int seed or a Generator) when training with dropout > 0")
        rng = as_generator(rng)
    return Context(B, T, bias, rope, p, rng if p > 0.0 else None)


# ----------------------------------------------------------------------------------------------------
# Kernels on 2-D (N, C) activations.


def _norm_fwd(cfg: ModelConfig, x2: np.ndarray, p: dict, name: str):
    if cfg.norm == "layernorm":
        out, xhat, rstd = norm._layernorm_forward(x2, p[f"{name}.w"], p.get(f"{name}.b"), cfg.norm_eps)
    else:
        out, xhat, rstd = norm._rmsnorm_forward(x2, p[f"{name}.w"], cfg.norm_eps)
    return out, (name, xhat, rstd, p[f"{name}.w"])


def _norm_bwd(cfg: ModelConfig, dout2: np.ndarray, c, grads: dict) -> np.ndarray:
    name, xhat, rstd, w = c
    if cfg.norm == "layernorm":
        dx, dw, db = norm._layernorm_backward(dout2, xhat, rstd, w, cfg.bias)
        if db is not None:
            grads[f"{name}.b"] = db
    else:
        dx, dw = norm._rmsnorm_backward(dout2, xhat, rstd, w)
    grads[f"{name}.w"] = dw
    return dx


def _mlp_fwd(cfg: ModelConfig, x2: np.ndarray, p: dict):
    w_in, w_out = p["mlp.w_in"], p["mlp.w_out"]
    h = x2 @ w_in  # (N, d_ff) or (N, 2 d_ff)
    # The bias is added to h inside the activation's block loop (one memory pass fewer).
    a, aux = activations._forward(cfg.activation, h, p["mlp.b_in"] if cfg.bias else None)  # (N, d_ff)
    out = a @ w_out  # (N, C)
    if cfg.bias:
        out += p["mlp.b_out"]
    return out, MLPCache(x2, h, aux, a, w_in, w_out, cfg.bias)


def _mlp_bwd(cfg: ModelConfig, dout2: np.ndarray, c: MLPCache, grads: dict) -> np.ndarray:
    grads["mlp.w_out"] = c.a.T @ dout2  # (d_ff, C)
    if c.has_bias:
        grads["mlp.b_out"] = colsum(dout2)
    da = dout2 @ c.w_out.T  # (N, d_ff)
    dh = activations._backward(cfg.activation, da, c.h, c.aux)  # (N, d_ff) or (N, 2 d_ff)
    grads["mlp.w_in"] = c.x.T @ dh  # (C, d_ff)
    if c.has_bias:
        grads["mlp.b_in"] = colsum(dh)
    return dh @ c.w_in.T  # (N, C)


def _sublayer_fwd(cfg: ModelConfig, x2: np.ndarray, p: dict, s: str, ctx: Context, head_mask):
    has_norm = cfg.norm != "none"
    z, c_pre = x2, None
    if has_norm and cfg.block in ("pre", "sandwich"):
        z, c_pre = _norm_fwd(cfg, z, p, f"ln{s}")
    if s == "1":
        z, c_f = attention._forward(
            z,
            ctx.B,
            ctx.T,
            cfg.n_head,
            p["attn.w_qkv"],
            p.get("attn.b_qkv"),
            p["attn.w_o"],
            p.get("attn.b_o"),
            ctx.bias,
            ctx.rope,
            head_mask,
            ctx.p_drop,
            ctx.rng,
        )
    else:
        z, c_f = _mlp_fwd(cfg, z, p)
    c_post = None
    if has_norm and cfg.block == "sandwich":
        z, c_post = _norm_fwd(cfg, z, p, f"ln{s}_post")
    drop = None
    if ctx.p_drop > 0.0:
        drop = _dropout_mask(z.shape, ctx.p_drop, ctx.rng, z.dtype)
        z = z * drop
    h = x2 + z  # the residual stream
    c_outer = None
    if has_norm and cfg.block == "post":
        h, c_outer = _norm_fwd(cfg, h, p, f"ln{s}")
    return h, SublayerCache(c_pre, c_f, c_post, drop, c_outer)


def _sublayer_bwd(cfg: ModelConfig, dh: np.ndarray, c: SublayerCache, grads: dict) -> np.ndarray:
    if c.outer is not None:
        dh = _norm_bwd(cfg, dh, c.outer, grads)
    dz = dh if c.drop is None else dh * c.drop
    if c.post is not None:
        dz = _norm_bwd(cfg, dz, c.post, grads)
    if isinstance(c.f, MLPCache):
        dz = _mlp_bwd(cfg, dz, c.f, grads)
    else:
        dz, g = attention._backward(dz, c.f)
        for key, val in g.items():
            grads[f"attn.{key}"] = val
    if c.pre is not None:
        dz = _norm_bwd(cfg, dz, c.pre, grads)
    return dh + dz  # the residual path carries dh straight through


def _forward(
    cfg: ModelConfig, x2: np.ndarray, p: dict, ctx: Context, head_mask
) -> tuple[np.ndarray, BlockCache]:
    h, c_attn = _sublayer_fwd(cfg, x2, p, "1", ctx, head_mask)
    c_mlp = None
    if not cfg.attn_only:
        h, c_mlp = _sublayer_fwd(cfg, h, p, "2", ctx, None)
    return h, BlockCache(c_attn, c_mlp, cfg, (ctx.B, ctx.T, x2.shape[1]))


def _backward(dout2: np.ndarray, c: BlockCache) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    grads: dict[str, np.ndarray] = {}
    d = dout2
    if c.mlp is not None:
        d = _sublayer_bwd(c.cfg, d, c.mlp, grads)
    d = _sublayer_bwd(c.cfg, d, c.attn, grads)
    return d, grads


# ----------------------------------------------------------------------------------------------------
# Public, checked API.


def forward(
    x, params: dict, cfg: ModelConfig, *, head_mask=None, training: bool = False, rng=None
) -> tuple[np.ndarray, BlockCache]:
    """One transformer block (attention, then MLP unless ``cfg.attn_only``) on a batch.

    Parameters
    ----------
    x : ndarray, shape (B, T, C)
    params : dict of str to ndarray
        The block's parameters under the names of :func:`param_shapes` (e.g. ``"attn.w_qkv"``).
    cfg : ModelConfig
        Supplies norm, placement, activation, position scheme (rope/alibi act here), mask and dropout.
    head_mask : ndarray, shape (H,), optional
        Multipliers on the heads' outputs (0 ablates a head).
    training : bool, optional
        Enables dropout.
    rng : int or numpy.random.Generator, optional
        Required when training with ``cfg.dropout > 0``.

    Returns
    -------
    out : ndarray, shape (B, T, C)
    cache : BlockCache
    """
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be a ModelConfig, got {type(cfg).__name__}")
    x = as_float_array("x", x, ndim=3)
    B, T, C = x.shape
    if C != cfg.d_model:
        raise ValueError(f"x must have shape (B, T, {cfg.d_model}), got {x.shape}")
    _check_params(params, param_shapes(cfg), x.dtype)
    if head_mask is not None:
        head_mask = as_float_array("head_mask", head_mask, ndim=1)
        if head_mask.shape != (cfg.n_head,):
            raise ValueError(f"head_mask must have shape ({cfg.n_head},), got {head_mask.shape}")
        head_mask = head_mask.astype(x.dtype, copy=False)
    training = check_bool("training", training)
    ctx = context(cfg, B, T, x.dtype, training=training, rng=rng)
    out, cache = _forward(cfg, x.reshape(B * T, C), params, ctx, head_mask)
    return out.reshape(B, T, C), cache


def backward(dout, cache: BlockCache) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Gradients of :func:`forward`.

    Parameters
    ----------
    dout : ndarray, shape (B, T, C)
    cache : BlockCache

    Returns
    -------
    dx : ndarray, shape (B, T, C)
    grads : dict of str to ndarray
        Same names and shapes as the block's parameters.
    """
    B, T, C = cache.shape
    dout = check_dout(dout, cache.shape, cache.attn.f.w_o.dtype)
    dx, grads = _backward(dout.reshape(B * T, C), cache)
    return dx.reshape(B, T, C), grads


def _check_params(params, shapes: dict[str, tuple[int, ...]], dtype: np.dtype, prefix: str = "") -> None:
    """Check that ``params`` holds exactly the expected names, shapes and one dtype."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    names = {prefix + k for k in shapes}
    missing = sorted(names - set(params))
    if missing:
        raise ValueError(f"params is missing {missing} (does it match the config?)")
    for key, shape in shapes.items():
        a = params[prefix + key]
        if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != dtype:
            got = f"{a.shape} {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
            raise ValueError(f"params[{prefix + key!r}] must be a {dtype} array of shape {shape}, got {got}")
