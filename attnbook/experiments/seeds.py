"""Repeat a chapter's experiments at several seeds on both cores: train the runs missing from the run cache and
evaluate each (seed, part) in separate processes, so that a claim can be stated with its spread over seeds.

Training is deterministic and every run goes through :func:`attnbook.runs.cached_train`, so the results are
those a sequential build would get. Chapter 8's experiments over seeds are :func:`heads_seeds`.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import model as _model
from .._checks import check_int
from ..config import ModelConfig
from ..runs import cached_train, default_cache_dir, run_key
from ..train import TrainConfig
from .extrapolation import (
    Extrapolation,
    ExtrapolationSetup,
    eval_windows,
    extrapolation_losses,
    run_extrapolation,
)
from .induction import (
    Ablations,
    InductionCurves,
    InductionSetup,
    head_ablations,
    induction_curves,
    recent_letters,
    run_induction,
    split_losses,
)
from .pruning import HeadImportance, head_importance

__all__ = ["HeadsSeed", "heads_seeds", "map_processes", "seed_list", "train_missing"]


def seed_list(seeds) -> tuple[int, ...]:
    """``seeds`` as a non-empty tuple of distinct non-negative ints (ValueError/TypeError naming ``seeds``)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise TypeError(f"seeds must be a sequence of int, got {type(seeds).__name__}")
    out = tuple(check_int("seeds[i]", s, low=0) for s in seeds)
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct and not empty, got {seeds!r}")
    return out


def _pool(workers: int, n: int) -> ProcessPoolExecutor:
    # "spawn": a fresh interpreter per worker, safe from a notebook kernel with threads running.
    return ProcessPoolExecutor(max_workers=min(workers, n), mp_context=multiprocessing.get_context("spawn"))


def map_processes(fn: Callable, items: Sequence, *, workers: int = 2) -> list:
    """``[fn(item) for item in items]``, ``workers`` at a time in separate processes (in order; ``fn`` must be
    a module-level function). With ``workers=1`` or a single item everything runs here."""
    if not callable(fn):
        raise TypeError("fn must be a module-level function")
    workers = check_int("workers", workers, low=1)
    items = list(items)
    if workers == 1 or len(items) < 2:
        return [fn(item) for item in items]
    with _pool(workers, len(items)) as pool:
        return list(pool.map(fn, items))


def _train_job(job) -> str:
    cfg, tc, data_spec, cache_dir = job
    return cached_train(cfg, tc, data_spec, cache_dir).status


def train_missing(jobs: Sequence, *, workers: int = 2, cache_dir=None) -> int:
    """Train the runs ``(cfg, train_cfg, data_spec)`` of ``jobs`` that are not in the run cache yet, ``workers``
    at a time, in the order given (put the slowest first). Returns how many were trained."""
    workers = check_int("workers", workers, low=1)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    missing = []
    for job in jobs:
        if not isinstance(job, tuple) or len(job) != 3:
            raise TypeError("jobs must be (ModelConfig, TrainConfig, data_spec) triples")
        cfg, tc, spec = job
        if (
            not isinstance(cfg, ModelConfig)
            or not isinstance(tc, TrainConfig)
            or not isinstance(spec, Mapping)
        ):
            raise TypeError("jobs must be (ModelConfig, TrainConfig, data_spec) triples")
        if not (root / f"{run_key(cfg, tc, spec)}.npz").exists():
            missing.append((cfg, tc, dict(spec), None if cache_dir is None else str(cache_dir)))
    map_processes(_train_job, missing, workers=workers)
    return len(missing)


# ----------------------------------------------------------------------------------------------------
# Chapter 8 over seeds: induction heads, length extrapolation, head importance


class HeadsSeed(NamedTuple):
    """What chapter 8 measures at one seed (the seed of the data of the induction task and of every run's
    initialisation and batches; the grammar corpus of the extrapolation models is the same for all seeds)."""

    seed: int
    curves2: InductionCurves  # the two-layer induction model over training
    curves1: InductionCurves  # the one-layer control
    split: dict  # rep0, fresh0 (initialisation), rep2, fresh2 (two layers), rep1, fresh1 (one layer), frac_repeat
    ablations: Ablations  # the two-layer model with every combination of heads off
    recent: dict  # n_layer -> recent_letters(...) of the trained model
    extrapolation: Extrapolation  # every scheme of the ExtrapolationSetup
    importance: dict  # scheme -> HeadImportance


