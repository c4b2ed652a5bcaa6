"""Input checks shared by the layers' public forward/backward functions (the model calls the unchecked kernels)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from attnbook._checks import as_float_array


def same_dtype(**arrays: np.ndarray | None) -> np.dtype:
    """Return the common dtype of the given float arrays (``None`` skipped), refusing a mix.

    Mixing float32 and float64 would silently promote to float64, so a layer refuses it instead.
    """
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    first = next(iter(dtypes.values()))
    if any(dt != first for dt in dtypes.values()):
        got = ", ".join(f"{name}={dt}" for name, dt in dtypes.items())
        raise TypeError(f"all arrays must share one float dtype, got {got}")
    return first


def check_shape(name: str, x: np.ndarray, shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``x.shape == shape``."""
    if x.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {x.shape}")


def check_dout(dout, out_shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Validate the upstream gradient of a backward function against the forward output."""
    dout = as_float_array("dout", dout)
    check_shape("dout", dout, out_shape)
    if dout.dtype != dtype:
        raise TypeError(f"dout must have the forward pass's dtype {dtype}, got {dout.dtype}")
    return dout


def optional_vector(name: str, b, n: int, dtype: np.dtype) -> np.ndarray | None:
    """Validate an optional bias / gain vector of length ``n``."""
    if b is None:
        return None
    b = as_float_array(name, b, ndim=1)
    check_shape(name, b, (n,))
    if b.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {b.dtype}")
    return b


@lru_cache(maxsize=256)
def _filled(n: int, value: float, dtype_str: str) -> np.ndarray:
    v = np.full(n, value, dtype=np.dtype(dtype_str))
    v.flags.writeable = False
    return v


def filled(n: int, value: float, dtype: np.dtype) -> np.ndarray:
    """A cached read-only vector of ``n`` copies of ``value``.

    Row and column sums written as matrix-vector products (``x @ ones``) run in BLAS and are several
    times faster than NumPy's reductions over short rows, which is why the kernels use them.
    """
    return _filled(n, value, np.dtype(dtype).str)


def colsum(a: np.ndarray) -> np.ndarray:
    """Sum over the rows of a 2-D array, ``(N, C) -> (C,)``, as one BLAS matrix-vector product."""
    return filled(a.shape[0], 1.0, a.dtype) @ a


def rowsum(a: np.ndarray) -> np.ndarray:
    """Sum over the columns of a 2-D array, ``(N, C) -> (N,)``, as one BLAS matrix-vector product."""
    return a @ filled(a.shape[1], 1.0, a.dtype)


def row_chunks(n_rows: int, row_size: int, target: int = 32768) -> tuple[range, int]:
    """Start indices and length of row blocks holding about ``target`` elements each.

    Elementwise chains (GeLU, softmax, ...) run block by block so their intermediate arrays stay in
    the CPU cache instead of streaming from memory at every step.
    """
    step = max(1, target // max(1, row_size))
    return range(0, n_rows, step), step
