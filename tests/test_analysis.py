"""The statistics of attnbook.analysis, each against an independent loop-by-loop computation, plus bad input."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest

from attnbook import model
from attnbook.analysis import (
    attention_entropy,
    copy_targets,
    copy_weight,
    layer_grad_norms,
    prefix_matching_score,
    previous_token_score,
    rank_values,
    spearman,
    token_losses,
)
from attnbook.config import ModelConfig


def random_rows(rng, shape, zero_fraction=0.3):
    """Non-negative rows summing to 1 with some exact zeros (masked keys), shape (..., T, T)."""
    w = rng.random(shape)
    w[rng.random(shape) < zero_fraction] = 0.0
    w[..., 0] += 1e-3  # no all-zero row
    return w / w.sum(-1, keepdims=True)


# ----------------------------------------------------------------------------------------------- entropy
def test_attention_entropy_matches_a_loop():
    rng = np.random.default_rng(0)
    w = random_rows(rng, (2, 3, 5, 5))
    w[0, 0, 1] = 0.0  # a row with no allowed key gives 0
    ent = attention_entropy(w)
    assert ent.shape == (2, 3, 5) and ent.dtype == np.float64
    for idx in itertools.product(*map(range, ent.shape)):
        expected = -sum(p * math.log(p) for p in w[idx] if p > 0)
        assert ent[idx] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert ent[0, 0, 1] == 0.0 and not np.signbit(ent[0, 0, 1])


def test_attention_entropy_known_values_and_dtype():
    w = np.array([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    np.testing.assert_allclose(attention_entropy(w), [math.log(4), 0.0, 0.0, math.log(2)], atol=1e-15)
    w32 = (np.ones((2, 3, 5)) / 5).astype(np.float32)
    ent32 = attention_entropy(w32)
    assert ent32.shape == (2, 3) and ent32.dtype == np.float32
    np.testing.assert_allclose(ent32, math.log(5), rtol=1e-6)


@pytest.mark.parametrize(
    ("weights", "exc"),
    [
        (np.array([-0.5, 1.5]), ValueError),
        (np.array([np.nan, 1.0]), ValueError),
        (np.array([1, 0]), TypeError),
        ("0.5 0.5", TypeError),
    ],
)
def test_attention_entropy_bad_input(weights, exc):
    with pytest.raises(exc, match="weights"):
        attention_entropy(weights)


# ----------------------------------------------------------------------------------------- head scores
def test_previous_token_score_matches_a_loop():
    rng = np.random.default_rng(1)
    S, W, H, T = 2, 3, 4, 6
    maps = random_rows(rng, (S, W, H, T, T))
    score = previous_token_score(maps)
    assert score.shape == (S, H) and score.dtype == np.float64
    for s in range(S):
        for h in range(H):
            vals = [maps[s, w, h, i, i - 1] for w in range(W) for i in range(1, T)]
            assert score[s, h] == pytest.approx(sum(vals) / len(vals), rel=1e-12)
    # float32 maps are scored in float64
    assert previous_token_score(maps.astype(np.float32)).dtype == np.float64


def test_previous_token_score_of_perfect_and_uniform_heads():
    T = 6
    perfect = np.eye(T, k=-1)
    perfect[0, 0] = 1.0
    uniform = np.tril(np.ones((T, T)))
    uniform /= uniform.sum(-1, keepdims=True)
    s = previous_token_score(np.stack([perfect, uniform])[None])  # one window of two heads
    assert s.shape == (2,)
    assert s[0] == pytest.approx(1.0)
    assert s[1] == pytest.approx(np.mean([1 / (i + 1) for i in range(1, T)]))


def test_prefix_matching_score_matches_a_loop():
    rng = np.random.default_rng(2)
    L, W, H, T = 2, 3, 2, 7
    maps = random_rows(rng, (L, W, H, T, T))
    source = rng.integers(-1, T, size=(W, T))
    score = prefix_matching_score(maps, source)
    assert score.shape == (L, H) and score.dtype == np.float64
    for layer in range(L):
        for h in range(H):
            vals = [
                maps[layer, w, h, i, source[w, i]] for w in range(W) for i in range(T) if source[w, i] >= 0
            ]
            assert score[layer, h] == pytest.approx(sum(vals) / len(vals), rel=1e-12)


def test_prefix_matching_score_reads_the_source_keys():
    T = 5
    source = np.array([[-1, -1, 0, 1, -1]])
    att = np.zeros((1, 1, T, T))  # (W, H, T, T)
    att[0, 0, 2, 0] = 1.0
    att[0, 0, 3, 1] = 0.5
    att[0, 0, 3, 3] = 0.5
    assert prefix_matching_score(att, source)[0] == pytest.approx(0.75)
    stacked = np.stack([att, np.zeros_like(att)])  # a leading (layer) axis is kept
    np.testing.assert_allclose(prefix_matching_score(stacked, source), [[0.75], [0.0]])


def test_head_scores_bad_input():
    with pytest.raises(ValueError, match="T, T"):
        previous_token_score(np.ones((1, 1, 2, 3)))
    with pytest.raises(ValueError, match="maps"):
        previous_token_score(np.ones((2, 3, 3)))  # no window axis
    with pytest.raises(TypeError, match="maps"):
        previous_token_score(np.ones((1, 1, 3, 3), dtype=int))
    att = np.ones((1, 1, 5, 5)) / 5
    with pytest.raises(ValueError, match="no scored query"):
        prefix_matching_score(att, np.full((1, 5), -1))
    with pytest.raises(ValueError, match="source"):
        prefix_matching_score(att, np.zeros((2, 5), dtype=int))
    with pytest.raises(ValueError, match="source"):
        prefix_matching_score(att, np.full((1, 5), 5))
    with pytest.raises(TypeError, match="source"):
        prefix_matching_score(att, np.zeros((1, 5)))


# ------------------------------------------------------------------------------------- gradient norms
def test_layer_grad_norms_match_a_loop_on_real_gradients():
    cfg = ModelConfig(vocab_size=7, block_size=5, d_model=8, n_layer=3, n_head=2, d_ff=12)
    params = model.init_params(cfg, 0)
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 7, (2, 5)), rng.integers(0, 7, (2, 5))
    logits, cache = model.forward(params, x, cfg)
    grads = model.backward(model.loss(logits, y)[1], cache)
    norms = layer_grad_norms(grads, cfg.n_layer)
    mlp = layer_grad_norms(grads, cfg.n_layer, include=("mlp.w_in", "mlp.w_out"))
    assert norms.shape == mlp.shape == (3,) and norms.dtype == np.float64
    for layer in range(cfg.n_layer):
        total = part = 0.0
        for key, g in grads.items():
            if key.startswith(f"blocks.{layer}."):
                sq = sum(float(v) ** 2 for v in g.ravel())
                total += sq
                if key.endswith(("mlp.w_in", "mlp.w_out")):
                    part += sq
        assert norms[layer] == pytest.approx(math.sqrt(total), rel=1e-10)
        assert mlp[layer] == pytest.approx(math.sqrt(part), rel=1e-10)


def test_layer_grad_norms_groups_by_block():
    grads = {
        "wte": np.full((2, 2), 100.0),
        "blocks.0.attn.w_qkv": np.full((2, 2), 1.0),
        "blocks.0.mlp.w_in": np.full((3,), 2.0),
        "blocks.1.attn.w_qkv": np.full((1,), 3.0),
    }
    np.testing.assert_allclose(layer_grad_norms(grads, 2), [math.sqrt(4 + 12), 3.0])
    np.testing.assert_allclose(layer_grad_norms(grads, 2, include=["attn.w_qkv"]), [2.0, 3.0])


def test_layer_grad_norms_bad_input():
    with pytest.raises(TypeError, match="grads"):
        layer_grad_norms([np.ones(2)], 1)
    with pytest.raises(ValueError, match="no entries for block 1"):
        layer_grad_norms({"blocks.0.w": np.ones(2)}, 2)
    with pytest.raises(ValueError, match="n_layer"):
        layer_grad_norms({"blocks.3.w": np.ones(2)}, 2)
    with pytest.raises(TypeError, match="n_layer"):
        layer_grad_norms({"blocks.0.w": np.ones(2)}, 1.0)
    with pytest.raises(ValueError, match="blocks.<layer>"):
        layer_grad_norms({"blocks.x.w": np.ones(2)}, 1)
    with pytest.raises(TypeError, match="grads"):
        layer_grad_norms({"blocks.0.w": np.ones(2, dtype=int)}, 1)
    with pytest.raises(ValueError, match="include"):
        layer_grad_norms({"blocks.0.w": np.ones(2)}, 1, include=("w", "v"))
    with pytest.raises(TypeError, match="include"):
        layer_grad_norms({"blocks.0.w": np.ones(2)}, 1, include="w")


# ------------------------------------------------------------------------------------ ranks, Spearman
def loop_ranks(a):
    """Rank of a_i = (number of smaller values) + (number of equal values + 1) / 2."""
    return [sum(b < x for b in a) + (sum(b == x for b in a) + 1) / 2 for x in a]


def loop_pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def test_rank_values_and_spearman_match_loops():
    rng = np.random.default_rng(4)
    for n in (2, 5, 16):
        a = rng.integers(0, 4, n).astype(float)  # many ties
        b = rng.standard_normal(n)
        np.testing.assert_array_equal(rank_values(a), loop_ranks(list(a)))
        np.testing.assert_array_equal(rank_values(b), loop_ranks(list(b)))
        if len(set(a)) > 1:
            expected = loop_pearson(loop_ranks(list(a)), loop_ranks(list(b)))
            assert spearman(a, b) == pytest.approx(expected, rel=1e-12)
    # no ties: the textbook formula 1 - 6 sum d^2 / (n (n^2 - 1))
    a, b = rng.standard_normal(12), rng.standard_normal(12)
    d2 = sum((p - q) ** 2 for p, q in zip(loop_ranks(list(a)), loop_ranks(list(b)), strict=True))
    assert spearman(a, b) == pytest.approx(1 - 6 * d2 / (12 * (144 - 1)), rel=1e-12)
    # any shape is flattened: an (n_layer, H) grid of head scores
    assert spearman(a.reshape(3, 4), b.reshape(3, 4)) == spearman(a, b)


def test_spearman_matches_hand_computed_examples():
    # no ties: ranks of b are 1 3 2 5 4, sum of squared rank differences 4, rho = 1 - 6 * 4 / (5 * 24)
    assert spearman([10.0, 20.0, 30.0, 40.0, 50.0], [1.0, 3.0, 2.0, 5.0, 4.0]) == pytest.approx(0.8)
    # ties: b ranks 1, 2.5, 2.5, 4 -> Pearson of (1,2,3,4) and (1,2.5,2.5,4) = 4.5 / sqrt(5 * 4.5)
    assert spearman([1.0, 2.0, 3.0, 4.0], [0.0, 5.0, 5.0, 9.0]) == pytest.approx(4.5 / math.sqrt(22.5))
    np.testing.assert_array_equal(rank_values(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])
    x = np.random.default_rng(0).standard_normal(20)
    assert spearman(x, np.exp(3 * x)) == pytest.approx(1.0)  # monotone maps do not change ranks
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert math.isnan(spearman(x, np.ones(20)))


def test_ranks_bad_input():
    with pytest.raises(ValueError, match="same number"):
        spearman([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="same number"):
        spearman([1.0], [2.0])
    with pytest.raises(TypeError, match="floating"):
        spearman(np.arange(3), np.arange(3))
    with pytest.raises(ValueError, match="a"):
        rank_values(np.ones((2, 2)))
    with pytest.raises(ValueError, match="b"):
        spearman([1.0, 2.0], [1.0, np.inf])


# --------------------------------------------------------------------------------------- token losses
def test_token_losses_match_a_loop():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((2, 4, 6)) * 3
    targets = rng.integers(0, 6, (2, 4))
    losses = token_losses(logits, targets)
    assert losses.shape == (2, 4) and losses.dtype == np.float64
    for b in range(2):
        for t in range(4):
            z = logits[b, t]
            expected = math.log(sum(math.exp(v) for v in z)) - z[targets[b, t]]
            assert losses[b, t] == pytest.approx(expected, rel=1e-12)
    # float32 logits are scored in float64; huge logits do not overflow
    assert token_losses(logits.astype(np.float32), targets).dtype == np.float64
    assert token_losses(np.array([[1e4, 0.0]]), np.array([1]))[0] == pytest.approx(1e4)


def test_token_losses_average_to_the_model_loss():
    cfg = ModelConfig(
        vocab_size=7, block_size=6, d_model=8, n_layer=2, n_head=2, d_ff=4, attn_only=True, pos="rope"
    )
    params = model.init_params(cfg, 0, dtype=np.float64)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 7, (3, 6)), rng.integers(0, 7, (3, 6))
    logits, _ = model.forward(params, x, cfg)
    per = token_losses(logits, y)
    assert per.shape == (3, 6)
    assert per.mean() == pytest.approx(model.loss(logits, y)[0], rel=1e-12)


def test_token_losses_bad_input():
    logits = np.zeros((2, 3, 5))
    with pytest.raises(ValueError, match="targets"):
        token_losses(logits, np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="targets"):
        token_losses(logits, np.full((2, 3), 5))
    with pytest.raises(TypeError, match="targets"):
        token_losses(logits, np.zeros((2, 3)))
    with pytest.raises(TypeError, match="logits"):
        token_losses(np.zeros((2, 3, 5), dtype=int), np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="logits"):
        token_losses(np.full((1, 2), np.nan), np.zeros(1, dtype=int))


# ------------------------------------------------------------------------------------------- imports
def test_the_package_imports_without_torch():
    # attnbook (its analysis, experiments and figures) must run where PyTorch is not installed.
    code = (
        "import sys, attnbook.analysis, attnbook.experiments.training, attnbook.experiments.induction, "
        "attnbook.experiments.extrapolation, attnbook.experiments.pruning, attnbook.reference, attnbook.stats; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_copy_targets_are_the_keys_after_earlier_occurrences():
    assert copy_targets("abcab") == [(3, [1]), (4, [2])]
    assert copy_targets("aa") == []  # the key after position 0 is the query itself
    assert copy_targets("aaa") == [(2, [1])]
    assert copy_targets("abcd") == []
    assert copy_targets([5, 6, 5, 5]) == [(2, [1]), (3, [1])]


def test_copy_weight_matches_a_loop_and_is_nan_without_repeats():
    rng = np.random.default_rng(0)
    tokens = "abcabcab"
    T = len(tokens)
    w = rng.random((2, 3, T, T))
    w = np.tril(w) / np.tril(w).sum(-1, keepdims=True)
    want = np.zeros((2, 3))
    targets = copy_targets(tokens)
    for i, keys in targets:
        want += w[..., i, keys].sum(-1) / len(targets)
    np.testing.assert_allclose(copy_weight(w, tokens), want)
    assert np.isnan(copy_weight(w[..., :3, :3], "abc")).all()
    perfect = np.zeros((T, T))
    for i in range(T):
        perfect[i, i] = 1.0
    for i, keys in targets:
        perfect[i] = 0.0
        perfect[i, keys] = 1.0 / len(keys)
    assert copy_weight(perfect, tokens) == pytest.approx(1.0)


def test_copy_weight_bad_input():
    with pytest.raises(ValueError, match="weights"):
        copy_weight(np.zeros((3, 4)), "abc")
    with pytest.raises(ValueError, match="tokens"):
        copy_weight(np.zeros((3, 3)), "ab")
    with pytest.raises(TypeError, match="tokens"):
        copy_targets(3)
