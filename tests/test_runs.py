"""Tests for attnbook.runs: cache hits do not retrain, keys follow configs and code, bad entries recompute."""

import dataclasses
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from attnbook import runs
from attnbook.config import ModelConfig
from attnbook.train import TrainConfig

CFG = ModelConfig(vocab_size=11, block_size=8, d_model=16, n_layer=1, n_head=2, d_ff=32)
TC = TrainConfig(
    steps=3, batch_size=2, eval_interval=2, eval_batches=1, log_interval=1, snapshot_steps=(0, 3)
)
SPEC = {"kind": "repeated", "n": 20, "seq_len": 5, "vocab_size": 11}


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = runs.train

    def counting_train(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "train", counting_train)
    return calls


def _same(a, b):
    assert a.step == b.step and a.status == b.status
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert set(a.history) == set(b.history)
    for k in a.history:
        assert a.history[k].dtype == b.history[k].dtype and a.history[k].shape == b.history[k].shape, k
        np.testing.assert_array_equal(a.history[k], b.history[k])


def test_cache_hit_does_not_retrain(tmp_path, counted):
    first = runs.cached_train(CFG, TC, SPEC, tmp_path)
    second = runs.cached_train(CFG, TC, SPEC, tmp_path)
    assert len(counted) == 1
    _same(first, second)
    assert second.opt_state is None
    assert len(list(tmp_path.glob("*.npz"))) == 1
    # a different config trains again and gets its own entry
    runs.cached_train(CFG, TC.replace(lr=1e-3), SPEC, tmp_path)
    assert len(counted) == 2 and len(list(tmp_path.glob("*.npz"))) == 2


def test_key_changes_with_configs_data_and_source(monkeypatch):
    key = runs.run_key(CFG, TC, SPEC)
    assert key == runs.run_key(CFG, TC, dict(SPEC))
    assert key == runs.run_key(CFG, TC, {**SPEC, "seed": 0})  # defaults are filled in before hashing
    assert runs.run_key(dataclasses.replace(CFG, n_layer=2), TC, SPEC) != key
    assert runs.run_key(CFG, TC.replace(seed=1), SPEC) != key
    assert runs.run_key(CFG, TC, {**SPEC, "seed": 1}) != key
    monkeypatch.setattr(runs, "source_hash", lambda: "edited")
    assert runs.run_key(CFG, TC, SPEC) != key


def test_source_hash_follows_files(tmp_path):
    pkg = tmp_path / "attnbook"
    (pkg / "viz").mkdir(parents=True)
    (pkg / "model.py").write_text("x = 1\n")
    (pkg / "viz" / "fig.py").write_text("y = 1\n")
    h0 = runs.source_hash(pkg)
    (pkg / "viz" / "fig.py").write_text("y = 2\n")  # figure code cannot change a trained model
    assert runs.source_hash(pkg) == h0
    (pkg / "model.py").write_text("x = 2\n")
    h1 = runs.source_hash(pkg)
    assert h1 != h0
    (pkg / "layers").mkdir()
    (pkg / "layers" / "norm.py").write_text("")
    assert runs.source_hash(pkg) != h1  # sub-packages count
    assert len(runs.source_hash()) == 64


