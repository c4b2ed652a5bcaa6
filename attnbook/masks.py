"""Boolean attention masks (causal, local, global-local, padding); True means the query may attend to the key.

Every mask is indexed ``mask[..., i, j]`` with ``i`` the query (row) and ``j`` the key (column), the
convention of PyTorch's ``scaled_dot_product_attention``. Global-local follows Longformer (Beltagy et al.
2020): a few global tokens see, and are seen by, every token; the others see a local window.
"""

from __future__ import annotations

import numpy as np

from attnbook._checks import as_int_array, check_bool, check_int

__all__ = [
    "MASK_TYPES",
    "PAD_TOKEN",
    "causal",
    "combine",
    "count_allowed",
    "global_local",
    "local",
    "padding",
]

# The patterns chapter 3 compares, and the token that fills a padded position.
MASK_TYPES = ("none", "causal", "local", "global-local", "padding")
PAD_TOKEN = "<pad>"


def _distance(T: int) -> np.ndarray:
    """Signed distance ``i - j`` between query ``i`` and key ``j``, shape ``(T, T)``."""
    pos = np.arange(T)
    return pos[:, None] - pos[None, :]  # (T, T)


def causal(T: int) -> np.ndarray:
    """Causal mask: query ``i`` may attend to keys ``j <= i``.

    Parameters
    ----------
    T : int
        Sequence length, ``T >= 1``.

    Returns
    -------
    mask : ndarray of bool, shape (T, T)
        Lower-triangular including the diagonal.
    """
    T = check_int("T", T, low=1)
    return _distance(T) >= 0


def local(T: int, window: int, *, causal: bool = False) -> np.ndarray:
    """Local (banded) mask: query ``i`` may attend to keys ``j`` with ``|i - j| <= window``.

    The band is symmetric (a token sees ``window`` neighbours on each side). With ``causal=True`` it is
    the sliding-window causal mask of Mistral-style models: keys ``j`` in ``[i - window, i]``.

    Parameters
    ----------
    T : int
        Sequence length, ``T >= 1``.
    window : int
        Half-width of the band, ``window >= 0`` (0 keeps only the diagonal; ``window >= T - 1`` keeps all).
    causal : bool, optional
        Also forbid keys after the query.

    Returns
    -------
    mask : ndarray of bool, shape (T, T)
    """
    T = check_int("T", T, low=1)
    window = check_int("window", window, low=0)
    is_causal = check_bool("causal", causal)
    dist = _distance(T)
    mask = np.abs(dist) <= window
    if is_causal:
        mask &= dist >= 0
    return mask


def global_local(T: int, window: int, n_global: int, *, causal: bool = False) -> np.ndarray:
    """Global-local mask: the first ``n_global`` tokens see and are seen by everyone, the rest see locally.

    Parameters
    ----------
    T : int
        Sequence length, ``T >= 1``.
    window : int
        Half-width of the local band for the other tokens, ``window >= 0`` (see :func:`local`).
    n_global : int
        Number of global tokens at the start of the sequence, ``0 <= n_global <= T``.
    causal : bool, optional
        Also forbid keys after the query (then a global token sees only the tokens before it, and every
        token still sees all global tokens before it).

    Returns
    -------
    mask : ndarray of bool, shape (T, T)
    """
    T = check_int("T", T, low=1)
    window = check_int("window", window, low=0)
    n_global = check_int("n_global", n_global, low=0, high=T)
    is_causal = check_bool("causal", causal)
    mask = local(T, window)
    mask[:n_global, :] = True  # global queries see every key
    mask[:, :n_global] = True  # every query sees the global keys
    if is_causal:
        mask &= _distance(T) >= 0
    return mask


def padding(lengths, T: int) -> np.ndarray:
    """Padding mask for a batch of right-padded sequences: key ``j`` is allowed iff ``j < lengths[b]``.

    Query rows at padded positions also see only the valid keys (their outputs are ignored downstream);
    a sequence of length 0 has rows that see nothing, which attention turns into zero weights.
    To combine with a per-head score tensor ``(B, H, T, T)``, index it as ``padding(...)[:, None]``.

    Parameters
    ----------
    lengths : array_like of int, shape (B,)
        Valid length of each sequence, in ``[0, T]``.
    T : int
        Padded sequence length, ``T >= 1``.

    Returns
    -------
    mask : ndarray of bool, shape (B, T, T)
    """
    T = check_int("T", T, low=1)
    lengths = as_int_array("lengths", lengths, ndim=1, low=0, high=T + 1)
    keys_ok = np.arange(T)[None, :] < lengths[:, None]  # (B, T)
    return np.broadcast_to(keys_ok[:, None, :], (lengths.shape[0], T, T)).copy()  # (B, T, T)


def combine(*masks) -> np.ndarray:
    """Logical AND of boolean masks, with NumPy broadcasting (e.g. ``combine(causal(T), padding(L, T))``).

    Parameters
    ----------
    *masks : ndarray of bool
        At least one mask; shapes must broadcast together.

    Returns
    -------
    mask : ndarray of bool, the broadcast shape of the inputs
    """
    if not masks:
        raise ValueError("masks: combine needs at least one mask")
    for n, m in enumerate(masks):
        if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
            got = m.dtype if isinstance(m, np.ndarray) else type(m).__name__
            raise TypeError(f"masks[{n}] must be a NumPy bool array, got {got}")
    try:
        shape = np.broadcast_shapes(*(m.shape for m in masks))
    except ValueError:
        shapes = ", ".join(str(m.shape) for m in masks)
        raise ValueError(f"masks must have broadcastable shapes, got {shapes}") from None
    out = np.ones(shape, dtype=bool)
    for m in masks:
        out &= m
    return out


def count_allowed(mask) -> int:
    """Number of allowed (query, key) pairs, i.e. of True entries: the score entries attention computes.

    Parameters
    ----------
    mask : ndarray of bool, any shape

    Returns
    -------
    n : int
    """
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        got = mask.dtype if isinstance(mask, np.ndarray) else type(mask).__name__
        raise TypeError(f"mask must be a NumPy bool array, got {got}")
    return int(np.count_nonzero(mask))
