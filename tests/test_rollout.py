"""Attention rollout (Abnar & Zuidema 2020) and the head-pattern statistics, on hand-built attention."""

import numpy as np
import pytest

from attnbook.pretrained import patterns, rollout


def _random_attention(L, H, T, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(T), size=(L, H, T)).astype(dtype)  # (L, H, T, T), rows sum to 1


def _uniform(L, H, T):
    return np.full((L, H, T, T), 1.0 / T)


# ----------------------------------------------------------------------------------------------- rollout


@pytest.mark.parametrize("residual", [True, False])
def test_rollout_rows_sum_to_one(residual):
    a = _random_attention(4, 3, 7)
    r = rollout.attention_rollout(a, residual=residual)
    assert r.shape == (4, 7, 7)
    assert np.all(r >= 0)
    np.testing.assert_allclose(r.sum(axis=-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("residual", [True, False])
def test_identity_attention_gives_identity_rollout(residual):
    a = np.broadcast_to(np.eye(5), (3, 2, 5, 5)).copy()
    r = rollout.attention_rollout(a, residual=residual)
    np.testing.assert_array_equal(r, np.broadcast_to(np.eye(5), (3, 5, 5)))


def test_hand_computed_two_layers():
    # Layer 0: token 0 sees itself, token 1 splits evenly; layer 1: token 0 splits, token 1 sees itself.
    a0 = np.array([[1.0, 0.0], [0.5, 0.5]])
    a1 = np.array([[0.5, 0.5], [0.0, 1.0]])
    a = np.stack([a0, a1])[:, None]  # (L=2, H=1, T=2, T=2)
    r = rollout.attention_rollout(a)
    # (A + I) / 2: Â0 = [[1, 0], [.25, .75]], Â1 = [[.75, .25], [0, 1]]; rollout = Â1 @ Â0 (by hand).
    np.testing.assert_allclose(r[0], [[1.0, 0.0], [0.25, 0.75]], atol=1e-15)
    np.testing.assert_allclose(r[1], [[0.8125, 0.1875], [0.25, 0.75]], atol=1e-15)
    # Without the residual term it is the plain product A1 @ A0 = [[.75, .25], [.5, .5]].
    np.testing.assert_allclose(rollout.attention_rollout(a, residual=False)[1], [[0.75, 0.25], [0.5, 0.5]])


def test_heads_are_averaged_before_the_product():
    # Two heads that are each a permutation average to uniform; the product of uniforms is uniform.
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    a = np.stack([np.stack([np.eye(2), swap])] * 3)  # (3, 2, 2, 2)
    np.testing.assert_allclose(rollout.raw_attention(a), np.full((3, 2, 2), 0.5))
    np.testing.assert_allclose(rollout.attention_rollout(a, residual=False), np.full((3, 2, 2), 0.5))


def test_rollout_renormalises_rows():
    """Rows that do not sum to 1 (e.g. quantised weights) still give distributions."""
    a = 0.9 * _random_attention(2, 2, 4)
    np.testing.assert_allclose(rollout.attention_rollout(a).sum(axis=-1), 1.0, atol=1e-12)


def test_raw_attention_is_head_mean_and_keeps_dtype():
    a = _random_attention(2, 3, 4, dtype=np.float32)
    raw = rollout.raw_attention(a)
    assert raw.dtype == np.float32 and raw.shape == (2, 4, 4)
    np.testing.assert_allclose(raw[1], (a[1, 0] + a[1, 1] + a[1, 2]) / 3, rtol=1e-6)
    assert rollout.attention_rollout(a).dtype == np.float32


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (np.ones((2, 3, 3)) / 3, ValueError, "4 dimensions"),
        (np.ones((2, 1, 3, 4)) / 4, ValueError, "square"),
        (-_uniform(1, 1, 3), ValueError, "non-negative"),
        (np.ones((1, 1, 2, 2), dtype=int), TypeError, "floating"),
        (np.full((1, 1, 2, 2), np.nan), ValueError, "finite"),
        (np.ones((0, 1, 2, 2)), ValueError, "L, H, T >= 1"),
    ],
)
def test_rollout_validates(bad, error, match):
    with pytest.raises(error, match=match):
        rollout.attention_rollout(bad)
    with pytest.raises(error, match=match):
        rollout.raw_attention(bad)


