"""Autoregressive generation from the NumPy GPT: temperature, top-k and seeded sampling."""

from __future__ import annotations

import numpy as np

from . import model as _model
from ._checks import as_int_array, check_int, check_real

__all__ = ["generate", "next_token_distribution"]


def _check_prompt(cfg, prompt_ids) -> tuple[np.ndarray, bool]:
    ids = as_int_array("prompt_ids", prompt_ids, low=0, high=cfg.vocab_size)
    if ids.ndim not in (1, 2):
        raise ValueError(f"prompt_ids must have shape (T,) or (B, T), got {ids.shape}")
    if ids.shape[-1] < 1:
        raise ValueError("prompt_ids must contain at least one token")
    single = ids.ndim == 1
    return (ids[None, :] if single else ids).astype(np.int64, copy=False), single


def _check_sampling(cfg, temperature, top_k):
    temperature = check_real("temperature", temperature, low=0.0)
    if top_k is not None:
        top_k = check_int("top_k", top_k, low=1, high=cfg.vocab_size)
    return temperature, top_k


def _probs(logits: np.ndarray, temperature: float, top_k: int | None) -> np.ndarray:
    """Turn last-position logits (B, V) into sampling probabilities (B, V), float64."""
    logits = logits.astype(np.float64)  # sampling needs a CDF that sums to 1 to many digits
    if temperature == 0.0:
        # The limit temperature -> 0 of softmax(logits / temperature): all mass on the arg-max
        # (the first one on ties), i.e. greedy decoding.
        probs = np.zeros_like(logits)
        probs[np.arange(len(logits)), logits.argmax(axis=-1)] = 1.0
        return probs
    if top_k is not None:
        kth = np.sort(logits, axis=-1)[:, -top_k][:, None]  # (B, 1), the k-th largest logit
        logits = np.where(logits < kth, -np.inf, logits)  # ties with the k-th are kept
    z = logits / temperature
    z -= z.max(axis=-1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=-1, keepdims=True)
    return probs


def _last_logits(params, cfg, ids: np.ndarray) -> np.ndarray:
    ctx = ids[:, -cfg.block_size :]  # the model has no positions beyond block_size: keep the latest ones
    logits, _ = _model.forward(params, ctx, cfg)  # (B, T, V)
    return logits[:, -1, :]  # (B, V)


def next_token_distribution(params, cfg, prompt_ids, temperature: float = 1.0, top_k: int | None = None):
    """Probabilities of the next token after ``prompt_ids``.

    Parameters
    ----------
    params : dict[str, ndarray]
    cfg : ModelConfig
    prompt_ids : ndarray of int, shape (T,) or (B, T)
        Cropped to the last ``block_size`` tokens.
    temperature : float
        Divides the logits; 0 puts all the mass on the most likely token.
    top_k : int, optional
        Keep only the ``top_k`` most likely tokens (ties with the k-th are kept).

    Returns
    -------
    probs : ndarray of float64, shape (V,) or (B, V)
    """
    ids, single = _check_prompt(cfg, prompt_ids)
    temperature, top_k = _check_sampling(cfg, temperature, top_k)
    probs = _probs(_last_logits(params, cfg, ids), temperature, top_k)
    return probs[0] if single else probs


def generate(
    params,
    cfg,
    prompt_ids,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Extend ``prompt_ids`` by sampling one token at a time.

    Parameters
    ----------
    params : dict[str, ndarray]
    cfg : ModelConfig
    prompt_ids : ndarray of int, shape (T,) or (B, T)
        At least one token; the context fed to the model is cropped to the last ``block_size`` tokens.
    max_new_tokens : int
    temperature : float
        ``0`` means greedy decoding (always the arg-max, no randomness); larger values flatten the
        distribution.
    top_k : int, optional
        Sample only among the ``top_k`` most likely tokens.
    seed : int
        The same seed, prompt and model always give the same tokens.

    Returns
    -------
    ids : ndarray of int64, shape (T + max_new_tokens,) or (B, T + max_new_tokens)
        The prompt followed by the generated tokens.
    """
    ids, single = _check_prompt(cfg, prompt_ids)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, low=0)
    temperature, top_k = _check_sampling(cfg, temperature, top_k)
    seed = check_int("seed", seed, low=0)
    rng = np.random.default_rng(seed)
    B = ids.shape[0]
    out = np.empty((B, ids.shape[1] + max_new_tokens), dtype=np.int64)
    out[:, : ids.shape[1]] = ids
    for t in range(ids.shape[1], out.shape[1]):
        probs = _probs(_last_logits(params, cfg, out[:, :t]), temperature, top_k)  # (B, V)
        # Inverse-CDF sampling with one uniform per row: deterministic given the seed.
        cdf = np.cumsum(probs, axis=-1)  # (B, V)
        u = rng.random((B, 1)) * cdf[:, -1:]
        nxt = (cdf <= u).sum(axis=-1)  # first index whose CDF exceeds u
        out[:, t] = np.minimum(nxt, cfg.vocab_size - 1)
    return out[0] if single else out
