"""Tests for attnbook.checkpoint and attnbook.history: round trips, atomic writes, and every kind of bad file."""

import dataclasses
import json
import os
import re

import numpy as np
import pytest

from attnbook import model
from attnbook.checkpoint import Checkpoint, check_params, load_checkpoint, save_checkpoint
from attnbook.config import ModelConfig, TrainConfig
from attnbook.history import HISTORY_FIELDS, History, check_history
from attnbook.train import train

CFG = ModelConfig(vocab_size=11, block_size=8, d_model=16, n_layer=2, n_head=2, d_ff=32)


def _data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    return rng.integers(0, CFG.vocab_size, size=n), rng.integers(0, CFG.vocab_size, size=n // 4)


def _tc(**kw):
    base = {"steps": 12, "batch_size": 4, "eval_interval": 4, "eval_batches": 1, "log_interval": 2}
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def run():
    """A short run with snapshots, so every history field is filled."""
    return train(CFG, _tc(steps=4, snapshot_steps=(0, 4)), _data(), progress=False)


def _save(path, run, cfg=CFG, **kw):
    args = {"opt_state": run.opt_state, "history": run.history, **kw}
    return save_checkpoint(path, run.params, cfg, _tc(steps=4, snapshot_steps=(0, 4)), run.step, **args)


# ---------------------------------------------------------------------------------------------- round trips


def test_round_trip_is_exact(tmp_path, run):
    path = _save(tmp_path / "ck.npz", run, extra={"note": "hello", "tokenizer": {"chars": "abc"}})
    ck = load_checkpoint(path)
    assert isinstance(ck, Checkpoint)
    assert ck.cfg == CFG and ck.train_cfg == _tc(steps=4, snapshot_steps=(0, 4)) and ck.step == 4
    assert ck.extra == {"note": "hello", "tokenizer": {"chars": "abc"}}
    for got, want in ((ck.params, run.params), (ck.opt_state, run.opt_state), (ck.history, run.history)):
        assert list(got) == list(want)
        for k in want:
            assert got[k].dtype == want[k].dtype, k
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert set(ck.history) == set(HISTORY_FIELDS) | {"probe_idx"}
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]  # no temporary file left behind


def test_round_trip_float64_without_optimizer_or_history(tmp_path):
    params = model.init_params(CFG, 2, dtype=np.float64)
    save_checkpoint(tmp_path / "sub" / "dir" / "ck.npz", params, CFG, _tc(dtype="float64"), 0)
    ck = load_checkpoint(tmp_path / "sub" / "dir" / "ck.npz")  # folders are created
    assert ck.opt_state is None and ck.history == {} and ck.extra == {}
    assert all(ck.params[k].dtype == np.float64 and np.array_equal(ck.params[k], params[k]) for k in params)


def test_train_writes_a_checkpoint_it_can_resume_from(tmp_path):
    path = tmp_path / "ck.npz"
    r = train(CFG, _tc(steps=3), _data(), progress=False, checkpoint_path=path)
    ck = load_checkpoint(path)
    assert ck.step == 3 and ck.opt_state is not None
    resumed = train(CFG, _tc(steps=5), _data(), progress=False, resume_from=path)
    assert resumed.step == 5 and r.step == 3


def test_history_survives_a_resume_round_trip(run):
    h = History(run.history)
    again = h.arrays()
    assert set(again) == set(run.history)
    for k in again:
        assert again[k].dtype == run.history[k].dtype
        np.testing.assert_array_equal(again[k], run.history[k])
    empty = History().arrays()
    check_history(empty, CFG)  # a history with no rows is fine
    check_history(History(empty).arrays(), CFG)


# ---------------------------------------------------------------------------------------------- atomic writes


def _failing_savez(monkeypatch):
    def savez(f, **arrays):
        f.write(b"PK\x03\x04 half a checkpoint")  # some bytes reach the temporary file, then it fails
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez)


def test_failed_write_leaves_no_partial_file(tmp_path, run, monkeypatch):
    _failing_savez(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path / "ck.npz", run)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, run, monkeypatch):
    path = _save(tmp_path / "ck.npz", run)
    blob = path.read_bytes()
    _failing_savez(monkeypatch)
    with pytest.raises(OSError):
        _save(path, run, extra={"newer": True})
    assert path.read_bytes() == blob and [p.name for p in tmp_path.iterdir()] == ["ck.npz"]


