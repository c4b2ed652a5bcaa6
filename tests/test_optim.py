"""Tests for attnbook.optim: Adam/AdamW against torch.optim, clipping and the learning-rate schedule."""

import math

import numpy as np
import pytest
import torch

from attnbook.optim import Adam, AdamW, clip_grad_norm, global_norm, lr_schedule


def _problem(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "wte": rng.standard_normal((7, 5)).astype(dtype),
        "blocks.0.attn.w": rng.standard_normal((5, 5)).astype(dtype),
        "blocks.0.ln.b": rng.standard_normal(5).astype(dtype),
    }
    grads_seq = [{k: rng.standard_normal(p.shape).astype(dtype) for k, p in params.items()} for _ in range(6)]
    return params, grads_seq


def _run_torch(params, grads_seq, make_opt, lrs):
    tparams = {k: torch.tensor(p, requires_grad=True) for k, p in params.items()}
    opt = make_opt(tparams)
    for grads, lr in zip(grads_seq, lrs, strict=True):
        for k, tp in tparams.items():
            tp.grad = torch.tensor(grads[k])
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
    return {k: tp.detach().numpy() for k, tp in tparams.items()}


def _compare(ours, ref, tol):
    for k in ref:
        err = np.max(np.abs(ours[k] - ref[k]))
        assert err < tol, f"{k}: max abs err {err}\nours={ours[k]}\ntorch={ref[k]}"


@pytest.mark.reference
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_matches_torch(weight_decay):
    params, grads_seq = _problem()
    lrs = [1e-2, 2e-2, 3e-2, 2e-2, 1e-2, 5e-3]
    ref = _run_torch(
        params,
        grads_seq,
        lambda tp: torch.optim.Adam(
            tp.values(), lr=1.0, betas=(0.9, 0.95), eps=1e-8, weight_decay=weight_decay
        ),
        lrs,
    )
    ours = {k: p.copy() for k, p in params.items()}
    opt = Adam(ours, betas=(0.9, 0.95), weight_decay=weight_decay, decay_filter=lambda name, p: True)
    for grads, lr in zip(grads_seq, lrs, strict=True):
        opt.step(grads, lr=lr)
    _compare(ours, ref, 1e-10)
    assert not np.allclose(ours["wte"], params["wte"])  # it moved


@pytest.mark.reference
def test_adamw_matches_torch_with_no_decay_group():
    params, grads_seq = _problem()
    lrs = [3e-2] * len(grads_seq)

    def make(tp):
        decay = [p for p in tp.values() if p.ndim >= 2]
        no_decay = [p for p in tp.values() if p.ndim < 2]
        groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=1.0, betas=(0.9, 0.99), eps=1e-8)

    ref = _run_torch(params, grads_seq, make, lrs)
    ours = {k: p.copy() for k, p in params.items()}
    opt = AdamW(ours, lr=3e-2, betas=(0.9, 0.99), weight_decay=0.1)
    for grads in grads_seq:
        opt.step(grads)
    _compare(ours, ref, 1e-10)
    # the decay really is switched off for the 1-D parameter: compare with an all-decay run
    ours_all = {k: p.copy() for k, p in params.items()}
    opt_all = AdamW(ours_all, lr=3e-2, betas=(0.9, 0.99), weight_decay=0.1, decay_filter=lambda n, p: True)
    for grads in grads_seq:
        opt_all.step(grads)
    assert not np.allclose(ours_all["blocks.0.ln.b"], ours["blocks.0.ln.b"], rtol=0, atol=1e-6)


def test_adam_keeps_float32_and_does_not_touch_grads():
    params, grads_seq = _problem(np.float32)
    ids = {k: id(p) for k, p in params.items()}
    before = {k: g.copy() for k, g in grads_seq[0].items()}
    opt = AdamW(params, lr=1e-2)
    opt.step(grads_seq[0])
    for k, p in params.items():
        assert p.dtype == np.float32 and id(p) == ids[k]  # in place
        assert opt.m[k].dtype == np.float32
        np.testing.assert_array_equal(grads_seq[0][k], before[k])


def test_adam_first_step_is_sign_times_lr():
    # With bias correction, the first Adam step is lr * g / (|g| + eps') ~ lr * sign(g).
    p = {"w": np.zeros(4)}
    g = {"w": np.array([2.0, -3.0, 0.5, -1e-3])}
    Adam(p, lr=0.1, eps=1e-12).step(g)
    np.testing.assert_allclose(p["w"], -0.1 * np.sign(g["w"]), rtol=1e-8)


def test_state_dict_round_trip_continues_identically():
    params, grads_seq = _problem()
    a = {k: p.copy() for k, p in params.items()}
    opt_a = AdamW(a, lr=1e-2, weight_decay=0.1)
    for g in grads_seq:
        opt_a.step(g)
    b = {k: p.copy() for k, p in params.items()}
    opt_b = AdamW(b, lr=1e-2, weight_decay=0.1)
    for g in grads_seq[:3]:
        opt_b.step(g)
    state = opt_b.state_dict()
    c = {k: p.copy() for k, p in b.items()}
    opt_c = AdamW(c, lr=1e-2, weight_decay=0.1)
    opt_c.load_state_dict(state)
    assert opt_c.t == 3
    for g in grads_seq[3:]:
        opt_c.step(g)
    for k in a:
        np.testing.assert_array_equal(a[k], c[k])


