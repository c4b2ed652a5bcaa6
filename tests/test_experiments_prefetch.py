"""Tests for attnbook.experiments.prefetch: it trains what the chapters read, in its order, and stops with the build."""

import io
import os
import subprocess
import sys

import pytest

from attnbook.experiments import prefetch as P
from attnbook.experiments import training as X


def test_chapter_7_jobs_are_the_chapters_runs(monkeypatch):
    seen = []
    monkeypatch.setattr(
        X, "prefetch_runs", lambda jobs, spec, **kw: seen.extend((c, t, spec) for c, t in jobs)
    )
    monkeypatch.setattr(X, "train_variants", lambda **kw: {})
    monkeypatch.setattr(X, "xiong_runs", lambda *a, **kw: {})
    X.chapter_runs(
        X.chapter_setup(),
        workers=2,
        n_layer=P.XIONG_DEEP,
        xiong_seeds=P.XIONG_SEEDS[1:],
        variant_seeds=P.VARIANT_SEEDS[1:],
    )
    jobs = P.book_jobs((7,))
    assert [j.configs for j in jobs] == seen[::-1]  # every run, from the other end of the chapter's order
    assert len(jobs) == 8 * len(P.XIONG_SEEDS) + len(X.VARIANTS) * len(P.VARIANT_SEEDS)


def test_chapter_8_jobs_are_the_runs_of_heads_seeds(monkeypatch):
    from attnbook.experiments import extrapolation, induction

    seen = []

    def record(cfg, tc, spec, cache_dir=None):
        seen.append((cfg, tc, spec))
        raise StopIteration  # no training: we only want to know what would be trained

    for mod in (induction, extrapolation):
        monkeypatch.setattr(mod, "cached_train", record)
    ind, ex = induction.InductionSetup(), extrapolation.ExtrapolationSetup()
    from dataclasses import replace

    for s in P.HEADS_SEEDS:
        for n_layer in (2, 1):
            with pytest.raises(StopIteration):
                induction.run_induction(replace(ind, seed=s), n_layer)
    for s in P.HEADS_SEEDS:
        for scheme in ex.schemes:
            with pytest.raises(StopIteration):
                extrapolation.run_extrapolation(replace(ex, schemes=(scheme,), seed=s))
    jobs = P.book_jobs((8,))
    assert [j.configs for j in jobs] == seen


def test_order_and_bad_chapters():
    jobs = P.book_jobs()
    assert jobs[0].chapter == 10 and jobs[0].configs is None  # chapter 10 first: the chapter trains it alone
    order = [10, 11, 8, 7]  # chapter 11's Node runs next: the last chapter, nothing else would overlap them
    assert [j.chapter for j in jobs] == sorted((j.chapter for j in jobs), key=order.index)
    assert [j.label for j in jobs if j.chapter == 11] == [
        "in-page induction run, 2 layers",
        "in-page induction run, 1 layer",
    ]
    with pytest.raises(ValueError, match="chapters"):
        P.book_jobs((5,))
    with pytest.raises(TypeError, match="chapters"):
        P.book_jobs("7")


def test_prefetch_runs_in_order_skips_failures_and_stops_without_its_build():
    ran, log = [], io.StringIO()

    def boom():
        raise RuntimeError("no data")

    jobs = [
        P.Job(7, "a", lambda: ran.append("a")),
        P.Job(7, "b", boom),
        P.Job(7, "c", lambda: ran.append("c")),
    ]
    assert P.prefetch(jobs, parent=os.getppid(), log=log) == 2
    assert ran == ["a", "c"] and "b: failed: RuntimeError('no data')" in log.getvalue()
    ran.clear()
    assert P.prefetch(jobs, parent=os.getppid() + 1, log=log) == 0 and not ran  # its build is gone


def test_main_exits_when_started_for_another_parent():
    out = subprocess.run(
        [sys.executable, "-m", "attnbook.experiments.prefetch", "--parent", "1", "--chapters", "10"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout == ""  # nothing trained: its parent is not process 1
