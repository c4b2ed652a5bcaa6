"""Word vectors: co-occurrence counts against a brute-force loop, PPMI by its formula, SVD, the learned table."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnbook.data import ADJECTIVES, NOUNS, VERBS
from attnbook.words import WORDS, word_table
from attnbook.wordvec import (
    WORD_CLASSES,
    class_similarity,
    cooccurrence_counts,
    grammar_sentences,
    learned_word_table,
    ppmi,
    svd_embeddings,
    unit_rows,
)

SMALL = settings(max_examples=30, deadline=None)


def loop_counts(sentences, vocab, window):
    """Every ordered pair of distinct positions within the window, counted one by one."""
    index = {w: i for i, w in enumerate(vocab)}
    out = np.zeros((len(vocab), len(vocab)))
    for s in sentences:
        for p, a in enumerate(s):
            for q, b in enumerate(s):
                if p != q and abs(p - q) <= window and a in index and b in index:
                    out[index[a], index[b]] += 1
    return out


# ----------------------------------------------------------------------------------------------------
# cooccurrence_counts


def test_counts_by_hand():
    vocab = ["a", "b", "c"]
    c1 = cooccurrence_counts(["a b c"], vocab, window=1)
    np.testing.assert_array_equal(c1, [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    c2 = cooccurrence_counts(["a b c"], vocab, window=2)
    np.testing.assert_array_equal(c2, [[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    assert c1.dtype == np.float64


def test_unknown_tokens_keep_their_position_and_pairs_stay_inside_sentences():
    vocab = ["a", "b"]
    assert cooccurrence_counts([["a", "x", "b"]], vocab, window=1).sum() == 0
    np.testing.assert_array_equal(cooccurrence_counts([["a", "x", "b"]], vocab, window=2), [[0, 1], [1, 0]])
    # "a" ends one sentence and "b" starts the next: never a pair
    assert cooccurrence_counts(["b a", "b a"], vocab, window=5)[0, 1] == 2
    np.testing.assert_array_equal(cooccurrence_counts(["a a"], vocab, window=1), [[2, 0], [0, 0]])


def test_full_stop_is_a_token():
    np.testing.assert_array_equal(cooccurrence_counts(["dog."], ["dog", "."], window=1), [[0, 1], [1, 0]])


@SMALL
@given(
    st.lists(st.lists(st.sampled_from("abcdx"), max_size=7), min_size=1, max_size=5),
    st.integers(1, 4),
)
def test_counts_match_loop(sentences, window):
    vocab = ["a", "b", "c", "d"]
    counts = cooccurrence_counts(sentences, vocab, window)
    np.testing.assert_array_equal(counts, loop_counts(sentences, vocab, window))
    np.testing.assert_array_equal(counts, counts.T)


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(sentences=["a"], vocab=["a"], window=0), ValueError),
        (dict(sentences=["a"], vocab=["a"], window=1.0), TypeError),
        (dict(sentences=["a"], vocab=[], window=1), ValueError),
        (dict(sentences=["a"], vocab=["a", "a"], window=1), ValueError),
        (dict(sentences=["a"], vocab="ab", window=1), TypeError),
        (dict(sentences="a b", vocab=["a"], window=1), TypeError),
        (dict(sentences=[3], vocab=["a"], window=1), TypeError),
    ],
)
def test_counts_bad_input(kwargs, err):
    with pytest.raises(err):
        cooccurrence_counts(**kwargs)


# ----------------------------------------------------------------------------------------------------
# ppmi


def test_ppmi_matches_formula():
    counts = np.array([[0.0, 4, 1], [4, 2, 0], [1, 0, 3]])
    total = counts.sum()
    expected = np.zeros_like(counts)
    for i in range(3):
        for j in range(3):
            if counts[i, j] > 0:
                pmi = math.log(counts[i, j] * total / (counts[i].sum() * counts[:, j].sum()))
                expected[i, j] = max(pmi, 0.0)
    np.testing.assert_allclose(ppmi(counts), expected, rtol=1e-12)


def test_ppmi_unseen_rows_are_zero_and_dtype_is_kept():
    counts = np.array([[0, 0, 0], [0, 5, 1], [0, 1, 0]], dtype=np.float32)
    out = ppmi(counts)
    assert out.dtype == np.float32
    assert np.all(out[0] == 0) and np.all(out[:, 0] == 0)
    assert np.all(out >= 0) and np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "counts, err",
    [
        (np.zeros((2, 2)), ValueError),
        (np.array([[1.0, -1.0], [0.0, 1.0]]), ValueError),
        (np.ones((2, 2), dtype=np.int64), TypeError),
        (np.ones(3), ValueError),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError),
    ],
)
def test_ppmi_bad_input(counts, err):
    with pytest.raises(err):
        ppmi(counts)


# ----------------------------------------------------------------------------------------------------
# svd_embeddings, unit_rows


def test_svd_reconstructs_a_low_rank_psd_matrix():
    a = np.random.default_rng(0).standard_normal((6, 3))
    m = a @ a.T  # symmetric, positive semi-definite, rank 3
    e = svd_embeddings(m, 3, normalize=False)
    np.testing.assert_allclose(e @ e.T, m, atol=1e-10)


def test_svd_signs_and_unit_rows():
    m = np.random.default_rng(1).random((7, 7))
    m[2] = 0  # a word never seen
    e = svd_embeddings(m, 4)
    norms = np.linalg.norm(e, axis=1)
    np.testing.assert_allclose(np.delete(norms, 2), 1.0, rtol=1e-12)
    assert np.all(e[2] == 0)
    raw = svd_embeddings(m, 4, normalize=False)
    assert np.all(raw[np.abs(raw).argmax(axis=0), np.arange(4)] > 0)


def test_svd_dtype_and_determinism():
    m = np.random.default_rng(2).random((5, 5)).astype(np.float32)
    assert svd_embeddings(m, 2).dtype == np.float32
    np.testing.assert_array_equal(svd_embeddings(m, 2), svd_embeddings(m.copy(), 2))


@pytest.mark.parametrize(
    "matrix, d_model, kwargs, err",
    [
        (np.ones((3, 3)), 4, {}, ValueError),
        (np.ones((3, 3)), 0, {}, ValueError),
        (np.ones((3, 3)), 2.0, {}, TypeError),
        (np.ones((3, 3)), 2, {"normalize": 1}, TypeError),
        (np.ones((3, 3), dtype=np.int32), 2, {}, TypeError),
    ],
)
def test_svd_bad_input(matrix, d_model, kwargs, err):
    with pytest.raises(err):
        svd_embeddings(matrix, d_model, **kwargs)


def test_unit_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    out = unit_rows(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    with pytest.raises(ValueError):
        unit_rows(np.ones(3))


# ----------------------------------------------------------------------------------------------------
# the corpus and the learned table


def test_grammar_sentences_are_in_the_vocabulary():
    sentences = grammar_sentences(50, seed=3)
    assert len(sentences) == 50
    assert all(s[-1] == "." for s in sentences)
    assert {t for s in sentences for t in s} <= set(WORDS) | {"and"}
    assert grammar_sentences(50, seed=3) == sentences


def test_learned_table_shape_rows_and_determinism():
    e = learned_word_table(8)
    assert e.shape == (len(WORDS), 8) and e.dtype == np.float64
    norms = np.linalg.norm(e, axis=1)
    never_seen = [WORDS.index("<pad>"), WORDS.index("a")]
    np.testing.assert_array_equal(norms[never_seen], 0.0)
    np.testing.assert_allclose(np.delete(norms, never_seen), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(e, learned_word_table(8))
    assert learned_word_table(8, dtype=np.float32).dtype == np.float32


def test_learned_table_groups_word_classes_and_random_does_not():
    within, across = class_similarity(learned_word_table(8))
    assert within > across + 0.3
    within_r, across_r = class_similarity(unit_rows(word_table(8, seed=7)))
    assert abs(within_r - across_r) < 0.2
    # every noun's nearest other word is a noun
    e = learned_word_table(8)
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    for noun in NOUNS:
        assert WORDS[int(sim[WORDS.index(noun)].argmax())] in NOUNS


def test_class_similarity_by_hand():
    table = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [0.0, -1.0]])
    within, across = class_similarity(table, {"x": ["p", "q"], "y": ["r", "s"]}, vocab=["p", "q", "r", "s"])
    assert within == pytest.approx((0.6 + -1.0) / 2)
    assert across == pytest.approx((0.0 + 0.0 + 0.8 - 0.8) / 4)


def test_class_similarity_bad_input():
    table = np.eye(4)
    vocab = ["p", "q", "r", "s"]
    with pytest.raises(ValueError):
        class_similarity(table, {"x": ["p", "q"]}, vocab=vocab)
    with pytest.raises(ValueError):
        class_similarity(table, {"x": ["p", "z"], "y": ["r", "s"]}, vocab=vocab)
    with pytest.raises(ValueError):
        class_similarity(table, {"x": ["p"], "y": ["r", "s"]}, vocab=vocab)
    with pytest.raises(ValueError):
        class_similarity(np.eye(3), vocab=vocab)
    assert set(WORD_CLASSES) == {"adjectives", "nouns", "verbs"}
    assert WORD_CLASSES["adjectives"] == ADJECTIVES and WORD_CLASSES["verbs"] == VERBS
