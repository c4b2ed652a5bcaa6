"""Chapter 9's experiment: all-MiniLM-L6-v2's attention on a few preset sentences, every head's pattern statistics
and their ranks (Clark et al. 2019), and raw attention beside attention rollout (Abnar & Zuidema 2020).

The model runs in :mod:`attnbook.pretrained.minilm`, the statistics in :mod:`attnbook.pretrained.patterns` and
:mod:`attnbook.pretrained.rollout`; this module only applies them to a set of sentences, for the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_tokens
from ..pretrained.patterns import HeadStatistics, head_statistics, rank_heads
from ..pretrained.rollout import attention_rollout, attention_shares, raw_attention

__all__ = [
    "PRESETS",
    "STATISTICS",
    "AttentionSweep",
    "SentenceAttention",
    "attention_sweep",
    "encode_presets",
    "preset_label",
]

# Sentences the chapter offers: (text, text_pair or None). Two pairs carry [SEP] in the middle and token
# type 1 after it; "bank", "flies", "like", "the" and "eiffel tower" repeat, so the same-word statistic has
# something to find; commas and semicolons give the punctuation statistic keys.
PRESETS: tuple[tuple[str, str | None], ...] = (
    ("The cat sat on the mat because it was tired.", None),
    ("The keys to the old cabinet are on the table.", None),
    ("I sat on the river bank, then walked to the bank to get money.", None),
    ("Time flies like an arrow; fruit flies like a banana.", None),
    ("She said that the book, which I lent her, was boring.", None),
    ("Where is the Eiffel Tower?", "The Eiffel Tower is in Paris, France."),
    ("A man is playing a guitar.", "Someone is playing music on stage."),
)

# The head statistics, in order: the patterns (large = the head shows it), then entropy (low = focused).
STATISTICS = HeadStatistics._fields


class SentenceAttention(NamedTuple):
    """One sentence: its label, its tokens and every head's attention weights."""

    label: str
    tokens: tuple[str, ...]  # T tokens, e.g. ("[CLS]", "the", ..., "[SEP]")
    attentions: np.ndarray  # (L, H, T, T), rows are queries and sum to 1


class AttentionSweep(NamedTuple):
    """Every sentence's attention and what the chapter computes from it; per-sentence arrays lead with n."""

    labels: tuple[str, ...]  # n sentence labels
    tokens: tuple[tuple[str, ...], ...]  # n token tuples, T_s each
    attentions: tuple[np.ndarray, ...]  # n arrays (L, H, T_s, T_s)
    statistic_names: tuple[str, ...]  # the S statistics, in order (STATISTICS)
    statistics: np.ndarray  # (n, S, L, H): head_statistics, S = len(STATISTICS)
    ranks: np.ndarray  # (n, S, L, H) int32: 1 = the strongest head (entropy: the lowest)
    mean_statistics: np.ndarray  # (S, L, H): the statistics averaged over the n sentences
    mean_ranks: np.ndarray  # (S, L, H) int32: ranks of the averaged statistics
    raw: tuple[np.ndarray, ...]  # n arrays (L, T_s, T_s): head mean of each layer
    rollout: tuple[np.ndarray, ...]  # n arrays (2, L, T_s, T_s): rollout without, with the residual term
    shares: np.ndarray  # (n, 3, L, 3): raw, rollout without, with residual; self, [CLS], [SEP] (SHARES)


def preset_label(text: str, text_pair: str | None = None) -> str:
    """The label of a preset: the text, and ``" ‖ "`` plus the pair when there is one."""
    if not isinstance(text, str) or (text_pair is not None and not isinstance(text_pair, str)):
        raise TypeError("text and text_pair must be str (text_pair may be None)")
    return text if text_pair is None else f"{text} ‖ {text_pair}"


