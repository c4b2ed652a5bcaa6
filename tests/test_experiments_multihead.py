"""Chapter 4's experiment: the heads of one layer, from attention_steps and from the GPT, against hand-written layers."""

import numpy as np
import pytest

from attnbook import model
from attnbook.attention import attention_steps
from attnbook.config import ModelConfig
from attnbook.experiments.multihead import Heads, divisors, heads_from_model, heads_from_steps
from attnbook.masks import causal

T, C = 5, 6


def entropy(w):
    """Mean row entropy of each head, written out: -Σ w log w, with 0 log 0 = 0."""
    out = np.zeros(w.shape[0])
    for h in range(w.shape[0]):
        rows = [-sum(x * np.log(x) for x in row if x > 0) for row in w[h]]
        out[h] = np.mean(rows)
    return out


def test_divisors_against_a_loop():
    for n in (1, 7, 12, 16, 40):
        assert divisors(n) == tuple(h for h in range(1, 17) if h <= n and n % h == 0)
    assert divisors(12) == (1, 2, 3, 4, 6, 12)
    assert divisors(12, high=4) == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="n"):
        divisors(0)
    with pytest.raises(TypeError, match="high"):
        divisors(12, high=2.5)


def test_heads_from_steps_keeps_the_steps_and_adds_the_entropy():
    rng = np.random.default_rng(0)
    x, ws = rng.standard_normal((T, C)), rng.standard_normal((4, C, C))
    steps = attention_steps(x, *ws, 3, mask=causal(T))
    heads = heads_from_steps(steps)
    assert isinstance(heads, Heads)
    np.testing.assert_array_equal(heads.weights, steps.weights)
    np.testing.assert_array_equal(heads.concat, steps.concat)
    np.testing.assert_array_equal(heads.out, steps.out)
    np.testing.assert_allclose(heads.entropy, entropy(steps.weights), atol=1e-12)
    assert heads.entropy.shape == (3,)


def test_heads_from_steps_bad_input():
    with pytest.raises(TypeError, match="steps"):
        heads_from_steps((1, 2, 3))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, T, C))  # a batch: not one sequence
    steps = attention_steps(x, *(rng.standard_normal((C, C)) for _ in range(4)), 2)
    with pytest.raises(ValueError, match="one sequence"):
        heads_from_steps(steps)


@pytest.fixture(scope="module")
def gpt():
    cfg = ModelConfig(vocab_size=7, block_size=8, d_model=C, n_layer=2, n_head=3, d_ff=12)
    p = model.init_params(cfg, seed=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    p = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in p.items()}  # not tiny, so heads differ
    return cfg, p, np.array([1, 4, 2, 2, 6])


def test_heads_from_model_matches_a_hand_written_layer(gpt):
    cfg, p, ids = gpt
    heads = heads_from_model(p, cfg, ids, layer=0)

    x = p["wte"][ids] + p["wpe"][:T]  # (T, C)
    ln = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + cfg.norm_eps)
    ln = ln * p["blocks.0.ln1.w"] + p["blocks.0.ln1.b"]
    qkv = ln @ p["blocks.0.attn.w_qkv"] + p["blocks.0.attn.b_qkv"]  # (T, 3C)
    q, k, v = np.split(qkv, 3, axis=-1)
    H, D = 3, C // 3
    outs, weights = [], []
    for h in range(H):
        s = q[:, h * D : (h + 1) * D] @ k[:, h * D : (h + 1) * D].T / np.sqrt(D)
        s[~causal(T)] = -np.inf
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        weights.append(w)
        outs.append(w @ v[:, h * D : (h + 1) * D])
    concat = np.concatenate(outs, axis=-1)
    np.testing.assert_allclose(heads.weights, np.stack(weights), atol=1e-10)
    np.testing.assert_allclose(heads.concat, concat, atol=1e-10)
    np.testing.assert_allclose(
        heads.out, concat @ p["blocks.0.attn.w_o"] + p["blocks.0.attn.b_o"], atol=1e-10
    )
    np.testing.assert_allclose(heads.entropy, entropy(np.stack(weights)), atol=1e-10)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(layer=2), ValueError, "layer"),
        (dict(cfg={"d_model": C}), TypeError, "cfg"),
        (dict(params=[1, 2]), TypeError, "params"),
        (dict(token_ids=np.array([1, 7])), ValueError, "token_ids"),
        (dict(token_ids=np.array([1.0, 2.0])), TypeError, "token_ids"),
    ],
)
def test_heads_from_model_bad_input(gpt, change, error, match):
    cfg, p, ids = gpt
    a = dict(params=p, cfg=cfg, token_ids=ids, layer=0)
    a.update(change)
    with pytest.raises(error, match=match):
        heads_from_model(**a)