def _induction_part(setup: InductionSetup, cache_dir) -> dict:
    data = setup.data()
    two, one = run_induction(setup, 2, cache_dir, data=data), run_induction(setup, 1, cache_dir, data=data)
    rep0, fresh0 = split_losses(two, _model.init_params(two.cfg, setup.seed))
    rep2, fresh2 = split_losses(two)
    rep1, fresh1 = split_losses(one)
    split = dict(rep0=rep0, fresh0=fresh0, rep2=rep2, fresh2=fresh2, rep1=rep1, fresh1=fresh1)
    split["frac_repeat"] = float(two.val.repeat.mean())
    return {
        "curves2": induction_curves(two),
        "curves1": induction_curves(one),
        "split": split,
        "ablations": head_ablations(two),
        "recent": {2: recent_letters(two), 1: recent_letters(one)},
    }


def _scheme_part(setup: ExtrapolationSetup, n_importance: int, cache_dir) -> dict:
    run = run_extrapolation(setup, cache_dir)
    (scheme,) = setup.schemes
    x, y = eval_windows(run.val_ids, setup.train_len, n_importance * setup.train_len)
    cfg = setup.model_config(scheme, run.vocab_size)
    return {
        "extrapolation": extrapolation_losses(run),
        "importance": head_importance(run.results[scheme].params, cfg, x, y),
    }


def _heads_job(job) -> dict:
    kind, setup, n_importance, cache_dir = job
    if kind == "induction":
        return _induction_part(setup, cache_dir)
    return _scheme_part(setup, n_importance, cache_dir)


def _merge(parts: Sequence[Extrapolation]) -> Extrapolation:
    return Extrapolation(
        tuple(s for p in parts for s in p.schemes),
        parts[0].lengths,
        np.concatenate([p.loss for p in parts]),
        tuple(np.concatenate([p.position_loss[m] for p in parts]) for m in range(len(parts[0].lengths))),
        parts[0].n_tokens,
    )


def heads_seeds(
    seeds,
    *,
    induction: InductionSetup | None = None,
    extrapolation: ExtrapolationSetup | None = None,
    n_importance: int = 192,
    workers: int = 2,
    cache_dir=None,
) -> dict[int, HeadsSeed]:
    """Chapter 8's experiments at every seed: the induction models (two layers and one) with their curves,
    loss split and ablations; one extrapolation model per position scheme with its losses at every length and
    its head importance (Michel et al.) on ``n_importance`` windows of the training length.

    Each (seed, induction) and (seed, scheme) part trains (or loads) its runs and evaluates them in its own
    process, ``workers`` at a time, the induction parts first (they are the longest).

    Returns
    -------
    dict of int to HeadsSeed
        In the order of ``seeds``.
    """
    seeds = seed_list(seeds)
    induction = InductionSetup() if induction is None else induction
    extrapolation = ExtrapolationSetup() if extrapolation is None else extrapolation
    if not isinstance(induction, InductionSetup):
        raise TypeError(f"induction must be an InductionSetup, got {type(induction).__name__}")
    if not isinstance(extrapolation, ExtrapolationSetup):
        raise TypeError(f"extrapolation must be an ExtrapolationSetup, got {type(extrapolation).__name__}")
    n_importance = check_int("n_importance", n_importance, low=1)
    cache = None if cache_dir is None else str(cache_dir)
    jobs: list[tuple[str, Any, int, Any]] = [
        ("induction", replace(induction, seed=s), 0, cache) for s in seeds
    ]
    for s in seeds:
        for scheme in extrapolation.schemes:
            jobs.append(("scheme", replace(extrapolation, schemes=(scheme,), seed=s), n_importance, cache))
    results = map_processes(_heads_job, jobs, workers=workers)
    n_s = len(extrapolation.schemes)
    out = {}
    for k, s in enumerate(seeds):
        ind = results[k]
        parts = results[len(seeds) + k * n_s : len(seeds) + (k + 1) * n_s]
        importance: dict[str, HeadImportance] = {
            scheme: p["importance"] for scheme, p in zip(extrapolation.schemes, parts, strict=True)
        }
        out[s] = HeadsSeed(
            s,
            ind["curves2"],
            ind["curves1"],
            ind["split"],
            ind["ablations"],
            ind["recent"],
            _merge([p["extrapolation"] for p in parts]),
            importance,
        )
    return out
