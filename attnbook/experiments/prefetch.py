"""Train the book's slow runs ahead of the chapters that read them, on the core the build leaves idle.

The chapters execute one after another, each in one kernel; while the early chapters run, the second core of
the build machine would idle. ``book/conf.py`` starts ``python -m attnbook.experiments.prefetch`` at the start
of a build that executes a training chapter: it trains, one after another and in this process, the runs of
chapters 10, 11, 8 and 7 (:func:`book_jobs`) that are not in the run cache yet. Every run goes through the run
cache's lock (:func:`attnbook.runs.run_lock`): a chapter that reaches a run the prefetch is training waits for
it and loads it, and the prefetch waits for (then loads) a run a chapter is training. Training is deterministic, so the
chapters read exactly what they would have trained themselves.

The seeds and settings the chapters use are defined here (chapters 7 and 8 import them), so that the prefetch
trains what the chapters read.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

from .._checks import check_int
from ..runs import cached_train
from .extrapolation import ExtrapolationSetup
from .induction import InductionSetup
from .training import chapter_jobs, chapter_setup

__all__ = [
    "CHAPTER_ORDER",
    "HEADS_SEEDS",
    "VARIANT_SEEDS",
    "XIONG_DEEP",
    "XIONG_SEEDS",
    "Job",
    "book_jobs",
    "main",
    "prefetch",
]

# Chapter 7: training seeds of the variant comparison and of the warm-up experiment (the base recipe's first),
# and the depth of the warm-up experiment's models. Chapter 8: the seeds of every experiment.
VARIANT_SEEDS = (0, 1, 2)
XIONG_SEEDS = (0, 1, 2)
XIONG_DEEP = 4
HEADS_SEEDS = (0, 1, 2)


class Job(NamedTuple):
    """One run of the book to train ahead: where it is used, and how to train (or load) it."""

    chapter: int
    label: str
    run: Callable[[], object]  # trains through the run cache; returns what the cache returns
    configs: tuple | None = None  # (ModelConfig, TrainConfig, data spec) of a cached_train run


def _job(chapter: int, label: str, cfg, tc, spec) -> Job:
    return Job(chapter, label, lambda: cached_train(cfg, tc, spec), (cfg, tc, spec))


def _own_text() -> object:
    from .own_text import own_text_model  # its own cache entry (with Adam's state), under the same lock

    return own_text_model()


def _in_page(n_layer: int) -> object:
    from ..viz.trainer import INDUCTION_SETTINGS
    from .in_page import trainer_run  # Node, cached as JSON under the same lock

    return trainer_run(INDUCTION_SETTINGS | {"n_layer": n_layer})


# The chapters that train, in the order the prefetch trains their runs (see book_jobs).
CHAPTER_ORDER = (10, 11, 8, 7)


def book_jobs(chapters: Sequence[int] = CHAPTER_ORDER) -> list[Job]:
    """The runs of ``chapters`` (any order) in the order the prefetch trains them, :data:`CHAPTER_ORDER`.

    Chapter 10's model first (the chapter trains it in one process), chapter 11's two Node runs of the page's
    trainer (the last chapter: nothing else would overlap them), then chapter 8's (its chapter trains two at
    a time), then chapter 7's from the end of the order the chapter trains them in (it starts at the other end,
    slowest first, two at a time), so that the prefetch and the chapter seldom reach the same run.
    """
    if isinstance(chapters, (str, bytes)) or not isinstance(chapters, Sequence):
        raise TypeError("chapters must be a sequence of int")
    chapters = tuple(check_int("chapters[i]", c, low=1) for c in chapters)
    for chapter in chapters:
        if chapter not in CHAPTER_ORDER:
            raise ValueError(f"chapters[i] must be 7, 8, 10 or 11 (the chapters that train), got {chapter}")
    jobs: list[Job] = []
    for chapter in sorted(chapters, key=CHAPTER_ORDER.index):
        if chapter == 10:
            jobs.append(Job(10, "own-text model", _own_text))
        elif chapter == 11:
            jobs += [
                Job(11, f"in-page induction run, {n} layer{'s' if n > 1 else ''}", lambda n=n: _in_page(n))
                for n in (2, 1)
            ]
        elif chapter == 8:
            ind = InductionSetup()
            ex = ExtrapolationSetup()
            for s in HEADS_SEEDS:
                setup = replace(ind, seed=s)
                spec = setup.data().spec
                for n_layer in (2, 1):
                    cfg = setup.model_config(n_layer)
                    jobs.append(_job(8, f"induction L={n_layer} seed {s}", cfg, setup.train_config(), spec))
            from ..data import make_dataset

            vocab = make_dataset(ex.data_spec).vocab_size
            for s in HEADS_SEEDS:
                setup = replace(ex, seed=s)
                for scheme in setup.schemes:
                    cfg = setup.model_config(scheme, vocab)
                    jobs.append(_job(8, f"{scheme} seed {s}", cfg, setup.train_config(), setup.data_spec))
        elif chapter == 7:
            base = chapter_setup()
            ch7 = chapter_jobs(  # the chapter's own list (chapter_runs), in its order
                base, xiong_seeds=XIONG_SEEDS[1:], variant_seeds=VARIANT_SEEDS[1:], n_layer=XIONG_DEEP
            )
            jobs += [
                _job(7, f"run {i + 1} of {len(ch7)} (lr {t.lr:g}, seed {t.seed})", c, t, base.data_spec)
                for i, (c, t) in reversed(list(enumerate(ch7)))
            ]
    return jobs


def prefetch(jobs: Sequence[Job], *, parent: int | None = None, log=None) -> int:
    """Run ``jobs`` in order in this process; stop early when process ``parent`` is gone. Returns how many ran.

    A job that fails is reported to ``log`` and skipped: the chapter then trains the run itself and shows the
    error where it belongs, in the build.
    """
    done = 0
    for job in jobs:
        if parent is not None and os.getppid() != parent:
            break  # the build is gone: leave no orphan behind
        t = time.perf_counter()
        try:
            job.run()
        except Exception as exc:  # noqa: BLE001 - reported, and the chapter retrains it in the open
            print(f"chapter {job.chapter}: {job.label}: failed: {exc!r}", file=log, flush=True)
            continue
        done += 1
        print(f"chapter {job.chapter}: {job.label}: {time.perf_counter() - t:.1f} s", file=log, flush=True)
    return done


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (no effect elsewhere)."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def main(argv: list[str] | None = None) -> int:
    """``python -m attnbook.experiments.prefetch [--parent PID] [--chapters 10 8 7]``."""
    ap = argparse.ArgumentParser(
        prog="python -m attnbook.experiments.prefetch", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--parent", type=int, default=None, help="stop when this process (the build) is gone")
    ap.add_argument("--chapters", type=int, nargs="+", default=list(CHAPTER_ORDER))
    args = ap.parse_args(argv)
    if args.parent is not None:
        _die_with_parent()
        if os.getppid() != args.parent:
            return 0
    t = time.perf_counter()
    n = prefetch(book_jobs(args.chapters), parent=args.parent, log=sys.stdout)
    print(f"prefetch: {n} runs ready in {time.perf_counter() - t:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
