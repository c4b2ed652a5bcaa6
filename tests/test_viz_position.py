"""The position figures: payloads against independent computations, ``view`` for several states, names, the
first state written by Python, the kit parts they brought, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.models import AbstractButton, ColumnDataSource, Div, InputWidget, Widget

from attnbook.experiments.position import (
    SCHEMES,
    alibi_heads,
    permutation_sweep,
    position_similarity,
    scheme_sweep,
    similarity_sweep,
)
from attnbook.positional import alibi_bias, alibi_slopes, sinusoidal
from attnbook.viz import show
from attnbook.viz.figure import pick
from attnbook.viz.kit import _round_ticks, color_mapper, grid_source, matrix_panel, outline
from attnbook.viz.position import (
    SCHEME_LABELS,
    alibi_figure,
    alibi_layout,
    alibi_payload,
    order_names,
    permutation_figure,
    permutation_layout,
    permutation_payload,
    schemes_figure,
    schemes_payload,
    similarity_figure,
    similarity_layout,
    similarity_payload,
    sinusoidal_figure,
    sinusoidal_layout,
    sinusoidal_payload,
)

T, C, H = 5, 8, 2
TOKENS = ("the", "cat", "sees", "the", "dog")
PERMS = np.array([np.arange(T), np.arange(T)[::-1], [1, 0, 3, 2, 4]])
LABELS = tuple(SCHEME_LABELS[s] for s in SCHEMES)


@pytest.fixture(scope="module")
def sentence():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, C))
    x[3] = x[0]  # the two "the" share their word vector
    w_q, w_k = rng.standard_normal((2, C, C)) / np.sqrt(C)
    return x, w_q, w_k, rng.standard_normal((T, C))


@pytest.fixture(scope="module")
def perm(sentence):
    x, w_q, w_k, learned = sentence
    return permutation_sweep(TOKENS, x, w_q, w_k, H, PERMS, learned=learned)


@pytest.fixture(scope="module")
def schemes(sentence):
    x, w_q, w_k, learned = sentence
    return scheme_sweep(TOKENS, x, w_q, w_k, H, learned=learned)


@pytest.fixture(scope="module")
def sims():
    u = np.random.default_rng(5).standard_normal(C)
    table = np.random.default_rng(6).standard_normal((6, C))
    return similarity_sweep(
        {
            "sinusoidal": position_similarity("sinusoidal", 6, C),
            "learned": position_similarity("learned", 6, C, learned=table),
            "rope": position_similarity("rope", 6, C, rope_vector=u),
        }
    )


def attention(x, w_q, w_k, bias=None):
    """Head-by-head softmax(q k^T / sqrt(D) + bias) with NumPy alone: (H, T, T)."""
    D = C // H
    q = (x @ w_q).reshape(len(x), H, D).transpose(1, 0, 2)
    k = (x @ w_k).reshape(len(x), H, D).transpose(1, 0, 2)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(D) + (0 if bias is None else bias)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------
# permutation


def test_permutation_payload_matches_an_independent_computation(sentence, perm):
    x, w_q, w_k, _ = sentence
    p = permutation_payload(perm, head=1)
    assert p.shuffled.dtype == p.diff.dtype == np.float32 and p.shuffled.shape == (3, len(SCHEMES), T, T)
    none, alibi = SCHEMES.index("none"), SCHEMES.index("alibi")
    for s, bias in ((none, None), (alibi, alibi_bias(H, T))):
        base = attention(x, w_q, w_k, bias)[1]
        for i, order in enumerate(PERMS):
            a = attention(x[order], w_q, w_k, bias)[1]
            np.testing.assert_allclose(p.shuffled[i, s], a, atol=1e-6)
            inv = np.argsort(order)
            np.testing.assert_allclose(p.diff[i, s], a[inv][:, inv] - base, atol=1e-6)
    np.testing.assert_array_equal(p.max_diff, np.abs(p.diff).max(axis=(2, 3)))
    assert p.max_diff[:, none].max() < 1e-6 and p.max_diff[1:, 1:4].min() > 1e-3
    assert p.controls[0].values == (
        "original order: the cat sees the dog",
        "reversed: dog the sees cat the",
        "shuffle 1: cat the the sees dog",
    )
    assert p.controls[1].values == LABELS and p.labels[1] == list(TOKENS[::-1])


@pytest.mark.parametrize(("order", "scheme"), [(0, 0), (1, 4), (2, 1), (2, 3)])
def test_permutation_view(perm, order, scheme):
    p = permutation_payload(perm)
    state = {"order": p.controls[0].values[order], "scheme": LABELS[scheme]}
    shown = p.view(state)
    words = [TOKENS[j] for j in PERMS[order]]
    np.testing.assert_array_equal(
        shown["cells"]["weight"], perm.shuffled[order, scheme, 0].astype(np.float32).ravel()
    )
    np.testing.assert_array_equal(shown["cells"]["diff"], p.diff[order, scheme].ravel())
    assert (
        shown["cells"]["q_token"][T * 2 : T * 3] == [words[2]] * T and shown["cells"]["k_token"][:T] == words
    )
    assert shown["weight-xaxis"]["major_label_overrides"] == dict(enumerate(words))
    assert shown["weight-yaxis"]["major_label_overrides"] == {-i: t for i, t in enumerate(words)}
    assert shown["weight"]["title.text"].endswith("(original order)" if order == 0 else "shuffled sentence")
    m = float(p.max_diff[order, scheme])
    text = shown["readout"]["text"]
    assert f"<b>{m:.2e}</b>" in text and text.startswith(f"<b>{LABELS[scheme]}</b>")
    assert ("rows and columns shuffled" in text) == (m < 1e-6)


# ---------------------------------------------------------------------------------------------------------
# sinusoidal table


def test_sinusoidal_payload_and_view():
    pe = sinusoidal(10, 6)
    p = sinusoidal_payload(pe)
    np.testing.assert_array_equal(p.waves, pe.T.astype(np.float32))
    lam = [2 * np.pi * 10000.0 ** (2 * (c // 2) / 6) for c in range(6)]  # positions per turn of column c
    np.testing.assert_allclose(p.wavelength, lam, rtol=1e-6)
    for c in (0, 3, 5):
        shown = p.view({"dim": c})
        np.testing.assert_array_equal(shown["wave"]["value"], pe[:, c].astype(np.float32))
        assert shown["band"] == {"x": [c], "y": [-4.5]}
        fn = "sin" if c % 2 == 0 else "cos"
        assert shown["line"]["title.text"] == f"dimension c = {c}: {fn}(t / 10000^({2 * (c // 2)}/6))"
        text = shown["readout"]["text"]
        size = f"{p.wavelength[c]:.2f}" if lam[c] < 1000 else f"{p.wavelength[c]:.2e}"
        assert f"<b>{size}</b> positions" in text
        assert ("longer than the 10 positions" in text) == (lam[c] > 10)
    assert "2π·100^(2i/C)" in sinusoidal_payload(pe, base=100.0).view({"dim": 0})["readout"]["text"]


# ---------------------------------------------------------------------------------------------------------
# similarity


def test_similarity_payload_and_view(sims):
    p = similarity_payload(sims)
    np.testing.assert_array_equal(p.similarity, sims.similarity.astype(np.float32))
    assert p.controls[0].values == ("sinusoidal", "learned", "rope")
    assert p.controls[1].values == tuple(range(6))
    for scheme, m in (("sinusoidal", 0), ("learned", 5), ("rope", 2)):
        shown = p.view({"scheme": scheme, "position": m})
        sim = sims.similarity[("sinusoidal", "learned", "rope").index(scheme)]
        np.testing.assert_allclose(shown["cells"]["value"], sim.ravel(), atol=1e-7)
        np.testing.assert_allclose(shown["rows"]["ys"][4], sim[4], atol=1e-7)
        np.testing.assert_allclose(shown["chosen"]["value"], sim[m], atol=1e-7)
        np.testing.assert_array_equal(shown["chosen"]["d"], np.arange(6) - m)
        assert shown["marker"] == {"y": [-m]}
        assert shown["curve"]["title.text"] == f"cos(position {m}, position n) against n − {m}"
        # distance alone for the relative schemes, not for a random table
        assert ("distance alone" in shown["readout"]["text"]) == (scheme != "learned")


# ---------------------------------------------------------------------------------------------------------
# ALiBi


def test_alibi_payload_and_view():
    p = alibi_payload(alibi_heads(4, 6))
    lower = np.tril(np.ones((6, 6), dtype=bool))
    np.testing.assert_allclose(p.bias[:, lower], alibi_bias(4, 6)[:, lower], atol=1e-6)
    assert np.isnan(p.bias[:, ~lower]).all()
    for h in (1, 2, 4):
        shown = p.view({"head": h})
        m = alibi_slopes(4)[h - 1]
        np.testing.assert_array_equal(np.isnan(shown["cells"]["value"]), ~lower.ravel())
        last = np.exp(-m * (5 - np.arange(6)))  # softmax of the last row of the bias alone
        np.testing.assert_allclose(shown["weights"]["w"], last / last.sum(), atol=1e-6)
        assert (
            shown["bars"]["color"].index("#08519c") == h - 1 and shown["bars"]["color"].count("#08519c") == 1
        )
        assert shown["grid"]["title.text"] == f"Head {h}: bias −{m:.4f} · (i − j)"
        text = shown["readout"]["text"]
        assert f"slope m = 2^{-2 * h} = <b>{m:.4f}</b>" in text and f"loses {5 * m:.2f}" in text
        assert f"last <b>{p.half[h - 1]}</b> of 6 positions" in text
    assert "2^-0.50 = <b>0.7071</b>" in alibi_payload(alibi_heads(16, 6)).view({"head": 1})["readout"]["text"]


# ---------------------------------------------------------------------------------------------------------
# every scheme


def test_schemes_payload_and_view(sentence, schemes):
    x, w_q, w_k, learned = sentence
    p = schemes_payload(schemes)
    np.testing.assert_allclose(p.weights[0], attention(x, w_q, w_k), atol=1e-6)
    np.testing.assert_allclose(p.weights[1], attention(x + sinusoidal(T, C), w_q, w_k), atol=1e-6)
    np.testing.assert_allclose(p.change, p.weights - p.weights[:1], atol=1e-6)
    assert p.twin_label == "“the” (position 0) and “the” (position 3)"
    for scheme, head in ((0, "1"), (3, "2"), (4, "1")):
        shown = p.view({"scheme": LABELS[scheme], "head": head})
        w = p.weights[scheme, int(head) - 1]
        np.testing.assert_array_equal(shown["cells"]["weight"], w.ravel())
        change = w - p.weights[0, int(head) - 1]  # float32 (the payload subtracts in float64)
        np.testing.assert_allclose(shown["cells"]["change"], change.ravel(), atol=1e-7)
        assert shown["weight"]["title.text"] == f"Attention weights, head {head}"
        t = np.abs(w[3] - w[0]).max()
        text = shown["readout"]["text"]
        assert f"differ by at most <b>{t:.3f}</b>" in text and ("identical" in text) == (scheme == 0)
    lone = scheme_sweep(["a", "b", "c", "d", "e"], x, w_q, w_k, H, learned=learned)
    assert (
        schemes_payload(lone).view({"scheme": LABELS[0], "head": "1"})["readout"]["text"].endswith("head 1.")
    )


# ---------------------------------------------------------------------------------------------------------
# layouts


@pytest.fixture(scope="module")
def figures(perm, schemes, sims):
    return {
        "perm": (permutation_figure(perm), permutation_payload(perm)),
        "sinusoid": (sinusoidal_figure(sinusoidal(8, 6), dim=2), sinusoidal_payload(sinusoidal(8, 6))),
        "similarity": (similarity_figure(sims, position=3), similarity_payload(sims)),
        "alibi": (alibi_figure(alibi_heads(4, 6), head=1), alibi_payload(alibi_heads(4, 6))),
        "schemes": (schemes_figure(schemes), schemes_payload(schemes)),
    }


@pytest.mark.parametrize("name", ["perm", "sinusoid", "similarity", "alibi", "schemes"])
def test_every_model_is_named_and_every_control_exists(figures, name):
    fig, p = figures[name]
    assert fig.name == name
    for m in fig.references():
        if isinstance(m, (Widget, ColumnDataSource, InputWidget, AbstractButton)):
            assert m.name and m.name.startswith(f"{name}-"), m
    names = [m.name for m in fig.references() if getattr(m, "name", None)]
    assert len(names) == len(set(names)), "model names must be unique"
    for c in p.controls:
        widget = fig.select_one({"name": f"{name}-{c.widget}"})
        assert getattr(widget, c.attr) in c.values
        callback = widget.js_property_callbacks[f"change:{c.attr}"][0]
        assert callback.args["payload"].name == f"{name}-payload" and set(callback.args["widgets"]) == {
            c.widget for c in p.controls
        }
    for model in p.view({c.widget: c.values[0] for c in p.controls}):
        assert fig.select_one({"name": f"{name}-{model}"}) is not None, model
    assert "data-attnbook-figure" in show(fig).html


@pytest.mark.parametrize("name", ["perm", "sinusoid", "similarity", "alibi", "schemes"])
def test_the_first_state_is_written_by_the_view(figures, name):
    fig, p = figures[name]
    state = {c.widget: getattr(fig.select_one({"name": f"{name}-{c.widget}"}), c.attr) for c in p.controls}
    shown = p.view(state)
    assert fig.select_one({"name": f"{name}-readout", "type": Div}).text == shown["readout"]["text"]
    for model, attrs in shown.items():
        if "title.text" in attrs:
            assert fig.select_one({"name": f"{name}-{model}"}).title.text == attrs["title.text"]


def test_the_shuffle_button_moves_the_order_select(figures):
    fig, _ = figures["perm"]
    button = fig.select_one({"name": "perm-shuffle"})
    (callback,) = button.js_event_callbacks["button_click"]
    assert callback.args["select"] is fig.select_one({"name": "perm-order"})


def test_kit_matrix_panel_numbers_its_axes_and_outline_marks_a_row():
    cells = grid_source("m-cells", 12, 30, value="float")
    plot, r = matrix_panel(
        cells,
        name="m-grid",
        title="t",
        n_rows=12,
        n_cols=30,
        color_field="value",
        mapper=color_mapper("m-mapper"),
        x_label="n",
        y_label="m",
    )
    assert plot.name == "m-grid" and r.data_source is cells
    assert plot.yaxis[0].ticker.ticks == [0, -2, -4, -6, -8, -10]
    assert plot.yaxis[0].major_label_overrides == {0: "0", -2: "2", -4: "4", -6: "6", -8: "8", -10: "10"}
    assert plot.xaxis[0].ticker.ticks == [0, 5, 10, 15, 20, 25] and plot.xaxis[0].axis_label == "n"
    assert plot.select_one({"name": "m-grid-colorbar"}) is not None
    box = outline(plot, grid_source("m-box", 1, 1), 30, 1)
    assert box.glyph.width == 30 and box.glyph.fill_alpha == 0
    assert _round_ticks(3) == [0, 1, 2] and _round_ticks(64) == list(range(0, 64, 10))
    with pytest.raises(ValueError, match="n_rows"):
        matrix_panel(cells, name="x", title="", n_rows=0, n_cols=1, color_field="value",
                     mapper=color_mapper("x-m"), x_label="", y_label="")  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: permutation_payload({"tokens": TOKENS}), TypeError, "lacks"),
        (lambda: schemes_payload(object()), TypeError, "scheme_sweep"),
        (lambda: similarity_payload(np.eye(3)), TypeError, "similarity_sweep"),
        (lambda: alibi_payload((1, 2)), TypeError, "alibi_heads"),
        (lambda: sinusoidal_payload(np.ones((4, 5))), ValueError, "pe"),
        (lambda: sinusoidal_payload(np.ones((1, 4))), ValueError, "pe"),
        (lambda: sinusoidal_payload(np.ones((4, 4), dtype=int)), TypeError, "pe"),
        (lambda: sinusoidal_payload(sinusoidal(4, 4), base=1.0), ValueError, "base"),
    ],
)
def test_payloads_refuse_other_input(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_initial_states(perm, sims):
    with pytest.raises(ValueError, match="head"):
        permutation_payload(perm, head=H)
    with pytest.raises(ValueError, match="dim"):
        sinusoidal_layout(sinusoidal_payload(sinusoidal(10, 6)), dim=6)
    with pytest.raises(ValueError, match="position"):
        similarity_layout(similarity_payload(sims), position=6)
    with pytest.raises(ValueError, match="head"):
        alibi_layout(alibi_payload(alibi_heads(4, 6)), head=4)
    with pytest.raises(TypeError, match="name"):
        permutation_layout(permutation_payload(perm), name="")
    good = permutation_payload(perm)
    broken = good._replace(shuffled=good.shuffled[:, :2])  # fewer schemes than the control offers
    with pytest.raises(ValueError, match="shuffled"):
        permutation_layout(broken)


def test_view_refuses_a_value_no_control_has(perm):
    p = permutation_payload(perm)
    with pytest.raises(ValueError, match="scheme"):
        p.view({"order": p.controls[0].values[0], "scheme": "none"})
    assert pick(p, "max_diff", {"order": p.controls[0].values[1], "scheme": LABELS[1]}) > 1e-3


def test_order_names_say_what_each_order_is():
    perms = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2], [2, 3, 0, 1]]
    assert order_names(perms) == ["original order", "reversed", "shuffle 1", "shuffle 2"]
    with pytest.raises(TypeError, match="permutations"):
        order_names([[0.0, 1.0]])


def test_alibi_heads_axis_ticks_whole_heads(figures):
    fig, _ = figures["alibi"]
    ticks = fig.select_one({"name": "alibi-slopes-xticks"})
    assert ticks.min_interval == 1 and ticks.desired_num_ticks == 4  # alibi_heads(4, 6): one tick per head
    assert fig.select_one({"name": "alibi-slopes-yticks"}).args["MOST"] == 6
