"""The training chapter's figures: payloads against independent computations, ``view`` for several states, every
model named, callbacks wired with the names their modules destructure, bad input refused; and the JS helpers the
figures added to lib.mjs, run in Node against their Python twins."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from _callbacks import assert_callbacks_match_their_args
from _callbacks import figure_callbacks as callbacks
from bokeh.models import ColumnDataSource, Div, Widget

from attnbook.viz import show
from attnbook.viz.core import JS_DIR
from attnbook.viz.figure import check_payload
from attnbook.viz.training import (
    METRICS,
    attention_layout,
    attention_payload,
    attention_toggle_figure,
    comparison_figure,
    comparison_layout,
    comparison_payload,
    curves_payload,
    display_char,
    sampling_figure,
    sampling_layout,
    sampling_payload,
    select_label,
    training_curves_figure,
    xiong_figure,
    xiong_layout,
    xiong_payload,
)

L, H, T = 2, 3, 5


def _history(seed: int, steps: int = 30, n_layer: int = L, diverge: bool = False) -> dict[str, np.ndarray]:
    r = np.random.default_rng(seed)
    step = np.arange(0, steps, 10)
    loss = 3.0 * np.exp(-step / 20) + 0.5 + 0.01 * r.random(len(step))
    eval_step = np.arange(0, steps + 1, 15)
    val = 3.0 * np.exp(-eval_step / 20) + 0.55
    layers = 0.5 + r.random((len(step), n_layer))
    if diverge:
        loss[-1] = np.nan
        val[-1] = np.inf
        layers[-1, 0] = np.nan
    return {
        "step": step,
        "loss": loss,
        "grad_norm": 1.0 + r.random(len(step)),
        "grad_norm_layers": layers,
        "eval_step": eval_step,
        "train_loss": val - 0.02,
        "val_loss": val,
    }


def _attention(seed: int) -> np.ndarray:
    s = np.random.default_rng(seed).standard_normal((L, H, T, T))
    s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def check_names(layout, prefix: str) -> None:
    for m in layout.references():
        if isinstance(m, (Widget, ColumnDataSource, Div)):
            assert m.name and m.name.startswith(f"{prefix}-"), m
    names = [m.name for m in layout.references() if m.name]
    assert len(names) == len(set(names)), "names must be unique"


def check_wired(layout, payload) -> None:
    """Every control's widget triggers a callback given that widget, and every callback draws the first state."""
    assert_callbacks_match_their_args(layout)
    cbs = callbacks(layout)
    for c in payload.controls:
        w = layout.select_one({"name": f"{layout.name}-{c.widget}"})
        assert w is not None, c.widget
        wired = w.js_property_callbacks.get(f"change:{c.attr}", [])
        assert wired and all(cb in cbs for cb in wired), c.widget
        assert all(cb.args["widgets"][c.widget] is w for cb in wired)
    ready = [c for lst in layout.document.callbacks._js_event_callbacks.values() for c in lst]
    assert set(map(id, cbs)) <= set(map(id, ready))


def by_name(layout, name):
    return layout.select_one({"name": name})


def entropy_loop(w: np.ndarray) -> float:
    """Mean over rows of -Σ p log p, written out row by row (0 log 0 = 0)."""
    rows = [-sum(p * np.log(p) for p in row if p > 0) for row in w]
    return float(np.mean(rows))


# --------------------------------------------------------------------------------------------- curves


def test_curves_view_leaves_out_what_is_not_finite():
    h = _history(0, diverge=True)
    p = curves_payload(h)
    check_payload(p)
    shown = p.view({})
    np.testing.assert_allclose(shown["batch"]["loss"], h["loss"][:-1], rtol=1e-6)  # the NaN step left out
    np.testing.assert_allclose(shown["val-estimate"]["val"], h["val_loss"][:-1], rtol=1e-6)  # and the inf
    np.testing.assert_allclose(shown["train-estimate"]["train"], h["train_loss"][:-1], rtol=1e-6)
    assert list(shown["grad-layers"]["step"]) == list(h["step"][:-1])  # a step with a NaN block left out
    np.testing.assert_allclose(shown["grad-layers"]["layer1"], h["grad_norm_layers"][:-1, 1], rtol=1e-6)
    assert shown["batch"]["loss"].dtype == np.float32