def test_rollout_residual_must_be_bool():
    with pytest.raises(TypeError, match="residual"):
        rollout.attention_rollout(_uniform(1, 1, 2), residual=1)


# ---------------------------------------------------------------------------------------------- patterns

TOKENS = ["[CLS]", "the", "cat", "saw", "the", "dog", ",", "[SEP]"]  # T = 8


def _shift(T, offset):
    """Attention where query i looks only at key i + offset (clamped to itself at the edge)."""
    m = np.zeros((T, T))
    for i in range(T):
        j = i + offset
        m[i, j if 0 <= j < T else i] = 1.0
    return m


def _with_head(layer, head, matrix, L=2, H=3):
    a = _uniform(L, H, matrix.shape[0])
    a[layer, head] = matrix
    return a


def test_perfect_previous_token_head_is_found():
    a = _with_head(1, 2, _shift(8, -1))
    stats = patterns.head_statistics(a, TOKENS)
    assert stats.previous_token.shape == (2, 3)
    assert stats.previous_token[1, 2] == pytest.approx(1.0)
    assert stats.previous_token[0, 0] == pytest.approx(1 / 8)
    top = patterns.top_heads(stats, k=2)
    assert top["previous_token"][0] == patterns.HeadScore(1, 2, pytest.approx(1.0))
    assert top["entropy"][0][:2] == (1, 2)  # one key per row: the most focused head


def test_perfect_next_token_head_is_found():
    a = _with_head(0, 1, _shift(8, +1))
    stats = patterns.head_statistics(a, TOKENS)
    assert stats.next_token[0, 1] == pytest.approx(1.0)
    assert stats.previous_token[0, 1] == pytest.approx(0.0)
    assert patterns.top_heads(stats)["next_token"][0][:2] == (0, 1)


def test_cls_and_sep_sinks():
    cls_head = np.zeros((8, 8))
    cls_head[:, 0] = 1.0
    tokens = ["[CLS]", "a", "b", "[SEP]", "c", "d", "e", "[SEP]"]
    sep_head = np.zeros((8, 8))
    sep_head[:, 3] = sep_head[:, 7] = 0.5  # split between the two [SEP]s: still all on [SEP]
    a = _with_head(0, 0, cls_head)
    a[1, 1] = sep_head
    stats = patterns.head_statistics(a, tokens)
    assert stats.cls[0, 0] == pytest.approx(1.0) and stats.sep[0, 0] == pytest.approx(0.0)
    assert stats.sep[1, 1] == pytest.approx(1.0) and stats.cls[1, 1] == pytest.approx(0.0)
    assert stats.sep[0, 2] == pytest.approx(2 / 8)  # uniform head: 2 of 8 keys are [SEP]
    top = patterns.top_heads(stats, k=1)
    assert top["cls"] == [patterns.HeadScore(0, 0, pytest.approx(1.0))]
    assert top["sep"][0][:2] == (1, 1)


def test_same_word_head():
    m = np.full((8, 8), 1 / 8)
    m[1] = m[4] = 0.0
    m[1, 4] = m[4, 1] = 1.0  # each "the" looks at the other "the"
    stats = patterns.head_statistics(_with_head(1, 0, m), TOKENS)
    assert stats.same_word[1, 0] == pytest.approx(1.0)  # averaged over the two "the" queries only
    assert stats.same_word[0, 0] == pytest.approx(1 / 8)
    assert patterns.top_heads(stats)["same_word"][0][:2] == (1, 0)


def test_same_word_ignores_special_tokens_and_is_zero_without_repeats():
    tokens = ["[CLS]", "a", "[SEP]", "b", "[SEP]"]  # only [SEP] repeats
    stats = patterns.head_statistics(_uniform(1, 2, 5), tokens)
    np.testing.assert_array_equal(stats.same_word, 0.0)


def test_punctuation_head():
    m = np.zeros((8, 8))
    m[:, 6] = 1.0  # every query on ","
    stats = patterns.head_statistics(_with_head(0, 2, m), TOKENS)
    assert stats.punctuation[0, 2] == pytest.approx(1.0)
    assert stats.punctuation[1, 0] == pytest.approx(1 / 8)


@pytest.mark.parametrize(
    ("token", "expected"),
    [(",", True), ("...", True), ("'", True), ("—", True), ("##.", True), ("a", False), ("[SEP]", False)]
    + [("$", False), ("##s", False), ("", False), ("3.5", False)],
)
def test_is_punctuation(token, expected):
    assert patterns.is_punctuation(token) is expected


