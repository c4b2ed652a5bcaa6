"""Inverted dropout (Srivastava et al. 2014): seeded, and the identity unless training with p > 0."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array, check_bool, check_real
from attnbook.layers._common import check_dout

__all__ = ["DropoutCache", "as_generator", "backward", "forward"]


class DropoutCache(NamedTuple):
    """The scaled keep-mask (0 or 1 / (1 - p)), or None when dropout was the identity."""

    mask: np.ndarray | None  # same shape and dtype as the input
    shape: tuple[int, ...]
    dtype: np.dtype


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` as a Generator: an int seeds a new one, a Generator is used as is."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def _mask(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    u = rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    keep = u >= p  # (shape), kept with probability 1 - p
    # Scaling the kept units by 1 / (1 - p) keeps the expected activation, so inference needs no rescale.
    return keep.astype(dtype) * (1.0 / (1.0 - p))


def forward(x, p: float, rng=None, training: bool = True) -> tuple[np.ndarray, DropoutCache]:
    """Zero each entry with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Parameters
    ----------
    x : ndarray, any shape
    p : float
        Drop probability in ``[0, 1)``.
    rng : int or numpy.random.Generator
        Source of the mask; required when ``training`` and ``p > 0``.
    training : bool, optional
        With ``False`` the layer is the identity.

    Returns
    -------
    out : ndarray, shape of ``x``
    cache : DropoutCache
    """
    x = as_float_array("x", x)
    p = check_real("p", p, low=0.0)
    if p >= 1.0:
        raise ValueError(f"p must be < 1, got {p}")
    training = check_bool("training", training)
    if not training or p == 0.0:
        return x.copy(), DropoutCache(None, x.shape, x.dtype)
    if rng is None:
        raise ValueError("rng must be given (an int seed or a Generator) when training with p > 0")
    mask = _mask(x.shape, p, as_generator(rng), x.dtype)
    return x * mask, DropoutCache(mask, x.shape, x.dtype)


def backward(dout, cache: DropoutCache) -> np.ndarray:
    """Gradient of :func:`forward`: the upstream gradient through the same mask.

    Parameters
    ----------
    dout : ndarray, shape of the forward input
    cache : DropoutCache

    Returns
    -------
    dx : ndarray
    """
    dout = check_dout(dout, cache.shape, cache.dtype)
    return dout.copy() if cache.mask is None else dout * cache.mask
