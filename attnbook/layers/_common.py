"""Input checks shared by the layers' public forward/backward functions (the model calls the unchecked kernels)."""

from __future__ import annotations

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
