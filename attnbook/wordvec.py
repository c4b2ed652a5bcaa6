"""Word vectors learned from co-occurrence counts: PPMI and truncated SVD (Levy & Goldberg 2014)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ._checks import as_float_array, check_int
from .data import ADJECTIVES, NOUNS, VERBS, grammar_corpus
from .words import WORDS

__all__ = [
    "WORD_CLASSES",
    "class_similarity",
    "cooccurrence_counts",
    "grammar_sentences",
    "learned_word_table",
    "ppmi",
    "svd_embeddings",
    "unit_rows",
]

# The three word classes of the sentence builder, by name.
WORD_CLASSES: dict[str, tuple[str, ...]] = {"adjectives": ADJECTIVES, "nouns": NOUNS, "verbs": VERBS}

# The grammar corpus also uses plural nouns ("cats") and the verb forms that agree with them ("see");
# the book's vocabulary has one entry per word, so those forms are read as the word they inflect.
_LEMMA = {**{n + "s": n for n in NOUNS}, **{v[:-1]: v for v in VERBS}}


def _tokens(name: str, sentence) -> list[str]:
    if isinstance(sentence, str):
        return sentence.replace(".", " .").split()
    if isinstance(sentence, Sequence) and all(isinstance(t, str) for t in sentence):
        return list(sentence)
    raise TypeError(f"{name} must be a str or a sequence of str tokens, got {type(sentence).__name__}")


def grammar_sentences(n_sentences: int, seed: int) -> list[list[str]]:
    """The sentences of :func:`attnbook.data.grammar_corpus` as token lists in the book's vocabulary.

    The full stop is a token of its own; plural nouns and plural verb forms become the vocabulary word they
    inflect (``"cats" -> "cat"``, ``"see" -> "sees"``); other words (``"and"``) are kept as they are.
    """
    text = grammar_corpus(n_sentences, seed)
    return [[_LEMMA.get(t, t) for t in _tokens("line", line)] for line in text.splitlines() if line.strip()]


def cooccurrence_counts(sentences: Iterable, vocab: Sequence[str], window: int) -> np.ndarray:
    """Count how often two vocabulary words occur within ``window`` positions of each other.

    Pairs are counted inside one sentence only, in both directions (the result is symmetric). A token
    outside ``vocab`` keeps its position (it still separates its neighbours) but is not counted.

    Parameters
    ----------
    sentences : iterable of str or of sequences of str
        A string is split on white space, with ``"."`` as a token of its own.
    vocab : sequence of str, length V
        Unique words; row and column ``i`` of the result belong to ``vocab[i]``.
    window : int
        Largest distance between two counted positions, ``>= 1``.

    Returns
    -------
    counts : (V, V) float64 array
    """
    if (
        isinstance(vocab, str)
        or not isinstance(vocab, Sequence)
        or not all(isinstance(w, str) for w in vocab)
    ):
        raise TypeError("vocab must be a sequence of str")
    if len(vocab) == 0:
        raise ValueError("vocab must contain at least one word")
    if len(set(vocab)) != len(vocab):
        raise ValueError("vocab must not contain duplicate words")
    window = check_int("window", window, low=1)
    if isinstance(sentences, str):
        raise TypeError("sentences must be an iterable of sentences, not a single str")
    index = {w: i for i, w in enumerate(vocab)}
    V = len(vocab)
    counts = np.zeros((V, V), dtype=np.float64)
    for s, sentence in enumerate(sentences):
        ids = np.array([index.get(t, -1) for t in _tokens(f"sentences[{s}]", sentence)], dtype=np.int64)
        for d in range(1, min(window, len(ids) - 1) + 1):
            left, right = ids[:-d], ids[d:]  # every pair of positions at distance d
            keep = (left >= 0) & (right >= 0)
            np.add.at(counts, (left[keep], right[keep]), 1.0)
    return counts + counts.T  # count each pair from both words' point of view


def ppmi(counts) -> np.ndarray:
    """Positive pointwise mutual information of a co-occurrence matrix.

    ``PPMI(w, c) = max(0, log(P(w, c) / (P(w) P(c))))`` with probabilities estimated from the counts;
    cells with a zero count, and rows or columns that were never seen, get 0.

    Parameters
    ----------
    counts : (V, V_c) float array of non-negative counts

    Returns
    -------
    (V, V_c) array of the same dtype
    """
    counts = as_float_array("counts", counts, ndim=2)
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    total = counts.sum()
    if total <= 0:
        raise ValueError("counts must contain at least one positive count")
    p_wc = counts / total  # (V, V_c)
    p_w = p_wc.sum(axis=1, keepdims=True)  # (V, 1)
    p_c = p_wc.sum(axis=0, keepdims=True)  # (1, V_c)
    seen = p_wc > 0
    pmi = np.zeros_like(counts)
    # log of a ratio of positive numbers only where the pair was seen: never log(0) or 0/0
    pmi[seen] = np.log(p_wc[seen] / (p_w * p_c)[seen])
    return np.maximum(pmi, 0).astype(counts.dtype, copy=False)


def unit_rows(x) -> np.ndarray:
    """Scale every row of ``x`` (N, C) to unit Euclidean length; all-zero rows stay zero.

    Of unit rows, the dot product is the cosine similarity.
    """
    x = as_float_array("x", x, ndim=2)
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (N, 1)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def svd_embeddings(matrix, d_model: int, *, normalize: bool = True) -> np.ndarray:
    """Word vectors from the truncated SVD of a word-context matrix (e.g. PPMI), Levy & Goldberg (2014).

    With ``matrix = U S Vᵀ``, the vectors are the first ``d_model`` columns of ``U S^(1/2)`` (the symmetric
    weighting Levy, Goldberg & Dagan 2015 recommend). Each column's sign is fixed so that its largest
    entry is positive, which makes the result independent of the LAPACK build. All-zero rows of
    ``matrix`` (words never seen) get all-zero vectors.

    Parameters
    ----------
    matrix : (V, V_c) float array
    d_model : int
        ``C``, between 1 and ``min(V, V_c)``.
    normalize : bool
        Scale every row to unit length (:func:`unit_rows`), so that dot products are cosines.

    Returns
    -------
    (V, C) array of the dtype of ``matrix``
    """
    matrix = as_float_array("matrix", matrix, ndim=2)
    d_model = check_int("d_model", d_model, low=1, high=min(matrix.shape))
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")
    u, s, _ = np.linalg.svd(matrix.astype(np.float64), full_matrices=False)  # (V, K), (K,)
    u, s = u[:, :d_model], s[:d_model]  # (V, C), (C,)
    flip = np.sign(u[np.abs(u).argmax(axis=0), np.arange(d_model)])  # (C,)
    vectors = u * flip * np.sqrt(s)  # (V, C)
    # A word whose row is all zero (never seen) has the exact vector 0; SVD round-off would leave ~1e-17,
    # which normalising would blow up into an arbitrary unit vector.
    vectors[~matrix.any(axis=1)] = 0
    if normalize:
        vectors = unit_rows(vectors)
    return vectors.astype(matrix.dtype, copy=False)


def learned_word_table(
    d_model: int, *, n_sentences: int = 2000, seed: int = 0, window: int = 2, dtype=np.float64
) -> np.ndarray:
    """The book's learned embedding table: PPMI + SVD on the grammar corpus, unit rows, one per word of WORDS.

    Words that never occur in the corpus (``"<pad>"``, ``"a"``) get an all-zero row: nothing was learned
    about them.

    Returns
    -------
    (V, C) array, V = len(WORDS)
    """
    sentences = grammar_sentences(n_sentences, seed)
    counts = cooccurrence_counts(sentences, WORDS, window)  # (V, V)
    return svd_embeddings(ppmi(counts), d_model).astype(dtype)


def class_similarity(
    table, classes: Mapping[str, Sequence[str]] | None = None, vocab: Sequence[str] = WORDS
) -> tuple[float, float]:
    """Mean dot product of the rows of two different words of one class, and of two words of different classes.

    Parameters
    ----------
    table : (V, C) float array
        One row per word of ``vocab`` (with unit rows, the dot product is the cosine).
    classes : mapping of class name to words, optional
        Defaults to :data:`WORD_CLASSES` (adjectives, nouns, verbs).
    vocab : sequence of str, length V

    Returns
    -------
    within, across : float
    """
    table = as_float_array("table", table, ndim=2)
    vocab = tuple(vocab)
    if table.shape[0] != len(vocab):
        raise ValueError(f"table must have one row per word of vocab (V={len(vocab)}), got {table.shape}")
    classes = WORD_CLASSES if classes is None else classes
    if not isinstance(classes, Mapping) or len(classes) < 2:
        raise ValueError("classes must be a mapping of at least two class names to words")
    index = {w: i for i, w in enumerate(vocab)}
    label = np.full(len(vocab), -1)
    for k, words in enumerate(classes.values()):
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(f"classes use words outside vocab: {unknown}")
        if len(words) < 2:
            raise ValueError("every class needs at least two words")
        label[[index[w] for w in words]] = k
    ids = np.flatnonzero(label >= 0)
    sim = table[ids] @ table[ids].T  # (N, N)
    same = label[ids][:, None] == label[ids][None, :]
    off_diagonal = ~np.eye(len(ids), dtype=bool)
    return float(sim[same & off_diagonal].mean()), float(sim[~same].mean())
