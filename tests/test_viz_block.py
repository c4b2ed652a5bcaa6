"""Block figures: the wiring diagram, the signal and gradient payloads against the sweep they pack, view in several
states, names, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, Widget

from attnbook.config import ModelConfig
from attnbook.stats import signal_sweep
from attnbook.viz import show
from attnbook.viz.block import (
    block_diagram,
    gradient_figure,
    gradient_payload,
    signal_figure,
    signal_payload,
)
from attnbook.viz.core import JS_DIR
from attnbook.viz.figure import pick

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


def check_names(layout, prefix):
    for m in [*layout.select({"type": Widget}), *layout.select({"type": ColumnDataSource})]:
        assert m.name and m.name.startswith(f"{prefix}-"), m
    names = [m.name for m in layout.references() if getattr(m, "name", None)]
    assert len(names) == len(set(names)), "model names must be unique"
    return {m.name: m for m in layout.references() if getattr(m, "name", None)}


# --- the wiring diagram -----------------------------------------------------------------------------------------


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
    assert np.shape(d["wires"]["xs"]) == np.shape(d["wires"]["ys"]) == (3, 4)  # the stream and two branches
    assert d["wires"]["xs"][0][1:3] == d["adds"]["x"]  # the stream runs through both additions
    if block == "post" and norm != "none":
        assert sum(y == 0.0 for y in d["boxes"]["y"]) == 2  # Post-LN's norms sit on the stream itself


def test_block_diagram_bad_input():
    with pytest.raises(ValueError, match="norm"):
        block_diagram("batchnorm", "pre", "gelu")
    with pytest.raises(ValueError, match="activation"):
        block_diagram("layernorm", "pre", "tanh")


# --- the signal across depth ------------------------------------------------------------------------------------


def state(norm="layernorm", block="pre", activation="gelu", depth=3, layer="1"):
    return {"norm": norm, "block": block, "activation": activation, "depth": depth, "layer": layer}


def test_signal_payload_holds_every_profile(sweep):
    p = signal_payload(sweep)
    assert p.mean.dtype == np.float32 and p.resid_hist.shape[-1] == 6
    for (norm, block, act, depth, _), prof in sweep.items():
        st = state(norm, block, act, depth)
        for field in ("mean", "std", "max"):
            got = pick(p, field, st)
            np.testing.assert_allclose(got[: depth + 1], getattr(prof, field), rtol=1e-6)
            assert not got[depth + 1 :].any()  # padding past the model's depth
        for layer in range(1, depth + 1):
            st["layer"] = str(layer)
            for field in ("resid_hist", "resid_range", "mlp_hist", "mlp_range"):
                np.testing.assert_allclose(pick(p, field, st), getattr(prof, field)[layer - 1], rtol=1e-6)
    assert p.controls[3].values == DEPTHS and p.controls[4].values == ("1", "2", "3")


@pytest.mark.parametrize(
    "st",
    [
        state(),
        state(norm="rmsnorm", block="post", activation="swiglu", depth=2, layer="2"),
        state(norm="none", block="sandwich", depth=3, layer="3"),
        state(block="sandwich", depth=2, layer="3"),  # a block the model lacks: the page shows its last one
    ],
)
def test_signal_view_against_the_profile(sweep, st):
    p = signal_payload(sweep)
    prof = sweep[st["norm"], st["block"], st["activation"], st["depth"], "gpt2"]
    d = st["depth"]
    L = min(int(st["layer"]), d)
    v = p.view(st)
    np.testing.assert_array_equal(v["stats"]["layer"], np.arange(d + 1))
    for field in ("mean", "std", "max"):
        np.testing.assert_allclose(v["stats"][field], getattr(prof, field), rtol=1e-6)
    for part in ("resid", "mlp"):
        lo, hi = getattr(prof, f"{part}_range")[L - 1]
        edges = np.linspace(lo, hi, 7)  # 6 bins
        np.testing.assert_allclose(v[part]["left"], edges[:-1], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(v[part]["right"], edges[1:], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(v[part]["top"], getattr(prof, f"{part}_hist")[L - 1], rtol=1e-6)
        assert v[f"{part}-plot"]["x_range.start"] < lo and v[f"{part}-plot"]["x_range.end"] > hi
    assert v["resid-plot"]["title.text"] == f"Residual stream after block {L} of {d}"
    assert v["layer"]["options"] == [str(i) for i in range(1, d + 1)]
    assert v["diagram-boxes"] == block_diagram(st["norm"], st["block"], st["activation"])["boxes"]
    text = v["readout"]["text"]
    assert f"{d} blocks.</b>" in text and f"After block {L}:" in text
    assert (f"<b>{prof.std[d]:.3f}</b>" if prof.std[d] >= 0.01 else f"<b>{prof.std[d]:.1e}</b>") in text
    assert ("the same network" in text) == (st["norm"] == "none")


def test_signal_readout_writes_small_numbers_in_exponent_form(sweep):
    p = signal_payload(sweep)
    p.mean[...] = 2.4e-4
    assert "mean 2.4e-04," in p.view(state())["readout"]["text"]


def test_signal_figure_names_and_widgets(sweep):
    layout = signal_figure(sweep, activation="swiglu")
    models = check_names(layout, "signal")
    assert models["signal-activation"].value == "swiglu"
    assert models["signal-norm"].options == [
        ("layernorm", "LayerNorm"),
        ("rmsnorm", "RMSNorm"),
        ("none", "no norm"),
    ]
    assert (
        models["signal-depth"].start == 2 and models["signal-depth"].end == models["signal-depth"].value == 3
    )
    for c in signal_payload(sweep).controls:
        assert f"signal-{c.widget}" in models
    for part in ("stats", "resid", "mlp", "diagram-boxes", "diagram-wires", "payload", "readout"):
        assert f"signal-{part}" in models
    assert len(show(layout).html) < 600_000


def test_signal_bad_input(sweep):
    with pytest.raises(TypeError, match="profiles"):
        signal_figure({})
    with pytest.raises(TypeError, match="profiles"):
        signal_figure({("layernorm", "pre", "gelu", 2, "gpt2"): "not a profile"})
    incomplete = dict(sweep)
    incomplete.pop(next(iter(incomplete)))
    with pytest.raises(ValueError, match="every combination"):
        signal_figure(incomplete)
    no_hist = signal_sweep(
        BASE, norms=("layernorm",), blocks=("pre",), activations=("gelu",), depths=(2,), histograms=False
    )
    with pytest.raises(ValueError, match="histograms"):
        signal_figure(no_hist)
    gappy = signal_sweep(
        BASE, norms=("layernorm",), blocks=("pre",), activations=("gelu",), depths=(2, 4), bins=3
    )
    with pytest.raises(ValueError, match="depths"):
        signal_figure(gappy)
    with pytest.raises(ValueError, match="activation"):
        signal_figure(sweep, activation="relu")
    with pytest.raises(ValueError, match="init"):
        signal_figure(sweep, init="xavier")
    with pytest.raises(TypeError, match="name"):
        signal_figure(sweep, name="")


# --- gradients per block ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "st",
    [
        {"init": "xavier", "norm": "layernorm", "depth": 3},
        {"init": "gpt2", "norm": "none", "depth": 2},
        {"init": "gpt2", "norm": "rmsnorm", "depth": 3},
    ],
)
def test_gradient_view_against_the_profiles(grad_sweep, st):
    p = gradient_payload(grad_sweep)
    v = p.view(st)
    d = st["depth"]
    np.testing.assert_array_equal(v["source"]["layer"], np.arange(1, d + 1))
    for block in ("pre", "post", "sandwich"):
        g = grad_sweep[st["norm"], block, "gelu", d, st["init"]].grad_norm
        np.testing.assert_allclose(v["source"][block], g, rtol=1e-6)
        label = {"pre": "Pre-LN", "post": "Post-LN", "sandwich": "Sandwich"}[block]
        f32 = g.astype(np.float32).astype(float)
        assert (
            f"{label}: block 1 <b>{f32[0]:#.3g}</b>, block {d} <b>{f32[-1]:#.3g}</b>" in v["readout"]["text"]
        )
    assert v["readout"]["text"].startswith(p.labels["init"][st["init"]])
    assert v["plot"]["x_range.end"] == d + 0.3


def test_gradient_payload_pads_with_ones(grad_sweep):
    p = gradient_payload(grad_sweep)
    assert p.grads.shape == (2, 3, len(DEPTHS), 3, max(DEPTHS)) and p.grads.dtype == np.float32
    g = pick(p, "grads", {"init": "gpt2", "norm": "layernorm", "depth": 2})
    assert (g[:, 2:] == 1).all() and p.activation == "GeLU"


def test_gradient_figure_names_and_widgets(grad_sweep):
    layout = gradient_figure(grad_sweep, init="xavier")
    models = check_names(layout, "grads")
    assert models["grads-init"].value == "xavier" and models["grads-norm"].value == "layernorm"
    assert set(models["grads-source"].data) == {"layer", "pre", "post", "sandwich"}
    for c in gradient_payload(grad_sweep).controls:
        assert f"grads-{c.widget}" in models


def test_gradient_bad_input(grad_sweep):
    with pytest.raises(TypeError, match="profiles"):
        gradient_figure({("layernorm", "pre", "gelu", 2, "gpt2"): "not a profile"})
    with pytest.raises(ValueError, match="init"):
        gradient_figure(grad_sweep, init="he")
    with pytest.raises(ValueError, match="activation"):
        gradient_figure(grad_sweep, activation="relu")
    zero = {k: v._replace(grad_norm=np.zeros_like(v.grad_norm)) for k, v in grad_sweep.items()}
    with pytest.raises(ValueError, match="positive"):
        gradient_figure(zero)
    short = {k: v._replace(grad_norm=v.grad_norm[:-1]) for k, v in grad_sweep.items()}
    with pytest.raises(ValueError, match="grad_norm"):
        gradient_figure(short)


# --- the number formats the readouts share with Python ------------------------------------------------------------

NUMBERS = [
    0.0,
    0.125,
    -0.125,
    0.375,
    8.5,
    2.4e-4,
    -3.05e-3,
    9.996,
    0.865,
    3.37,
    2.0,
    1234.5,
    1.0e-4,
    9.9996e-5,
]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's helpers")
def test_the_page_formats_numbers_as_python():
    lib = (JS_DIR / "lib.mjs").as_uri()
    code = (
        f"import {{fmtExp, fmtSig}} from '{lib}'; const xs = {json.dumps(NUMBERS)};"
        "console.log(JSON.stringify(xs.map((x) => [fmtExp(x, 1), fmtExp(x, 3), fmtSig(x, 3), fmtSig(x, 2)])))"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", code], capture_output=True, text=True, check=True
    )
    page = json.loads(out.stdout)
    python = [[f"{x:.1e}", f"{x:.3e}", f"{x:#.3g}", f"{x:#.2g}"] for x in NUMBERS]
    assert page == python


# --- ticks: whole block numbers, uncrowded log axes -------------------------------------------------------------


def test_block_axes_tick_whole_numbers_and_the_log_axis_is_uncrowded(sweep, grad_sweep):
    from bokeh.models import BasicTicker, BasicTickFormatter, CustomJSTicker

    models = check_names(signal_figure(sweep), "signal")
    ticker = models["signal-stats-xticks"]
    assert isinstance(ticker, BasicTicker) and ticker.min_interval == 1 and ticker.num_minor_ticks == 0
    models = check_names(gradient_figure(grad_sweep), "grads")
    assert models["grads-xticks"].min_interval == 1
    assert isinstance(models["grads-yticks"], CustomJSTicker)
    assert isinstance(models["grads-yticks-format"], BasicTickFormatter)  # 0.03, not 3·10⁻²


RANGES = [(0.78, 4.06), (0.025, 0.35), (19, 75), (1e-5, 3), (1e-12, 10), (1.2, 1.4), (0.5, 0.5), (4.06, 0.78)]
RANGES += [(1.001, 1.002), (0, 3), (-1, 2), (3e-4, 2e-3), (0.9, 11)]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the ticker's JavaScript")
def test_log_ticks_are_uncrowded_and_the_page_computes_them_as_python():
    from attnbook.viz.kit import _LOG_MANTISSAS, _LOG_TICKS_JS, log_tick_values

    assert log_tick_values(0.78, 4.06) == [1, 2, 3]  # Bokeh's own: 1, 1.5, 2, 2.5, 3, 3.5, 4
    assert log_tick_values(0.025, 0.35) == [0.03, 0.05, 0.1, 0.2, 0.3]  # Bokeh's own: 0.1 only
    assert log_tick_values(1e-5, 3) == [1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1]
    assert log_tick_values(1e-12, 10) == [1e-12, 1e-9, 1e-6, 1e-3, 1]  # every third power: at most 6
    assert log_tick_values(1.2, 1.4) == [1.2, 1.25, 1.3, 1.35] and log_tick_values(0, 3) == []
    for a, b in RANGES:
        ticks = log_tick_values(a, b)
        assert len(ticks) <= 6 and all(min(a, b) <= t <= max(a, b) for t in ticks)
    with pytest.raises(ValueError, match="high"):
        log_tick_values(1.0, float("nan"))
    body = f"const MANTISSAS = {json.dumps([list(m) for m in _LOG_MANTISSAS])}, MOST = 6; {_LOG_TICKS_JS}"
    code = (
        f"const f = new Function('cb_data', {json.dumps(body)});"
        f"console.log(JSON.stringify({json.dumps(RANGES)}.map(([start, end]) => f({{start, end}}))))"
    )
    out = subprocess.run(["node", "-e", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [log_tick_values(a, b) for a, b in RANGES]


def test_log_ticks_and_integer_ticks():
    from bokeh.models import LinearAxis

    from attnbook.viz.kit import integer_ticks, log_ticks

    axis = LinearAxis()
    log_ticks(axis, name="n-yticks")
    assert axis.ticker.args["MOST"] == 6 and axis.ticker.name == "n-yticks"
    with pytest.raises(ValueError, match="most"):
        log_ticks(axis, most=1)
    integer_ticks(axis, name="n-xticks")
    assert axis.ticker.min_interval == 1 and axis.ticker.name == "n-xticks"