def test_curves_figure_shows_the_view_and_ships_the_payload():
    h = _history(0, diverge=True)
    fig = training_curves_figure(h)
    check_names(fig, "training")
    shown = curves_payload(h).view({})
    assert by_name(fig, "training-description").text == shown.pop("description")["text"]  # written once
    for model, columns in shown.items():
        data = by_name(fig, f"training-{model}").data
        for col, value in columns.items():
            np.testing.assert_array_equal(data[col], value)
    payload, _ = fig.tags
    assert payload.name == "training-payload" and payload.tags == ["attnbook.viz.training:CurvesPayload"]
    assert all(p.width <= 740 for p in fig.children)
    assert "data-attnbook-figure" in show(fig).html


def test_curves_bad_input():
    with pytest.raises(ValueError, match="grad_norm_layers"):
        training_curves_figure({k: v for k, v in _history(0).items() if k != "grad_norm_layers"})
    with pytest.raises(TypeError, match="history"):
        training_curves_figure([1, 2])
    bad = _history(0)
    bad["loss"] = bad["loss"][:-1]
    with pytest.raises(ValueError, match="one value per step"):
        training_curves_figure(bad)
    with pytest.raises(ValueError, match="at most 8"):
        training_curves_figure(_history(0, n_layer=9))
    with pytest.raises(TypeError, match="name"):
        training_curves_figure(_history(0), name="")


# ------------------------------------------------------------------------------------------ comparison


@pytest.fixture(scope="module")
def runs():
    return {
        "base": ("the base run", _history(1), "done"),
        "post": ("Post-LN <b>", _history(2), "done"),
        "hot": ("lr ×10", _history(3, diverge=True), "diverged"),
    }


@pytest.mark.parametrize(
    "state",
    [
        {"a": "base", "b": "hot", "metric": "loss"},
        {"a": "hot", "b": "post", "metric": "val_loss"},
        {"a": "post", "b": "post", "metric": "grad_norm"},
    ],
)
def test_comparison_view_shows_run_a_and_run_b(runs, state):
    shown = comparison_payload(runs).view(state)
    for side in ("a", "b"):
        _, xkey, ykey = METRICS[state["metric"]]
        hist = runs[state[side]][1]
        keep = np.isfinite(hist[ykey])
        np.testing.assert_array_equal(shown[f"{side}-source"]["x"], hist[xkey][keep])
        np.testing.assert_allclose(shown[f"{side}-source"]["y"], hist[ykey][keep], rtol=1e-6)


def test_comparison_table_lists_every_run(runs):
    text = comparison_payload(runs).view({"a": "base", "b": "post", "metric": "loss"})["table"]["text"]
    assert text.count("<tr>") == 1 + len(runs)
    assert f"{runs['base'][1]['val_loss'][-1]:.3f}" in text
    best = runs["hot"][1]["val_loss"][np.isfinite(runs["hot"][1]["val_loss"])].min()
    assert f"{best:.3f}" in text and "diverged" in text and "—" in text  # the hot run's last val is inf
    assert "Post-LN &lt;b&gt;" in text and "lr ×10" in text


def test_comparison_figure(runs):
    fig = comparison_figure(runs, first=("base", "hot"), metric="loss")
    p = comparison_payload(runs)
    check_names(fig, "compare")
    check_wired(fig, p)
    assert [o[1] for o in by_name(fig, "compare-a").options] == [v[0] for v in runs.values()]
    shown = p.view(
        {"a": "base", "b": "hot", "metric": "loss"}
    )  # the first state is drawn before any callback
    np.testing.assert_array_equal(by_name(fig, "compare-b-source").data["y"], shown["b-source"]["y"])
    assert by_name(fig, "compare-table").text == shown["table"]["text"]
    assert by_name(fig, "compare-table").min_height is not None  # its box does not jump as its text changes


