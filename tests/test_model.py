"""The whole GPT: gradients against finite differences over every architecture choice, dtypes, sanity, bad input."""

from __future__ import annotations

import itertools
import json
import math
from typing import get_args

import numpy as np
import pytest
from _gradcheck import check_grad, dot_loss

from attnbook import config, model
from attnbook.config import PRESETS, ModelConfig, from_preset

NORMS = get_args(config.Norm)
BLOCKS = get_args(config.BlockKind)
ACTIVATIONS = get_args(config.Activation)
POSITIONS = get_args(config.Position)


def _covering_cases():
    """20 configs: every (pos, activation) pair once, and every (norm, block) pair at least twice."""
    cases = []
    for i, (pos, act) in enumerate(itertools.product(POSITIONS, ACTIVATIONS)):
        cases.append((NORMS[i % 3], BLOCKS[(i // 3) % 3], act, pos))
    return cases


GRAD_CASES = _covering_cases()


def test_cases_cover_every_choice():
    for axis, choices in enumerate((NORMS, BLOCKS, ACTIVATIONS, POSITIONS)):
        assert {c[axis] for c in GRAD_CASES} == set(choices)
    assert {(c[0], c[1]) for c in GRAD_CASES} == set(itertools.product(NORMS, BLOCKS))


def small_cfg(**kw) -> ModelConfig:
    base = dict(vocab_size=7, block_size=6, d_model=8, n_layer=2, n_head=2, d_ff=6)
    return ModelConfig(**{**base, **kw})


def noisy_params(cfg: ModelConfig, seed: int = 0, scale: float = 0.3) -> dict[str, np.ndarray]:
    """float64 parameters pushed away from initialisation, so no term of the backward pass is negligible."""
    params = model.init_params(cfg, seed, dtype=np.float64)
    r = np.random.default_rng(seed + 1)
    return {k: v + scale * r.standard_normal(v.shape) for k, v in params.items()}


def data(cfg: ModelConfig, B: int = 2, T: int = 5, seed: int = 2):
    r = np.random.default_rng(seed)
    return r.integers(0, cfg.vocab_size, (B, T)), r.integers(0, cfg.vocab_size, (B, T))


def run_gradcheck(cfg: ModelConfig, *, head_mask=None, training=False, rng=None, max_entries=8, use_ce=False):
    params = noisy_params(cfg)
    idx, targets = data(cfg)
    kwargs = dict(head_mask=head_mask, training=training, rng=rng)
    logits, cache = model.forward(params, idx, cfg, **kwargs)
    if use_ce:
        _, dlogits = model.loss(logits, targets)

        def f():
            return model.loss(model.forward(params, idx, cfg, **kwargs)[0], targets)[0]

    else:
        dlogits = np.random.default_rng(3).standard_normal(logits.shape)

        def f():
            return dot_loss(model.forward(params, idx, cfg, **kwargs)[0], dlogits)

    grads = model.backward(dlogits, cache)
    assert list(grads) == list(params)
    for name, value in params.items():
        check_grad(f, value, grads[name], name, max_entries=max_entries)
    return params, grads


@pytest.mark.parametrize(("norm", "block", "activation", "pos"), GRAD_CASES)
def test_model_grad(norm, block, activation, pos):
    run_gradcheck(small_cfg(norm=norm, block=block, activation=activation, pos=pos))


@pytest.mark.parametrize(
    "overrides",
    [
        dict(attn_only=True),
        dict(attn_only=True, norm="none", pos="rope", n_layer=1),
        dict(tie_weights=True),
        dict(tie_weights=True, pos="sinusoidal", activation="swiglu", block="sandwich"),
        dict(bias=False, norm="layernorm", pos="alibi"),
        dict(mask="local", window=1, pos="rope"),
        dict(mask="global_local", window=1, n_global=2, pos="alibi", block="post"),
        dict(n_layer=3, n_head=4, norm="rmsnorm"),
    ],
    ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()),
)
def test_model_grad_variants(overrides):
    run_gradcheck(small_cfg(**overrides))


def test_model_grad_cross_entropy():
    # The real objective: mean cross-entropy, through loss() and backward().
    run_gradcheck(small_cfg(activation="swish", pos="learned"), use_ce=True, max_entries=16)


def test_model_grad_head_mask():
    head_mask = np.array([[0.0, 1.0], [0.5, 1.0]])
    cfg = small_cfg(pos="rope")
    params, grads = run_gradcheck(cfg, head_mask=head_mask)
    # Head 0 of layer 0 is ablated, so its rows of w_o receive no gradient ...
    D = cfg.head_dim
    np.testing.assert_array_equal(grads["blocks.0.attn.w_o"][:D], 0.0)
    # ... and ablating it equals zeroing those rows of the output projection.
    idx, _ = data(cfg)
    ablated, _ = model.forward(params, idx, cfg, head_mask=np.array([[0.0, 1.0], [1.0, 1.0]]))
    assert not np.allclose(ablated, model.forward(params, idx, cfg)[0])
    edited = dict(params)
    edited["blocks.0.attn.w_o"] = params["blocks.0.attn.w_o"].copy()
    edited["blocks.0.attn.w_o"][:D] = 0.0
    np.testing.assert_allclose(ablated, model.forward(edited, idx, cfg)[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(
        model.forward(params, idx, cfg, head_mask=np.ones((2, 2)))[0], model.forward(params, idx, cfg)[0]
    )


def test_model_grad_dropout_with_fixed_seed():
    # An int seed replays the same masks at every call, so the function is fixed and differentiable.
    run_gradcheck(small_cfg(dropout=0.2), training=True, rng=11)


# --------------------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    cfg = small_cfg(pos="rope", activation="swiglu", norm="rmsnorm")
    params = model.init_params(cfg, 0, dtype=dtype)
    assert all(v.dtype == dtype for v in params.values())
    idx, targets = data(cfg)
    logits, cache = model.forward(params, idx, cfg)
    value, dlogits = model.loss(logits, targets)
    grads = model.backward(dlogits, cache)
    assert logits.dtype == dlogits.dtype == dtype
    assert model.attention_maps(cache).dtype == dtype
    assert all(g.dtype == dtype and g.shape == params[k].shape for k, g in grads.items())
    assert isinstance(value, float)


def test_float32_matches_float64():
    cfg = from_preset("tiny", pos="alibi")
    p64 = model.init_params(cfg, 5, dtype=np.float64)
    p32 = model.init_params(cfg, 5)
    for k in p64:
        np.testing.assert_array_equal(p32[k], p64[k].astype(np.float32))
    idx, targets = data(cfg, B=3, T=20)
    l64, c64 = model.forward(p64, idx, cfg)
    l32, c32 = model.forward(p32, idx, cfg)
    np.testing.assert_allclose(l32, l64, rtol=1e-4, atol=1e-5)
    g64 = model.backward(model.loss(l64, targets)[1], c64)
    g32 = model.backward(model.loss(l32, targets)[1], c32)
    for k in g64:
        scale = np.abs(g64[k]).max() + 1e-12
        assert np.abs(g32[k] - g64[k]).max() / scale < 1e-3, k


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_initial_loss_is_about_log_vocab(name):
    cfg = PRESETS[name]
    params = model.init_params(cfg, 0)
    idx, targets = data(cfg, B=4, T=min(cfg.block_size, 32))
    value, _ = model.loss(model.forward(params, idx, cfg)[0], targets)
    assert abs(value - math.log(cfg.vocab_size)) < 0.05 * math.log(cfg.vocab_size)


@pytest.mark.parametrize(
    "overrides",
    [dict(pos="learned"), dict(pos="rope", mask="local", window=2), dict(pos="alibi", mask="global_local")],
)
def test_causal_future_tokens_do_not_leak(overrides):
    cfg = small_cfg(block_size=8, **overrides)
    params = noisy_params(cfg)
    idx, _ = data(cfg, T=8)
    logits, cache = model.forward(params, idx, cfg)
    changed = idx.copy()
    changed[:, 5:] = (changed[:, 5:] + 1) % cfg.vocab_size
    logits2, _ = model.forward(params, changed, cfg)
    np.testing.assert_array_equal(logits[:, :5], logits2[:, :5])
    assert not np.allclose(logits[:, 5:], logits2[:, 5:])
    att = model.attention_maps(cache)
    assert att.shape == (cfg.n_layer, 2, cfg.n_head, 8, 8)
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-12)
    assert np.all(np.triu(np.ones((8, 8)), 1)[None, None, None] * att == 0.0)


def test_local_mask_limits_the_window():
    cfg = small_cfg(block_size=8, mask="local", window=2)
    _, cache = model.forward(noisy_params(cfg), data(cfg, T=8)[0], cfg)
    att = model.attention_maps(cache)
    i, j = np.indices((8, 8))
    assert np.all(att[..., (i - j > 2) | (j > i)] == 0.0)
    assert np.all(att[..., (i - j <= 2) & (j <= i)] > 0.0)


def test_shorter_sequences_and_positions():
    for pos in POSITIONS:
        cfg = small_cfg(pos=pos, block_size=6)
        params = noisy_params(cfg)
        idx, _ = data(cfg, T=6)
        full, _ = model.forward(params, idx, cfg)
        short, _ = model.forward(params, idx[:, :3], cfg)
        # Causality: the first three positions do not depend on the rest, whatever the position scheme.
        np.testing.assert_allclose(short, full[:, :3], rtol=1e-12, atol=1e-12)


def test_without_positions_earlier_tokens_form_a_set():
    # With one layer and no positions, a token's logits depend only on its own id and the multiset of
    # the tokens it attends to: swapping two earlier tokens leaves later logits unchanged. (With two
    # layers the swapped tokens' own outputs differ, since causality lets each see a different prefix.)
    cfg = small_cfg(pos="none", block_size=6, n_layer=1)
    params = noisy_params(cfg)
    idx = np.array([[1, 2, 3, 4, 5, 6]])
    swapped = np.array([[2, 1, 3, 4, 5, 6]])
    a, _ = model.forward(params, idx, cfg)
    b, _ = model.forward(params, swapped, cfg)
    np.testing.assert_allclose(a[:, 2:], b[:, 2:], rtol=1e-12, atol=1e-12)
    learned = small_cfg(pos="learned", block_size=6, n_layer=1)
    p2 = noisy_params(learned)
    assert not np.allclose(
        model.forward(p2, idx, learned)[0][:, 2:], model.forward(p2, swapped, learned)[0][:, 2:]
    )


def test_tied_weights_share_the_embedding():
    cfg = small_cfg(tie_weights=True)
    params = model.init_params(cfg, 0, dtype=np.float64)
    assert "lm_head" not in params
    idx, _ = data(cfg)
    logits, cache = model.forward(params, idx, cfg)
    assert np.shares_memory(cache.head, params["wte"])


def test_dropout_only_when_training_and_reproducible():
    cfg = small_cfg(dropout=0.3)
    params = noisy_params(cfg)
    idx, _ = data(cfg)
    a, _ = model.forward(params, idx, cfg)
    b, _ = model.forward(params, idx, cfg, rng=1)
    np.testing.assert_array_equal(a, b)  # inference ignores dropout
    c, _ = model.forward(params, idx, cfg, training=True, rng=np.random.default_rng(4))
    d, _ = model.forward(params, idx, cfg, training=True, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(c, d)
    assert not np.allclose(a, c)
    with pytest.raises(ValueError, match="rng"):
        model.forward(params, idx, cfg, training=True)


def test_activation_stats_and_residuals():
    cfg = small_cfg()
    params = noisy_params(cfg)
    idx, _ = data(cfg)
    logits, cache = model.forward(params, idx, cfg)
    assert len(cache.residuals) == cfg.n_layer
    assert all(r.shape == (2, 5, cfg.d_model) for r in cache.residuals)
    stats = model.activation_stats(cache)
    last = cache.residuals[-1]
    assert stats["mean"][-1] == pytest.approx(last.mean())
    assert stats["std"][-1] == pytest.approx(last.std())
    assert stats["max"][-1] == pytest.approx(np.abs(last).max())
    assert stats["rms"][-1] == pytest.approx(np.sqrt(np.mean(last**2)))
    assert all(v.shape == (cfg.n_layer,) for v in stats.values())
    # The residual stream after the last block, normalised and projected, gives the logits.
    w, b = params["ln_f.w"], params["ln_f.b"]
    x = last - last.mean(-1, keepdims=True)
    x = x / np.sqrt(np.mean(x**2, -1, keepdims=True) + cfg.norm_eps) * w + b
    np.testing.assert_allclose(x @ params["lm_head"], logits, rtol=1e-10, atol=1e-12)


def test_num_params_and_names():
    cfg = from_preset("small")
    params = model.init_params(cfg, 0)
    C, V, F, L = cfg.d_model, cfg.vocab_size, cfg.d_ff, cfg.n_layer
    per_block = 2 * 2 * C + (3 * C * C + 3 * C) + (C * C + C) + (C * F + F) + (F * C + C)
    assert model.num_params(params) == V * C + cfg.block_size * C + L * per_block + 2 * C + C * V
    assert list(params)[:3] == ["wte", "wpe", "blocks.0.ln1.w"]
    assert {"blocks.3.attn.w_qkv", "blocks.3.mlp.w_in", "ln_f.w", "lm_head"} <= set(params)
    assert model.param_shapes(cfg) == {k: v.shape for k, v in params.items()}
    post = model.init_params(from_preset("postln"), 0)
    assert "ln_f.w" not in post  # Post-LN blocks already end with a norm
    np.testing.assert_array_equal(model.init_params(cfg, 0)["wte"], params["wte"])
    assert not np.array_equal(model.init_params(cfg, 1)["wte"], params["wte"])


def test_tiny_batch_overfits():
    cfg = small_cfg(block_size=8, d_model=16, vocab_size=9, d_ff=32)
    params = model.init_params(cfg, 0, dtype=np.float64)
    idx, targets = data(cfg, B=2, T=8)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    s = {k: np.zeros_like(v) for k, v in params.items()}
    lr, b1, b2 = 1e-2, 0.9, 0.999
    for step in range(1, 151):  # plain Adam, written out so the test does not depend on attnbook.optim
        logits, cache = model.forward(params, idx, cfg)
        value, dlogits = model.loss(logits, targets)
        for k, g in model.backward(dlogits, cache).items():
            m[k] = b1 * m[k] + (1 - b1) * g
            s[k] = b2 * s[k] + (1 - b2) * g * g
            params[k] -= lr * (m[k] / (1 - b1**step)) / (np.sqrt(s[k] / (1 - b2**step)) + 1e-8)
    assert value < 0.05


# --------------------------------------------------------------------------------------- bad input


def test_bad_idx():
    cfg = small_cfg()
    params = model.init_params(cfg, 0)
    with pytest.raises(ValueError, match="idx"):
        model.forward(params, np.zeros((2, 3), dtype=np.float32), cfg)
    with pytest.raises(ValueError, match="idx"):
        model.forward(params, np.array([[0, 7]]), cfg)  # vocab_size is 7
    with pytest.raises(ValueError, match="idx"):
        model.forward(params, np.array([[0, -1]]), cfg)
    with pytest.raises(ValueError, match="idx"):
        model.forward(params, np.zeros((1, 7), dtype=np.int64), cfg)  # block_size is 6
    with pytest.raises(ValueError, match="idx"):
        model.forward(params, np.zeros(4, dtype=np.int64), cfg)
    with pytest.raises(ValueError, match="idx"):
        model.forward(params, np.zeros((1, 0), dtype=np.int64), cfg)
    with pytest.raises(ValueError, match="head_mask"):
        model.forward(params, np.zeros((1, 2), dtype=np.int64), cfg, head_mask=np.ones(2))
    with pytest.raises(TypeError, match="cfg"):
        model.forward(params, np.zeros((1, 2), dtype=np.int64), cfg.to_dict())


def test_bad_params():
    cfg = small_cfg()
    idx = np.zeros((1, 2), dtype=np.int64)
    params = model.init_params(cfg, 0)
    missing = {k: v for k, v in params.items() if k != "blocks.1.mlp.w_in"}
    with pytest.raises(ValueError, match=r"blocks\.1\.mlp\.w_in"):
        model.forward(missing, idx, cfg)
    with pytest.raises(ValueError, match="lm_head"):
        model.forward(params, idx, cfg.replace(tie_weights=True))  # a checkpoint for another config
    mixed = dict(params, **{"blocks.0.attn.w_o": params["blocks.0.attn.w_o"].astype(np.float64)})
    with pytest.raises(ValueError, match=r"blocks\.0\.attn\.w_o"):
        model.forward(mixed, idx, cfg)
    with pytest.raises(ValueError, match="wpe"):
        model.forward(dict(params, wpe=np.zeros((3, 8), np.float32)), idx, cfg)
    logits, cache = model.forward(params, idx, cfg)
    with pytest.raises(ValueError, match="dlogits"):
        model.backward(np.zeros((1, 3, 7), np.float32), cache)
    with pytest.raises(TypeError, match="dlogits"):
        model.backward(np.zeros((1, 2, 7)), cache)
    with pytest.raises(ValueError, match="targets"):
        model.loss(logits, np.array([[0, 7]]))
    with pytest.raises(TypeError, match="dtype"):
        model.init_params(cfg, 0, dtype=np.int32)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (dict(n_head=3), "n_head"),
        (dict(activation="swiglu", d_ff=7), "d_ff"),
        (dict(norm="batchnorm"), "norm"),
        (dict(block="middle"), "block"),
        (dict(activation="tanh"), "activation"),
        (dict(pos="relative"), "pos"),
        (dict(mask="none"), "mask"),
        (dict(d_model=12, n_head=4, pos="rope"), "rope"),
        (dict(d_model=7, n_head=1, pos="sinusoidal"), "sinusoidal"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(block_size=0), "block_size"),
        (dict(n_layer=0), "n_layer"),
        (dict(d_ff=0), "d_ff"),
        (dict(window=-1), "window"),
        (dict(n_global=65), "n_global"),
        (dict(dropout=1.0), "dropout"),
        (dict(dropout=-0.1), "dropout"),
        (dict(norm_eps=0.0), "norm_eps"),
        (dict(nonsense=1), "nonsense"),
    ],
)
def test_config_errors_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        from_preset("small", **overrides)


def test_config_type_errors_and_round_trip():
    with pytest.raises(TypeError, match="d_model"):
        ModelConfig(d_model=64.0)
    with pytest.raises(TypeError, match="attn_only"):
        ModelConfig(attn_only=1)
    with pytest.raises(ValueError, match="name"):
        from_preset("huge")
    cfg = from_preset("induction2", pos="rope", dropout=0.1)
    assert cfg.attn_only and cfg.n_layer == 2 and cfg.head_dim == 16
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="missing"):
        ModelConfig.from_dict({"d_model": 8})
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "extra": 1})
    with pytest.raises(AttributeError):
        cfg.d_model = 3  # frozen
