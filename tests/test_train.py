"""Tests for attnbook.train: train_step, the loop's history, resuming, interruption, and a PyTorch twin's loss curve."""

import dataclasses
import math
import os
import signal

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F

import attnbook.checkpoint
import attnbook.cli
import attnbook.config
import attnbook.train
from attnbook import model
from attnbook.checkpoint import load_checkpoint, save_checkpoint
from attnbook.config import ModelConfig, TrainConfig
from attnbook.data import get_batch, make_dataset
from attnbook.history import HISTORY_FIELDS
from attnbook.optim import AdamW, lr_schedule
from attnbook.reference import torch_gpt
from attnbook.train import StepResult, _rng, train, train_step

CFG = ModelConfig(vocab_size=11, block_size=8, d_model=16, n_layer=2, n_head=2, d_ff=32)


def _data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    return rng.integers(0, CFG.vocab_size, size=n), rng.integers(0, CFG.vocab_size, size=n // 4)


def _tc(**kw):
    base = {"steps": 12, "batch_size": 4, "eval_interval": 4, "eval_batches": 1, "log_interval": 2}
    return TrainConfig(**{**base, **kw})


def _assert_same_run(a, b):
    assert a.step == b.step
    assert set(a.params) == set(b.params)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    assert set(a.history) == set(b.history)
    for k in a.history:
        assert a.history[k].dtype == b.history[k].dtype, k
        np.testing.assert_array_equal(a.history[k], b.history[k], err_msg=k)


# ---------------------------------------------------------------------------------------------- training


def test_tiny_batch_overfits():
    rows = np.array([[1, 5, 2, 9, 3, 3, 7, 0, 4], [6, 2, 8, 1, 10, 4, 4, 9, 5]])  # two fixed sequences
    tc = TrainConfig(steps=150, batch_size=4, lr=1e-2, warmup_steps=0, min_lr=1e-2, weight_decay=0.0)
    result = train(CFG, tc, rows, progress=False)
    h = result.history
    assert h["loss"][0] > 2.0  # starts near ln(11) = 2.4
    x, y = rows[:, :-1], rows[:, 1:]
    final = model.loss(model.forward(result.params, x, CFG)[0], y)[0]
    assert final < 0.05, final
    assert result.status == "done" and result.step == 150


def test_history_contents_and_shapes():
    tc = _tc(snapshot_steps=(0, 6, 12), probe_size=2)
    r = train(CFG, tc, _data(), progress=False)
    h = r.history
    np.testing.assert_array_equal(h["step"], [0, 2, 4, 6, 8, 10, 11])
    np.testing.assert_array_equal(h["eval_step"], [0, 4, 8, 12])
    for k in ("loss", "lr", "grad_norm"):
        assert h[k].shape == (7,) and np.all(np.isfinite(h[k])), k
    assert h["grad_norm_layers"].shape == (7, CFG.n_layer)
    # per-layer norms are parts of the total norm
    assert np.all(np.sqrt((h["grad_norm_layers"] ** 2).sum(axis=1)) < h["grad_norm"])
    assert h["act_std"].shape[0] == 7 and np.all(h["act_std"] > 0)
    assert h["attn_entropy"].shape == (7, CFG.n_layer, CFG.n_head)
    # a causal row over t + 1 keys has entropy at most ln(t + 1)
    max_ent = np.mean(np.log(np.arange(1, CFG.block_size + 1)))
    assert np.all(h["attn_entropy"] > 0) and np.all(h["attn_entropy"] <= max_ent + 1e-9)
    np.testing.assert_allclose(
        h["lr"], [lr_schedule(int(s), tc.lr, tc.warmup_steps, 12, tc.min_lr) for s in h["step"]]
    )
    assert h["val_loss"].shape == (4,) and abs(h["val_loss"][0] - math.log(CFG.vocab_size)) < 0.1
    np.testing.assert_array_equal(h["snapshot_step"], [0, 6, 12])
    assert h["snapshot_attn"].shape == (3, CFG.n_layer, 2, CFG.n_head, 8, 8)
    assert h["probe_idx"].shape == (2, 8)
    # the last snapshot is the final model's attention on the probe batch
    _, cache = model.forward(r.params, h["probe_idx"], CFG)
    np.testing.assert_allclose(h["snapshot_attn"][-1], model.attention_maps(cache), rtol=1e-6)
    np.testing.assert_allclose(h["snapshot_attn"][-1].sum(-1), 1.0, rtol=1e-5)


def test_train_keeps_float64_and_does_not_touch_given_params():
    params = model.init_params(CFG, 3, dtype=np.float64)
    before = {k: v.copy() for k, v in params.items()}
    r = train(CFG, _tc(steps=3, dtype="float64"), _data(), params=params, progress=False)
    assert all(v.dtype == np.float64 for v in r.params.values())
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    with pytest.raises(TypeError, match="dtype"):
        train(CFG, _tc(steps=3), _data(), params=params, progress=False)  # float32 run, float64 params


def test_train_bad_input():
    with pytest.raises(ValueError, match="train data"):
        train(CFG, _tc(), np.arange(5), progress=False)  # shorter than block_size + 1
    with pytest.raises(ValueError, match="train data"):
        train(CFG, _tc(), np.full(50, CFG.vocab_size), progress=False)  # token out of range
    with pytest.raises(TypeError, match="train_cfg"):
        train(CFG, {"steps": 3}, _data(), progress=False)
    with pytest.raises(ValueError, match="min_lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ValueError, match="snapshot_steps"):
        TrainConfig(steps=10, snapshot_steps=(5, 20))
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="sgd")


def test_progress_bar_on_stderr(capsys):
    train(CFG, _tc(steps=3), _data(), progress=True)
    captured = capsys.readouterr()
    assert "3/3" in captured.err and "loss" in captured.err and "val" in captured.err  # tqdm's bar
    assert captured.err.endswith("\n") and captured.out == ""
    train(CFG, _tc(steps=3), _data(), progress=False)
    assert capsys.readouterr().err == ""


def test_train_config_dict_round_trip():
    tc = _tc(snapshot_steps=(0, 5), weight_decay=0.0)
    assert TrainConfig.from_dict(tc.to_dict()) == tc
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"stepz": 3})