@pytest.fixture(scope="module")
def seed_runs(runs):
    """The runs at two more seeds: other histories, longer ones (so other final losses and curve lengths)."""
    return [
        {
            k: (label, _history(10 * s + i, steps=30 + 15 * s), "done")
            for i, (k, (label, _, _)) in enumerate(runs.items())
        }
        for s in (1, 2)
    ]


@pytest.mark.parametrize(
    "state", [{"a": "base", "b": "hot", "metric": "val_loss"}, {"a": "post", "b": "base", "metric": "loss"}]
)
def test_comparison_view_draws_every_seed(runs, seed_runs, state):
    p = comparison_payload(runs, others=seed_runs, seeds=("seed 0", "seed 1", "seed 2"))
    shown = p.view(state)
    _, xkey, ykey = METRICS[state["metric"]]
    for side in ("a", "b"):
        for k, other in enumerate(seed_runs):
            hist = other[state[side]][1]
            keep = np.isfinite(hist[ykey])
            np.testing.assert_array_equal(shown[f"{side}-seed{k + 1}-source"]["x"], hist[xkey][keep])
            np.testing.assert_allclose(shown[f"{side}-seed{k + 1}-source"]["y"], hist[ykey][keep], rtol=1e-6)
    # the first seed's curves are those of the single-seed figure
    single = comparison_payload(runs).view(state)
    np.testing.assert_array_equal(shown["a-source"]["y"], single["a-source"]["y"])
    text = shown["table"]["text"]
    assert (
        "final validation loss" in text
        and ">seed 2<" in text
        and "mean" in text
        and text.count("<tr>") == 1 + len(runs)
    )
    vals = [runs["base"][1]["val_loss"][-1], *(o["base"][1]["val_loss"][-1] for o in seed_runs)]
    assert len(set(vals)) == 3 and f"{np.mean(vals):.3f}" in text and f"{vals[2]:.3f}" in text


def test_comparison_figure_with_seeds(runs, seed_runs):
    fig = comparison_figure(runs, others=seed_runs, seeds=("s0", "s1", "s2"), first=("base", "hot"))
    p = comparison_payload(runs, others=seed_runs, seeds=("s0", "s1", "s2"))
    check_names(fig, "compare")
    check_wired(fig, p)
    shown = p.view({"a": "base", "b": "hot", "metric": "val_loss"})
    for key in ("a-seed1-source", "b-seed2-source"):
        np.testing.assert_array_equal(by_name(fig, f"compare-{key}").data["y"], shown[key]["y"])


def test_comparison_bad_seeds(runs, seed_runs):
    with pytest.raises(ValueError, match="seeds must label"):
        comparison_payload(runs, others=seed_runs)
    with pytest.raises(ValueError, match="seeds must be 3 distinct"):
        comparison_payload(runs, others=seed_runs, seeds=("a", "b"))
    with pytest.raises(ValueError, match=r"others\[0\] must have the keys"):
        comparison_payload(runs, others=[{"base": runs["base"]}], seeds=("a", "b"))
    with pytest.raises(TypeError, match="others must be"):
        comparison_payload(runs, others=seed_runs[0], seeds=("a", "b"))
    with pytest.raises(TypeError, match="seeds must be"):
        comparison_payload(runs, others=seed_runs, seeds="abc")


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"first": ("base", "nope")}, ValueError, "first"),
        ({"first": "base"}, ValueError, "first"),
        ({"metric": "accuracy"}, ValueError, "metric"),
        ({"name": None}, TypeError, "name"),
    ],
)
def test_comparison_bad_input(runs, kwargs, err, match):
    with pytest.raises(err, match=match):
        comparison_figure(runs, **kwargs)


