"""The training chapter's figures: every model named, payloads equal to the arrays given, callbacks wired to every
widget with the names their JS modules destructure, and bad input refused."""

from __future__ import annotations

import re

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, CustomJS, Div, Widget

from attnbook.viz import show
from attnbook.viz.core import JS_DIR
from attnbook.viz.training import (
    METRICS,
    attention_toggle_figure,
    comparison_figure,
    display_char,
    sampling_figure,
    training_curves_figure,
    xiong_figure,
)

L, H, T = 2, 3, 5


def _history(seed: int, steps: int = 30, n_layer: int = L, diverge: bool = False) -> dict[str, np.ndarray]:
    r = np.random.default_rng(seed)
    step = np.arange(0, steps, 10)
    loss = 3.0 * np.exp(-step / 20) + 0.5 + 0.01 * r.random(len(step))
    eval_step = np.arange(0, steps + 1, 15)
    val = 3.0 * np.exp(-eval_step / 20) + 0.55
    if diverge:
        loss[-1] = np.nan
        val[-1] = np.inf
    return {
        "step": step,
        "loss": loss,
        "grad_norm": 1.0 + r.random(len(step)),
        "grad_norm_layers": 0.5 + r.random((len(step), n_layer)),
        "eval_step": eval_step,
        "train_loss": val - 0.02,
        "val_loss": val,
    }


def _attention(seed: int) -> np.ndarray:
    s = np.random.default_rng(seed).standard_normal((L, H, T, T))
    s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def named_models(layout):
    return [m for m in layout.references() if isinstance(m, (Widget, ColumnDataSource, Div))]


def callbacks(layout) -> list[CustomJS]:
    return [m for m in layout.references() if isinstance(m, CustomJS)]


def check_names(layout, prefix: str) -> None:
    for m in named_models(layout):
        assert m.name and m.name.startswith(prefix), m
    names = [m.name for m in layout.references() if m.name]
    assert len(names) == len(set(names)), "names must be unique"


def check_js(cb: CustomJS) -> None:
    """The module's destructured names equal the Python keyword names, and it imports nothing."""
    src = cb.code
    assert "import " not in src
    head = re.search(r"export default \(\{(.*?)\}", src, re.S).group(1)
    assert {n.strip() for n in head.split(",") if n.strip()} == set(cb.args)


def check_wired(layout) -> None:
    """Every widget triggers a callback, and every callback also draws the first state."""
    cbs = callbacks(layout)
    for w in (m for m in layout.references() if isinstance(m, Widget) and not isinstance(m, Div)):
        wired = [c for lst in w.js_property_callbacks.values() for c in lst]
        assert any(c in cbs for c in wired), w.name
    ready = [c for lst in layout.document.callbacks._js_event_callbacks.values() for c in lst]
    assert set(map(id, cbs)) <= set(map(id, ready))


def by_name(layout, name):
    return layout.select_one({"name": name})


# --------------------------------------------------------------------------------------------- curves


def test_training_curves_figure():
    h = _history(0, diverge=True)
    fig = training_curves_figure(h)
    check_names(fig, "training")
    batch = by_name(fig, "training-batch").data
    keep = np.isfinite(h["loss"])
    np.testing.assert_allclose(
        batch["loss"], h["loss"][keep], rtol=1e-6
    )  # the NaN of a diverged step left out
    assert batch["loss"].dtype == np.float32
    val = by_name(fig, "training-val-estimate").data
    np.testing.assert_allclose(val["val"], h["val_loss"][np.isfinite(h["val_loss"])], rtol=1e-6)
    layers = by_name(fig, "training-grad-layers").data
    for layer in range(L):
        np.testing.assert_allclose(layers[f"layer{layer}"], h["grad_norm_layers"][:, layer], rtol=1e-6)
    assert all(p.width <= 740 for p in fig.children)
    assert "data-attnbook-figure" in show(fig).html


def test_training_curves_bad_input():
    with pytest.raises(ValueError, match="grad_norm_layers"):
        training_curves_figure({k: v for k, v in _history(0).items() if k != "grad_norm_layers"})
    with pytest.raises(TypeError, match="history"):
        training_curves_figure([1, 2])
    bad = _history(0)
    bad["loss"] = bad["loss"][:-1]
    with pytest.raises(ValueError, match="one value per step"):
        training_curves_figure(bad)
    with pytest.raises(TypeError, match="name"):
        training_curves_figure(_history(0), name="")


# ------------------------------------------------------------------------------------------ comparison


@pytest.fixture(scope="module")
def runs():
    return {
        "base": ("the base run", _history(1), "done"),
        "post": ("Post-LN", _history(2), "done"),
        "hot": ("lr ×10", _history(3, diverge=True), "diverged"),
    }