def test_load_state_dict_refuses_mismatch_without_partial_load():
    params, grads_seq = _problem()
    opt = Adam(params)
    opt.step(grads_seq[0])
    state = opt.state_dict()
    fresh = Adam({k: p.copy() for k, p in params.items()})
    bad = dict(state)
    bad["v.wte"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"v\.wte"):
        fresh.load_state_dict(bad)
    assert fresh.t == 0 and not fresh.m["wte"].any()  # nothing was copied
    missing = {k: v for k, v in state.items() if k != "m.blocks.0.ln.b"}
    with pytest.raises(ValueError, match="missing"):
        fresh.load_state_dict(missing)


def test_step_bad_grads():
    params, grads_seq = _problem()
    opt = Adam(params)
    with pytest.raises(ValueError, match="missing"):
        opt.step({"wte": grads_seq[0]["wte"]})
    wrong = dict(grads_seq[0])
    wrong["wte"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match="wte"):
        opt.step(wrong)
    with pytest.raises(ValueError, match="betas"):
        Adam(params, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="lr"):
        Adam(params, lr=-1.0)


# ---------------------------------------------------------------------------------------------- clipping


@pytest.mark.reference
def test_clip_grad_norm_matches_torch():
    _, grads_seq = _problem()
    grads = grads_seq[0]
    tgrads = [torch.tensor(g) for g in grads.values()]
    tparams = [torch.zeros_like(g, requires_grad=True) for g in tgrads]
    for p, g in zip(tparams, tgrads, strict=True):
        p.grad = g.clone()
    ref_norm = torch.nn.utils.clip_grad_norm_(tparams, 1.5).item()
    norm = clip_grad_norm(grads, 1.5)
    assert abs(norm - ref_norm) < 1e-10
    for g, p in zip(grads.values(), tparams, strict=True):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_clip_grad_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert global_norm(grads) == 5.0
    assert clip_grad_norm(grads, 10.0) == 5.0
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # below the threshold: unchanged
    assert clip_grad_norm(grads, 1.0) == 5.0
    assert abs(global_norm(grads) - 1.0) < 1e-6
    g32 = {"a": np.ones(3, dtype=np.float32)}
    clip_grad_norm(g32, 0.5)
    assert g32["a"].dtype == np.float32
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(grads, 0.0)


# ---------------------------------------------------------------------------------------------- schedule


def test_lr_schedule_shape():
    max_lr, min_lr, warm, total = 1e-2, 1e-3, 10, 100
    lrs = [lr_schedule(s, max_lr, warm, total, min_lr) for s in range(120)]
    warmup = lrs[:warm]
    assert all(b > a for a, b in zip(warmup, warmup[1:], strict=False))  # strictly rising
    assert math.isclose(lrs[warm - 1], max_lr) and math.isclose(lrs[warm], max_lr)
    decay = lrs[warm:total]
    assert all(b < a for a, b in zip(decay, decay[1:], strict=False))  # strictly falling
    mid = warm + (total - warm) // 2
    assert math.isclose(lrs[mid], (max_lr + min_lr) / 2)  # half-way down the cosine
    assert all(lr == min_lr for lr in lrs[total:])
    assert min(lrs) > 0
    # no warm-up: the first step is at max_lr
    assert lr_schedule(0, max_lr, 0, total, min_lr) == max_lr
    # constant after warm-up when min_lr == max_lr
    assert {lr_schedule(s, 1e-3, 5, 50, 1e-3) for s in range(5, 60)} == {1e-3}


def test_lr_schedule_bad_input():
    with pytest.raises(ValueError, match="min_lr"):
        lr_schedule(0, 1e-3, 0, 10, 1e-2)
    with pytest.raises(ValueError, match="step"):
        lr_schedule(-1, 1e-3, 0, 10)
    with pytest.raises(TypeError, match="warmup_steps"):
        lr_schedule(0, 1e-3, 1.5, 10)


def test_mixed_dtypes_match_separate_optimizers():
    params, grads_seq = _problem(np.float64)
    params["blocks.0.attn.w"] = params["blocks.0.attn.w"].astype(np.float32)
    for g in grads_seq:
        g["blocks.0.attn.w"] = g["blocks.0.attn.w"].astype(np.float32)
    together = {k: p.copy() for k, p in params.items()}
    opt = AdamW(together, lr=1e-2, weight_decay=0.1)
    for g in grads_seq:
        opt.step(g)
    for name in params:  # each parameter alone gives the same result
        alone = {name: params[name].copy()}
        opt1 = AdamW(alone, lr=1e-2, weight_decay=0.1)
        for g in grads_seq:
            opt1.step({name: g[name]})
        assert together[name].dtype == params[name].dtype
        np.testing.assert_array_equal(together[name], alone[name])