def test_comparison_bad_runs(runs):
    with pytest.raises(ValueError, match="two runs"):
        comparison_payload({"base": runs["base"]})
    with pytest.raises(TypeError, match="label, history, status"):
        comparison_payload({**runs, "x": ("x", _history(0))})
    with pytest.raises(ValueError, match="status"):
        comparison_payload({**runs, "x": ("x", _history(0), "exploded")})
    with pytest.raises(ValueError, match="missing"):
        comparison_payload({**runs, "x": ("x", {"step": np.arange(3)}, "done")})
    with pytest.raises(TypeError, match="keyed by str"):
        comparison_payload({**runs, 3: runs["base"]})


# ------------------------------------------------------------------------------------------- attention


@pytest.fixture(scope="module")
def before_after():
    return SimpleNamespace(tokens=tuple("the c"), random=_attention(0), trained=_attention(1))


@pytest.mark.parametrize(("trained", "layer", "head"), [(True, 1, 2), (False, 0, 0), (False, 1, 1)])
def test_attention_view(before_after, trained, layer, head):
    p = attention_payload(before_after)
    shown = p.view({"trained": trained, "layer": str(layer + 1), "head": str(head + 1)})
    w = (before_after.trained if trained else before_after.random)[layer, head]
    np.testing.assert_allclose(shown["cells"]["weight"], w.ravel(), rtol=1e-6)
    # The toggle says what clicking it does, not what it shows.
    assert shown["trained"]["label"] == (
        "Switch to random weights" if trained else "Switch to trained weights"
    )
    text = shown["readout"]["text"]
    e0 = entropy_loop(before_after.random[layer, head])
    e1 = entropy_loop(before_after.trained[layer, head])
    assert f"<b>{e0:.2f}</b> nats at initialisation, <b>{e1:.2f}</b> after training" in text
    uniform = np.mean([np.log(i + 1) for i in range(T)])
    assert f"uniform over the visible keys: {uniform:.2f}" in text
    last = int(np.argmax(w[-1]))
    assert f"attends most to position {last + 1} (“{p.labels[last]}”)" in text
    assert (
        f"Layer {layer + 1}, head {head + 1}, {'after training' if trained else 'at initialisation'}" in text
    )


def test_attention_figure(before_after):
    fig = attention_toggle_figure(before_after, trained=False, layer=1, head=2)
    p = attention_payload(before_after)
    check_names(fig, "trained-attention")
    check_wired(fig, p)
    assert p.labels == ("t", "h", "e", "␣", "c")
    toggle = by_name(fig, "trained-attention-trained")
    assert toggle.active is False and toggle.label == "Switch to trained weights"
    cells = by_name(fig, "trained-attention-cells").data
    np.testing.assert_allclose(cells["weight"], before_after.random[1, 2].ravel(), rtol=1e-6)
    assert cells["q_token"][T] == "h" and cells["k_token"][T] == "t"
    assert p.weights.dtype == np.float32 and p.weights.shape == (2, L, H, T, T)


def test_attention_bad_input(before_after):
    r = _attention(0)
    with pytest.raises(ValueError, match="T = len"):
        attention_payload(SimpleNamespace(tokens=tuple("the"), random=r, trained=r))
    with pytest.raises(ValueError, match="trained"):
        attention_payload(SimpleNamespace(tokens=tuple("the c"), random=r, trained=r[:1]))
    with pytest.raises(TypeError, match="tokens"):
        attention_payload(SimpleNamespace(tokens="the c", random=r, trained=r))
    with pytest.raises(ValueError, match="dimensions"):
        attention_payload(SimpleNamespace(tokens=tuple("the c"), random=r[0], trained=r[0]))
    with pytest.raises(TypeError, match="lacks"):
        attention_payload((tuple("the c"), r, r))
    p = attention_payload(before_after)
    with pytest.raises(ValueError, match="layer"):
        attention_layout(p, layer=L)
    with pytest.raises(TypeError, match="trained"):
        attention_layout(p, trained=1)