def test_comparison_figure(runs):
    fig = comparison_figure(runs, first=("base", "hot"), metric="loss")
    check_names(fig, "compare")
    check_wired(fig)
    (cb,) = callbacks(fig)
    check_js(cb)
    args = cb.args
    assert args["keys"] == list(runs) and args["metric_keys"] == list(METRICS)
    assert [o[1] for o in by_name(fig, "compare-a").options] == [v[0] for v in runs.values()]
    # the payload is the histories' curves, non-finite points left out
    for i, (_, hist, _) in enumerate(runs.values()):
        for m, (_, xkey, ykey) in enumerate(METRICS.values()):
            keep = np.isfinite(hist[ykey])
            np.testing.assert_allclose(args["curves"][i][m][0], hist[xkey][keep])
            np.testing.assert_allclose(args["curves"][i][m][1], hist[ykey][keep], rtol=1e-6)
    a, b = by_name(fig, "compare-a-source").data, by_name(fig, "compare-b-source").data
    np.testing.assert_allclose(a["y"], runs["base"][1]["loss"], rtol=1e-6)
    assert len(b["y"]) == len(runs["hot"][1]["loss"]) - 1  # the diverged step is not drawn
    table = by_name(fig, "compare-table")
    assert table.height is not None and table.text.count("<tr>") == 1 + len(runs)
    assert f"{runs['base'][1]['val_loss'][-1]:.3f}" in table.text and "diverged" in table.text
    assert "lr ×10" in table.text


@pytest.mark.parametrize(
    ("kwargs", "err"),
    [
        ({"first": ("base", "nope")}, ValueError),
        ({"first": "base"}, ValueError),
        ({"metric": "accuracy"}, ValueError),
        ({"name": None}, TypeError),
    ],
)
def test_comparison_bad_input(runs, kwargs, err):
    with pytest.raises(err):
        comparison_figure(runs, **kwargs)


def test_comparison_bad_runs(runs):
    with pytest.raises(ValueError, match="two runs"):
        comparison_figure({"base": runs["base"]})
    with pytest.raises(TypeError, match="label, history, status"):
        comparison_figure({**runs, "x": ("x", _history(0))})
    with pytest.raises(ValueError, match="status"):
        comparison_figure({**runs, "x": ("x", _history(0), "exploded")})


# ------------------------------------------------------------------------------------------- attention


def test_attention_toggle_figure():
    random, trained = _attention(0), _attention(1)
    tokens = list("the c")
    fig = attention_toggle_figure(tokens, random, trained, layer=1, head=2)
    check_names(fig, "trained-attention")
    check_wired(fig)
    (cb,) = callbacks(fig)
    check_js(cb)
    w = cb.args["weights"]
    assert w.dtype == np.float32 and w.shape == (2, L, H, T, T)
    np.testing.assert_allclose(w[0], random, rtol=1e-6)
    np.testing.assert_allclose(w[1], trained, rtol=1e-6)
    assert cb.args["labels"] == ["t", "h", "e", "␣", "c"]
    # the entropies shipped are the rows' entropies (0 log 0 = 0 for the masked keys)
    p = np.clip(trained[1, 2], 1e-300, 1)
    expected = -(trained[1, 2] * np.log(p)).sum(-1).mean()
    assert cb.args["entropy"][1, 1, 2] == pytest.approx(expected, rel=1e-5)
    np.testing.assert_array_equal(cb.args["top"][1, 1, 2], trained[1, 2].argmax(-1))
    first = by_name(fig, "trained-attention-map-source").data["weight"]
    np.testing.assert_allclose(first, trained[1, 2].ravel(), rtol=1e-6)


def test_attention_toggle_bad_input():
    r = _attention(0)
    with pytest.raises(ValueError, match="T = len"):
        attention_toggle_figure(list("the"), r, r)
    with pytest.raises(ValueError, match="trained"):
        attention_toggle_figure(list("the c"), r, r[:1])
    with pytest.raises(ValueError, match="layer"):
        attention_toggle_figure(list("the c"), r, r, layer=L)
    with pytest.raises(TypeError, match="tokens"):
        attention_toggle_figure("the c", r, r)
    with pytest.raises(ValueError, match="dimensions"):
        attention_toggle_figure(list("the c"), r[0], r[0])


def test_display_char():
    assert [display_char(c) for c in " \na"] == ["␣", "⏎", "a"]
    with pytest.raises(ValueError):
        display_char("ab")


# -------------------------------------------------------------------------------------------- sampling


def _grid(P=2, temps=(0.5, 1.0, 1.5), ks=(None, 2), V=4):
    r = np.random.default_rng(0)
    probs = r.random((P, len(temps), len(ks), V))
    probs /= probs.sum(-1, keepdims=True)
    samples = [[[f"p{p} t{t} k{k} <b>" for k in range(len(ks))] for t in range(len(temps))] for p in range(P)]
    return ["the", "a cat"][:P], temps, ks, samples, probs, "ab c"


