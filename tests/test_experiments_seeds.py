"""Experiments over seeds: the process pool returns what a sequential run would, missing runs are trained once,
chapter 8's per-seed results have the shapes the chapter reads, and the "bag of recent letters" test measures
what it says."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attnbook.book import spread
from attnbook.experiments.extrapolation import ExtrapolationSetup
from attnbook.experiments.induction import InductionSetup, recent_letters, run_induction
from attnbook.experiments.seeds import heads_seeds, map_processes, seed_list, train_missing
from attnbook.experiments.training import chapter_setup, with_seed

TINY_IND = InductionSetup(d_model=16, steps=20, interval=10, n_train=3_000, n_val=600, probe_size=2)
TINY_EX = ExtrapolationSetup(d_model=16, n_head=2, steps=10, n_sentences=200, multiples=(1, 2))


def test_seed_list_and_map_processes():
    assert seed_list([0, 2]) == (0, 2)
    for bad, err in (([], ValueError), ([1, 1], ValueError), ("01", TypeError), ([-1], ValueError)):
        with pytest.raises(err, match="seeds"):
            seed_list(bad)
    items = [1.0, 4.0, 9.0]
    assert (
        map_processes(math.sqrt, items, workers=2) == map_processes(math.sqrt, items, workers=1) == [1, 2, 3]
    )
    with pytest.raises(ValueError, match="workers"):
        map_processes(math.sqrt, items, workers=0)


def test_train_missing_trains_each_run_once(tmp_path):
    spec = TINY_IND.data().spec
    jobs = [(TINY_IND.model_config(n), TINY_IND.train_config(), spec) for n in (1, 2)]
    assert train_missing(jobs, workers=2, cache_dir=tmp_path) == 2
    assert train_missing(jobs, workers=2, cache_dir=tmp_path) == 0
    with pytest.raises(TypeError, match="triples"):
        train_missing([jobs[0][:2]], cache_dir=tmp_path)


def test_heads_seeds_runs_every_part_at_every_seed(tmp_path):
    out = heads_seeds((0, 1), induction=TINY_IND, extrapolation=TINY_EX, n_importance=4, cache_dir=tmp_path)
    assert list(out) == [0, 1]
    for s, r in out.items():
        assert r.seed == s
        assert r.extrapolation.schemes == TINY_EX.schemes and r.extrapolation.loss.shape == (3, 2)
        assert [p.shape for p in r.extrapolation.position_loss] == [(3, 32), (3, 64)]
        assert set(r.importance) == set(TINY_EX.schemes)
        assert r.importance["rope"].ablation_delta.shape == (2, 2)
        assert r.ablations.repeat_loss.shape == (16,) and set(r.recent) == {1, 2}
        assert r.split["rep0"] > 0 and 0 < r.split["frac_repeat"] < 1
    # the same seed in this process gives the same numbers (the workers train what a sequential run would)
    one = run_induction(TINY_IND, 1, tmp_path)
    assert recent_letters(one) == out[0].recent[1]
    assert not np.array_equal(out[0].curves2.val_loss, out[1].curves2.val_loss)
    with pytest.raises(TypeError, match="induction"):
        heads_seeds((0,), induction=TINY_EX)
    with pytest.raises(ValueError, match="n_importance"):
        heads_seeds((0,), n_importance=0)


def test_recent_letters_of_a_model_blind_to_the_window(tmp_path):
    run = run_induction(TINY_IND, 1, tmp_path)
    blind = {k: np.zeros_like(v) if k == "lm_head" else v for k, v in run.result.params.items()}
    r = recent_letters(run, blind)  # uniform predictions: no preference for letters in the window
    assert r["seen_mass"] == pytest.approx(r["seen_share"])
    assert r["p_true"] == pytest.approx(r["p_other"]) == pytest.approx(1 / TINY_IND.vocab_size)
    with pytest.raises(TypeError, match="run"):
        recent_letters("run")


def test_with_seed_changes_only_the_training_seed():
    setup = chapter_setup()
    s3 = with_seed(setup, 3)
    assert s3.train.seed == 3 and s3.train.replace(seed=0) == setup.train and s3.model == setup.model
    with pytest.raises(ValueError, match="seed"):
        with_seed(setup, -1)


def test_spread_writes_mean_and_range():
    assert spread([1.0, 2.0, 4.5]) == "2.50 (1.00 to 4.50)"
    assert spread([0.25], ".1f") == "0.2"
    assert spread([0.161, 0.159], ".2f") == "0.16 (at every seed)"
    with pytest.raises(ValueError, match="values"):
        spread([])