def test_uniform_statistics_and_entropy():
    T = 8
    stats = patterns.head_statistics(_uniform(2, 2, T), TOKENS)
    np.testing.assert_allclose(stats.entropy, np.log(T))
    np.testing.assert_allclose(stats.previous_token, 1 / T)
    np.testing.assert_allclose(stats.cls, 1 / T)


def test_statistics_keep_dtype_and_single_token():
    a = _random_attention(2, 2, 8, dtype=np.float32)
    stats = patterns.head_statistics(a, TOKENS)
    assert all(s.dtype == np.float32 and s.shape == (2, 2) for s in stats)
    one = patterns.head_statistics(np.ones((1, 1, 1, 1)), ["[CLS]"])
    assert one.previous_token[0, 0] == 0.0 and one.cls[0, 0] == 1.0 and one.entropy[0, 0] == 0.0


def test_top_heads_k_and_order():
    stats = patterns.head_statistics(_random_attention(2, 3, 8), TOKENS)
    top = patterns.top_heads(stats, k=100)
    assert set(top) == {*patterns.PATTERNS, "entropy"}
    assert len(top["cls"]) == 6  # only 6 heads exist
    values = [s.value for s in top["cls"]]
    assert values == sorted(values, reverse=True)
    ent = [s.value for s in top["entropy"]]
    assert ent == sorted(ent)


def test_patterns_validate():
    a = _uniform(1, 1, 8)
    with pytest.raises(ValueError, match="length T = 8"):
        patterns.head_statistics(a, TOKENS[:-1])
    with pytest.raises(TypeError, match="tokens"):
        patterns.head_statistics(a, "not a list of tokens")
    with pytest.raises(TypeError, match="only str"):
        patterns.head_statistics(a, [1] * 8)
    with pytest.raises(ValueError, match="4 dimensions"):
        patterns.head_statistics(a[0], TOKENS)
    with pytest.raises(ValueError, match="non-negative"):
        patterns.head_statistics(-a, TOKENS)
    with pytest.raises(ValueError, match="k must be >= 1"):
        patterns.top_heads(patterns.head_statistics(a, TOKENS), k=0)
    with pytest.raises(TypeError, match="HeadStatistics"):
        patterns.top_heads({"cls": np.zeros((1, 1))})


def test_rank_heads_agrees_with_top_heads():
    stats = patterns.head_statistics(_random_attention(2, 3, 8, seed=5), TOKENS)
    ranks = patterns.rank_heads(stats)
    top = patterns.top_heads(stats, k=6)
    for name in patterns.HeadStatistics._fields:
        r = getattr(ranks, name)
        assert r.dtype == np.int32 and r.shape == (2, 3)
        assert sorted(r.ravel().tolist()) == list(range(1, 7))
        assert [r[s.layer, s.head] for s in top[name]] == list(range(1, 7))
    tied = patterns.HeadStatistics(*([np.zeros((1, 3))] * 7))  # ties keep (layer, head) order
    assert patterns.rank_heads(tied).cls.tolist() == [[1, 2, 3]]
    with pytest.raises(TypeError, match="HeadStatistics"):
        patterns.rank_heads({"cls": np.zeros((1, 1))})


def test_attention_shares_by_hand():
    tokens = ["[CLS]", "a", "[SEP]", "b", "[SEP]"]
    m = np.zeros((2, 5, 5))
    m[0] = np.eye(5)  # every query on itself
    m[1, :, 0] = 0.5  # half on [CLS], a quarter on each [SEP]
    m[1, :, [2, 4]] = 0.25
    shares = rollout.attention_shares(m, tokens)
    assert shares.shape == (2, 3) and rollout.SHARES == ("self", "cls", "sep")
    np.testing.assert_allclose(shares[0], [1.0, 0.2, 0.4])  # the [CLS] and [SEP] rows count themselves
    np.testing.assert_allclose(shares[1], [(0.5 + 0.25 + 0.25) / 5, 0.5, 0.5])
    assert rollout.attention_shares(m.astype(np.float32), tokens).dtype == np.float32
    with pytest.raises(ValueError, match="matrices"):
        rollout.attention_shares(np.ones((2, 5, 4)), tokens)
    with pytest.raises(ValueError, match="tokens"):
        rollout.attention_shares(m, tokens[:-1])
