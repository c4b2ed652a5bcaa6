"""Chapter 9's experiment: every statistic of the sweep against the library functions it gathers, bad input."""

import numpy as np
import pytest

from attnbook.experiments.pretrained import (
    PRESETS,
    STATISTICS,
    SentenceAttention,
    attention_sweep,
    encode_presets,
    preset_label,
)
from attnbook.pretrained import minilm
from attnbook.pretrained.patterns import HeadStatistics, head_statistics, top_heads
from attnbook.pretrained.rollout import attention_rollout, raw_attention

L, H = 2, 3


def _attention(T, seed):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(T, 0.3), size=(L, H, T)).astype(np.float32)  # (L, H, T, T)


def sentences():
    first = ("[CLS]", "the", "cat", "sat", ",", "the", "end", "[SEP]")
    second = ("[CLS]", "where", "?", "[SEP]", "here", ".", "[SEP]")
    return [
        SentenceAttention("first", first, _attention(8, 0)),
        SentenceAttention("second", second, _attention(7, 1)),
    ]


def test_sweep_gathers_the_library_statistics():
    ss = sentences()
    sweep = attention_sweep(ss)
    assert sweep.labels == ("first", "second") and sweep.statistic_names == STATISTICS
    assert sweep.statistics.shape == (2, len(STATISTICS), L, H) and sweep.ranks.dtype == np.int32
    per = [head_statistics(s.attentions, s.tokens) for s in ss]
    for k, (s, st) in enumerate(zip(ss, per, strict=True)):
        np.testing.assert_array_equal(sweep.statistics[k], np.stack(st))
        top = top_heads(st, L * H)
        for q, name in enumerate(STATISTICS):
            assert [sweep.ranks[k, q, t.layer, t.head] for t in top[name]] == list(range(1, L * H + 1))
        np.testing.assert_array_equal(sweep.raw[k], raw_attention(s.attentions))
        for r, residual in enumerate((False, True)):
            np.testing.assert_array_equal(
                sweep.rollout[k][r], attention_rollout(s.attentions, residual=residual)
            )
        # shares: raw, rollout without / with residual; self, [CLS] (position 0), [SEP] keys
        seps = [j for j, t in enumerate(s.tokens) if t == "[SEP]"]
        for kind, m in enumerate((sweep.raw[k], sweep.rollout[k][0], sweep.rollout[k][1])):
            expected = [
                [np.trace(m[i]) / len(s.tokens), m[i, :, 0].mean(), m[i][:, seps].sum(1).mean()]
                for i in range(L)
            ]
            np.testing.assert_allclose(sweep.shares[k, kind], expected, rtol=1e-5)
    mean = HeadStatistics(*(np.mean([getattr(p, f) for p in per], axis=0) for f in STATISTICS))
    np.testing.assert_allclose(sweep.mean_statistics, np.stack(mean), rtol=1e-6)
    best = top_heads(mean, 1)["previous_token"][0]
    assert sweep.mean_ranks[0, best.layer, best.head] == 1


def test_presets_and_labels():
    assert len(PRESETS) >= 5 and sum(p is not None for _, p in PRESETS) >= 2  # pairs: [SEP] in the middle
    labels = [preset_label(a, b) for a, b in PRESETS]
    assert len(set(labels)) == len(labels)
    assert preset_label("a", "b") == "a ‖ b" and preset_label("a") == "a"
    with pytest.raises(TypeError, match="text"):
        preset_label(3)


def test_encode_presets_runs_minilm():
    (one, pair) = encode_presets([("The cat sat.", None), ("Where?", "Here.")])
    tokens, weights = minilm.attentions("Where?", "Here.")
    assert pair.label == "Where? ‖ Here." and pair.tokens == tuple(tokens)
    np.testing.assert_array_equal(pair.attentions, weights)
    assert one.attentions.shape == (6, 12, len(one.tokens), len(one.tokens))
    with pytest.raises(TypeError, match="presets"):
        encode_presets("The cat sat.")
    with pytest.raises(TypeError, match=r"presets\[0\]"):
        encode_presets(["The cat sat."])


def test_sweep_refuses_bad_sentences():
    good = sentences()
    with pytest.raises(TypeError, match="sentences"):
        attention_sweep([])
    with pytest.raises(TypeError, match="sentences"):
        attention_sweep(good[0])
    with pytest.raises(TypeError, match="SentenceAttention"):
        attention_sweep([("x", ("a", "b"), _attention(2, 0))])
    with pytest.raises(ValueError, match="tokens"):
        attention_sweep([good[0]._replace(tokens=good[0].tokens[:-1])])
    with pytest.raises(ValueError, match=r"\(L, H\)"):
        attention_sweep([good[0], good[1]._replace(attentions=good[1].attentions[:1])])
    with pytest.raises(ValueError, match="distinct labels"):
        attention_sweep([good[0], good[1]._replace(label="first")])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attention_sweep([good[0]._replace(attentions=-good[0].attentions)])
    with pytest.raises(TypeError, match="float"):
        attention_sweep([good[0]._replace(attentions=np.ones((L, H, 8, 8), dtype=np.int64))])
    with pytest.raises(ValueError, match="T, T"):
        attention_sweep([good[0]._replace(attentions=good[0].attentions[..., :-1])])
