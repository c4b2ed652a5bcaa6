"""Position information: sinusoidal (Vaswani et al. 2017), RoPE (Su et al. 2021), ALiBi (Press et al. 2021).

Learned position embeddings are plain parameters of the model and live in :mod:`attnbook.model`.
"""

from __future__ import annotations

import math

import numpy as np

from attnbook._checks import as_float_array, as_int_array, check_int, check_real

__all__ = ["alibi_bias", "alibi_slopes", "rope", "rope_angles", "rope_backward", "sinusoidal"]


def _check_float_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy floating dtype, got {dtype!r}") from None
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"dtype must be a floating dtype (float32 or float64), got {dt}")
    return dt


def sinusoidal(T: int, d_model: int, base: float = 10000.0, dtype=np.float64) -> np.ndarray:
    """Sinusoidal position encodings of Vaswani et al. (2017).

    ``PE[pos, 2i] = sin(pos / base**(2i / d_model))`` and
    ``PE[pos, 2i + 1] = cos(pos / base**(2i / d_model))``.

    Parameters
    ----------
    T : int
        Number of positions, ``T >= 1``.
    d_model : int
        Embedding width C, even and ``>= 2``.
    base : float, optional
        Wavelength base (> 1); 10000 in the paper.
    dtype : NumPy floating dtype, optional
        Output dtype (computed in float64, then cast).

    Returns
    -------
    pe : ndarray, shape (T, C)
    """
    T = check_int("T", T, low=1)
    d_model = check_int("d_model", d_model, low=2)
    if d_model % 2:
        raise ValueError(f"d_model must be even for sinusoidal encodings, got {d_model}")
    base = check_real("base", base, low=1.0, low_inclusive=False)
    dt = _check_float_dtype(dtype)
    pos = np.arange(T, dtype=np.float64)[:, None]  # (T, 1)
    inv_freq = base ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)  # (C/2,)
    angle = pos * inv_freq  # (T, C/2)
    pe = np.empty((T, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe.astype(dt, copy=False)


def _positions(positions, T: int) -> np.ndarray:
    if positions is None:
        return np.arange(T)
    positions = as_int_array("positions", positions, ndim=1)
    if positions.shape[0] != T:
        raise ValueError(f"positions must have length T={T} (axis -2 of x), got shape {positions.shape}")
    return positions


def rope_angles(positions, D: int, base: float = 10000.0) -> np.ndarray:
    """Rotation angles of RoPE, ``theta[t, i] = positions[t] * base**(-2i / D)``, in float64.

    Parameters
    ----------
    positions : array_like of int, shape (T,)
    D : int
        Head dimension, even.
    base : float, optional

    Returns
    -------
    theta : ndarray of float64, shape (T, D/2)
    """
    D = check_int("D", D, low=2)
    if D % 2:
        raise ValueError(f"D must be even for RoPE, got {D}")
    base = check_real("base", base, low=1.0, low_inclusive=False)
    positions = as_int_array("positions", positions, ndim=1)
    inv_freq = base ** (-np.arange(0, D, 2, dtype=np.float64) / D)  # (D/2,)
    return positions.astype(np.float64)[:, None] * inv_freq[None, :]  # (T, D/2)


def _rotate(name: str, x, positions, base: float, sign: float) -> np.ndarray:
    x = as_float_array(name, x, min_ndim=2)
    T, D = x.shape[-2], x.shape[-1]
    if D % 2:
        raise ValueError(f"{name} last axis (D) must be even for RoPE, got shape {x.shape}")
    if T < 1 or D < 2:
        raise ValueError(f"{name} must have T >= 1 and D >= 2, got shape {x.shape}")
    base = check_real("base", base, low=1.0, low_inclusive=False)
    theta = rope_angles(_positions(positions, T), D, base)  # (T, D/2)
    # cos/sin in float64 then cast, so float32 inputs stay float32 without losing the angle's accuracy.
    cos = np.cos(theta).astype(x.dtype)
    sin = (sign * np.sin(theta)).astype(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]  # (..., T, D/2) each: the interleaved pairs (0,1), (2,3), ...
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def rope(x, positions=None, base: float = 10000.0) -> np.ndarray:
    """Rotary position embedding (Su et al. 2021): rotate each pair of the last axis by a position angle.

    Convention: *interleaved* pairs ``(x[2i], x[2i+1])`` are rotated by ``positions[t] * base**(-2i/D)``,
    as in the RoFormer paper and GPT-J (Hugging Face LLaMA instead pairs ``i`` with ``i + D/2``).
    Then ``<rope(q, m), rope(k, n)>`` depends only on ``m - n``.

    Parameters
    ----------
    x : ndarray, shape (..., T, D)
        Queries or keys, D even.
    positions : array_like of int, shape (T,), optional
        Position of each row; defaults to ``arange(T)``.
    base : float, optional
        Frequency base (> 1), 10000 in the paper.

    Returns
    -------
    out : ndarray, shape (..., T, D), same dtype as ``x``
    """
    return _rotate("x", x, positions, base, 1.0)


def rope_backward(dout, positions=None, base: float = 10000.0) -> np.ndarray:
    """Gradient of :func:`rope`: the rotation is orthogonal, so ``dx`` is ``dout`` rotated by ``-theta``.

    Parameters
    ----------
    dout : ndarray, shape (..., T, D)
        Gradient with respect to the output of :func:`rope`.
    positions : array_like of int, shape (T,), optional
        The positions used in the forward pass.
    base : float, optional
        The base used in the forward pass.

    Returns
    -------
    dx : ndarray, shape (..., T, D), same dtype as ``dout``
    """
    return _rotate("dout", dout, positions, base, -1.0)


def alibi_slopes(n_head: int, dtype=np.float64) -> np.ndarray:
    """Per-head ALiBi slopes, as in Press et al. (2021) and their official implementation.

    For ``n_head`` a power of two the slopes are the geometric sequence ``2**(-8/n), 2**(-16/n), ...``.
    Otherwise take the slopes of the closest lower power of two ``p``, followed by every other slope
    (the 1st, 3rd, ...) of ``2p`` heads, up to ``n_head`` slopes in total.

    Parameters
    ----------
    n_head : int
        Number of heads H, ``>= 1``.
    dtype : NumPy floating dtype, optional

    Returns
    -------
    slopes : ndarray, shape (H,)
    """
    n_head = check_int("n_head", n_head, low=1)
    dt = _check_float_dtype(dtype)

    def power_of_two(n: int) -> list[float]:
        # 2**(-8 k / n) for k = 1..n: exact in binary floating point whenever 8k/n is an integer.
        return [2.0 ** (-8.0 * (k + 1) / n) for k in range(n)]

    p = 2 ** int(math.floor(math.log2(n_head)))
    slopes = power_of_two(p)
    if p != n_head:
        slopes += power_of_two(2 * p)[0::2][: n_head - p]
    return np.asarray(slopes, dtype=dt)


def alibi_bias(n_head: int, T: int, dtype=np.float64) -> np.ndarray:
    """ALiBi additive attention bias ``bias[h, i, j] = -slopes[h] * |i - j|``.

    Defined symmetrically; causal models mask the upper triangle anyway, where it equals the paper's
    ``-slope * (i - j)``. Adding a per-row constant does not change a softmax, so this matches the
    official implementation's ``slope * j`` bias on the allowed (causal) entries.

    Parameters
    ----------
    n_head : int
        Number of heads H, ``>= 1``.
    T : int
        Sequence length, ``>= 1``.
    dtype : NumPy floating dtype, optional

    Returns
    -------
    bias : ndarray, shape (H, T, T)
    """
    T = check_int("T", T, low=1)
    slopes = alibi_slopes(n_head, dtype=np.float64)  # (H,)
    dt = _check_float_dtype(dtype)
    pos = np.arange(T, dtype=np.float64)
    dist = np.abs(pos[:, None] - pos[None, :])  # (T, T)
    return (-slopes[:, None, None] * dist[None]).astype(dt, copy=False)  # (H, T, T)
