"""The word-level vocabulary of the book's example sentences (built from the sentence-builder word lists)."""

from __future__ import annotations

import numpy as np

from .data import ADJECTIVES, NOUNS, VERBS

__all__ = ["WORDS", "word_ids", "word_table"]

# Id 0 is padding; then articles, the three word classes of the sentence builder, and the full stop.
WORDS: tuple[str, ...] = ("<pad>", "the", "a", *ADJECTIVES, *NOUNS, *VERBS, ".")
_INDEX = {w: i for i, w in enumerate(WORDS)}


def word_ids(sentence: str) -> tuple[list[str], np.ndarray]:
    """Split ``sentence`` on white space and return its tokens and their ids in :data:`WORDS`.

    Raises
    ------
    ValueError
        If the sentence is empty or uses a word outside the vocabulary (the message lists them).
    """
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    tokens = sentence.replace(".", " .").split()
    if not tokens:
        raise ValueError("sentence must contain at least one word")
    unknown = sorted({t for t in tokens if t not in _INDEX})
    if unknown:
        raise ValueError(f"sentence uses words outside the vocabulary: {unknown}; known words: {WORDS[1:]}")
    return tokens, np.array([_INDEX[t] for t in tokens], dtype=np.int64)


def word_table(d_model: int, seed: int, dtype=np.float64) -> np.ndarray:
    """A random embedding table ``(V, C)`` with entries N(0, 1), one row per word of :data:`WORDS`."""
    from ._checks import check_int

    d_model = check_int("d_model", d_model, low=1)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    return rng.standard_normal((len(WORDS), d_model)).astype(dtype)