def test_resume_equals_uninterrupted_run(tmp_path):
    tc = _tc(snapshot_steps=(0, 5, 12))
    data = _data()
    full = train(CFG, tc, data, progress=False)

    def stop_at_5(step, logs):
        if step == 5:
            raise KeyboardInterrupt

    path = tmp_path / "ck.npz"
    part = train(CFG, tc, data, progress=False, callback=stop_at_5, checkpoint_path=path)
    assert part.status == "interrupted" and part.step == 5
    assert load_checkpoint(path).step == 5
    resumed = train(CFG, tc, data, progress=False, resume_from=path)
    assert resumed.status == "done"
    _assert_same_run(full, resumed)
    # resuming a finished run changes nothing
    save_checkpoint(path, *resumed[:1], CFG, tc, resumed.step, resumed.opt_state, resumed.history)
    again = train(CFG, tc, data, progress=False, resume_from=path)
    _assert_same_run(full, again)


def test_callback_sees_every_step():
    seen = []
    train(CFG, _tc(steps=5), _data(), progress=False, callback=lambda s, logs: seen.append((s, logs)))
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5]
    assert "val_loss" in seen[0][1] and "val_loss" in seen[4][1] and "val_loss" not in seen[1][1]


def test_first_sigint_stops_after_the_step_and_restores_the_handler():
    def interrupt_at_2(step, logs):
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this (main) thread

    before = signal.getsignal(signal.SIGINT)
    r = train(CFG, _tc(steps=6), _data(), progress=False, callback=interrupt_at_2)
    assert r.status == "interrupted" and r.step == 2
    assert r.history["step"][-1] <= 1  # nothing recorded after the interrupted step
    assert signal.getsignal(signal.SIGINT) is before


