"""Helpers for the book's chapters: glue computed numbers into the prose (myst-nb), as plain Python values."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["glue", "plain"]


def plain(value):
    """Return ``value`` as a plain Python scalar/str (NumPy scalars repr as ``np.float64(...)`` in NumPy 2)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, (str, numbers.Number)):
        return value
    raise TypeError(f"value must be a number or str to be quoted in the text, got {type(value).__name__}")


def glue(**values) -> None:
    """Make each keyword available to the chapter's prose as ``{glue:text}`name:.3f```, without displaying it."""
    from myst_nb import glue as _glue

    for name, value in values.items():
        _glue(name, plain(value), display=False)