def encode_presets(presets: Sequence[tuple[str, str | None]] = PRESETS) -> list[SentenceAttention]:
    """Run all-MiniLM-L6-v2 (float32) on each ``(text, text_pair)`` and keep its tokens and attention weights."""
    from ..pretrained import minilm  # needs the optional extra and the weights package

    if isinstance(presets, str) or not isinstance(presets, Sequence) or not presets:
        raise TypeError("presets must be a non-empty sequence of (text, text_pair) pairs")
    out = []
    for k, preset in enumerate(presets):
        if not isinstance(preset, tuple) or len(preset) != 2:
            raise TypeError(f"presets[{k}] must be a (text, text_pair) tuple, got {preset!r}")
        enc = minilm.encode(*preset)
        out.append(SentenceAttention(preset_label(*preset), tuple(enc.tokens), enc.attentions))
    return out


def _check_sentences(sentences) -> list[SentenceAttention]:
    """Validate the sentences: labels, tokens and (L, H, T, T) weights with one L and H for all."""
    if (
        isinstance(sentences, (str, SentenceAttention))
        or not isinstance(sentences, Sequence)
        or not sentences
    ):
        raise TypeError("sentences must be a non-empty sequence of SentenceAttention")
    out, shape_lh = [], None
    for k, s in enumerate(sentences):
        if not isinstance(s, SentenceAttention):
            raise TypeError(f"sentences[{k}] must be a SentenceAttention, got {type(s).__name__}")
        if not isinstance(s.label, str) or not s.label:
            raise TypeError(f"sentences[{k}].label must be a non-empty str")
        a = as_float_array(f"sentences[{k}].attentions", s.attentions, ndim=4)
        L, H, T, Tk = a.shape
        if T != Tk or T < 2 or L < 1 or H < 1:
            raise ValueError(
                f"sentences[{k}].attentions must have shape (L, H, T, T) with T >= 2, got {a.shape}"
            )
        if shape_lh is not None and (L, H) != shape_lh:
            raise ValueError(
                f"sentences[{k}].attentions has (L, H) = {(L, H)}, the first sentence {shape_lh}"
            )
        shape_lh = (L, H)
        if a.min() < -1e-6 or a.max() > 1 + 1e-6:
            raise ValueError(f"sentences[{k}].attentions must be softmax weights in [0, 1]")
        tokens = check_tokens(f"sentences[{k}].tokens", s.tokens, T)
        out.append(SentenceAttention(s.label, tokens, a))
    labels = [s.label for s in out]
    if len(set(labels)) != len(labels):
        raise ValueError("sentences must have distinct labels")
    return out


def attention_sweep(sentences: Sequence[SentenceAttention]) -> AttentionSweep:
    """Head statistics, ranks, raw attention, rollout and token shares of every sentence.

    Parameters
    ----------
    sentences : sequence of SentenceAttention
        Attention weights ``(L, H, T, T)`` of each sentence (T may differ), one L and H for all.

    Returns
    -------
    sweep : AttentionSweep
        Arrays in the dtype of the first sentence's weights.
    """
    sentences = _check_sentences(sentences)
    per = [head_statistics(s.attentions, s.tokens) for s in sentences]
    mean = HeadStatistics(*(np.mean([getattr(p, f) for p in per], axis=0) for f in STATISTICS))
    raw = tuple(raw_attention(s.attentions) for s in sentences)  # (L, T, T) each
    rolled = tuple(
        np.stack([attention_rollout(s.attentions, residual=r) for r in (False, True)]) for s in sentences
    )  # (2, L, T, T) each
    shares = np.stack(
        [
            attention_shares(np.concatenate([r[None], m]), s.tokens)  # (3, L, 3)
            for s, r, m in zip(sentences, raw, rolled, strict=True)
        ]
    )
    return AttentionSweep(
        labels=tuple(s.label for s in sentences),
        tokens=tuple(s.tokens for s in sentences),
        attentions=tuple(s.attentions for s in sentences),
        statistic_names=STATISTICS,
        statistics=np.stack([np.stack(p) for p in per]),  # (n, S, L, H)
        ranks=np.stack([np.stack(rank_heads(p)) for p in per]),  # (n, S, L, H)
        mean_statistics=np.stack(mean),
        mean_ranks=np.stack(rank_heads(mean)),
        raw=raw,
        rollout=rolled,
        shares=shares,
    )
