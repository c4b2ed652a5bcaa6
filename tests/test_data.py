"""Tests for attnbook.data: tokenizer, generated corpora, batching and data specs."""

import re

import numpy as np
import pytest

from attnbook.data import (
    ADJECTIVES,
    NOUNS,
    VERBS,
    CharTokenizer,
    copy_task,
    get_batch,
    grammar_corpus,
    make_dataset,
    make_sentence,
    normalize_data_spec,
    repeated_random_sequences,
    reverse_task,
    train_val_split,
)

# ---------------------------------------------------------------------------------------------- tokenizer


def test_tokenizer_round_trip_and_ids():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == " dehlorw"
    assert tok.vocab_size == 8
    ids = tok.encode("hello")
    assert ids.dtype == np.int64
    assert ids.tolist() == [tok.chars.index(c) for c in "hello"]
    assert tok.decode(ids) == "hello"
    assert tok.decode(np.stack([ids, ids[::-1]])) == ["hello", "olleh"]


def test_tokenizer_non_ascii_round_trip():
    text = "naïve café — ∑ 😀"
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text


def test_tokenizer_unknown_characters_are_listed():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=re.escape("['X', 'z']")):
        tok.encode("abzXa")


def test_tokenizer_replace_and_skip():
    tok = CharTokenizer("abc", unk="?")
    assert tok.vocab_size == 4
    assert tok.decode(tok.encode("axb", unknown="replace")) == "a?b"
    assert tok.decode(tok.encode("axb", unknown="skip")) == "ab"
    with pytest.raises(ValueError, match="unk"):
        CharTokenizer("abc").encode("x", unknown="replace")
    with pytest.raises(ValueError, match="unknown"):
        tok.encode("a", unknown="ignore")


def test_tokenizer_bad_input():
    with pytest.raises(ValueError, match="unique"):
        CharTokenizer("aba")
    with pytest.raises(ValueError, match="at least one"):
        CharTokenizer("")
    with pytest.raises(TypeError, match="text"):
        CharTokenizer("ab").encode(b"ab")
    with pytest.raises(ValueError, match="ids"):
        CharTokenizer("ab").decode([0, 2])
    with pytest.raises(TypeError, match="ids"):
        CharTokenizer("ab").decode(np.array([0.0]))


def test_tokenizer_dict_round_trip():
    tok = CharTokenizer("xyz", unk="_")
    assert CharTokenizer.from_dict(tok.to_dict()) == tok


# ---------------------------------------------------------------------------------------------- corpora


def test_vocabulary_constants():
    for words in (ADJECTIVES, NOUNS, VERBS):
        assert len(words) == 8 and len(set(words)) == 8
    assert all(v.endswith("s") for v in VERBS)


def test_make_sentence():
    assert make_sentence("big", "cat", "sees", "small", "dog") == "the big cat sees the small dog."
    assert make_sentence(None, "dog", "likes", None, "king", plural=True) == "the dogs like the king."
    with pytest.raises(ValueError, match="noun"):
        make_sentence("big", "unicorn", "sees")


def test_grammar_corpus_is_deterministic_and_grammatical():
    text = grammar_corpus(200, seed=3)
    assert text == grammar_corpus(200, seed=3)
    assert text != grammar_corpus(200, seed=4)
    lines = text.strip().split("\n")
    assert len(lines) == 200
    singular = set(VERBS)
    plural = {v[:-1] for v in VERBS}
    nouns_sg, nouns_pl = set(NOUNS), {n + "s" for n in NOUNS}
    n_plural_subjects = 0
    for line in lines:
        assert line.startswith("the ") and line.endswith(".")
        words = line[:-1].split()
        (verb_pos,) = [i for i, w in enumerate(words) if w in singular | plural]
        subject = words[:verb_pos]
        is_plural = "and" in subject or subject[-1] in nouns_pl
        n_plural_subjects += is_plural
        assert subject[-1] in nouns_sg | nouns_pl
        # subject-verb agreement
        assert (words[verb_pos] in plural) == is_plural, line
        assert set(words) <= {"the", "and"} | set(ADJECTIVES) | nouns_sg | nouns_pl | singular | plural
    assert 0 < n_plural_subjects < len(lines)


