"""MLP non-linearities with backward passes: ReLU, GeLU (Hendrycks & Gimpel 2016), Swish/SiLU, SwiGLU (Shazeer 2020)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from attnbook._checks import as_float_array, check_choice
from attnbook.layers._common import check_dout, row_chunks

__all__ = [
    "KINDS",
    "ActivationCache",
    "backward",
    "forward",
    "gelu_backward",
    "gelu_forward",
    "relu_backward",
    "relu_forward",
    "swiglu_backward",
    "swiglu_forward",
    "swish_backward",
    "swish_forward",
]

KINDS = ("relu", "gelu", "gelu_exact", "swish", "swiglu")

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf_scalar = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; math.erf is exact to double precision


class ActivationCache(NamedTuple):
    """The input and one intermediate the derivative reuses."""

    kind: str  # one of KINDS
    x: np.ndarray  # the input
    aux: np.ndarray | None  # tanh(...) for gelu, Φ(x) for gelu_exact, sigmoid for swish / swiglu's gate


def _sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    # 0.5 (1 + tanh(x / 2)) equals 1 / (1 + exp(-x)) but cannot overflow for large negative x.
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    return _erf_scalar(x).astype(x.dtype)


# Kernels: no checks. Each works block by block on rows (see row_chunks) so that the chain of
# elementwise steps runs in cache; the input stays untouched for the backward pass.


def _fwd_block(kind: str, x: np.ndarray, out: np.ndarray, aux: np.ndarray | None) -> None:
    if kind == "relu":
        np.maximum(x, 0.0, out=out)
    elif kind == "gelu":
        # 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))); aux keeps the tanh for the backward pass.
        np.square(x, out=aux)
        aux *= _GELU_A * _SQRT_2_OVER_PI
        aux += _SQRT_2_OVER_PI
        aux *= x
        np.tanh(aux, out=aux)
        np.add(aux, 1.0, out=out)
        out *= x
        out *= 0.5
    elif kind == "gelu_exact":
        np.multiply(x, _INV_SQRT_2, out=aux)
        aux[...] = _erf(aux)
        aux += 1.0
        aux *= 0.5  # Φ(x), the standard normal CDF
        np.multiply(x, aux, out=out)
    elif kind == "swish":
        _sigmoid(x, aux)
        np.multiply(x, aux, out=out)
    else:  # swiglu: gate branch a through Swish, times the linear branch g
        F = x.shape[-1] // 2
        a, g = x[..., :F], x[..., F:]
        _sigmoid(a, aux)
        np.multiply(a, aux, out=out)
        out *= g


def _bwd_block(kind: str, dout: np.ndarray, x: np.ndarray, aux: np.ndarray | None, dx: np.ndarray) -> None:
    if kind == "relu":
        np.multiply(dout, x > 0, out=dx)  # derivative 0 at the kink, as in PyTorch
    elif kind == "gelu":
        # d/dx = 0.5 (1 + t) + 0.5 x (1 - t²) √(2/π) (1 + 3·0.044715 x²)
        #      = 0.5 (1 + t) (1 + x (1 - t) √(2/π) (1 + 3·0.044715 x²)), with t the saved tanh.
        t = aux
        tmp = np.subtract(1.0, t)
        np.square(x, out=dx)
        dx *= 3.0 * _GELU_A * _SQRT_2_OVER_PI
        dx += _SQRT_2_OVER_PI
        dx *= x
        dx *= tmp
        dx += 1.0
        np.add(t, 1.0, out=tmp)
        dx *= tmp
        dx *= dout
        dx *= 0.5
    elif kind == "gelu_exact":
        # d/dx = Φ(x) + x φ(x)
        np.square(x, out=dx)
        dx *= -0.5
        np.exp(dx, out=dx)
        dx *= _INV_SQRT_2PI
        dx *= x
        dx += aux
        dx *= dout
    elif kind == "swish":
        # d/dx x s(x) = s (1 + x (1 - s))
        s = aux
        np.subtract(1.0, s, out=dx)
        dx *= x
        dx += 1.0
        dx *= s
        dx *= dout
    else:  # swiglu
        s = aux
        F = x.shape[-1] // 2
        a, g = x[..., :F], x[..., F:]
        da, dg = dx[..., :F], dx[..., F:]
        np.multiply(a, s, out=dg)
        dg *= dout  # d out / d g = swish(a)
        np.subtract(1.0, s, out=da)
        da *= a
        da += 1.0
        da *= s  # swish'(a)
        da *= g
        da *= dout


def _forward(
    kind: str, x: np.ndarray, bias: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Activation of ``x`` (``x + bias`` when a bias is given: it is added to ``x`` in place)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    x2 = x.reshape(-1, x.shape[-1])  # (N, F_in)
    F_out = x2.shape[1] // 2 if kind == "swiglu" else x2.shape[1]
    out = np.empty((x2.shape[0], F_out), dtype=x.dtype)
    aux = None if kind == "relu" else np.empty_like(out)
    starts, step = row_chunks(x2.shape[0], x2.shape[1])
    for i in starts:
        if bias is not None:  # the preceding linear layer's bias, added while the block is in cache
            x2[i : i + step] += bias
        _fwd_block(kind, x2[i : i + step], out[i : i + step], None if aux is None else aux[i : i + step])
    shape = (*x.shape[:-1], F_out)
    return out.reshape(shape), None if aux is None else aux.reshape(shape)


def _backward(kind: str, dout: np.ndarray, x: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    x2 = x.reshape(-1, x.shape[-1])  # (N, F_in)
    d2 = dout.reshape(x2.shape[0], -1)  # (N, F_out)
    a2 = None if aux is None else aux.reshape(d2.shape)
    dx = np.empty_like(x2)
    starts, step = row_chunks(x2.shape[0], x2.shape[1])
    for i in starts:
        sl = slice(i, i + step)
        _bwd_block(kind, d2[sl], x2[sl], None if a2 is None else a2[sl], dx[sl])
    return dx.reshape(x.shape)


def forward(x, kind: str) -> tuple[np.ndarray, ActivationCache]:
    """Apply the activation ``kind`` elementwise (SwiGLU halves the last axis).

    Parameters
    ----------
    x : ndarray, shape (..., F), or (..., 2F) for ``"swiglu"``
        For SwiGLU the first half is the gate branch (through Swish), the second the linear branch:
        ``out = swish(x[..., :F]) * x[..., F:]``.
    kind : {"relu", "gelu", "gelu_exact", "swish", "swiglu"}
        ``"gelu"`` is the tanh approximation used by GPT-2, ``"gelu_exact"`` uses erf.

    Returns
    -------
    out : ndarray, shape (..., F)
    cache : ActivationCache
    """
    check_choice("kind", kind, KINDS)
    x = as_float_array("x", x, min_ndim=1)
    if kind == "swiglu" and x.shape[-1] % 2:
        raise ValueError(f"x last axis must be even for swiglu (two halves), got shape {x.shape}")
    out, aux = _forward(kind, x)
    return out, ActivationCache(kind, x, aux)


def backward(dout, cache: ActivationCache) -> np.ndarray:
    """Gradient of :func:`forward` with respect to its input.

    Parameters
    ----------
    dout : ndarray, shape of the forward output
    cache : ActivationCache

    Returns
    -------
    dx : ndarray, shape of the forward input
    """
    out_shape = cache.x.shape
    if cache.kind == "swiglu":
        out_shape = (*out_shape[:-1], out_shape[-1] // 2)
    dout = check_dout(dout, out_shape, cache.x.dtype)
    return _backward(cache.kind, dout, cache.x, cache.aux)


def relu_forward(x) -> tuple[np.ndarray, ActivationCache]:
    """``max(x, 0)``; see :func:`forward`."""
    return forward(x, "relu")


def relu_backward(dout, cache: ActivationCache) -> np.ndarray:
    """Gradient of :func:`relu_forward` (0 at the kink)."""
    return backward(dout, cache)


def gelu_forward(x, approximate: str = "tanh") -> tuple[np.ndarray, ActivationCache]:
    """GeLU ``x Φ(x)``; ``approximate="tanh"`` (GPT-2) or ``"none"`` (exact, with erf), as in PyTorch."""
    check_choice("approximate", approximate, ("tanh", "none"))
    return forward(x, "gelu" if approximate == "tanh" else "gelu_exact")


def gelu_backward(dout, cache: ActivationCache) -> np.ndarray:
    """Gradient of :func:`gelu_forward`."""
    return backward(dout, cache)


def swish_forward(x) -> tuple[np.ndarray, ActivationCache]:
    """Swish / SiLU ``x · sigmoid(x)`` (Ramachandran et al. 2017)."""
    return forward(x, "swish")


def swish_backward(dout, cache: ActivationCache) -> np.ndarray:
    """Gradient of :func:`swish_forward`."""
    return backward(dout, cache)


def swiglu_forward(x) -> tuple[np.ndarray, ActivationCache]:
    """SwiGLU ``swish(x[..., :F]) * x[..., F:]`` on a (..., 2F) input (Shazeer 2020)."""
    return forward(x, "swiglu")


def swiglu_backward(dout, cache: ActivationCache) -> np.ndarray:
    """Gradient of :func:`swiglu_forward`, shape (..., 2F)."""
    return backward(dout, cache)