def test_display_char():
    assert [display_char(c) for c in " \na"] == ["␣", "⏎", "a"]
    with pytest.raises(ValueError):
        display_char("ab")


# -------------------------------------------------------------------------------------------- sampling


def _grid(P=2, temps=(0.5, 1.0, 1.5), ks=(None, 2), V=4):
    r = np.random.default_rng(0)
    probs = r.random((P, len(temps), len(ks), V))
    probs[..., 1, 0] = 0.0  # top-k = 2 removes a character
    probs /= probs.sum(-1, keepdims=True)
    samples = tuple(
        tuple(tuple(f"p{p} t{t} k{k} <b>" for k in range(len(ks))) for t in range(len(temps)))
        for p in range(P)
    )
    return SimpleNamespace(
        prompts=("the", "a <cat>")[:P],
        temperatures=temps,
        top_ks=ks,
        samples=samples,
        probs=probs,
        vocab="ab c",
    )


@pytest.mark.parametrize(("prompt", "t", "k"), [(0, 0, 0), (1, 2, 1), (1, 1, 0)])
def test_sampling_view(prompt, t, k):
    g = _grid()
    p = sampling_payload(g)
    state = {"prompt": str(prompt), "temperature": g.temperatures[t], "topk": ["all", "2"][k]}
    shown = p.view(state)
    probs = g.probs[prompt, t, k]
    np.testing.assert_allclose(shown["bars"]["top"], probs, rtol=1e-6)
    text = shown["text"]["text"]
    best = int(np.argmax(probs))
    assert f"τ = <b>{g.temperatures[t]:.2f}</b>, top-k = <b>{state['topk']}</b>" in text
    assert f"{int((probs > 0).sum())} of 4 characters possible next" in text
    assert f"the most likely “{['a', 'b', '␣', 'c'][best]}” with p = {probs[best]:.3f}" in text
    assert html.escape(g.prompts[prompt]) in text and html.escape(g.samples[prompt][t][k]) in text


def test_sampling_figure():
    g = _grid()
    fig = sampling_figure(g)
    p = sampling_payload(g)
    check_names(fig, "sampling")
    check_wired(fig, p)
    slider = by_name(fig, "sampling-temperature")
    assert (slider.start, slider.end, slider.step, slider.value) == (0.5, 1.5, 0.5, 1.0)
    assert by_name(fig, "sampling-topk").options == ["all", "2"]
    assert by_name(fig, "sampling-prompt").options == [("0", "the"), ("1", "a <cat>")]
    assert by_name(fig, "sampling-plot").xaxis[0].major_label_overrides == {0: "a", 1: "b", 2: "␣", 3: "c"}
    shown = p.view({"prompt": "0", "temperature": 1.0, "topk": "all"})
    assert by_name(fig, "sampling-text").text == shown["text"]["text"]
    assert by_name(fig, "sampling-text").min_height is not None  # its box does not jump as its text changes


@pytest.mark.parametrize(
    ("change", "err", "match"),
    [
        ({"temperatures": (0.5, 1.0, 2.0)}, ValueError, "even grid"),
        ({"temperatures": (1.0,)}, ValueError, "temperatures"),
        ({"top_ks": ()}, ValueError, "top_ks"),
        ({"probs": np.ones((2, 3, 2, 3)) / 3}, ValueError, "probs must have shape"),
        ({"samples": (("a",),)}, ValueError, "samples"),
        ({"prompts": "the"}, TypeError, "prompts"),
        ({"vocab": ""}, TypeError, "vocab"),
    ],
)
def test_sampling_bad_grid(change, err, match):
    g = _grid()
    for k, v in change.items():
        setattr(g, k, v)
    with pytest.raises(err, match=match):
        sampling_payload(g)