def test_old_imports_still_work():
    # chapters, experiments and the run cache import these from attnbook.train
    assert attnbook.train.TrainConfig is attnbook.config.TrainConfig
    assert attnbook.train.load_checkpoint is attnbook.checkpoint.load_checkpoint
    assert attnbook.train.save_checkpoint is attnbook.checkpoint.save_checkpoint
    assert attnbook.train.Checkpoint is attnbook.checkpoint.Checkpoint
    assert attnbook.train.main(["--help"]) == attnbook.cli.main(["--help"]) == 0


# ---------------------------------------------------------------------------------------------- train_step


def _adamw(params, tc):
    return AdamW(params, lr=tc.lr, betas=(tc.beta1, tc.beta2), eps=tc.eps, weight_decay=tc.weight_decay)


def test_train_is_a_loop_of_train_step():
    tc = _tc(steps=5, log_interval=2, grad_clip=0.5)
    data = _data()
    ours = train(CFG, tc, data, progress=False)
    params = model.init_params(CFG, tc.seed)
    opt = _adamw(params, tc)
    losses = []
    for s in range(tc.steps):
        batch = get_batch(data[0], CFG.block_size, tc.batch_size, _rng(tc.seed, 1, s))
        lr = lr_schedule(s, tc.lr, tc.warmup_steps, tc.steps, tc.min_lr)
        out = train_step(params, opt, batch, CFG, lr=lr, grad_clip=tc.grad_clip, record=s in (0, 2, 4))
        assert isinstance(out, StepResult) and out.updated and math.isfinite(out.grad_norm)
        assert (out.stats is not None) == (s in (0, 2, 4))
        losses.append(out.loss)
    for k in params:  # bit-identical: train() adds nothing to the update
        np.testing.assert_array_equal(params[k], ours.params[k], err_msg=k)
    np.testing.assert_array_equal(ours.history["loss"], [losses[0], losses[2], losses[4]])


def test_train_step_statistics_match_an_independent_computation():
    cfg = dataclasses.replace(CFG, n_layer=3)
    params = model.init_params(cfg, 1, dtype=np.float64)
    before = {k: v.copy() for k, v in params.items()}
    x, y = get_batch(_data()[0], cfg.block_size, 4, np.random.default_rng(0))
    out = train_step(params, _adamw(params, _tc()), (x, y), cfg, lr=1e-3, grad_clip=0.0, record=True)
    assert set(out.stats) == set(HISTORY_FIELDS) - {
        "step",
        "loss",
        "lr",
        "eval_step",
        "train_loss",
        "val_loss",
        "snapshot_step",
        "snapshot_attn",
    }
    logits, cache = model.forward(before, x, cfg, training=True)
    loss, dlogits = model.loss(logits, y)
    grads = model.backward(dlogits, cache)
    assert out.loss == loss
    per_layer = [
        math.sqrt(sum(float((g**2).sum()) for k, g in grads.items() if k.startswith(f"blocks.{i}.")))
        for i in range(cfg.n_layer)
    ]
    np.testing.assert_allclose(out.stats["grad_norm_layers"], per_layer, rtol=1e-12)
    total = math.sqrt(sum(float((g**2).sum()) for g in grads.values()))
    assert out.grad_norm == out.stats["grad_norm"] and abs(out.grad_norm - total) < 1e-12 * total
    maps = model.attention_maps(cache)  # (L, B, H, T, T)
    entropy = scipy.special.entr(maps).sum(axis=-1).mean(axis=(1, 3))  # (L, H)
    np.testing.assert_allclose(out.stats["attn_entropy"], entropy, rtol=1e-12)
    stats = model.activation_stats(cache)
    for key in ("mean", "std", "max"):
        np.testing.assert_array_equal(out.stats[f"act_{key}"], stats[key])
    assert any(not np.array_equal(params[k], before[k]) for k in params)  # and it did update


