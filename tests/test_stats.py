"""Statistics helpers: histograms, cosine similarity, diagonal profiles, Xavier init, depth profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attnbook import model
from attnbook.config import ModelConfig
from attnbook.stats import (
    SignalProfile,
    cosine_similarity,
    diagonal_profile,
    histogram,
    signal_profile,
    signal_sweep,
    xavier_params,
)

TINY = ModelConfig(vocab_size=11, block_size=6, d_model=8, n_layer=2, n_head=2, d_ff=16)


# ---------------------------------------------------------------------------------------------------------
# histogram


def test_histogram_counts_fractions():
    x = np.array([0.0, 0.1, 0.9, 1.0, 1.0, 2.0])
    frac, edges = histogram(x, bins=2)
    np.testing.assert_allclose(edges, [0.0, 1.0, 2.0])
    # np.histogram's last bin is closed: [0, 1) holds 0, 0.1, 0.9; [1, 2] holds 1, 1, 2.
    np.testing.assert_allclose(frac, [3 / 6, 3 / 6])


def test_histogram_range_leaves_outside_values_out():
    frac, edges = histogram(np.array([-5.0, 0.25, 0.75, 5.0]), bins=2, value_range=(0.0, 1.0))
    np.testing.assert_allclose(frac, [0.25, 0.25])
    assert frac.sum() == pytest.approx(0.5)


def test_histogram_constant_input_widens_range():
    frac, edges = histogram(np.full(4, 3.0, dtype=np.float32), bins=3)
    assert edges[0] == pytest.approx(2.5) and edges[-1] == pytest.approx(3.5)
    assert frac.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("x", "kw", "exc", "match"),
    [
        (np.array([], dtype=float), {}, ValueError, "empty"),
        (np.array([1, 2, 3]), {}, TypeError, "x"),
        (np.array([1.0, np.nan]), {}, ValueError, "x"),
        (np.array([1.0, 2.0]), {"bins": 0}, ValueError, "bins"),
        (np.array([1.0, 2.0]), {"value_range": (1.0, 1.0)}, ValueError, "value_range"),
        (np.array([1.0, 2.0]), {"value_range": (0.0, 1.0, 2.0)}, ValueError, "value_range"),
    ],
)
def test_histogram_bad_input(x, kw, exc, match):
    with pytest.raises(exc, match=match):
        histogram(x, **kw)


# ---------------------------------------------------------------------------------------------------------
# cosine similarity and diagonals


def test_cosine_similarity_matches_definition():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    sim = cosine_similarity(a, b)
    for i in range(4):
        for j in range(3):
            expect = a[i] @ b[j] / (np.linalg.norm(a[i]) * np.linalg.norm(b[j]))
            assert sim[i, j] == pytest.approx(expect)
    np.testing.assert_allclose(np.diag(cosine_similarity(a)), 1.0)


def test_cosine_similarity_zero_row_and_dtype():
    a = np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    sim = cosine_similarity(a)
    assert sim.dtype == np.float32
    assert sim[1, 0] == 0 and sim[1, 1] == 0 and not np.isnan(sim).any()


def test_cosine_similarity_bad_input():
    with pytest.raises(ValueError, match="columns"):
        cosine_similarity(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(TypeError, match="dtype"):
        cosine_similarity(np.ones((2, 3)), np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="dimensions"):
        cosine_similarity(np.ones(3))


def test_diagonal_profile_of_toeplitz_and_random():
    T = 5
    t = np.arange(T)
    toeplitz = np.cos(0.3 * (t[None, :] - t[:, None])) + 0.1 * (t[None, :] - t[:, None])
    offsets, mean, spread = diagonal_profile(toeplitz)
    np.testing.assert_array_equal(offsets, np.arange(-(T - 1), T))
    np.testing.assert_allclose(spread, 0.0, atol=1e-12)
    np.testing.assert_allclose(mean, np.cos(0.3 * offsets) + 0.1 * offsets)
    m = np.random.default_rng(1).standard_normal((T, T))
    _, mean, spread = diagonal_profile(m)
    for n, k in enumerate(offsets):
        d = np.diagonal(m, offset=k)
        assert mean[n] == pytest.approx(d.mean()) and spread[n] == pytest.approx(d.max() - d.min())


def test_diagonal_profile_bad_input():
    with pytest.raises(ValueError, match="square"):
        diagonal_profile(np.ones((2, 3)))


# ---------------------------------------------------------------------------------------------------------
# initialisation


def test_xavier_params_shapes_scales_and_determinism():
    cfg = ModelConfig(vocab_size=50, block_size=8, d_model=64, n_layer=2, n_head=4, d_ff=256)
    p = xavier_params(cfg, 3)
    ref = model.init_params(cfg, 3)
    assert list(p) == list(ref)
    for k, v in p.items():
        assert v.shape == ref[k].shape and v.dtype == np.float32
        if v.ndim == 1:
            np.testing.assert_array_equal(v, ref[k])  # biases 0, gains 1, as in init_params
    w = p["blocks.0.mlp.w_in"]  # (64, 256): variance 2 / 320
    assert w.std() == pytest.approx(math.sqrt(2 / 320), rel=0.05)
    # no depth scaling of the output projections, unlike init_params
    assert p["blocks.0.mlp.w_out"].std() == pytest.approx(math.sqrt(2 / 320), rel=0.05)
    np.testing.assert_array_equal(xavier_params(cfg, 3)["wte"], p["wte"])
    assert not np.array_equal(xavier_params(cfg, 4)["wte"], p["wte"])


# ---------------------------------------------------------------------------------------------------------
# profiles


def test_signal_profile_shapes_and_sanity():
    prof = signal_profile(TINY, 0, bins=7)
    L = TINY.n_layer
    assert isinstance(prof, SignalProfile) and prof.cfg == TINY and prof.init == "gpt2"
    for a in (prof.mean, prof.std, prof.max):
        assert a.shape == (L + 1,)
    assert prof.grad_norm.shape == (L,) and np.all(prof.grad_norm > 0)
    assert np.all(prof.max >= np.abs(prof.mean)) and np.all(prof.std > 0)
    for hist, rng in ((prof.resid_hist, prof.resid_range), (prof.mlp_hist, prof.mlp_range)):
        assert hist.shape == (L, 7) and rng.shape == (L, 2)
        np.testing.assert_allclose(hist.sum(axis=1), 1.0)
        assert np.all(rng[:, 0] < rng[:, 1])
    # every entry lies inside [-max, max]
    assert np.all(prof.resid_range[:, 0] >= -prof.max[1:] - 1e-6)
    assert np.all(prof.resid_range[:, 1] <= prof.max[1:] + 1e-6)
    # at initialisation the model predicts roughly uniformly: loss close to ln V
    assert abs(prof.loss - math.log(TINY.vocab_size)) < 0.2


def test_post_ln_stream_has_unit_std():
    # LayerNorm with gain 1 and bias 0 gives every token zero mean and unit variance, hence the whole stream.
    prof = signal_profile(TINY.replace(block="post", n_layer=3), 1, histograms=False)
    np.testing.assert_allclose(prof.std[1:], 1.0, atol=2e-3)
    np.testing.assert_allclose(prof.mean[1:], 0.0, atol=1e-5)
    assert prof.resid_hist is None and prof.mlp_hist is None


def test_relu_histogram_starts_at_zero():
    prof = signal_profile(TINY.replace(activation="relu"), 0, bins=5)
    np.testing.assert_allclose(prof.mlp_range[:, 0], 0.0)
    assert np.all(prof.mlp_hist[:, 0] > 0.3)  # the negative half of the inputs all land at 0


def test_without_norm_the_placements_are_one_network():
    # computed independently (no sharing): the claim the block chapter makes
    a = signal_profile(TINY.replace(norm="none", block="pre"), 2)
    for block in ("post", "sandwich"):
        b = signal_profile(TINY.replace(norm="none", block=block), 2)
        np.testing.assert_array_equal(a.std, b.std)
        np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
        np.testing.assert_array_equal(a.mlp_hist, b.mlp_hist)
    c = signal_profile(TINY.replace(norm="layernorm", block="post"), 2)
    assert not np.allclose(a.std, c.std)


def test_xavier_differs_from_gpt2():
    a = signal_profile(TINY, 0, histograms=False)
    b = signal_profile(TINY, 0, init="xavier", histograms=False)
    assert b.init == "xavier" and b.std[0] > 3 * a.std[0]  # N(0, 2/(V+C)) embeddings vs N(0, 0.02²)


@pytest.mark.parametrize(
    ("args", "kw", "exc", "match"),
    [
        (("tiny",), {}, TypeError, "cfg"),
        ((TINY,), {"init": "he"}, ValueError, "init"),
        ((TINY,), {"bins": 0}, ValueError, "bins"),
        ((TINY,), {"batch_size": 0}, ValueError, "batch_size"),
        ((TINY,), {"histograms": 1}, TypeError, "histograms"),
        ((TINY, -1), {}, ValueError, "seed"),
    ],
)
def test_signal_profile_bad_input(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        signal_profile(*args, **kw)


def test_signal_sweep_keys_depths_and_sharing():
    sweep = signal_sweep(
        TINY,
        norms=("layernorm", "none"),
        blocks=("pre", "post"),
        activations=("gelu",),
        depths=(1, 3),
        histograms=False,
    )
    assert len(sweep) == 2 * 2 * 1 * 2
    for (norm, block, act, depth, init), prof in sweep.items():
        assert prof.cfg.n_layer == depth and prof.cfg.norm == norm and prof.cfg.block == block
        assert prof.cfg.activation == act
        assert prof.grad_norm.shape == (depth,) and init == "gpt2"
    assert sweep["none", "post", "gelu", 3, "gpt2"].std is sweep["none", "pre", "gelu", 3, "gpt2"].std
    assert sweep["none", "post", "gelu", 3, "gpt2"].cfg.block == "post"


def test_signal_sweep_bad_input():
    with pytest.raises(TypeError, match="base"):
        signal_sweep("tiny")
    with pytest.raises(ValueError, match="norms"):
        signal_sweep(TINY, norms=())
    with pytest.raises(ValueError, match="depths"):
        signal_sweep(TINY, depths=(0,))
