"""The step-by-step attention figure: panels, payload, what each state shows, names, bad input."""

import numpy as np
import pytest
from bokeh.core.validation.check import check_integrity
from bokeh.models import ColumnDataSource, Widget

from attnbook.experiments.steps import TEMPERATURES, steps_sweep
from attnbook.viz.figure import pick
from attnbook.viz.steps import GAP, STEP_TITLES, attention_steps_figure, layout, payload, step_panels

T, C, H = 4, 6, 2
D = C // H
TOKENS = ("the", "cat", "sat", "the")


def inputs(seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, C))
    w_q, w_k, w_v, w_o = rng.standard_normal((4, C, C)) / np.sqrt(C)
    return x, w_q, w_k, w_v, w_o


@pytest.fixture(scope="module")
def p():
    return payload(steps_sweep(TOKENS, np.array([1, 5, 9, 1]), *inputs(), n_head=H))


def reference(h, tau, masked):
    """Head ``h`` by hand: scores q·k, softmax of q·k / (√D τ) over the visible keys, and A V."""
    x, w_q, w_k, w_v, _ = inputs()
    cols = slice(h * D, (h + 1) * D)
    q, k, v = x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols]
    scores = np.array([[q[i] @ k[j] for j in range(T)] for i in range(T)])
    visible = np.tril(np.ones((T, T), dtype=bool)) if masked else np.ones((T, T), dtype=bool)
    scaled = np.where(visible, scores / (np.sqrt(D) * tau), -np.inf)
    weights = np.exp(scaled - scaled.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    return scores, scaled, weights, weights @ v, v


def state(step=7, temperature=1.0, causal=False, head="1"):
    return {"step": step, "temperature": temperature, "causal": causal, "head": head}


def panel_values(shown, n, n_cols):
    """The values of panel ``n`` of a view, as a (T, n_cols) matrix."""
    cells = shown["cells"]
    return cells["value"][cells["panel"] == n].reshape(T, n_cols)


def test_step_panels_give_every_matrix_its_shape():
    panels = step_panels(["a", "b", "c"], C, H)
    assert len(panels) == len(STEP_TITLES) == 9
    assert [len(s) for s in panels] == [1, 1, 3, 1, 1, 1, 1, 3, 2]
    for step in panels:
        for panel in step:
            assert panel.kind in {"signed", "weights", "ids"} and panel.cols
            assert panel.pairs == (panel.cols == ("a", "b", "c"))  # the (T, T) panels show score and weight
    assert panels[2][0].title == "Q = X W_Q  (T=3, D=3)" and panels[2][0].cols == ("d0", "d1", "d2")
    with pytest.raises(ValueError, match="n_head"):
        step_panels(["a", "b"], 5, 2)  # 2 heads do not divide C = 5


@pytest.mark.parametrize(
    ("st", "h", "tau", "masked"),
    [
        (state(), 0, 1.0, False),
        (state(causal=True, head="2"), 1, 1.0, True),
        (state(temperature=TEMPERATURES[0]), 0, TEMPERATURES[0], False),
        (state(temperature=TEMPERATURES[-1], causal=True), 0, TEMPERATURES[-1], True),
    ],
)
def test_view_shows_the_attention_of_the_state(p, st, h, tau, masked):
    scores, scaled, weights, av, v = reference(h, tau, masked)
    shown = {s: p.view({**st, "step": s}) for s in (4, 5, 6, 7, 8)}
    np.testing.assert_allclose(panel_values(shown[4], 0, T), scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        panel_values(shown[5], 0, T), scores / (np.sqrt(D) * tau), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(panel_values(shown[6], 0, T), scaled, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(panel_values(shown[7], 0, T), weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(panel_values(shown[8], 1, D), v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(panel_values(shown[8], 2, D), av, rtol=1e-5, atol=1e-6)
    hidden = ~np.isfinite(scaled)
    for s in shown.values():  # the heatmap and the hover follow the state on every step; masked cells grey
        np.testing.assert_allclose(
            s["attention-source"]["weight"].reshape(T, T),
            np.where(hidden, np.nan, weights),
            rtol=1e-5,
            atol=1e-6,
        )
        np.testing.assert_array_equal(np.isneginf(s["attention-source"]["score"]).reshape(T, T), hidden)
        texts = ["masked" if h else f"{w:.3f}" for w, h in zip(weights.ravel(), hidden.ravel(), strict=True)]
        assert s["attention-source"]["weight_text"] == texts
        assert s["cells"]["weight"][: T * T] == texts
    seven = shown[7]["cells"]  # the softmax: a masked key's weight is grey and reads "–", not "0.00"
    assert [t == "–" for t in seven["text"]] == hidden.ravel().tolist()
    np.testing.assert_array_equal(np.isnan(seven["color"]), hidden.ravel())
    cells = shown[6]["cells"]
    hidden = ~np.isfinite(scaled).ravel()
    assert [t == "−∞" for t in cells["text"]] == hidden.tolist()
    np.testing.assert_array_equal(np.isnan(cells["color"]), hidden)


def test_colours_texts_and_labels(p):
    one = p.view(state(step=1))
    assert one["cells"]["text"][:T] == ["1", "5", "9", "1"] and (one["cells"]["color"][:T] == 0).all()
    # then the one-hot rows, over the columns of the ids that occur (1, 5, 9)
    assert one["cells"]["text"][T:] == ["1", "0", "0", "0", "1", "0", "0", "0", "1", "1", "0", "0"]
    assert one["labels"]["text"] == [
        "ids (T=4, 1)", "id", *TOKENS, "one-hot O (T, V): columns in use", "1", "5", "9"
    ]  # fmt: skip
    # the two titles pushed apart: the ids title ends where its panel ends, the one-hot title starts at its panel
    assert (one["labels"]["x"][0], one["labels"]["align"][0]) == (1.0, "right")
    assert (one["labels"]["x"][2 + T], one["labels"]["align"][2 + T]) == (1.0 + GAP, "left")
    assert one["labels"]["align"][2 : 2 + T] == ["right"] * T
    two = p.view(state(step=2))
    x = inputs()[0]
    np.testing.assert_allclose(two["cells"]["color"].reshape(T, C), x / np.abs(x).max(), rtol=1e-5)
    assert two["cells"]["score"] == [""] * (T * C)  # not a query-key panel: no hover score
    for k, c in enumerate(two["cells"]["color"].tolist()):  # each value written once, white on a dark cell
        dark = abs(c) > 0.6
        assert (two["cells"]["label_light"][k], two["cells"]["label"][k]) == (
            (two["cells"]["text"][k], "") if dark else ("", two["cells"]["text"][k])
        )
    nine = p.view(state(step=9))
    assert nine["cells"]["x"][:C].tolist() == [j + 0.5 for j in range(C)]  # row-major within a panel
    assert nine["cells"]["x"][T * C] == np.float32(C + 1.5 + 0.5)  # the second panel starts GAP columns later
    caption = p.view(state(step=6, temperature=0.25, causal=True, head="2"))["caption"]["text"]
    assert caption.startswith(
        '<b>6. Mask</b> <span class="attnbook-muted">(τ = 0.25, causal mask, head 2)</span>'
    )


def test_steps_before_the_scores_ignore_temperature_and_mask(p):
    base = p.view(state(step=3))
    for other in (state(step=3, temperature=3.0), state(step=3, causal=True)):
        np.testing.assert_array_equal(p.view(other)["cells"]["value"], base["cells"]["value"])
    assert not np.array_equal(p.view(state(step=3, head="2"))["cells"]["value"], base["cells"]["value"])
    assert pick(p, "scaled", state()).shape == (T, T)


@pytest.fixture(scope="module")
def fig(p):
    return layout(p, name="st", step=2, causal=True)


def test_every_widget_and_source_is_named_and_drives_the_callback(fig, p):
    models = list(fig.document.models)
    for m in models:
        if isinstance(m, (Widget, ColumnDataSource)):
            assert m.name and m.name.startswith("st-"), m
    names = [m.name for m in models if m.name]
    assert len(names) == len(set(names)), "names must be unique"
    for c in p.controls:
        assert fig.select_one({"name": f"st-{c.widget}"}).js_property_callbacks[f"change:{c.attr}"], c.widget
    assert fig.select_one({"name": "st-step"}).value == 2 and fig.select_one({"name": "st-causal"}).active
    play = fig.select_one({"name": "st-play"})
    (play_cb,) = play.js_property_callbacks["change:active"]
    assert play_cb.args["slider"] is fig.select_one({"name": "st-step"})
    temperature = fig.select_one({"name": "st-temperature"})
    assert (temperature.start, temperature.end, temperature.step, temperature.value) == (0.25, 3.0, 0.25, 1.0)
    issues = check_integrity(models)
    assert not issues.error and not issues.warning, issues


def test_payload_refuses_other_input(p):
    with pytest.raises(TypeError, match="lacks"):
        payload({"tokens": ["a"]})
    sweep = steps_sweep(TOKENS, np.array([1, 5, 9, 1]), *inputs(), n_head=H)
    with pytest.raises(ValueError, match="sweep.weights"):
        payload(sweep._replace(weights=sweep.weights[:, :1]))
    with pytest.raises(TypeError, match="token_ids"):
        payload(sweep._replace(token_ids=np.zeros(T)))
    with pytest.raises(ValueError, match="token_ids"):
        payload(sweep._replace(token_ids=np.zeros(T + 1, int)))
    with pytest.raises(ValueError, match="sweep.x"):
        payload(sweep._replace(tokens=TOKENS[:3]))
    with pytest.raises(ValueError, match="sweep.x"):
        payload(sweep._replace(x=sweep.x[0]))


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        (dict(name=""), TypeError, "name"),
        (dict(step=0), ValueError, "step"),
        (dict(step=10), ValueError, "step"),
        (dict(temperature=1.1), ValueError, "temperature"),
        (dict(head=3), ValueError, "head"),
        (dict(causal=1), TypeError, "causal"),
    ],
)
def test_layout_bad_input(p, kwargs, err, match):
    with pytest.raises(err, match=match):
        layout(p, **kwargs)


def test_uneven_temperatures_cannot_make_a_slider():
    sweep = steps_sweep(TOKENS, np.array([1, 5, 9, 1]), *inputs(), n_head=H, temperatures=[0.5, 1.0, 3.0])
    with pytest.raises(ValueError, match="evenly spaced"):
        attention_steps_figure(sweep)
    attention_steps_figure(sweep._replace(temperatures=(0.5, 1.0, 1.5)))  # evenly spaced: fine
