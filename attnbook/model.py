"""A decoder-only GPT (Radford et al. 2019) in NumPy: parameters, forward pass, hand-written backward pass, loss.

Parameters live in one flat dict with dotted names (``"blocks.0.attn.w_qkv"``); every function is pure.
Activations are kept 2-D ``(B·T, C)`` so each linear layer is a single BLAS matrix product.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from attnbook import positional
from attnbook._checks import as_float_array, as_int_array, check_bool, check_int
from attnbook.config import ModelConfig
from attnbook.layers import block as _block
from attnbook.layers import embedding as _embedding
from attnbook.layers import loss as _loss
from attnbook.layers._common import colsum
from attnbook.layers.dropout import _mask as _dropout_mask

__all__ = [
    "ModelCache",
    "activation_stats",
    "attention_maps",
    "backward",
    "forward",
    "init_params",
    "keep_freed_memory",
    "loss",
    "num_params",
    "param_shapes",
]


class ModelCache(NamedTuple):
    """What :func:`forward` keeps for :func:`backward` and for the book's statistics."""

    cfg: ModelConfig
    idx: np.ndarray  # (B, T) token ids
    embedding: np.ndarray  # (B, T, C) the residual stream entering block 0 (tokens + positions)
    emb_drop: np.ndarray | None  # (N, C) scaled dropout keep-mask on the embedding, None without dropout
    blocks: list  # one attnbook.layers.block.BlockCache per layer
    residuals: list  # n_layer arrays (B, T, C): the residual stream after each block
    ln_f: tuple | None  # cache of the final norm, None when there is none
    xf: np.ndarray  # (N, C) input of the output head
    head: np.ndarray  # (C, V) output weights (a transposed view of wte when tied)
    names: tuple[str, ...]  # parameter names, in the order of the params dict


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to reuse freed memory instead of returning it to the system.

    Each training step allocates and frees the same large activation arrays. By default glibc maps
    big blocks fresh from the kernel and returns them on free, so every step pays for page faults and
    zeroed pages (measured: about a quarter of a step's time on the "small" config, 40 % on "tiny").
    Raising the mmap and trim thresholds keeps the freed blocks for the next step; peak memory is
    unchanged. Applied once when this module is imported, unless the environment variable
    ``ATTNBOOK_NO_MALLOPT`` is set. Returns True if the setting was applied (Linux with glibc only).
    """
    if os.environ.get("ATTNBOOK_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    ok = mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's largest allowed value
    return bool(ok and mallopt(m_trim_threshold, 1024 * 1024 * 1024))


keep_freed_memory()


@lru_cache(maxsize=128)
def _param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    C, V = cfg.d_model, cfg.vocab_size
    shapes: dict[str, tuple[int, ...]] = {"wte": (V, C)}
    if cfg.pos == "learned":
        shapes["wpe"] = (cfg.block_size, C)
    block = _block.param_shapes(cfg)
    for layer in range(cfg.n_layer):
        for key, shape in block.items():
            shapes[f"blocks.{layer}.{key}"] = shape
    if _has_final_norm(cfg):
        shapes["ln_f.w"] = (C,)
        if cfg.norm == "layernorm" and cfg.bias:
            shapes["ln_f.b"] = (C,)
    if not cfg.tie_weights:
        shapes["lm_head"] = (C, V)
    return shapes


def _has_final_norm(cfg: ModelConfig) -> bool:
    # Post-LN blocks already end with a norm; Pre-LN and Sandwich leave the stream unnormalised.
    return cfg.norm != "none" and cfg.block != "post"


def _check_cfg(cfg) -> ModelConfig:
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"cfg must be an attnbook.config.ModelConfig, got {type(cfg).__name__}")
    return cfg


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the model's parameters, in the order :func:`init_params` creates them.

    Parameters
    ----------
    cfg : ModelConfig

    Returns
    -------
    shapes : dict of str to tuple
        E.g. ``"wte"`` (V, C), ``"wpe"`` (block_size, C) for learned positions,
        ``"blocks.0.attn.w_qkv"`` (C, 3C), ``"blocks.0.mlp.w_in"`` (C, d_ff) (or (C, 2·d_ff) for SwiGLU),
        ``"ln_f.w"`` (C,), ``"lm_head"`` (C, V) unless the weights are tied.
    """
    return dict(_param_shapes(_check_cfg(cfg)))


def init_params(cfg: ModelConfig, seed: int, *, dtype=np.float32) -> dict[str, np.ndarray]:
    """Initial parameters, GPT-2 style.

    Weights are drawn from N(0, 0.02²); the projections that write into the residual stream
    (``attn.w_o``, ``mlp.w_out``) get ``0.02 / √(number of residual branches)`` so the stream's variance
    does not grow with depth; biases start at 0 and norm gains at 1. Draws are made in float64 and cast,
    so the same seed gives the same model (up to rounding) in float32 and float64.

    Parameters
    ----------
    cfg : ModelConfig
    seed : int
    dtype : NumPy floating dtype, optional
        float32 (default, for speed) or float64 (for gradient checks).

    Returns
    -------
    params : dict of str to ndarray
        Names and shapes as in :func:`param_shapes`.
    """
    cfg = _check_cfg(cfg)
    seed = check_int("seed", seed, low=0)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy floating dtype, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    rng = np.random.default_rng(seed)
    n_branches = cfg.n_layer * (1 if cfg.attn_only else 2)
    params = {}
    for name, shape in _param_shapes(cfg).items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "w" or leaf.startswith("b_") or leaf == "b":
            # Norm gains ("ln1.w") start at 1, every bias at 0.
            value = np.ones(shape) if leaf == "w" else np.zeros(shape)
        else:
            std = 0.02 / math.sqrt(n_branches) if leaf in ("w_o", "w_out") else 0.02
            value = rng.normal(0.0, std, size=shape)
        params[name] = value.astype(dt)
    return params


def _check_params(params, cfg: ModelConfig) -> np.dtype:
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    shapes = _param_shapes(cfg)
    wte = params.get("wte")
    if not isinstance(wte, np.ndarray) or wte.dtype not in (np.float32, np.float64):
        raise ValueError("params['wte'] must be a float32 or float64 array")
    extra = sorted(set(params) - set(shapes))
    if extra:
        raise ValueError(f"params has names the config does not use: {extra} (does it match the config?)")
    _block._check_params(params, shapes, wte.dtype)
    return wte.dtype


@lru_cache(maxsize=32)
def _sinusoidal(T: int, C: int, dtype_str: str) -> np.ndarray:
    pe = positional.sinusoidal(T, C, dtype=np.dtype(dtype_str))  # (T, C)
    pe.flags.writeable = False
    return pe


def _block_params(params: dict, layer: int) -> dict:
    prefix = f"blocks.{layer}."
    n = len(prefix)
    return {k[n:]: v for k, v in params.items() if k.startswith(prefix)}


def forward(
    params: dict, idx, cfg: ModelConfig, *, training: bool = False, rng=None, head_mask=None
) -> tuple[np.ndarray, ModelCache]:
    """Next-token logits for a batch of token sequences.

    Parameters
    ----------
    params : dict of str to ndarray
        As made by :func:`init_params` (all float32 or all float64; the output has the same dtype).
    idx : ndarray of int, shape (B, T)
        Token ids in ``[0, vocab_size)``, ``1 <= T <= block_size``.
    cfg : ModelConfig
    training : bool, optional
        Enables dropout (when ``cfg.dropout > 0``).
    rng : int or numpy.random.Generator, optional
        Dropout masks; required when training with ``cfg.dropout > 0``.
    head_mask : ndarray, shape (n_layer, n_head), optional
        Multiplier on each head's output before the output projection: 0 ablates the head, 1 keeps it.

    Returns
    -------
    logits : ndarray, shape (B, T, V)
    cache : ModelCache
        Attention weights via :func:`attention_maps`, residual stream via ``cache.residuals``.
    """
    cfg = _check_cfg(cfg)
    if isinstance(idx, (list, tuple)):
        idx = np.asarray(idx)
    if isinstance(idx, np.ndarray) and not np.issubdtype(idx.dtype, np.integer):
        # Issue 3 asks for ValueError here: float or bool "ids" are a wrong value for idx, not a wrong type.
        raise ValueError(f"idx must have an integer dtype, got {idx.dtype}")
    idx = as_int_array("idx", idx, ndim=2, low=0, high=cfg.vocab_size)
    B, T = idx.shape
    if B < 1 or T < 1:
        raise ValueError(f"idx must have shape (B, T) with B, T >= 1, got {idx.shape}")
    if T > cfg.block_size:
        raise ValueError(f"idx has sequence length T={T}, longer than block_size={cfg.block_size}")
    dtype = _check_params(params, cfg)
    for name, p in params.items():  # a diverged or corrupted parameter would turn every logit into NaN
        if not np.isfinite(p).all():
            raise ValueError(f"params[{name!r}] has non-finite values (NaN or inf)")
    training = check_bool("training", training)
    if head_mask is not None:
        head_mask = as_float_array("head_mask", head_mask, ndim=2)
        if head_mask.shape != (cfg.n_layer, cfg.n_head):
            raise ValueError(
                f"head_mask must have shape (n_layer, n_head) = {(cfg.n_layer, cfg.n_head)}, "
                f"got {head_mask.shape}"
            )
        head_mask = head_mask.astype(dtype)
    ctx = _block.context(cfg, B, T, dtype, training=training, rng=rng)
    C = cfg.d_model

    x = params["wte"][idx.reshape(-1)]  # (N, C), a fresh array we may add into
    x3 = x.reshape(B, T, C)  # view
    if cfg.pos == "learned":
        x3 += params["wpe"][:T]
    elif cfg.pos == "sinusoidal":
        x3 += _sinusoidal(T, C, dtype.str)
    emb_drop = None
    if ctx.p_drop > 0.0:
        emb_drop = _dropout_mask(x.shape, ctx.p_drop, ctx.rng, dtype)
        x = x * emb_drop
    embedding = x.reshape(B, T, C)

    block_caches, residuals = [], []
    for layer in range(cfg.n_layer):
        hm = None if head_mask is None else head_mask[layer]
        x, c = _block._forward(cfg, x, _block_params(params, layer), ctx, hm)
        block_caches.append(c)
        residuals.append(x.reshape(B, T, C))

    ln_f = None
    if _has_final_norm(cfg):
        x, ln_f = _block._norm_fwd(cfg, x, params, "ln_f")
    head = params["wte"].T if cfg.tie_weights else params["lm_head"]  # (C, V)
    logits = x @ head  # (N, V)
    cache = ModelCache(cfg, idx, embedding, emb_drop, block_caches, residuals, ln_f, x, head, tuple(params))
    return logits.reshape(B, T, cfg.vocab_size), cache


def backward(dlogits, cache: ModelCache) -> dict[str, np.ndarray]:
    """Gradients of the parameters, given the gradient of the logits.

    Parameters
    ----------
    dlogits : ndarray, shape (B, T, V)
        E.g. the second output of :func:`loss`.
    cache : ModelCache
        From the :func:`forward` call that produced the logits.

    Returns
    -------
    grads : dict of str to ndarray
        Same names (in the same order), shapes and dtype as the parameters.
    """
    if not isinstance(cache, ModelCache):
        raise TypeError(f"cache must be the ModelCache returned by forward, got {type(cache).__name__}")
    cfg = cache.cfg
    B, T = cache.idx.shape
    C, V = cfg.d_model, cfg.vocab_size
    dlogits = as_float_array("dlogits", dlogits, ndim=3)
    if dlogits.shape != (B, T, V):
        raise ValueError(f"dlogits must have shape (B, T, V) = {(B, T, V)}, got {dlogits.shape}")
    if dlogits.dtype != cache.xf.dtype:
        raise TypeError(f"dlogits must have the forward pass's dtype {cache.xf.dtype}, got {dlogits.dtype}")
    d2 = dlogits.reshape(B * T, V)  # (N, V)
    grads: dict[str, np.ndarray] = {}

    dx = d2 @ cache.head.T  # (N, C)
    dhead = cache.xf.T @ d2  # (C, V)
    if not cfg.tie_weights:
        grads["lm_head"] = dhead
    if cache.ln_f is not None:
        dx = _block._norm_bwd(cfg, dx, cache.ln_f, grads)
    for layer in range(cfg.n_layer - 1, -1, -1):
        dx, g = _block._backward(dx, cache.blocks[layer])
        for key, val in g.items():
            grads[f"blocks.{layer}.{key}"] = val
    if cache.emb_drop is not None:
        dx = dx * cache.emb_drop
    if cfg.pos == "learned":
        dwpe = np.zeros((cfg.block_size, C), dtype=dx.dtype)
        # The same position row is used by every sequence: sum over the batch (a BLAS mat-vec product).
        dwpe[:T] = colsum(dx.reshape(B, T * C)).reshape(T, C)
        grads["wpe"] = dwpe
    dwte = _embedding._backward(dx, cache.idx.reshape(-1), V)  # (V, C)
    if cfg.tie_weights:
        dwte += dhead.T  # the tied matrix gets both uses' gradients
    grads["wte"] = dwte
    return {name: grads[name] for name in cache.names}


def loss(logits, targets, *, ignore_index: int | None = None) -> tuple[float, np.ndarray]:
    """Mean next-token cross-entropy and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (B, T, V)
    targets : ndarray of int, shape (B, T)
        Next-token ids in ``[0, V)``, or ``ignore_index`` for positions left out of the mean.
    ignore_index : int, optional

    Returns
    -------
    value : float
        Mean over the counted targets, in nats; about ``ln V`` for a fresh model.
    dlogits : ndarray, shape (B, T, V)
        Gradient of ``value``, already divided by the number of counted targets (B·T without ignores).
    """
    logits = as_float_array("logits", logits, ndim=3)
    return _loss.softmax_cross_entropy(logits, targets, ignore_index)


def attention_maps(cache: ModelCache) -> np.ndarray:
    """Attention weights of every layer and head.

    Parameters
    ----------
    cache : ModelCache

    Returns
    -------
    att : ndarray, shape (n_layer, B, n_head, T, T)
        ``att[l, b, h, i, j]`` is how much query ``i`` attends to key ``j``; rows sum to 1.
    """
    if not isinstance(cache, ModelCache):
        raise TypeError(f"cache must be the ModelCache returned by forward, got {type(cache).__name__}")
    return np.stack([c.attn.f.att for c in cache.blocks])


def activation_stats(cache: ModelCache) -> dict[str, np.ndarray]:
    """Statistics of the residual stream after each block (for signal-propagation plots).

    Parameters
    ----------
    cache : ModelCache

    Returns
    -------
    stats : dict of str to ndarray of float64, each shape (n_layer,)
        ``"mean"``, ``"std"`` and ``"rms"`` over all B·T·C entries, and ``"max"``, the largest absolute value.
    """
    if not isinstance(cache, ModelCache):
        raise TypeError(f"cache must be the ModelCache returned by forward, got {type(cache).__name__}")
    out = {key: np.empty(len(cache.residuals)) for key in ("mean", "std", "rms", "max")}
    for layer, r in enumerate(cache.residuals):
        r64 = r.astype(np.float64, copy=False)
        out["mean"][layer] = r64.mean()
        out["std"][layer] = r64.std()
        out["rms"][layer] = math.sqrt(np.mean(np.square(r64)))
        out["max"][layer] = np.abs(r64).max()
    return out


def num_params(params: dict) -> int:
    """Total number of scalar parameters.

    Parameters
    ----------
    params : dict of str to ndarray

    Returns
    -------
    n : int
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    return int(sum(np.asarray(v).size for v in params.values()))