def test_sampling_figure():
    prompts, temps, ks, samples, probs, vocab = _grid()
    fig = sampling_figure(prompts, temps, ks, samples, probs, vocab)
    check_names(fig, "sampling")
    check_wired(fig)
    (cb,) = callbacks(fig)
    check_js(cb)
    args = cb.args
    np.testing.assert_allclose(args["probs"], probs, rtol=1e-6)
    assert args["k_labels"] == ["all", "2"] and args["temperatures"] == list(temps)
    assert args["chars"] == ["a", "b", "␣", "c"]
    # flattened in (prompt, temperature, top-k) order, HTML-escaped
    assert args["samples"][(1 * 3 + 2) * 2 + 1] == "p1 t2 k1 &lt;b&gt;"
    slider = by_name(fig, "sampling-temperature")
    assert (slider.start, slider.end, slider.step, slider.value) == (0.5, 1.5, 0.5, 1.0)
    assert by_name(fig, "sampling-plot").xaxis[0].major_label_overrides == {0: "a", 1: "b", 2: "␣", 3: "c"}
    assert by_name(fig, "sampling-text").height is not None


@pytest.mark.parametrize(
    ("change", "err"),
    [
        ({"temps": (0.5, 1.0, 2.0)}, ValueError),  # not an even grid
        ({"temps": (1.0,)}, ValueError),
        ({"ks": ()}, ValueError),
    ],
)
def test_sampling_bad_grid(change, err):
    prompts, temps, ks, samples, probs, vocab = _grid()
    temps, ks = change.get("temps", temps), change.get("ks", ks)
    with pytest.raises(err):
        sampling_figure(prompts, temps, ks, samples, probs, vocab)


def test_sampling_bad_input():
    prompts, temps, ks, samples, probs, vocab = _grid()
    with pytest.raises(ValueError, match="probs must have shape"):
        sampling_figure(prompts, temps, ks, samples, probs[:, :, :, :3], vocab)
    with pytest.raises(ValueError, match="samples"):
        sampling_figure(prompts, temps, ks, samples[:1], probs, vocab)
    with pytest.raises(ValueError, match="temperature"):
        sampling_figure(prompts, temps, ks, samples, probs, vocab, temperature=0.7)
    with pytest.raises(TypeError, match="prompts"):
        sampling_figure("the", temps, ks, samples, probs, vocab)
    with pytest.raises(TypeError, match="vocab"):
        sampling_figure(prompts, temps, ks, samples, probs, "")


# ----------------------------------------------------------------------------------------------- Xiong


@pytest.fixture(scope="module")
def xiong_inputs():
    r = np.random.default_rng(4)
    norms = {(b, i): 0.5 + r.random(6) for b in ("pre", "post") for i in ("gpt2", "xavier")}
    keys = ("pre-warmup", "pre-no-warmup", "post-warmup", "post-no-warmup")
    runs = {
        lr: {k: (k.replace("-", " "), _history(j + 10 * s), "done") for j, k in enumerate(keys)}
        for s, lr in enumerate(("0.003", "0.01"))
    }
    return norms, runs


def test_xiong_figure(xiong_inputs):
    norms, runs = xiong_inputs
    fig = xiong_figure(norms, runs, init_labels={"xavier": "Xavier"}, init="xavier")
    check_names(fig, "xiong")
    check_wired(fig)
    cbs = {cb.code.splitlines()[0]: cb for cb in callbacks(fig)}
    assert len(cbs) == 2
    for cb in cbs.values():
        check_js(cb)
    init_cb = next(cb for cb in cbs.values() if "norms" in cb.args)
    assert init_cb.args["inits"] == ["gpt2", "xavier"] and init_cb.args["init_labels"] == ["gpt2", "Xavier"]
    np.testing.assert_allclose(init_cb.args["norms"][1, 1], norms["post", "xavier"], rtol=1e-6)
    src = by_name(fig, "xiong-grad-source").data
    np.testing.assert_allclose(src["pre"], norms["pre", "xavier"], rtol=1e-6)
    runs_cb = next(cb for cb in cbs.values() if "curves" in cb.args)
    assert runs_cb.args["settings"] == ["0.003", "0.01"]
    hist = runs["0.01"]["post-warmup"][1]
    np.testing.assert_allclose(runs_cb.args["curves"][1][2][1], hist["val_loss"], rtol=1e-6)
    assert runs_cb.args["finals"][1][2] == f"{hist['val_loss'][-1]:.3f}"
    assert len(runs_cb.args["sources"]) == 4


def test_xiong_bad_input(xiong_inputs):
    norms, runs = xiong_inputs
    with pytest.raises(ValueError, match="missing"):
        xiong_figure({k: v for k, v in norms.items() if k != ("post", "gpt2")}, runs)
    with pytest.raises(ValueError, match="init"):
        xiong_figure(norms, runs, init="he")
    with pytest.raises(ValueError, match="same run keys"):
        xiong_figure(norms, {"a": runs["0.003"], "b": dict(list(runs["0.01"].items())[:2])})
    with pytest.raises(ValueError, match="block"):
        xiong_figure({("middle", "gpt2"): np.ones(3)}, runs)
    with pytest.raises(ValueError, match="settings"):
        xiong_figure(norms, {})


def test_js_modules_exist_for_every_callback():
    names = {p.stem for p in JS_DIR.glob("training_*.mjs")}
    assert names == {
        "training_attention",
        "training_compare",
        "training_sampling",
        "training_xiong_init",
        "training_xiong_runs",
    }
