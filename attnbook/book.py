"""Helpers for the book's chapters: glue computed numbers into the prose (myst-nb), and guard what the prose
claims so the build fails when the numbers stop supporting a sentence."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["ClaimError", "claim", "glue", "plain", "spread"]


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


class ClaimError(RuntimeError):
    """A sentence of the book is no longer supported by the numbers its chapter computes."""


def claim(holds, sentence: str, **values) -> None:
    """Fail the chapter (and so the build) unless ``holds``: the guard behind a directional sentence of the prose.

    Parameters
    ----------
    holds : bool
        Whether the chapter's numbers support the sentence (a NumPy bool is accepted).
    sentence : str
        The claim as the prose makes it, quoted in the error so the author finds it.
    **values
        The numbers the claim rests on, shown in the error.

    Unlike ``assert``, this runs under ``python -O`` too.
    """
    if not isinstance(sentence, str) or not sentence.strip():
        raise TypeError("sentence must be the non-empty text of the claim")
    if not isinstance(holds, (bool, np.bool_)):
        raise TypeError(f"holds must be a bool (the claim's test), got {type(holds).__name__}")
    if not holds:
        shown = ", ".join(
            f"{k} = {plain(v) if isinstance(v, (np.generic, numbers.Number)) else v}"
            for k, v in values.items()
        )
        raise ClaimError(
            f"the text says: \u201c{sentence}\u201d, but the numbers no longer support it"
            + (f" ({shown})" if shown else "")
        )


def spread(values, spec: str = ".2f") -> str:
    """The text of a number measured at several seeds: ``"0.52 (0.41 to 0.60)"``, the mean and the range
    (``"0.52 (at every seed)"`` when the range rounds to one value).

    Parameters
    ----------
    values : sequence of numbers
        One value per seed (at least one; a single value is written alone).
    spec : str
        Format spec of every number, e.g. ``".3f"``.
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("values must hold at least one number")
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a format spec string, got {type(spec).__name__}")
    if arr.size == 1:
        return format(arr[0], spec)
    lo, hi = format(arr.min(), spec), format(arr.max(), spec)
    if lo == hi:  # the seeds agree to the digits shown
        return f"{format(arr.mean(), spec)} (at every seed)"
    return f"{format(arr.mean(), spec)} ({lo} to {hi})"
