"""Data the book trains on: a character tokenizer, corpora the project generates itself, and batching."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from ._checks import as_int_array, check_choice, check_int, check_real

__all__ = [
    "ADJECTIVES",
    "NOUNS",
    "VERBS",
    "CharTokenizer",
    "Dataset",
    "copy_task",
    "get_batch",
    "grammar_corpus",
    "make_dataset",
    "make_sentence",
    "normalize_data_spec",
    "repeated_random_sequences",
    "reverse_task",
    "train_val_split",
]

# The sentence-builder vocabulary, shared with the "tokens" chapter. Nouns take a plain "-s" plural and
# verbs are third-person singular forms whose plural form drops the final "s", so the grammar below can
# make subjects and verbs agree (a long-range dependency attention has to learn).
ADJECTIVES = ("big", "small", "red", "old", "young", "happy", "quiet", "clever")
NOUNS = ("cat", "dog", "bird", "frog", "king", "queen", "girl", "boy")
VERBS = ("sees", "likes", "chases", "finds", "helps", "follows", "loves", "hears")


# ----------------------------------------------------------------------------------------------------
# Character tokenizer


class CharTokenizer:
    """Map characters to integer ids and back, one id per character.

    Parameters
    ----------
    chars : str
        The vocabulary in id order (character ``chars[i]`` has id ``i``); characters must be unique.
    unk : str, optional
        A single character used by ``encode(..., unknown="replace")`` in place of characters outside the
        vocabulary. It is appended to the vocabulary if it is not already in it.
    """

    def __init__(self, chars: str, unk: str | None = None):
        if not isinstance(chars, str):
            raise TypeError(f"chars must be a str, got {type(chars).__name__}")
        if unk is not None:
            if not isinstance(unk, str) or len(unk) != 1:
                raise ValueError(f"unk must be a single character, got {unk!r}")
            if unk not in chars:
                chars = chars + unk
        if not chars:
            raise ValueError("chars must contain at least one character")
        if len(set(chars)) != len(chars):
            dup = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"chars must be unique, got duplicates {dup!r}")
        self.chars = chars
        self.unk = unk
        self.stoi = {c: i for i, c in enumerate(chars)}
        self.itos = dict(enumerate(chars))
        # Sorted code points and their ids let encode() work on whole arrays instead of per character.
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        order = np.argsort(codes)
        self._codes = codes[order]
        self._ids = order.astype(np.int64)

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> CharTokenizer:
        """Build a tokenizer whose vocabulary is the sorted set of characters in ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return cls("".join(sorted(set(text))), unk=unk)

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids, ``V``."""
        return len(self.chars)

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """Turn ``text`` into ids.

        Parameters
        ----------
        text : str
        unknown : {"error", "replace", "skip"}
            What to do with characters outside the vocabulary: raise a ``ValueError`` listing them
            (default), replace them by the ``unk`` character given at construction, or drop them.

        Returns
        -------
        ids : ndarray of int64, shape (T,)
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        check_choice("unknown", unknown, ("error", "replace", "skip"))
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        pos = np.searchsorted(self._codes, codes).clip(0, len(self._codes) - 1)
        known = self._codes[pos] == codes
        ids = self._ids[pos]
        if not known.all():
            if unknown == "error":
                bad = sorted({chr(c) for c in codes[~known]})
                raise ValueError(
                    f"text contains {len(bad)} character(s) not in the vocabulary: {bad!r} "
                    "(use unknown='replace' with a tokenizer built with unk=..., or unknown='skip')"
                )
            if unknown == "replace":
                if self.unk is None:
                    raise ValueError("unknown='replace' needs a tokenizer built with unk=<character>")
                ids = np.where(known, ids, self.stoi[self.unk])
            else:
                ids = ids[known]
        return ids

    def decode(self, ids) -> str:
        """Turn ids of shape (T,) back into a string (ids of shape (B, T) give a list of B strings)."""
        ids = as_int_array("ids", ids, low=0, high=self.vocab_size)
        if ids.ndim == 2:
            return [self.decode(row) for row in ids]
        if ids.ndim != 1:
            raise ValueError(f"ids must have shape (T,) or (B, T), got shape {ids.shape}")
        return "".join(self.chars[i] for i in ids.tolist())

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (for checkpoints)."""
        return {"chars": self.chars, "unk": self.unk}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CharTokenizer:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(d, Mapping) or "chars" not in d:
            raise ValueError("tokenizer description must be a mapping with a 'chars' entry")
        return cls(d["chars"], unk=d.get("unk"))

    def __eq__(self, other) -> bool:
        return isinstance(other, CharTokenizer) and (self.chars, self.unk) == (other.chars, other.unk)

    def __hash__(self) -> int:
        return hash((self.chars, self.unk))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, chars={self.chars!r})"


# ----------------------------------------------------------------------------------------------------
# Corpora


def _plural(noun: str) -> str:
    return noun + "s"


def _base(verb: str) -> str:
    return verb[:-1]  # "sees" -> "see": the form that agrees with a plural subject


def make_sentence(
    adjective: str | None,
    noun: str,
    verb: str,
    object_adjective: str | None = None,
    object_noun: str | None = None,
    *,
    plural: bool = False,
) -> str:
    """Build one sentence of the grammar, e.g. ``"the big cat sees the small dog."``.

    Words must come from :data:`ADJECTIVES`, :data:`NOUNS` and :data:`VERBS` (adjectives may be ``None``).
    With ``plural=True`` the subject is plural and the verb agrees (``"the big cats see ..."``).
    """
    if adjective is not None:
        check_choice("adjective", adjective, ADJECTIVES)
    check_choice("noun", noun, NOUNS)
    check_choice("verb", verb, VERBS)
    if object_adjective is not None:
        check_choice("object_adjective", object_adjective, ADJECTIVES)
    if object_noun is not None:
        check_choice("object_noun", object_noun, NOUNS)
    elif object_adjective is not None:
        raise ValueError("object_adjective needs an object_noun")
    subject = _plural(noun) if plural else noun
    words = ["the"] + ([adjective] if adjective else []) + [subject, _base(verb) if plural else verb]
    if object_noun is not None:
        words += ["the"] + ([object_adjective] if object_adjective else []) + [object_noun]
    return " ".join(words) + "."


def grammar_corpus(n_sentences: int, seed: int) -> str:
    """Generate ``n_sentences`` sentences of a small English grammar, one per line.

    Sentences are ``the [ADJ] NOUN VERB the [ADJ] NOUN.`` with singular or plural nouns, and sometimes a
    coordinated subject (``the cat and the dog see ...``); the verb always agrees with its subject.
    The same ``(n_sentences, seed)`` always gives the same text.
    """
    n_sentences = check_int("n_sentences", n_sentences, low=1)
    seed = check_int("seed", seed, low=0)
    rng = np.random.default_rng(seed)

    def noun_phrase(plural: bool) -> str:
        adj = ADJECTIVES[rng.integers(len(ADJECTIVES))] + " " if rng.random() < 0.5 else ""
        noun = NOUNS[rng.integers(len(NOUNS))]
        return f"the {adj}{_plural(noun) if plural else noun}"

    lines = []
    for _ in range(n_sentences):
        if rng.random() < 0.2:
            subject = f"{noun_phrase(False)} and {noun_phrase(False)}"
            subject_plural = True
        else:
            subject_plural = bool(rng.random() < 0.4)
            subject = noun_phrase(subject_plural)
        verb = VERBS[rng.integers(len(VERBS))]
        obj = noun_phrase(bool(rng.random() < 0.4))
        lines.append(f"{subject} {_base(verb) if subject_plural else verb} {obj}.")
    return "\n".join(lines) + "\n"


def _check_task(n, seq_len, vocab_size, seed, min_vocab):
    n = check_int("n", n, low=1)
    seq_len = check_int("seq_len", seq_len, low=1)
    vocab_size = check_int("vocab_size", vocab_size, low=min_vocab)
    seed = check_int("seed", seed, low=0)
    return n, seq_len, vocab_size, np.random.default_rng(seed)


def copy_task(n: int, seq_len: int, vocab_size: int, seed: int) -> np.ndarray:
    """Rows ``x SEP x``: a random sequence, a separator, then the same sequence again.

    Content tokens are drawn uniformly from ``[0, vocab_size - 1)``; the separator is ``vocab_size - 1``.

    Returns
    -------
    rows : ndarray of int64, shape (n, 2 * seq_len + 1)
    """
    n, seq_len, vocab_size, rng = _check_task(n, seq_len, vocab_size, seed, 3)
    x = rng.integers(0, vocab_size - 1, size=(n, seq_len))  # (n, L)
    sep = np.full((n, 1), vocab_size - 1, dtype=np.int64)
    return np.concatenate([x, sep, x], axis=1).astype(np.int64)  # (n, 2L + 1)


def reverse_task(n: int, seq_len: int, vocab_size: int, seed: int) -> np.ndarray:
    """Rows ``x SEP reversed(x)``; tokens and separator as in :func:`copy_task`.

    Returns
    -------
    rows : ndarray of int64, shape (n, 2 * seq_len + 1)
    """
    n, seq_len, vocab_size, rng = _check_task(n, seq_len, vocab_size, seed, 3)
    x = rng.integers(0, vocab_size - 1, size=(n, seq_len))  # (n, L)
    sep = np.full((n, 1), vocab_size - 1, dtype=np.int64)
    return np.concatenate([x, sep, x[:, ::-1]], axis=1).astype(np.int64)  # (n, 2L + 1)


def repeated_random_sequences(n: int, seq_len: int, vocab_size: int, seed: int) -> np.ndarray:
    """Rows ``r r``: a uniformly random sequence followed by an exact repeat (induction-head data).

    The first half is unpredictable; the second half is predictable only by finding the earlier
    occurrence of the current token and copying what followed it (Olsson et al. 2022).

    Returns
    -------
    rows : ndarray of int64, shape (n, 2 * seq_len)
    """
    n, seq_len, vocab_size, rng = _check_task(n, seq_len, vocab_size, seed, 2)
    r = rng.integers(0, vocab_size, size=(n, seq_len))  # (n, L)
    return np.concatenate([r, r], axis=1).astype(np.int64)  # (n, 2L)


# ----------------------------------------------------------------------------------------------------
# Batching and splits


def _check_data(name: str, data) -> np.ndarray:
    data = as_int_array(name, data, low=0)
    if data.ndim not in (1, 2):
        raise ValueError(f"{name} must be a token stream (N,) or rows of examples (N, L), got {data.shape}")
    return data


def get_batch(data, block_size: int, batch_size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Draw a batch of inputs and next-token targets.

    Parameters
    ----------
    data : ndarray of int, shape (N,) or (N, L)
        A token stream, from which random windows are cut, or rows of examples (``L >= block_size + 1``),
        of which random rows are taken, always from their first token.
    block_size : int
        ``T``, the length of each input.
    batch_size : int
        ``B``.
    rng : numpy.random.Generator or int
        Source of randomness (an int is used as a seed).

    Returns
    -------
    x, y : ndarray of int64, shape (B, T)
        ``y`` is ``x`` shifted one position to the left.
    """
    data = _check_data("data", data)
    block_size = check_int("block_size", block_size, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    rng = _as_rng(rng)
    if data.ndim == 1:
        if data.shape[0] < block_size + 1:
            raise ValueError(
                f"data has {data.shape[0]} tokens, needs at least block_size + 1 = {block_size + 1}"
            )
        starts = rng.integers(0, data.shape[0] - block_size, size=batch_size)  # (B,)
        window = starts[:, None] + np.arange(block_size + 1)  # (B, T + 1)
        chunk = data[window]
    else:
        if data.shape[1] < block_size + 1:
            raise ValueError(
                f"data rows have length {data.shape[1]}, need at least block_size + 1 = {block_size + 1}"
            )
        rows = rng.integers(0, data.shape[0], size=batch_size)  # (B,)
        chunk = data[rows, : block_size + 1]  # (B, T + 1)
    chunk = chunk.astype(np.int64, copy=False)
    return chunk[:, :-1], chunk[:, 1:]


def _as_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def train_val_split(data, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split a token stream (N,) at its end, or rows (N, L) by their last rows, into train and validation.

    No shuffling: the generated corpora are already in random order, and a contiguous split keeps
    validation windows from overlapping training windows.
    """
    data = _check_data("data", data)
    val_fraction = check_real("val_fraction", val_fraction, low=0.0, high=1.0, low_inclusive=False)
    n = data.shape[0]
    n_val = int(round(n * val_fraction))
    if n_val < 1 or n_val >= n:
        raise ValueError(f"val_fraction={val_fraction} leaves an empty split of {n} items")
    return data[: n - n_val], data[n - n_val :]


class Dataset(NamedTuple):
    """Train and validation arrays plus what is needed to read them."""

    train: np.ndarray  # (N,) token stream or (N, L) rows
    val: np.ndarray
    vocab_size: int
    tokenizer: CharTokenizer | None  # None for the algorithmic tasks, whose tokens are plain ids


_SPEC_DEFAULTS: dict[str, dict[str, Any]] = {
    "grammar": {"n_sentences": 2000, "seed": 0, "val_fraction": 0.1},
    "text": {"text": None, "val_fraction": 0.1},
    "copy": {"n": 2000, "seq_len": 8, "vocab_size": 10, "seed": 0, "val_fraction": 0.1},
    "reverse": {"n": 2000, "seq_len": 8, "vocab_size": 10, "seed": 0, "val_fraction": 0.1},
    "repeated": {"n": 2000, "seq_len": 16, "vocab_size": 32, "seed": 0, "val_fraction": 0.1},
}


def normalize_data_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in defaults and validate a data spec, so equal datasets get equal specs (used as cache keys).

    A spec is a JSON-serialisable mapping with a ``"kind"`` among ``"grammar"``, ``"text"``, ``"copy"``,
    ``"reverse"``, ``"repeated"`` and the arguments of the matching generator (see ``_SPEC_DEFAULTS``).
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"data_spec must be a mapping, got {type(spec).__name__}")
    kind = check_choice("data_spec['kind']", spec.get("kind"), tuple(_SPEC_DEFAULTS))
    defaults = _SPEC_DEFAULTS[kind]
    unknown = sorted(set(spec) - set(defaults) - {"kind"})
    if unknown:
        raise ValueError(
            f"data_spec for kind {kind!r} has unknown keys {unknown}; valid keys: {sorted(defaults)}"
        )
    out = {"kind": kind, **defaults, **{k: v for k, v in spec.items() if k != "kind"}}
    if kind == "text" and not isinstance(out["text"], str):
        raise ValueError("data_spec of kind 'text' needs a 'text' string")
    json.dumps(out)  # refuse specs that cannot be hashed as JSON
    return out


def make_dataset(spec: Mapping[str, Any]) -> Dataset:
    """Build the dataset described by a data spec (see :func:`normalize_data_spec`).

    Character corpora (``grammar``, ``text``) come back as token streams with their tokenizer;
    algorithmic tasks come back as rows of examples with ``tokenizer=None``.
    """
    s = normalize_data_spec(spec)
    kind = s["kind"]
    if kind in ("grammar", "text"):
        text = grammar_corpus(s["n_sentences"], s["seed"]) if kind == "grammar" else s["text"]
        tok = CharTokenizer.from_text(text)
        train, val = train_val_split(tok.encode(text), s["val_fraction"])
        return Dataset(train, val, tok.vocab_size, tok)
    make = {"copy": copy_task, "reverse": reverse_task, "repeated": repeated_random_sequences}[kind]
    rows = make(s["n"], s["seq_len"], s["vocab_size"], s["seed"])
    train, val = train_val_split(rows, s["val_fraction"])
    return Dataset(train, val, s["vocab_size"], None)
