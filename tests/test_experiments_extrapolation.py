"""Length extrapolation (Press et al. 2021): the setup's checks, and on tiny runs the direction of the result (ALiBi
extrapolates, sinusoidal does not) and of head importance on the trained models."""

import numpy as np
import pytest

from attnbook.analysis import spearman
from attnbook.experiments.extrapolation import (
    ExtrapolationSetup,
    eval_windows,
    extrapolation_losses,
    run_extrapolation,
)
from attnbook.experiments.pruning import head_importance


def test_setup_validates_its_fields():
    with pytest.raises(ValueError, match="schemes"):
        ExtrapolationSetup(schemes=("alibi", "learned"))
    with pytest.raises(ValueError, match="increasing"):
        ExtrapolationSetup(multiples=(2, 1))
    with pytest.raises(TypeError, match="ExtrapolationSetup"):
        run_extrapolation("tiny")
    assert ExtrapolationSetup().model_config("alibi", 20, block_size=256).block_size == 256


def test_eval_windows_cut_one_stream():
    ids = np.arange(20)
    x, y = eval_windows(ids, 4, 12)
    np.testing.assert_array_equal(x, np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(y, np.arange(1, 13).reshape(3, 4))
    with pytest.raises(ValueError, match="multiple"):
        eval_windows(ids, 5, 12)
    with pytest.raises(ValueError, match="n_tokens"):
        eval_windows(ids, 4, 2)


def test_alibi_extrapolates_and_sinusoidal_does_not(tmp_path):
    setup = ExtrapolationSetup(
        schemes=("alibi", "sinusoidal"),
        train_len=16,
        multiples=(1, 4),
        d_model=32,
        n_head=4,
        steps=200,
        n_sentences=400,
    )
    run = run_extrapolation(setup, tmp_path)
    ex = extrapolation_losses(run)
    np.testing.assert_array_equal(ex.lengths, [16, 64])
    assert ex.loss.shape == (2, 2) and [p.shape for p in ex.position_loss] == [(2, 16), (2, 64)]
    rise = ex.loss[:, 1] - ex.loss[:, 0]
    assert rise[1] > rise[0] + 0.2  # sinusoidal degrades more than ALiBi beyond the trained length
    assert ex.position_loss[1][1, 32:].mean() > ex.position_loss[1][1, :16].mean()
    # the same text at every length
    x16, _ = eval_windows(run.val_ids, 16, ex.n_tokens)
    x64, _ = eval_windows(run.val_ids, 64, ex.n_tokens)
    np.testing.assert_array_equal(x16.ravel(), x64.ravel())
    # head importance on a trained model (chapter 8 uses these runs): the gradient ranks heads roughly like
    # the loss of removing them
    x, y = eval_windows(run.val_ids, 16, 32 * 16)
    hi = head_importance(run.results["alibi"].params, setup.model_config("alibi", run.vocab_size), x, y)
    assert spearman(hi.importance, hi.ablation_delta) > 0.3
