"""Chapter 8's "type it twice" figure: payload, view and layout on a small untrained model (the browser test runs the
trained one against NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

from attnbook import model
from attnbook.analysis import copy_weight
from attnbook.config import ModelConfig
from attnbook.experiments.induction_text import InductionModels, copy_weights, induction_reference
from attnbook.viz.induction_text import InductionTextPayload, induction_text_figure, payload, score_text

CHARS = "ABCDEFGHabcd"


@pytest.fixture(scope="module")
def models():
    cfg = ModelConfig(vocab_size=len(CHARS), block_size=16, d_model=16, n_layer=2, n_head=2, d_ff=4, pos="rope",
                      attn_only=True)  # fmt: skip
    f32 = lambda p: {k: v.astype(np.float32) for k, v in p.items()}  # noqa: E731
    return InductionModels(f32(model.init_params(cfg, 1)), f32(model.init_params(cfg, 0)), cfg, CHARS, 0)


def test_payload_carries_both_models_and_the_opening_text(models):
    p = payload(models, induction_reference(models, ["ABCabcABCabc"]))
    assert isinstance(p, InductionTextPayload)
    assert p.window == "ABCabcABCabc" and p.attention.shape == (2, 2, 2, 12, 12)
    assert set(p.weights) == {"trained", "random"} and p.weights["random"]["wte"].dtype == np.float32


def test_view_scores_the_chosen_head_in_both_models(models):
    text = "ABCabcABCabc"
    p = payload(models, induction_reference(models, [text]))
    v = p.view({"model": 1, "layer": "2", "head": "2"})
    w = copy_weights(models, text)[:, 1, 1]
    np.testing.assert_allclose(w, [copy_weight(p.attention[m, 1, 1], text) for m in (0, 1)], atol=1e-6)
    assert v["score"]["text"] == score_text(copy_weight(p.attention[:, 1, 1], text), 6, 2, 2)
    assert len(v["targets"]["x"]) == 6 and v["cells"]["image"][0].shape == (12, 12)
    assert "Random" in v["description"]["text"]
    v0 = payload(models, induction_reference(models, ["ABCD"])).view({"model": 0, "layer": "1", "head": "1"})
    assert v0["score"]["text"].startswith("No character has occurred before")


def test_empty_and_out_of_vocabulary_texts(models):
    p = payload(models, induction_reference(models, ["xyz!"]))
    v = p.view({"model": 0, "layer": "2", "head": "1"})
    assert v["cells"]["image"] == [] and "None of these characters" in v["notice"]["text"]


def test_figure_builds_and_bad_input(models):
    refs = induction_reference(models, ["ABAB"])
    fig = induction_text_figure(models, refs, head=2)
    assert fig.name == "induction-live"
    with pytest.raises(TypeError, match="models"):
        payload(object(), refs)
    with pytest.raises(TypeError, match="refs"):
        payload(models, refs[:1])
    with pytest.raises(ValueError, match="head"):
        induction_text_figure(models, refs, head=3)
    with pytest.raises(TypeError, match="text"):
        copy_weights(models, 3)


def test_a_skipped_space_is_shown_not_blank():
    from attnbook.viz.kit import text_notice

    notice = text_notice("ab ab\n", "abab", "", " \n", 2, 0, 32)
    assert "Skipped 2 characters outside the vocabulary: <code>␣</code> <code>⏎</code>." in notice
