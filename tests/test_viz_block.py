"""Block figures: the wiring diagram, the signal and gradient figures' payloads (from attnbook.stats), names, errors."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.models import AbstractButton, ColumnDataSource, InputWidget, Slider

from attnbook.config import ModelConfig
from attnbook.stats import signal_sweep
from attnbook.viz import show
from attnbook.viz.block import block_diagram, gradient_figure, signal_figure

BASE = ModelConfig(vocab_size=9, block_size=4, d_model=8, n_layer=2, n_head=2, d_ff=8)
DEPTHS = (2, 3)
ACTS = ("gelu", "swiglu")


@pytest.fixture(scope="module")
def sweep():
    return signal_sweep(BASE, activations=ACTS, depths=DEPTHS, bins=6)


@pytest.fixture(scope="module")
def grad_sweep(sweep):
    xavier = signal_sweep(BASE, activations=("gelu",), depths=DEPTHS, inits=("xavier",), histograms=False)
    return {**{k: v for k, v in sweep.items() if k[2] == "gelu"}, **xavier}


def _check_names(layout):
    for m in layout.references():
        if isinstance(m, (InputWidget, AbstractButton, Slider, ColumnDataSource)):
            assert m.name and m.name.strip(), f"unnamed {type(m).__name__}"
    names = [m.name for m in layout.references() if m.name]
    assert len(names) == len(set(names)), "names must be unique"


def _args(layout, widget_name):
    return layout.select_one({"name": widget_name}).js_property_callbacks["change:value"][0].args


@pytest.mark.parametrize(
    ("norm", "block", "n_norm_boxes"),
    [
        ("layernorm", "pre", 2),
        ("rmsnorm", "post", 2),
        ("layernorm", "sandwich", 4),
        ("none", "pre", 0),
        ("none", "sandwich", 0),
    ],
)
def test_block_diagram_boxes(norm, block, n_norm_boxes):
    d = block_diagram(norm, block, "swiglu")
    labels = d["boxes"]["label"]
    norm_name = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "none": "?"}[norm]
    assert labels.count(norm_name) == n_norm_boxes
    assert "attention" in labels and "MLP (SwiGLU)" in labels
    assert len(d["adds"]["x"]) == 2  # one residual addition per sublayer
    assert all(len(col) == len(labels) for col in d["boxes"].values())
    if block == "post" and norm != "none":
        assert sum(y == 0.0 for y in d["boxes"]["y"]) == 2  # Post-LN's norms sit on the stream itself


def test_block_diagram_bad_input():
    with pytest.raises(ValueError, match="norm"):
        block_diagram("batchnorm", "pre", "gelu")
    with pytest.raises(ValueError, match="activation"):
        block_diagram("layernorm", "pre", "tanh")


def test_signal_figure_payload(sweep):
    layout = signal_figure(sweep, activation="swiglu")
    _check_names(layout)
    assert layout.select_one({"name": "signal-activation"}).value == "swiglu"
    args = _args(layout, "signal-depth")
    row_of = args["row_of"]
    # Without a norm the three placements share one row; with a norm every combination has its own.
    for act in ACTS:
        assert row_of[f"none|pre|{act}"] == row_of[f"none|post|{act}"] == row_of[f"none|sandwich|{act}"]
    assert len(set(row_of.values())) == (2 * 3 + 1) * len(ACTS)
    stats, resid, resid_range, mlp = args["stats"], args["resid"], args["resid_range"], args["mlp"]
    assert stats.dtype == np.float32 and resid.shape[2] == 6
    for (norm, block, act, depth, _), prof in sweep.items():
        r = row_of[f"{norm}|{block}|{act}"]
        k = DEPTHS.index(depth)
        s, layer = args["off_s"][k], args["off_l"][k]
        np.testing.assert_allclose(
            stats[r, s : s + depth + 1], np.stack([prof.mean, prof.std, prof.max], 1), rtol=1e-6
        )
        np.testing.assert_allclose(resid[r, layer : layer + depth], prof.resid_hist, rtol=1e-6)
        np.testing.assert_allclose(resid_range[r, layer : layer + depth], prof.resid_range, rtol=1e-6)
        np.testing.assert_allclose(mlp[r, layer : layer + depth], prof.mlp_hist, rtol=1e-6)
    assert set(args["diagrams"]) == set(row_of)
    assert len(show(layout).html) < 600_000


def test_signal_figure_bad_input(sweep):
    with pytest.raises(TypeError, match="profiles"):
        signal_figure({})
    incomplete = dict(sweep)
    incomplete.pop(next(iter(incomplete)))
    with pytest.raises(ValueError, match="every combination"):
        signal_figure(incomplete)
    no_hist = signal_sweep(
        BASE, norms=("layernorm",), blocks=("pre",), activations=("gelu",), depths=(2,), histograms=False
    )
    with pytest.raises(ValueError, match="histograms"):
        signal_figure(no_hist)
    with pytest.raises(ValueError, match="activation"):
        signal_figure(sweep, activation="relu")


def test_gradient_figure_payload(grad_sweep):
    layout = gradient_figure(grad_sweep, init="xavier")
    _check_names(layout)
    assert layout.select_one({"name": "grads-init"}).value == "xavier"
    args = _args(layout, "grads-depth")
    grads = args["grads"]
    assert args["inits"] == ["gpt2", "xavier"] and args["blocks"] == ["pre", "post", "sandwich"]
    for (norm, block, _, depth, init), prof in grad_sweep.items():
        i, n, b = args["inits"].index(init), args["norms"].index(norm), args["blocks"].index(block)
        o = args["off"][DEPTHS.index(depth)]
        np.testing.assert_allclose(grads[i, n, b, o : o + depth], prof.grad_norm, rtol=1e-6)


def test_gradient_figure_bad_input(grad_sweep):
    with pytest.raises(TypeError, match="profiles"):
        gradient_figure({("layernorm", "pre", "gelu", 2, "gpt2"): "not a profile"})
    with pytest.raises(ValueError, match="init"):
        gradient_figure(grad_sweep, init="he")
