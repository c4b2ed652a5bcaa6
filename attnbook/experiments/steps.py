"""Chapter 2's experiment: multi-head attention over one sentence, every intermediate kept, for every temperature
stop of the figure's slider, with and without the causal mask (Vaswani et al. 2017).

Each state is one call of :func:`attnbook.attention.attention_steps`; the sweep stores every intermediate once,
with leading axes only for the settings it depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, as_int_array, check_real, check_tokens
from ..attention import attention_steps
from ..masks import causal

__all__ = ["TEMPERATURES", "StepsSweep", "steps_sweep"]

# The temperature slider's stops, 0.25 apart from 0.25 to 3.
TEMPERATURES = tuple(float(t) for t in np.round(np.arange(0.25, 3.01, 0.25), 2))


class StepsSweep(NamedTuple):
    """The nine steps of attention for every temperature τ and mask; ``M = 2`` masks: none, causal."""

    tokens: tuple[str, ...]  # the sentence, T tokens
    token_ids: np.ndarray  # (T,) int
    temperatures: tuple[float, ...]  # the τ stops, N of them
    x: np.ndarray  # (T, C) token vectors
    q: np.ndarray  # (H, T, D) queries (the same for every τ and mask)
    k: np.ndarray  # (H, T, D) keys
    v: np.ndarray  # (H, T, D) values
    scores: np.ndarray  # (H, T, T) q kᵀ
    scaled: np.ndarray  # (N, H, T, T) scores / (√D τ): depends on τ, not on the mask
    masked: np.ndarray  # (N, M, H, T, T) scaled, −inf where the mask hides a key
    weights: np.ndarray  # (N, M, H, T, T) softmax over keys
    weighted: np.ndarray  # (N, M, H, T, D) weights @ v
    concat: np.ndarray  # (N, M, T, C) heads side by side
    out: np.ndarray  # (N, M, T, C) concat @ w_o


def steps_sweep(
    tokens: Sequence[str],
    token_ids,
    x,
    w_q,
    w_k,
    w_v,
    w_o,
    n_head: int,
    *,
    temperatures: Sequence[float] = TEMPERATURES,
) -> StepsSweep:
    """Run :func:`attnbook.attention.attention_steps` for every temperature, without and with the causal mask.

    Parameters
    ----------
    tokens : sequence of str, length T
    token_ids : (T,) int array, ids >= 0
    x : (T, C) token vectors
    w_q, w_k, w_v, w_o : (C, C) projections (no bias)
    n_head : int
        Number of heads H, divides C.
    temperatures : sequence of float
        Distinct temperatures τ > 0, in increasing order (at least one).
    """
    x = as_float_array("x", x, ndim=2)
    T = x.shape[0]
    if T < 1:
        raise ValueError("x must have at least one row (token)")
    tokens = check_tokens("tokens", tokens, T)
    token_ids = as_int_array("token_ids", token_ids, ndim=1, low=0)
    if token_ids.shape != (T,):
        raise ValueError(f"token_ids must have shape (T,) = ({T},), got {token_ids.shape}")
    if isinstance(temperatures, (str, bytes)) or not isinstance(temperatures, Sequence) or not temperatures:
        raise TypeError("temperatures must be a non-empty sequence of numbers")
    temperatures = tuple(
        check_real(f"temperatures[{i}]", t, low=0.0, low_inclusive=False) for i, t in enumerate(temperatures)
    )
    if any(b <= a for a, b in zip(temperatures, temperatures[1:], strict=False)):
        raise ValueError(f"temperatures must be distinct and increasing, got {temperatures}")

    runs = [
        [attention_steps(x, w_q, w_k, w_v, w_o, n_head, mask=m, temperature=tau) for m in (None, causal(T))]
        for tau in temperatures
    ]  # (N, M) runs, each validating its inputs
    first = runs[0][0]

    def stacked(field: str) -> np.ndarray:
        return np.stack([np.stack([getattr(s, field) for s in row]) for row in runs])  # (N, M, ...)

    return StepsSweep(
        tokens=tokens,
        token_ids=token_ids.copy(),
        temperatures=temperatures,
        x=first.x,
        q=first.q,
        k=first.k,
        v=first.v,
        scores=first.scores,
        scaled=np.stack([row[0].scaled for row in runs]),  # (N, H, T, T)
        masked=stacked("masked"),
        weights=stacked("weights"),
        weighted=stacked("weighted"),
        concat=stacked("concat"),
        out=stacked("out"),
    )