def test_train_step_bad_input():
    params = model.init_params(CFG, 0)
    batch = get_batch(_data()[0], CFG.block_size, 2, np.random.default_rng(0))
    other = _adamw(model.init_params(CFG, 0), _tc())
    with pytest.raises(ValueError, match="optimizer"):
        train_step(params, other, batch, CFG, lr=1e-3)
    with pytest.raises(ValueError, match="optimizer"):
        train_step(params, "adamw", batch, CFG, lr=1e-3)
    with pytest.raises(ValueError, match="grad_clip"):
        train_step(params, _adamw(params, _tc()), batch, CFG, lr=1e-3, grad_clip=-1.0)
    with pytest.raises(ValueError, match="lr"):
        train_step(params, _adamw(params, _tc()), batch, CFG, lr=-1.0)


# ---------------------------------------------------------------------------------------------- PyTorch twin


@pytest.mark.reference
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-4), ("float64", 1e-9)])
def test_ten_steps_match_pytorch_twin(dtype, tol):
    tc = _tc(steps=10, log_interval=1, lr=1e-2, warmup_steps=3, min_lr=1e-3, grad_clip=0.5, dtype=dtype)
    # a learnable stream (a noisy cycle), so the curve falls and the comparison means something
    rng = np.random.default_rng(1)
    stream = (np.arange(600) * 3 + (rng.random(600) < 0.1)) % CFG.vocab_size
    data = (stream, stream[:100])
    init = model.init_params(CFG, 5, dtype=np.dtype(dtype))
    ours = train(CFG, tc, data, params=init, progress=False)

    P = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    decay = [p for p in P.values() if p.ndim >= 2]
    no_decay = [p for p in P.values() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=tc.lr,
        betas=(tc.beta1, tc.beta2),
        eps=tc.eps,
    )
    losses = []
    for step in range(tc.steps):
        # the batches train() draws: derived from (seed, step)
        x, y = get_batch(data[0], CFG.block_size, tc.batch_size, _rng(tc.seed, 1, step))
        for group in opt.param_groups:
            group["lr"] = lr_schedule(step, tc.lr, tc.warmup_steps, tc.steps, tc.min_lr)
        logits, _ = torch_gpt.gpt(P, torch.from_numpy(x), CFG)
        loss = F.cross_entropy(logits.reshape(-1, CFG.vocab_size), torch.from_numpy(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), tc.grad_clip)
        opt.step()
        losses.append(loss.item())
    diff = np.abs(ours.history["loss"] - np.array(losses))
    assert diff.max() < tol, f"numpy {ours.history['loss']}\ntorch {np.array(losses)}"
    assert losses[-1] < losses[0] - 0.1  # it learned something, so the curve is a real comparison
    for k, p in P.items():
        np.testing.assert_allclose(ours.params[k], p.detach().numpy(), rtol=0, atol=100 * tol, err_msg=k)


def test_make_dataset_feeds_train():
    ds = make_dataset({"kind": "repeated", "n": 40, "seq_len": 5, "vocab_size": 11})
    cfg = dataclasses.replace(CFG, block_size=9)
    r = train(cfg, _tc(steps=2), ds, progress=False)
    assert r.step == 2 and np.isfinite(r.history["val_loss"]).all()


# ---------------------------------------------------------------------------------------------- divergence


