"""The build's prefetch (book/conf.py): started only for a build that reads a training chapter, stopped with it."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def conf(monkeypatch, tmp_path):
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path / "runs"))
    monkeypatch.delenv("ATTNBOOK_PREFETCH", raising=False)
    threads = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {v: os.environ.get(v) for v in threads}  # conf.py sets them; later tests must not inherit that
    spec = importlib.util.spec_from_file_location("attnbook_book_conf", ROOT / "book" / "conf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    yield mod
    mod._stop_prefetch()
    for var, value in saved.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


def _app(tmp_path, mode="cache"):
    return SimpleNamespace(
        outdir=str(tmp_path / "_build" / "html"), config=SimpleNamespace(nb_execution_mode=mode)
    )


def test_started_for_a_training_chapter_and_stopped_with_the_build(conf, tmp_path):
    conf._start_prefetch(_app(tmp_path), None, ["chapters/01_tokens", "chapters/10_own_text"])
    (proc,) = conf._prefetch
    assert proc.poll() is None  # training chapter 10's model into the test's run cache
    assert proc.args[-2:] == ["--chapters", "10"] and (tmp_path / "_build" / "prefetch.log").exists()
    conf._start_prefetch(_app(tmp_path), None, ["chapters/07_training"])
    assert conf._prefetch == [proc]  # one per build
    conf._stop_prefetch(_app(tmp_path), RuntimeError("the build failed"))
    assert proc.poll() is not None and not conf._prefetch


@pytest.mark.parametrize(
    ("docnames", "mode", "env"),
    [
        (["chapters/01_tokens", "index"], "cache", "1"),
        (["chapters/08_heads"], "off", "1"),
        (["chapters/08_heads"], "cache", "0"),
    ],
)
def test_not_started(conf, tmp_path, monkeypatch, docnames, mode, env):
    monkeypatch.setenv("ATTNBOOK_PREFETCH", env)
    conf._start_prefetch(_app(tmp_path, mode), None, docnames)
    assert not conf._prefetch


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_dies_with_a_killed_build(tmp_path):
    """A build killed outright (no atexit, no build-finished) takes its prefetch with it."""
    build = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-m', 'attnbook.experiments.prefetch', '--parent', str(os.getpid()),"
            " '--chapters', '10'])\n"
            "print(p.pid, flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "ATTNBOOK_CACHE": str(tmp_path / "runs")},
        cwd=ROOT,
    )
    child = int(build.stdout.readline())
    time.sleep(3)  # the prefetch is training by now
    os.kill(child, 0)  # alive
    build.send_signal(signal.SIGKILL)
    build.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        try:  # reap it if it became ours (it is the killed build's child, re-parented to init or a subreaper)
            os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the prefetch outlived its build")
