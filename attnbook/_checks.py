"""Input validation shared by every public function: clear errors naming the parameter, never `assert`."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "as_float_array",
    "as_int_array",
    "check_bool",
    "check_choice",
    "check_int",
    "check_real",
    "check_tokens",
]


def as_float_array(
    name: str,
    x,
    *,
    ndim: int | None = None,
    min_ndim: int | None = None,
    finite: bool = True,
) -> np.ndarray:
    """Return ``x`` as a floating-point ndarray, raising if it is not one.

    Integer and boolean arrays are refused rather than silently cast, so a caller who passes token ids
    where embeddings are expected hears about it. float16/32/64 are kept as they are (dtype is preserved).
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)) or isinstance(x, numbers.Real) and not isinstance(x, bool):
            x = np.asarray(x, dtype=np.float64)
        else:
            raise TypeError(f"{name} must be a NumPy float array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype (float32 or float64), got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {x.shape}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {x.shape}")
    if finite and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def as_int_array(
    name: str, x, *, ndim: int | None = None, low: int | None = None, high: int | None = None
) -> np.ndarray:
    """Return ``x`` as an integer ndarray with values in ``[low, high)``."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
        if x.size == 0:
            x = x.astype(np.int64)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy integer array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{name} must have an integer dtype, got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {x.shape}")
    if x.size and low is not None and x.min() < low:
        raise ValueError(f"{name} values must be >= {low}, got min {x.min()}")
    if x.size and high is not None and x.max() >= high:
        raise ValueError(f"{name} values must be < {high}, got max {x.max()}")
    return x


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (both inclusive), refusing bools and floats."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float in the given range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is a bool (NumPy bools accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_tokens(name: str, tokens, n: int | None = None) -> tuple[str, ...]:
    """Return ``tokens`` as a tuple of str, with ``n`` entries (one per position) when ``n`` is given."""
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Iterable):
        raise TypeError(f"{name} must be a sequence of str, got {type(tokens).__name__}")
    tokens = tuple(tokens)
    if not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"{name} must be a sequence of str")
    if n is not None and len(tokens) != n:
        raise ValueError(f"{name} must have T = {n} entries, one per position, got {len(tokens)}")
    return tokens