def test_corrupt_entry_is_recomputed(tmp_path, counted):
    first = runs.cached_train(CFG, TC, SPEC, tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    blob = entry.read_bytes()
    entry.write_bytes(blob[: len(blob) // 3])
    again = runs.cached_train(CFG, TC, SPEC, tmp_path)
    assert len(counted) == 2
    _same(first, again)
    runs.cached_train(CFG, TC, SPEC, tmp_path)
    assert len(counted) == 2  # the rewritten entry is good


def test_entry_of_another_run_is_not_returned(tmp_path, counted):
    runs.cached_train(CFG, TC, SPEC, tmp_path)
    other = TC.replace(seed=5)
    (entry,) = tmp_path.glob("*.npz")
    # an entry whose file name claims to be the other run's key
    entry.rename(tmp_path / f"{runs.run_key(CFG, other, SPEC)}.npz")
    result = runs.cached_train(CFG, other, SPEC, tmp_path)
    assert len(counted) == 2
    fresh = runs.train(CFG, other, runs.make_dataset(SPEC), progress=False)
    for k in fresh.params:
        np.testing.assert_array_equal(result.params[k], fresh.params[k])


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path / "c"))
    assert runs.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ATTNBOOK_CACHE")
    d = runs.default_cache_dir()
    assert d.parts[-2:] == (".cache", "runs") and (d.parent.parent / "attnbook").is_dir()


def test_key_follows_what_the_numbers_depend_on(monkeypatch):
    blas = runs.openblas_runtime()
    if blas is not None:  # NumPy's own OpenBLAS: what it really uses, read from the library
        assert blas["threads"] >= 1 and runs.numeric_environment()["threads"] == blas
        if os.environ.get("OPENBLAS_NUM_THREADS") == "1":
            assert blas["threads"] == 1
    base = runs.run_key(CFG, TC, SPEC)
    # values unlike this machine's (whatever it runs: 1 or 2 threads, Haswell or SkylakeX kernels)
    threads = runs.numeric_environment()["threads"]
    n = (threads.get("threads", 1) if isinstance(threads, dict) else 1) + 7
    monkeypatch.setattr(runs, "openblas_runtime", lambda: {"threads": n, "core": "KernelA"})
    more = runs.run_key(CFG, TC, SPEC)
    monkeypatch.setattr(runs, "openblas_runtime", lambda: {"threads": n, "core": "KernelB"})
    assert len({base, more, runs.run_key(CFG, TC, SPEC)}) == 3  # more threads sum in another order
    # another BLAS: the thread variables, or the CPU count when none is set
    monkeypatch.setattr(runs, "openblas_runtime", lambda: None)
    for v in runs.THREAD_VARIABLES:
        monkeypatch.delenv(v, raising=False)
    unset = runs.run_key(CFG, TC, SPEC)
    assert runs.numeric_environment()["threads"] == {"cpus": os.cpu_count()}
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    one = runs.run_key(CFG, TC, SPEC)
    assert runs.numeric_environment()["threads"] == {"MKL_NUM_THREADS": "1"}
    monkeypatch.setattr(runs.np, "__version__", "0.0.0")
    assert len({unset, one, runs.run_key(CFG, TC, SPEC)}) == 3


def test_cache_entry_records_its_numerics(tmp_path):
    runs.cached_train(CFG, TC, SPEC, tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    assert runs.load_checkpoint(entry).extra["numerics"] == runs.numeric_environment()


def test_a_diverged_run_is_cached_with_its_detail(tmp_path, counted):
    tc = dataclasses.replace(
        TC, lr=1e4, grad_clip=0.0, warmup_steps=0, min_lr=0.0, steps=40, snapshot_steps=()
    )
    first = runs.cached_train(CFG, tc, SPEC, tmp_path)
    again = runs.cached_train(CFG, tc, SPEC, tmp_path)
    assert len(counted) == 1 and first.status == again.status == "diverged"
    assert again.detail == first.detail and "non-finite" in first.detail
    _same(first, again)


def test_a_run_being_trained_is_waited_for_then_loaded(tmp_path, monkeypatch):
    """Two cached_train of the same key at once (the build's prefetch and a chapter): one trains, one waits and loads."""
    calls, inside = [], threading.Event()
    real = runs.train

    def slow_train(*args, **kwargs):
        calls.append(args)
        inside.set()
        time.sleep(0.5)  # the second caller arrives while this one trains
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "train", slow_train)
    results = {}

    def call(who):
        results[who] = runs.cached_train(CFG, TC, SPEC, tmp_path)

    first = threading.Thread(target=call, args=("first",))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=call, args=("second",))
    second.start()
    first.join(60)
    second.join(60)
    assert len(calls) == 1
    _same(results["first"], results["second"])
    assert len(list(tmp_path.glob("*.npz"))) == 1


@pytest.mark.skipif(runs.fcntl is None, reason="no flock on this platform")
def test_a_killed_trainer_does_not_block_the_next(tmp_path, counted):
    key = runs.run_key(CFG, TC, SPEC)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from attnbook.runs import run_lock\n"
            "with run_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)",
            str(tmp_path / f"{key}.npz"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        waiting = threading.Thread(target=runs.cached_train, args=(CFG, TC, SPEC, tmp_path), daemon=True)
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive() and not counted  # the lock is held: it waits, it does not train
        holder.kill()  # a trainer killed mid-run: the system releases its lock
        waiting.join(60)
        assert not waiting.is_alive() and len(counted) == 1
    finally:
        holder.kill()
        holder.wait()