def test_sampling_bad_layout():
    p = sampling_payload(_grid())
    with pytest.raises(ValueError, match="temperature"):
        sampling_layout(p, temperature=0.7)
    with pytest.raises(TypeError, match="lacks"):
        sampling_payload({"prompts": ("a",)})


# ----------------------------------------------------------------------------------------------- Xiong


@pytest.fixture(scope="module")
def xiong_inputs():
    r = np.random.default_rng(4)
    norms = {(b, i): 0.5 + r.random(6) for b in ("pre", "post") for i in ("gpt2", "xavier")}
    norms["post", "gpt2"] = norms["post", "gpt2"] / 1e5  # tiny: the readout switches to exponents
    keys = ("pre-warmup", "pre-no-warmup", "post-warmup", "post-no-warmup")
    runs = {
        lr: {
            k: (k.replace("-", " "), _history(j + 10 * s, diverge=(s, j) == (1, 3)), "done")
            for j, k in enumerate(keys)
        }
        for s, lr in enumerate(("0.003", "0.01"))
    }
    runs["0.01"]["post-no-warmup"] = (*runs["0.01"]["post-no-warmup"][:2], "diverged")
    return norms, runs


@pytest.mark.parametrize(("init", "setting"), [("xavier", "0.003"), ("gpt2", "0.01")])
def test_xiong_view(xiong_inputs, init, setting):
    norms, runs = xiong_inputs
    p = xiong_payload(norms, runs, init_labels={"xavier": "Xavier"})
    shown = p.view({"init": init, "setting": setting})
    np.testing.assert_allclose(shown["grad-source"]["post"], norms["post", init], rtol=1e-6)
    assert list(shown["grad-source"]["layer"]) == [1, 2, 3, 4, 5, 6]
    text = shown["grad-readout"]["text"]
    assert text.startswith(("Xavier" if init == "xavier" else "gpt2") + ".<br>Pre-LN: block 1 <b>")
    g = norms["post", init].astype(np.float32).astype(float)
    assert (
        f"Post-LN: block 1 <b>{g[0]:#.3g}</b>, block 6 <b>{g[-1]:#.3g}</b> (last / first = {g[-1] / g[0]:.2f})"
        in text
    )
    for key, (label, hist, status) in runs[setting].items():
        keep = np.isfinite(hist["val_loss"])
        np.testing.assert_allclose(shown[f"run-{key}"]["val"], hist["val_loss"][keep], rtol=1e-6)
        final = "diverged" if status == "diverged" else f"{hist['val_loss'][keep][-1]:.3f}"
        assert f"{label} <b>{final}</b>" in shown["loss-readout"]["text"]
    assert shown["loss-readout"]["text"].startswith(f"Final validation loss at {setting}: ")
    if init == "gpt2":
        assert "e-05</b>" in text  # a tiny norm is written with an exponent, as Python's "#.3g" does


def test_xiong_figure(xiong_inputs):
    norms, runs = xiong_inputs
    fig = xiong_figure(norms, runs, init_labels={"xavier": "Xavier"}, init="xavier")
    p = xiong_payload(norms, runs, init_labels={"xavier": "Xavier"})
    check_names(fig, "xiong")
    check_wired(fig, p)
    assert len(callbacks(fig)) == 2
    assert p.controls[1].values == ("0.003", "0.01") and p.init_labels == ("gpt2", "Xavier")
    src = by_name(fig, "xiong-grad-source").data
    np.testing.assert_allclose(src["pre"], norms["pre", "xavier"], rtol=1e-6)
    assert by_name(fig, "xiong-init").value == "xavier"