def test_divergence_is_a_result_with_the_last_finite_state(tmp_path):
    tc = _tc(steps=40, lr=1e4, grad_clip=0.0, warmup_steps=0, min_lr=0.0)
    path = tmp_path / "ck.npz"
    r = train(CFG, tc, _data(), progress=False, checkpoint_path=path)
    assert r.status == "diverged" and r.step < 40
    assert f"at step {r.step}" in r.detail and "non-finite" in r.detail
    assert all(np.isfinite(p).all() for p in r.params.values())
    assert r.history["step"][-1] == r.step  # the diverging step's row ends the history
    ck = load_checkpoint(path)
    assert ck.step == r.step and ck.extra["status"] == "diverged" and ck.extra["detail"] == r.detail
    model.forward(ck.params, np.zeros((1, 4), dtype=np.int64), CFG)  # the saved state is usable
    # resuming it (with a gentler rate, still too late) records the diverged step again, once
    resumed = train(CFG, tc.replace(lr=1e-3, min_lr=1e-4), _data(), progress=False, resume_from=path)
    assert resumed.step >= r.step and list(resumed.history["step"]).count(r.step) == 1
    assert np.all(np.diff(resumed.history["step"]) > 0)


def test_train_step_undoes_an_update_that_overflows(monkeypatch):
    params = model.init_params(CFG, 0)
    opt = AdamW(params, lr=1e-3)
    batch = get_batch(_data()[0], CFG.block_size, 4, np.random.default_rng(0))
    train_step(params, opt, batch, CFG, lr=1e-3)
    before = {k: p.copy() for k, p in params.items()}, opt.state_dict()
    real_step = opt.step

    def overflowing_step(grads, lr=None):
        real_step(grads, lr)
        params["wte"][0, 0] = np.inf

    monkeypatch.setattr(opt, "step", overflowing_step)
    out = train_step(params, opt, batch, CFG, lr=1e-3)
    assert not out.updated and out.nonfinite == "parameters" and out.stats is not None
    for k in params:
        np.testing.assert_array_equal(params[k], before[0][k], err_msg=k)
    for k, v in opt.state_dict().items():
        np.testing.assert_array_equal(v, before[1][k], err_msg=k)


def test_non_finite_parameters_are_named():
    params = model.init_params(CFG, 0)
    params["blocks.0.attn.w_qkv"][1, 2] = np.nan
    with pytest.raises(ValueError, match=r"params\['blocks.0.attn.w_qkv'\] has non-finite"):
        model.forward(params, np.zeros((1, 4), dtype=np.int64), CFG)
    with pytest.raises(ValueError, match=r"params\['blocks.0.attn.w_qkv'\] has non-finite"):
        train(CFG, _tc(), _data(), params=params, progress=False)


def test_ctrl_c_inside_the_update_leaves_whole_parameters(monkeypatch):
    params = model.init_params(CFG, 0)
    opt = AdamW(params, lr=1e-3)
    batch = get_batch(_data()[0], CFG.block_size, 4, np.random.default_rng(0))
    before = {k: p.copy() for k, p in params.items()}
    real_step = opt.step

    def interrupted_step(grads, lr=None):
        real_step(grads, lr)  # the parameters are updated, the optimizer's step count too ...
        raise KeyboardInterrupt  # ... and Ctrl-C arrives before the caller knows

    monkeypatch.setattr(opt, "step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        train_step(params, opt, batch, CFG, lr=1e-3)
    assert opt.t == 0
    for k in params:
        np.testing.assert_array_equal(params[k], before[k], err_msg=k)


def test_stop_signals_nest_and_hand_over_what_they_received():
    from attnbook.train import StopSignals

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopSignals((signal.SIGINT, signal.SIGTERM)) as outer:
        with StopSignals() as inner:  # train()'s: Ctrl-C only
            os.kill(os.getpid(), signal.SIGTERM)  # reaches the outer handler ...
            assert inner.requested  # ... and stops the inner loop
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C raises nothing either
            assert inner.received == [signal.SIGINT, signal.SIGINT]
        assert outer.received == [signal.SIGTERM, signal.SIGINT, signal.SIGINT]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_train_in_a_thread_installs_no_handler():
    import threading

    results = []
    t = threading.Thread(target=lambda: results.append(train(CFG, _tc(steps=2), _data(), progress=False)))
    t.start()
    t.join()
    assert results[0].status == "done" and results[0].step == 2