def test_interrupted_write_leaves_no_partial_file(tmp_path, run, monkeypatch):
    def interrupted(f, **arrays):
        f.write(b"PK")
        raise KeyboardInterrupt  # Ctrl-C while writing

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path / "ck.npz", run)
    assert list(tmp_path.iterdir()) == []


def test_write_goes_through_a_temporary_file_in_the_same_folder(tmp_path, run, monkeypatch):
    renames = []
    real_replace = os.replace

    def replace(src, dst):
        renames.append((os.path.dirname(src), os.path.basename(src), dst))
        assert not os.path.exists(dst)  # the target appears only by the rename
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    _save(tmp_path / "ck.npz", run)
    [(folder, name, dst)] = renames
    assert folder == str(tmp_path) and name.startswith(".ck.npz.") and str(dst) == str(tmp_path / "ck.npz")


# ---------------------------------------------------------------------------------------------- bad files


def test_missing_truncated_corrupt_and_foreign_files(tmp_path, run):
    with pytest.raises(FileNotFoundError, match="nope.npz does not exist"):
        load_checkpoint(tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="directory"):
        load_checkpoint(tmp_path)
    blob = _save(tmp_path / "ck.npz", run).read_bytes()
    (tmp_path / "trunc.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"trunc\.npz .*truncated"):
        load_checkpoint(tmp_path / "trunc.npz")
    corrupt = bytearray(blob)
    corrupt[len(blob) // 2] ^= 0xFF  # flip a byte inside some array's data
    (tmp_path / "corrupt.npz").write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match=r"corrupt\.npz .*corrupt"):
        load_checkpoint(tmp_path / "corrupt.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz"):
        load_checkpoint(tmp_path / "empty.npz")
    (tmp_path / "text.npz").write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match="text.npz"):
        load_checkpoint(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz has missing or invalid metadata"):
        load_checkpoint(tmp_path / "other.npz")
    np.savez(tmp_path / "pickled.npz", meta=np.array([{"format": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz"):
        load_checkpoint(tmp_path / "pickled.npz")  # never unpickled


def _rewrite_meta(src, dst, **changes):
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"][0]))
    meta.update(changes)
    arrays["meta"] = np.array([json.dumps(meta)])
    np.savez(dst, **arrays)


def test_bad_metadata(tmp_path, run):
    path = _save(tmp_path / "ck.npz", run)
    cases = {
        "format": {"format": "something.else"},
        "version": {"version": 99},
        "step": {"step": -1},
        "n_head": {"model_config": {**CFG.to_dict(), "n_head": 3}},
        "unknown": {"train_config": {"stepz": 3}},
    }
    for match, change in cases.items():
        _rewrite_meta(path, tmp_path / "bad.npz", **change)
        with pytest.raises(ValueError, match=match):
            load_checkpoint(tmp_path / "bad.npz")


def test_parameters_and_optimizer_must_match_the_config(tmp_path, run):
    bigger = dataclasses.replace(CFG, d_model=32)
    _save(tmp_path / "shape.npz", run, cfg=bigger, history=None)
    with pytest.raises(ValueError, match=r"shape\.npz.*shape"):
        load_checkpoint(tmp_path / "shape.npz")
    fewer = {k: v for k, v in run.params.items() if k != "lm_head"}
    save_checkpoint(tmp_path / "keys.npz", fewer, CFG, _tc(), 2)
    with pytest.raises(ValueError, match="lm_head"):
        load_checkpoint(tmp_path / "keys.npz")
    mixed = {**run.params, "wte": run.params["wte"].astype(np.float64)}
    save_checkpoint(tmp_path / "mixed.npz", mixed, CFG, _tc(), 2)
    with pytest.raises(ValueError, match="one float dtype"):
        load_checkpoint(tmp_path / "mixed.npz")
    opt = {k: v for k, v in run.opt_state.items() if k != "m.wte"}
    _save(tmp_path / "opt.npz", run, opt_state=opt)
    with pytest.raises(ValueError, match=r"m\.wte"):
        load_checkpoint(tmp_path / "opt.npz")
    opt = {**run.opt_state, "v.wte": run.opt_state["v.wte"][:1]}
    _save(tmp_path / "optshape.npz", run, opt_state=opt)
    with pytest.raises(ValueError, match=r"v\.wte has the wrong shape"):
        load_checkpoint(tmp_path / "optshape.npz")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda h: {**h, "stepz": h["step"]}, "unknown fields"),
        (lambda h: {**h, "loss": h["loss"].astype(np.float32)}, r"history\['loss'\] must be float64"),
        (lambda h: {**h, "loss": h["loss"][:-1]}, r"history\['loss'\]"),
        (lambda h: {**h, "attn_entropy": h["attn_entropy"][:, :1]}, r"history\['attn_entropy'\]"),
        (lambda h: {**h, "grad_norm_layers": h["grad_norm_layers"][:, None]}, "grad_norm_layers"),
        (lambda h: {k: v for k, v in h.items() if k != "val_loss"}, "'val_loss' without 'eval_step'"),
        (lambda h: {**h, "snapshot_attn": h["snapshot_attn"][:, :, :, :, :4]}, "snapshot_attn"),
        (lambda h: {**h, "probe_idx": h["probe_idx"][:, :3]}, "probe_idx"),
        (lambda h: {k: v for k, v in h.items() if k != "probe_idx"}, "no probe_idx"),
        (lambda h: {**h, "step": np.int64(3)}, r"history\['step'\] must be an array"),
    ],
)
def test_bad_history_is_refused_on_load(tmp_path, run, change, match):
    _save(tmp_path / "ck.npz", run, history=change(dict(run.history)))
    with pytest.raises(ValueError, match=match) as err:
        load_checkpoint(tmp_path / "ck.npz")
    assert "ck.npz" in str(err.value)


def test_check_history_and_check_params_bad_input(run):
    with pytest.raises(TypeError, match="history"):
        check_history([1, 2], CFG)
    check_history(run.history, CFG)
    with pytest.raises(ValueError, match="attn_entropy"):
        check_history(run.history, dataclasses.replace(CFG, n_head=4))
    check_params(run.params, CFG, np.float32)
    with pytest.raises(TypeError, match=r"weights\['wte'\] must have dtype float64"):
        check_params(run.params, CFG, np.float64, "weights")
    with pytest.raises(ValueError, match="missing"):
        check_params({}, CFG, np.float32)


def test_save_bad_input(tmp_path, run):
    with pytest.raises(TypeError, match="object array"):
        save_checkpoint(
            tmp_path / "o.npz", run.params, CFG, _tc(), 1, extra=None, history={"x": np.array([None])}
        )
    with pytest.raises(TypeError, match="cfg"):
        save_checkpoint(tmp_path / "c.npz", run.params, CFG.to_dict(), _tc(), 1)
    with pytest.raises(TypeError, match="train_cfg"):
        save_checkpoint(tmp_path / "t.npz", run.params, CFG, None, 1)
    with pytest.raises(ValueError, match="step"):
        save_checkpoint(tmp_path / "s.npz", run.params, CFG, _tc(), -1)
    with pytest.raises(TypeError, match="JSON|serializable"):
        save_checkpoint(tmp_path / "j.npz", run.params, CFG, _tc(), 1, extra={"f": object()})
    assert list(tmp_path.iterdir()) == []


def test_a_saved_checkpoint_has_ordinary_file_permissions(tmp_path, run):
    import stat

    old = os.umask(0o022)
    try:
        path = _save(tmp_path / "p.npz", run)
    finally:
        os.umask(old)
    assert (
        stat.S_IMODE(path.stat().st_mode) == 0o644
    )  # readable by a web server, as a linked download must be


def test_history_values_are_checked_against_the_step(tmp_path, run):
    h = dict(run.history)
    check_history(h, CFG, run.step)
    bad = [
        ({"step": h["step"][::-1].copy()}, "increasing"),
        ({"eval_step": h["eval_step"] + 1000}, "beyond the run's"),
        ({"lr": np.full_like(h["lr"], np.nan)}, "'lr'] has negative values or NaN/inf"),
        ({"loss": -h["loss"]}, "'loss'] has negative values"),
    ]
    for change, message in bad:
        with pytest.raises(ValueError, match=re.escape(message)):
            check_history({**h, **change}, CFG, run.step)
    path = tmp_path / "ck.npz"
    save_checkpoint(path, run.params, CFG, _tc(steps=4), 1, None, h)  # a history longer than its step
    with pytest.raises(ValueError, match=f"checkpoint {re.escape(str(path))}: .*beyond the run's 1 updates"):
        load_checkpoint(path)