def test_copy_and_reverse_tasks():
    rows = copy_task(50, 6, 7, seed=0)
    assert rows.shape == (50, 13) and rows.dtype == np.int64
    assert np.all(rows[:, 6] == 6)
    assert np.all(rows[:, :6] < 6)
    np.testing.assert_array_equal(rows[:, :6], rows[:, 7:])
    rev = reverse_task(50, 6, 7, seed=0)
    np.testing.assert_array_equal(rev[:, :6], rev[:, 7:][:, ::-1])
    assert np.all(rev[:, 6] == 6)
    np.testing.assert_array_equal(copy_task(50, 6, 7, seed=0), rows)
    with pytest.raises(ValueError, match="vocab_size"):
        copy_task(5, 3, 2, seed=0)


def test_repeated_random_sequences():
    rows = repeated_random_sequences(100, 10, 20, seed=1)
    assert rows.shape == (100, 20)
    np.testing.assert_array_equal(rows[:, :10], rows[:, 10:])
    assert rows.min() >= 0 and rows.max() < 20
    # the first halves are not all the same sequence
    assert len({tuple(r) for r in rows[:, :10]}) > 90
    np.testing.assert_array_equal(rows, repeated_random_sequences(100, 10, 20, seed=1))
    with pytest.raises(TypeError, match="seed"):
        repeated_random_sequences(3, 3, 3, seed=0.5)


# ---------------------------------------------------------------------------------------------- batching


def test_get_batch_stream():
    data = np.arange(100)
    x, y = get_batch(data, 8, 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8) and x.dtype == np.int64
    np.testing.assert_array_equal(y, x + 1)  # consecutive windows shifted by one
    assert y.max() <= 99
    x2, _ = get_batch(data, 8, 5, 0)  # an int seed is accepted and reproducible
    np.testing.assert_array_equal(x, x2)


def test_get_batch_reaches_last_token():
    data = np.arange(10)
    ys = np.concatenate([get_batch(data, 9, 4, s)[1].ravel() for s in range(5)])
    assert ys.max() == 9  # only one window fits: it ends on the last token


def test_get_batch_rows():
    rows = repeated_random_sequences(30, 8, 10, seed=0)
    x, y = get_batch(rows, 15, 4, np.random.default_rng(1))
    assert x.shape == (4, 15)
    for xi, yi in zip(x, y, strict=True):
        (match,) = [r for r in rows if np.array_equal(r[:15], xi)][:1]
        np.testing.assert_array_equal(yi, match[1:16])


def test_get_batch_bad_input():
    with pytest.raises(ValueError, match="block_size"):
        get_batch(np.arange(5), 5, 2, 0)
    with pytest.raises(ValueError, match="block_size"):
        get_batch(np.zeros((3, 4), dtype=int), 4, 2, 0)
    with pytest.raises(TypeError, match="data"):
        get_batch(np.arange(10.0), 3, 2, 0)
    with pytest.raises(TypeError, match="rng"):
        get_batch(np.arange(10), 3, 2, None)
    with pytest.raises(ValueError, match="batch_size"):
        get_batch(np.arange(10), 3, 0, 0)


def test_train_val_split():
    tr, va = train_val_split(np.arange(100), 0.1)
    np.testing.assert_array_equal(tr, np.arange(90))
    np.testing.assert_array_equal(va, np.arange(90, 100))
    rows = np.arange(40).reshape(10, 4)
    tr, va = train_val_split(rows, 0.2)
    assert tr.shape == (8, 4) and va.shape == (2, 4)
    with pytest.raises(ValueError, match="empty"):
        train_val_split(np.arange(3), 0.01)
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(np.arange(30), 1.5)


def test_make_dataset_and_specs():
    ds = make_dataset({"kind": "grammar", "n_sentences": 100, "seed": 1})
    assert ds.tokenizer is not None and ds.vocab_size == ds.tokenizer.vocab_size
    assert ds.train.ndim == 1 and ds.val.ndim == 1
    text = ds.tokenizer.decode(np.concatenate([ds.train, ds.val]))
    assert text == grammar_corpus(100, 1)
    rep = make_dataset({"kind": "repeated", "n": 50, "seq_len": 4, "vocab_size": 6})
    assert rep.tokenizer is None and rep.vocab_size == 6 and rep.train.shape == (45, 8)
    assert normalize_data_spec({"kind": "grammar"}) == normalize_data_spec(
        {"kind": "grammar", "seed": 0, "n_sentences": 2000}
    )
    with pytest.raises(ValueError, match="kind"):
        make_dataset({"kind": "wikipedia"})
    with pytest.raises(ValueError, match=r"unknown keys \['sentences'\]"):
        make_dataset({"kind": "grammar", "sentences": 3})