def test_xiong_bad_input(xiong_inputs):
    norms, runs = xiong_inputs
    with pytest.raises(ValueError, match="missing"):
        xiong_payload({k: v for k, v in norms.items() if k != ("post", "gpt2")}, runs)
    with pytest.raises(ValueError, match="same run keys"):
        xiong_payload(norms, {"a": runs["0.003"], "b": dict(list(runs["0.01"].items())[:2])})
    with pytest.raises(ValueError, match="block"):
        xiong_payload({("middle", "gpt2"): np.ones(3)}, runs)
    with pytest.raises(ValueError, match="settings"):
        xiong_payload(norms, {})
    with pytest.raises(TypeError, match="keyed by str"):
        xiong_payload(norms, {0.003: runs["0.003"]})
    with pytest.raises(TypeError, match="label, history, status"):
        xiong_payload(norms, {"a": {"pre-warmup": ("x", {})}})
    with pytest.raises(ValueError, match="init"):
        xiong_layout(xiong_payload(norms, runs), init="he")


def test_js_modules_exist_for_every_callback():
    names = {p.stem for p in JS_DIR.glob("training_*.mjs")}
    assert names == {
        "training_attention",
        "training_compare",
        "training_sampling",
        "training_xiong_init",
        "training_xiong_runs",
    }


def test_layouts_refuse_other_payloads(runs):
    with pytest.raises(TypeError, match="payload"):
        comparison_layout(("not", "a", "payload"))


# ----------------------------------------------------------------------------- lib.mjs helpers in Node

NODE = shutil.which("node")


def run_lib(expr: str):
    """Evaluate ``expr`` in Node with js/lib.mjs loaded; return its JSON value."""
    code = (JS_DIR / "lib.mjs").read_text(encoding="utf-8") + f"\nconsole.log(JSON.stringify({expr}))\n"
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", code], capture_output=True, text=True, check=True, timeout=30
    )
    return json.loads(out.stdout)


@pytest.mark.skipif(NODE is None, reason="needs node")
def test_lib_sig_and_escape_write_what_python_writes():
    values = [0.0, 1.0, 2.9964, 0.7949, 9.996, 0.0247, 1.5e-5, 123.456, 1234.5, -0.000123, 0.125, 1e-4, 99.95]
    values += [float(np.float32(v)) for v in np.random.default_rng(0).lognormal(0, 4, 200)]
    got = run_lib(f"{json.dumps(values)}.map((x) => sig(x, 3))")
    assert got == [f"{v:#.3g}".removesuffix(".") for v in values]  # 123.456 -> "123", as toPrecision(3)
    text = '<a href="x">it\'s & that</a>'
    assert run_lib(f"escapeHtml({json.dumps(text)})") == html.escape(text)


@pytest.mark.skipif(NODE is None, reason="needs node")
def test_lib_finite_xy_leaves_out_what_is_not_finite():
    xy = "finiteXY(new Float32Array([0, 1, 2, 3]), new Float32Array([1, NaN, -Infinity, 0.5]))"
    assert run_lib(f"(({{x, y}}) => [Array.from(x), Array.from(y)])({xy})") == [[0, 3], [1, 0.5]]


def test_long_run_labels_are_cut_in_the_selects_and_whole_in_the_table(runs):
    long = "base: Pre-LN, LayerNorm, GeLU, learned positions, lr 3e-3, warm-up"
    assert select_label(long) == "base: Pre-LN, LayerNorm, GeLU…"
    assert len(select_label(long)) <= 46 and select_label("no warm-up") == "no warm-up"
    assert select_label("x" * 60, limit=10) == "x" * 9 + "…"  # no comma: cut at the limit
    with pytest.raises(TypeError, match="label"):
        select_label(3)
    with pytest.raises(ValueError, match="limit"):
        select_label("abc", limit=1)
    fig = comparison_figure({**runs, "base": (long, *runs["base"][1:])}, first=("base", "hot"))
    assert by_name(fig, "compare-a").options[0] == ("base", select_label(long))
    assert long in by_name(fig, "compare-table").text


def test_the_gradient_log_axis_is_uncrowded():
    fig = training_curves_figure(_history(0))
    assert by_name(fig, "training-grad-yticks").args["MOST"] == 6  # kit.log_ticks: 1, 2, 3, not 1.5, 2, 2.5
