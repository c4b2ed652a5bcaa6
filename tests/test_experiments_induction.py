"""The induction-head experiment: the repeated-text data, the window roles, curve statistics, head masks, and the
direction of the reproduced result on tiny runs (induction needs two layers; ablating the previous-token head
removes it)."""

import math

import numpy as np
import pytest

from attnbook import model
from attnbook.analysis import prefix_matching_score
from attnbook.data import make_dataset
from attnbook.experiments.induction import (
    InductionSetup,
    all_head_masks,
    head_ablations,
    induction_curves,
    largest_jump,
    phase_change,
    repeated_text,
    run_induction,
    split_losses,
    window_roles,
)


# --- data -------------------------------------------------------------------------------------------------
def test_repeated_text_repeats_segments_and_splits_at_the_validation_stream():
    d = repeated_text(vocab_size=8, min_len=3, max_len=5, copies=3, n_train=400, n_val=120, seed=1)
    ds = make_dataset(d.spec)
    np.testing.assert_array_equal(ds.val, d.val_ids)  # the split falls exactly on the validation stream
    assert ds.vocab_size == 8 and ds.tokenizer.chars == d.chars == "ABCDEFGH"
    assert d.seg_len[0] == 5  # probe_len defaults to max_len
    assert set(np.unique(d.seg_len)) <= {3, 4, 5}
    # every token in copy c >= 1 equals the token one segment length earlier
    later = np.nonzero(d.copy >= 1)[0]
    np.testing.assert_array_equal(d.val_ids[later], d.val_ids[later - d.seg_len[later]])
    # offsets count 0 .. L-1 within each copy
    assert np.all(d.offset < d.seg_len)
    assert np.all(d.offset[d.copy == 0][:1] == 0)


def test_repeated_text_is_deterministic_and_validated():
    a = repeated_text(vocab_size=6, n_train=300, n_val=60, seed=3)
    b = repeated_text(vocab_size=6, n_train=300, n_val=60, seed=3)
    assert a.spec == b.spec
    assert a.spec != repeated_text(vocab_size=6, n_train=300, n_val=60, seed=4).spec
    with pytest.raises(ValueError, match="max_len"):
        repeated_text(min_len=5, max_len=4)
    with pytest.raises(ValueError, match="copies"):
        repeated_text(copies=1)
    with pytest.raises(ValueError, match="vocab_size"):
        repeated_text(vocab_size=100)
    with pytest.raises(ValueError, match="letters"):
        repeated_text(vocab_size=52, min_len=2, max_len=2, n_train=4, n_val=4)


def test_window_roles_label_repeats_that_an_earlier_bigram_predicts():
    d = repeated_text(vocab_size=10, min_len=4, max_len=7, copies=2, n_train=200, n_val=400, seed=2)
    T = 16
    r = window_roles(d, T, 20)
    assert r.x.shape == r.y.shape == r.source.shape == r.repeat.shape == (20, T)
    np.testing.assert_array_equal(r.x[:, 1:], r.y[:, :-1])  # targets are the inputs shifted by one
    # a scored query's key comes right after an earlier occurrence of the query's token
    w, i = np.nonzero(r.source >= 0)
    assert w.size > 0
    assert np.all(r.source[w, i] <= i)
    np.testing.assert_array_equal(r.x[w, r.source[w, i] - 1], r.x[w, i])
    # every repeat target is predictable from an earlier (current token, next token) pair in the window
    for wi, ti in zip(*np.nonzero(r.repeat), strict=True):
        earlier = [k for k in range(ti) if r.x[wi, k] == r.x[wi, ti] and r.y[wi, k] == r.y[wi, ti]]
        assert earlier, (wi, ti)
    assert not np.any(r.repeat & r.fresh)
    with pytest.raises(ValueError, match="exceeds"):
        window_roles(d, T, 10_000)
    with pytest.raises(TypeError, match="RepeatedText"):
        window_roles({"kind": "text"}, T, 2)


