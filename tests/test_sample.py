"""Tests for attnbook.sample: seeded reproducibility, greedy decoding, top-k, context cropping."""

import numpy as np
import pytest

from attnbook import model
from attnbook.config import ModelConfig
from attnbook.sample import generate, next_token_distribution

CFG = ModelConfig(vocab_size=13, block_size=8, d_model=16, n_layer=2, n_head=2, d_ff=32)


@pytest.fixture(scope="module")
def params():
    p = model.init_params(CFG, 0, dtype=np.float64)
    # Larger output weights than the init's N(0, 0.02) give a peaked, non-uniform next-token distribution.
    p["lm_head"] = np.random.default_rng(1).normal(0.0, 1.0, p["lm_head"].shape)
    return p


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def test_seed_reproducibility(params):
    prompt = np.array([1, 2, 3])
    a = generate(params, CFG, prompt, 20, seed=7)
    b = generate(params, CFG, prompt, 20, seed=7)
    c = generate(params, CFG, prompt, 20, seed=8)
    assert a.shape == (23,) and a.dtype == np.int64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a[:3], prompt)
    assert a.min() >= 0 and a.max() < CFG.vocab_size


def test_greedy_at_temperature_zero(params):
    prompt = np.array([4, 0])
    out = generate(params, CFG, prompt, 10, temperature=0.0, seed=1)
    np.testing.assert_array_equal(out, generate(params, CFG, prompt, 10, temperature=0.0, seed=2))
    for t in range(2, len(out)):
        ctx = out[max(0, t - CFG.block_size) : t]
        logits, _ = model.forward(params, ctx[None], CFG)
        assert out[t] == logits[0, -1].argmax()
    probs = next_token_distribution(params, CFG, prompt, temperature=0.0)
    assert probs.sum() == 1.0 and probs.max() == 1.0


def test_top_k_respected(params):
    prompt = np.array([5, 6, 7])
    full = next_token_distribution(params, CFG, prompt)
    top3 = set(np.argsort(full)[-3:].tolist())
    probs = next_token_distribution(params, CFG, prompt, top_k=3)
    assert set(np.flatnonzero(probs).tolist()) == top3
    np.testing.assert_allclose(probs.sum(), 1.0)
    # renormalised among the kept tokens
    np.testing.assert_allclose(probs[list(top3)], full[list(top3)] / full[list(top3)].sum(), rtol=1e-12)
    batch = np.tile(prompt, (200, 1))
    out = generate(params, CFG, batch, 1, top_k=3, seed=0)
    assert set(out[:, -1].tolist()) <= top3
    greedy = generate(params, CFG, prompt, 5, temperature=0.0)
    np.testing.assert_array_equal(generate(params, CFG, prompt, 5, top_k=1, seed=3), greedy)


def test_distribution_matches_softmax_with_temperature(params):
    prompt = np.array([[1, 2], [3, 4]])
    logits, _ = model.forward(params, prompt, CFG)
    for temp in (0.5, 1.0, 2.0):
        probs = next_token_distribution(params, CFG, prompt, temperature=temp)
        assert probs.shape == (2, CFG.vocab_size)
        np.testing.assert_allclose(probs, _softmax(logits[:, -1] / temp), rtol=1e-10)


def test_sampling_frequencies_follow_the_distribution(params):
    prompt = np.array([2, 9, 9])
    probs = next_token_distribution(params, CFG, prompt, temperature=1.5)
    n = 4000
    out = generate(params, CFG, np.tile(prompt, (n, 1)), 1, temperature=1.5, seed=11)
    freq = np.bincount(out[:, -1], minlength=CFG.vocab_size) / n
    # within 4.5 binomial standard deviations (plus a little) for every token
    assert np.all(np.abs(freq - probs) <= 4.5 * np.sqrt(probs * (1 - probs) / n) + 1e-3), (freq, probs)


def test_context_is_cropped_to_block_size(params):
    long_prompt = np.arange(20) % CFG.vocab_size
    out = generate(params, CFG, long_prompt, 4, temperature=0.0)
    assert out.shape == (24,)
    # only the last block_size tokens matter
    other = long_prompt.copy()
    other[:5] = (other[:5] + 1) % CFG.vocab_size
    np.testing.assert_array_equal(generate(params, CFG, other, 4, temperature=0.0)[20:], out[20:])


def test_float32_model(params):
    p32 = model.init_params(CFG, 0)
    out = generate(p32, CFG, np.array([1]), 5, seed=0)
    assert out.shape == (6,)
    assert next_token_distribution(p32, CFG, np.array([1])).dtype == np.float64


def test_bad_input(params):
    with pytest.raises(ValueError, match="prompt_ids"):
        generate(params, CFG, np.array([13]), 3)
    with pytest.raises(ValueError, match="prompt_ids"):
        generate(params, CFG, np.array([], dtype=np.int64), 3)
    with pytest.raises(TypeError, match="prompt_ids"):
        generate(params, CFG, np.array([1.0]), 3)
    with pytest.raises(ValueError, match="temperature"):
        generate(params, CFG, np.array([1]), 3, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        generate(params, CFG, np.array([1]), 3, top_k=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(params, CFG, np.array([1]), -1)
    with pytest.raises(ValueError, match="top_k"):
        next_token_distribution(params, CFG, np.array([1]), top_k=14)