# --- curves ---------------------------------------------------------------------------------------------
def test_phase_change_and_largest_jump_on_a_step_curve():
    steps = np.arange(0, 110, 10)
    loss = np.array([3.0, 2.99, 2.98, 2.97, 2.0, 1.2, 1.1, 1.05, 1.02, 1.01, 1.0])
    assert largest_jump(steps, loss)[:2] == (30, 40)
    assert largest_jump(steps, loss)[2] == pytest.approx(0.97 / 2.0)
    start, end = phase_change(steps, loss)
    assert start == 40 and end == 50  # 10 % of the drop reached at step 40, 90 % (value 1.2) at 50
    assert largest_jump(steps, -loss)[:2] == (30, 40)  # a rising score works the same way
    with pytest.raises(ValueError, match="do not change"):
        largest_jump(steps, np.ones(11))
    with pytest.raises(ValueError, match="increasing"):
        phase_change(steps[::-1], loss)


# --- head masks ------------------------------------------------------------------------------------------
def test_all_head_masks_enumerates_each_pattern_once():
    m = all_head_masks(2, 2)
    assert m.shape == (16, 2, 2)
    np.testing.assert_array_equal(m[0], np.ones((2, 2)))
    assert len({tuple(r.ravel()) for r in m}) == 16
    assert m[1][0, 0] == 0 and m[1].sum() == 3  # bit 0 = layer 1, head 1
    with pytest.raises(ValueError, match="12"):
        all_head_masks(4, 4)


def test_setup_validates_its_fields():
    with pytest.raises(ValueError, match="block_size"):
        InductionSetup(block_size=8, copies=3, min_len=6)
    with pytest.raises(TypeError, match="InductionSetup"):
        run_induction("tiny", 2)
    assert InductionSetup().model_config(2).attn_only


# --- the reproductions' direction on tiny runs ------------------------------------------------------------
@pytest.fixture(scope="module")
def induction_runs(tmp_path_factory):
    cache = tmp_path_factory.mktemp("runs")
    setup = InductionSetup(d_model=32, steps=400, interval=100, n_train=20_000, n_val=1_200, probe_size=4)
    data = setup.data()
    return run_induction(setup, 2, cache, data), run_induction(setup, 1, cache, data)


@pytest.mark.slow
def test_two_layers_learn_induction_and_one_layer_does_not(induction_runs):
    two, one = induction_runs
    c2, c1 = induction_curves(two), induction_curves(one)
    assert c2.probe_attention.dtype == np.float32
    assert c2.probe_attention.shape == (5, 2, 2, 32, 32) and len(c2.probe_tokens) == 32
    np.testing.assert_array_equal(c2.steps, [0, 100, 200, 300, 400])
    # the layer-2 prefix-matching score ends well above the 1-layer model's and above its own start
    assert c2.induction[-1, 1].max() > c1.induction[-1, 0].max() + 0.2
    assert c2.induction[-1, 1].max() > c2.induction[0, 1].max() + 0.2
    # a layer-1 head has become a previous-token head
    assert c2.previous[-1, 0].max() > c2.previous[0, 0].max() + 0.2
    rep2, _ = split_losses(two)
    rep1, _ = split_losses(one)
    rep0, fresh0 = split_losses(two, model.init_params(two.cfg, two.setup.seed))
    assert rep2 < rep1 < rep0
    assert abs(fresh0 - math.log(two.setup.vocab_size)) < 0.2  # an untrained model knows nothing


@pytest.mark.slow
def test_ablating_the_previous_token_head_removes_induction(induction_runs):
    two, _ = induction_runs
    c2 = induction_curves(two)
    prev = int(np.argmax(c2.previous[-1, 0]))
    abl = head_ablations(two)
    assert abl.probe_attention.dtype == np.float32 and abl.probe_attention.shape == (16, 2, 32, 32)
    k = next(k for k, m in enumerate(abl.masks) if m[0, prev] == 0 and m.sum() == 3)
    assert abl.repeat_loss[0] == pytest.approx(split_losses(two)[0])
    assert abl.repeat_loss[k] > abl.repeat_loss[0] + 0.5
    # the layer-2 heads' prefix matching collapses on the probe window
    before = prefix_matching_score(abl.probe_attention[0][None], two.probe.source[:1])
    after = prefix_matching_score(abl.probe_attention[k][None], two.probe.source[:1])
    assert after.max() < before.max() - 0.2
