"""The heads chapter's figures: payloads against independent computations, ``view`` for several states, names,
callback arguments and bad input. Results are passed duck-typed (SimpleNamespace records, not the experiment
classes), as the figures must accept them."""

from types import SimpleNamespace

import numpy as np
import pytest
from _callbacks import assert_callbacks_match_their_args, figure_callbacks
from bokeh.models import ColumnDataSource, Div, Plot, Widget

from attnbook.analysis import rank_values, spearman
from attnbook.experiments.induction import all_head_masks
from attnbook.viz import show
from attnbook.viz.core import DESCRIPTION_TAG
from attnbook.viz.figure import check_payload, pick
from attnbook.viz.heads import (
    MAP_FRAME,
    ablation_layout,
    ablation_payload,
    extrapolation_figure,
    extrapolation_layout,
    extrapolation_payload,
    head_ablation_figure,
    head_importance_figure,
    importance_layout,
    importance_payload,
    induction_training_figure,
    training_layout,
    training_payload,
)

S, L, H, T = 4, 2, 2, 6
TOKENS = ("a", "b", "c", "a", "b", "c")  # repeated tokens: numeric axes with labels
LENGTHS = np.array([4, 8, 16])


def _causal(shape, seed):
    """Random causal softmax rows, shape (..., T, T)."""
    s = 2.0 * np.random.default_rng(seed).standard_normal(shape)
    s = np.where(np.tril(np.ones(shape[-2:], dtype=bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def curves(**kw):
    rng = np.random.default_rng(0)
    fields = dict(
        steps=np.array([0, 10, 20, 30]),
        probe_attention=_causal((S, L, H, T, T), 1),
        probe_tokens=TOKENS,
        induction=rng.random((S, L, H)),
        previous=rng.random((S, L, H)),
        entropy=2 * rng.random((S, L, H)),
        eval_steps=np.array([0, 15, 30]),
        val_loss=np.array([3.0, 2.0, 1.5]),
    )
    return SimpleNamespace(**(fields | kw))


def control(**kw):
    fields = dict(
        eval_steps=np.array([0, 15, 30]),
        val_loss=np.array([3.0, 2.8, 2.7]),
        probe_attention=_causal((S, 1, H, T, T), 2),
    )
    return SimpleNamespace(**(fields | kw))


def ablations(order=None, **kw):
    K = 2 ** (L * H)
    rng = np.random.default_rng(2)
    masks = all_head_masks(L, H)
    order = np.arange(K) if order is None else order
    fields = dict(
        masks=masks[order],
        repeat_loss=rng.random(K),
        fresh_loss=rng.random(K) + 3,
        probe_loss=rng.random((K, T)),
        probe_attention=_causal((K, H, T, T), 3),
    )
    return SimpleNamespace(**(fields | kw))


def extrapolation(**kw):
    rng = np.random.default_rng(4)
    fields = dict(
        schemes=("alibi", "rope", "sinusoidal"),
        lengths=LENGTHS,
        loss=rng.random((3, 3)),
        position_loss=tuple(rng.random((3, int(t))) for t in LENGTHS),
    )
    return SimpleNamespace(**(fields | kw))


def importance(**kw):
    rng = np.random.default_rng(5)
    out = {
        label: SimpleNamespace(importance=rng.random((2, 4)), ablation_delta=rng.random((2, 4)) - 0.1)
        for label in ("alibi", "rope")
    }
    return out | kw


FIGURES = {
    "training": lambda: induction_training_figure(
        curves(), control=control(), ln_v=3.1, floor=1.2, others=[control(val_loss=np.array([3.1, 1.9, 1.4]))]
    ),
    "ablation": lambda: head_ablation_figure(ablations(), TOKENS, ln_v=3.0),
    "extrapolation": lambda: extrapolation_figure(
        extrapolation(), train_len=4, others=[extrapolation(loss=np.full((3, 3), 0.5))]
    ),
    "importance": lambda: head_importance_figure(importance()),
}
PAYLOADS = {
    "training": lambda: training_payload(curves(), control=control(), ln_v=3.1, floor=1.2),
    "ablation": lambda: ablation_payload(ablations(), TOKENS, ln_v=3.0),
    "extrapolation": lambda: extrapolation_payload(extrapolation(), train_len=4),
    "importance": lambda: importance_payload(importance(), threshold=0.05),
}
PREFIX = {
    "training": "heads-train",
    "ablation": "heads-ablation",
    "extrapolation": "heads-alibi",
    "importance": "heads-importance",
}


def states(p):
    """Every control at each of its values, the others at their first."""
    first = {c.widget: c.values[0] for c in p.controls}
    return [first | {c.widget: v} for c in p.controls for v in c.values]


# --- every figure -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(FIGURES))
def test_every_model_is_named_once_and_every_control_has_a_widget(kind):
    fig = FIGURES[kind]()
    prefix = PREFIX[kind]
    models = [m for m in fig.references() if isinstance(m, (Widget, ColumnDataSource, Plot))]
    names = [m.name for m in models]
    assert all(n and n.startswith(f"{prefix}-") for n in names if n != prefix), names
    named = [m.name for m in fig.references() if getattr(m, "name", None)]
    assert len(named) == len(set(named)), "model names must be unique"
    p = PAYLOADS[kind]()
    for c in p.controls:
        widget = fig.select_one({"name": f"{prefix}-{c.widget}"})
        assert widget is not None, c.widget
        assert widget.js_property_callbacks.get(f"change:{c.attr}"), f"{c.widget} has no callback"
    for m in fig.references():
        # a caption a callback rewrites: its designed box at least (taller on a narrow column); the screen-reader
        # description is not laid out (core.show renders it visually hidden), so it keeps its fixed size
        if isinstance(m, Div) and DESCRIPTION_TAG not in m.tags:
            assert m.max_width and m.min_height, m.name


@pytest.mark.parametrize("kind", list(FIGURES))
def test_view_names_models_of_the_layout(kind):
    fig, p = FIGURES[kind](), PAYLOADS[kind]()
    names = {m.name for m in fig.references() if getattr(m, "name", None)}
    for state in states(p):
        for model in p.view(state):
            assert f"{PREFIX[kind]}-{model}" in names, model


@pytest.mark.parametrize("kind", list(FIGURES))
def test_callbacks_destructure_exactly_their_arguments_and_read_the_payload(kind):
    fig = FIGURES[kind]()
    assert assert_callbacks_match_their_args(fig)
    for cb in figure_callbacks(fig):
        if "payload" in cb.args:
            assert cb.args["payload"].name == f"{PREFIX[kind]}-payload"


@pytest.mark.parametrize("kind", list(FIGURES))
def test_figure_embeds_as_one_html_block(kind):
    html = show(FIGURES[kind]()).html
    assert html.startswith('<div class="attnbook-figure"')
    assert "cdn.bokeh.org" not in html


@pytest.mark.parametrize("kind", list(FIGURES))
def test_payload_follows_the_contract(kind):
    check_payload(PAYLOADS[kind]())


# --- training ---------------------------------------------------------------------------------------------
def test_training_view_matches_an_independent_computation():
    c = curves()
    p = training_payload(c, control=control(), ln_v=3.1, floor=1.2)
    loss_at = np.interp(c.steps, c.eval_steps, c.val_loss)
    for s in range(S):
        for key in ("induction", "previous", "entropy"):
            shown = p.view({"step": s, "score": key})
            for k in range(L * H):  # head k is layer k // H, head k % H
                expected = [c.probe_attention[s, k // H, k % H, i, j] for i in range(T) for j in range(i + 1)]
                np.testing.assert_allclose(shown["cells"][f"w{k}"], expected, rtol=1e-6)
                curve = getattr(c, key)[:, k // H, k % H]
                np.testing.assert_allclose(shown["scores-source"][f"h{k}"], curve, rtol=1e-6)
                assert shown["scores-marker"]["y"][k] == pytest.approx(curve[s], rel=1e-6)
            assert shown["scores-marker"]["x"] == [int(c.steps[s])] * (L * H)
            assert shown["loss-cursor"]["location"] == c.steps[s]
            assert shown["loss-marker"]["y"][0] == pytest.approx(loss_at[s], rel=1e-6)
            assert (
                shown["loss"]["title.text"] == f"Validation loss at step {c.steps[s]}: {loss_at[s]:.3f} nats"
            )
            assert shown["step"]["title"] == f"Training step {c.steps[s]} (snapshot {s + 1} of {S})"
            assert shown["scores"]["title.text"].endswith(f" at step {c.steps[s]}")
            top = 1.02 * max(np.log(T), c.entropy.max()) if key == "entropy" else 1.02
            assert shown["scores-yrange"]["end"] == pytest.approx(top, rel=1e-6)
    assert p.control_label == "1 layer" and p.model_label == "2 layers"


def test_training_layout_draws_the_causal_cells_with_legible_letters():
    fig = induction_training_figure(curves(), control=control(), ln_v=3.1)
    cells = fig.select_one({"name": "heads-train-cells"})
    i, j = np.tril_indices(T)
    np.testing.assert_array_equal(cells.data["x"], j)
    np.testing.assert_array_equal(cells.data["y"], -i)
    assert cells.data["query"][1] == "b (position 1)" and cells.data["key"][1] == "a (position 0)"
    maps = [fig.select_one({"name": f"heads-train-map{k}"}) for k in range(1, 5)]
    # one size for every map, the colour bar's room kept where there is none: equal cells at any column width
    assert {(m.width, m.height) for m in maps} == {(MAP_FRAME + 80, MAP_FRAME + 60)}
    assert [m.min_border_right for m in maps] == [53, 5, 53, 5]
    for m in maps:
        assert m.xaxis[0].major_label_overrides == dict(enumerate(TOKENS))
        assert m.xaxis[0].major_label_orientation == 0 and m.xaxis[0].major_label_text_font_size == "8pt"
    legend = fig.select_one({"name": "heads-train-scores-legend"})
    assert [i.label.value for i in legend.items] == ["L1 H1", "L1 H2", "L2 H1", "L2 H2"]
    scores = fig.select_one({"name": "heads-train-scores"})
    assert legend in scores.below  # outside the data
    assert fig.select_one({"name": "heads-train-play"}) is not None
    assert fig.select_one({"name": "heads-train-step"}).end == S - 1
    assert fig.select_one({"name": "heads-train-floor"}) is None  # no floor given: no line


def test_training_payload_refuses_bad_input():
    with pytest.raises(TypeError, match="curves .* lacks \\['entropy'\\]"):
        training_payload(
            SimpleNamespace(**{k: v for k, v in vars(curves()).items() if k != "entropy"}), ln_v=3.0
        )
    with pytest.raises(ValueError, match="curves.steps"):
        training_payload(curves(steps=np.array([0, 20, 10, 30])), ln_v=3.0)
    with pytest.raises(ValueError, match="snapshots"):
        training_payload(curves(steps=np.array([0, 10, 20])), ln_v=3.0)
    with pytest.raises(ValueError, match="curves.induction"):
        training_payload(curves(induction=np.zeros((S, L, H + 1))), ln_v=3.0)
    with pytest.raises(ValueError, match="curves.probe_tokens"):
        training_payload(curves(probe_tokens=TOKENS[:-1]), ln_v=3.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        training_payload(curves(probe_attention=2 * _causal((S, L, H, T, T), 1)), ln_v=3.0)
    with pytest.raises(ValueError, match="control"):
        training_payload(curves(), control=control(eval_steps=np.array([0, 10, 30])), ln_v=3.0)
    with pytest.raises(TypeError, match="control"):
        training_payload(curves(), control=object(), ln_v=3.0)
    with pytest.raises(ValueError, match="control.val_loss"):
        training_payload(curves(), control=control(val_loss=np.ones(2)), ln_v=3.0)
    with pytest.raises(TypeError, match="ln_v"):
        training_payload(curves(), ln_v="3")
    p = training_payload(curves(), ln_v=3.0)
    with pytest.raises(ValueError, match="step"):
        training_layout(p, step=S)
    with pytest.raises(ValueError, match="score"):
        training_layout(p, score="loss")
    with pytest.raises(TypeError, match="name"):
        training_layout(p, name="")


# --- ablation ---------------------------------------------------------------------------------------------
def _toggled(a, code: int) -> tuple[dict, int]:
    """The toggle state that switches off the heads of the bits of ``code``, and the row of ``a`` it shows."""
    heads = [(layer, h) for layer in range(L) for h in range(H)]
    off = [b for b in range(L * H) if code >> b & 1]
    mask = np.ones((L, H))
    for b in off:
        mask[heads[b]] = 0
    (k,) = [r for r in range(16) if np.array_equal(a.masks[r], mask)]
    return {f"l{la + 1}h{h + 1}": b in off for b, (la, h) in enumerate(heads)}, k


def test_ablation_view_picks_the_row_of_the_toggled_mask():
    order = np.random.default_rng(9).permutation(16)  # the sweep's rows in any order
    a = ablations(order)
    p = ablation_payload(a, TOKENS, ln_v=3.0)
    for code in range(16):
        state, k = _toggled(a, code)
        shown = p.view(state)
        np.testing.assert_allclose(
            shown["bars-source"]["current"], [a.repeat_loss[k], a.fresh_loss[k]], rtol=1e-6
        )
        assert shown["bars-source"]["text_current"] == [
            f"{np.float32(a.repeat_loss[k]):.2f}",
            f"{np.float32(a.fresh_loss[k]):.2f}",
        ]
        np.testing.assert_allclose(shown["positions-source"]["current"], a.probe_loss[k], rtol=1e-6)
        for h in range(H):
            i, j = np.tril_indices(T)
            np.testing.assert_allclose(shown["cells"][f"w{h}"], a.probe_attention[k, h][i, j], rtol=1e-6)
        off = [key for key, is_off in state.items() if is_off]  # "l1h2": layer 1, head 2
        names = ", ".join(f"L{key[1]} H{key[3]}" for key in off)
        assert shown["bars-subtitle"]["text"] == (f"ablated: {names}" if off else "intact model")


def test_ablation_layout_shows_the_intact_model_and_a_title_that_fits():
    fig = head_ablation_figure(ablations(), TOKENS, ln_v=3.0)
    bars = fig.select_one({"name": "heads-ablation-bars"})
    src = fig.select_one({"name": "heads-ablation-bars-source"})
    a = ablations()
    np.testing.assert_allclose(src.data["intact"], [a.repeat_loss[0], a.fresh_loss[0]], rtol=1e-6)
    # ~7 px per character of a 10 pt bold title: the static title fits its plot; the ablated heads go below it
    assert len(bars.title.text) * 7 < bars.width
    assert (
        fig.select_one({"name": "heads-ablation-positions-legend"})
        in fig.select_one({"name": "heads-ablation-positions"}).below
    )
    toggles = [fig.select_one({"name": f"heads-ablation-l{a}h{b}"}) for a in (1, 2) for b in (1, 2)]
    assert [t.label for t in toggles] == ["Ablate L1 H1", "Ablate L1 H2", "Ablate L2 H1", "Ablate L2 H2"]


def _seed_ablations():
    """The sweep at two more seeds: other losses, rows in another order, other letters in the probe window."""
    rng = np.random.default_rng(11)
    out = []
    for s in (1, 2):
        a = ablations(rng.permutation(2 ** (L * H)))
        a.repeat_loss = a.repeat_loss + s
        out.append((a, [t.upper() + str(s) for t in TOKENS]))
    return out


def test_ablation_seed_select_picks_each_seeds_model():
    others = _seed_ablations()
    p = ablation_payload(ablations(), TOKENS, ln_v=3.0, others=others, seeds=("seed 0", "seed 1", "seed 2"))
    assert p.controls[0].widget == "seed" and p.losses.shape[0] == 3
    for (a, toks), label in zip([(ablations(), TOKENS), *others], p.seeds, strict=True):
        for code in (0, 5, 15):
            toggles, k = _toggled(a, code)
            state = {"seed": label} | toggles
            shown = p.view(state)
            np.testing.assert_allclose(
                shown["bars-source"]["current"], [a.repeat_loss[k], a.fresh_loss[k]], rtol=1e-6
            )
            np.testing.assert_allclose(shown["positions-source"]["current"], a.probe_loss[k], rtol=1e-6)
            assert shown["positions-xaxis"]["major_label_overrides"] == {
                str(j): t for j, t in enumerate(toks)
            }
            assert shown["cells"]["query"][-1] == f"{toks[-1]} (position {T - 1})"
            assert f"{label}. " in str(shown["description"])
    fig = head_ablation_figure(ablations(), TOKENS, ln_v=3.0, others=others, seeds=("s0", "s1", "s2"))
    assert fig.select_one({"name": "heads-ablation-seed"}).options == ["s0", "s1", "s2"]
    with pytest.raises(ValueError, match="seeds must label"):
        ablation_payload(ablations(), TOKENS, ln_v=3.0, others=others)
    with pytest.raises(ValueError, match="seeds must be 3 distinct"):
        ablation_payload(ablations(), TOKENS, ln_v=3.0, others=others, seeds=("a", "a", "b"))
    with pytest.raises(TypeError, match=r"others\[0\] must be an"):
        ablation_payload(ablations(), TOKENS, ln_v=3.0, others=[ablations()], seeds=("a", "b"))
    with pytest.raises(ValueError, match=r"tokens of others\[0\]"):
        ablation_payload(ablations(), TOKENS, ln_v=3.0, others=[(ablations(), TOKENS[:-1])], seeds=("a", "b"))


def test_ablation_intact_columns_are_the_chosen_seeds_model_with_every_head_kept():
    others = _seed_ablations()
    p = ablation_payload(ablations(), TOKENS, ln_v=3.0, others=others, seeds=("seed 0", "seed 1", "seed 2"))
    for (a, _), label in zip([(ablations(), TOKENS), *others], p.seeds, strict=True):
        _, k0 = _toggled(a, 0)  # the row of this seed's sweep with every head kept
        kept = [a.repeat_loss[k0], a.fresh_loss[k0]]
        for code in (0, 5, 15):  # whatever is ablated, grey is this seed's intact model
            shown = p.view({"seed": label} | _toggled(a, code)[0])
            np.testing.assert_allclose(shown["bars-source"]["intact"], kept, rtol=1e-6)
            assert shown["bars-source"]["text_intact"] == [f"{np.float32(x):.2f}" for x in kept]
            np.testing.assert_allclose(shown["positions-source"]["intact"], a.probe_loss[k0], rtol=1e-6)
            if code == 0:  # nothing ablated: the red bars and line are the grey ones
                np.testing.assert_array_equal(shown["bars-source"]["current"], shown["bars-source"]["intact"])
                np.testing.assert_array_equal(
                    shown["positions-source"]["current"], shown["positions-source"]["intact"]
                )
    # the seeds' intact models differ (so a callback stuck on the first seed's is caught)
    kept_by_seed = {
        tuple(p.view({"seed": s} | _toggled(ablations(), 0)[0])["bars-source"]["intact"]) for s in p.seeds
    }
    assert len(kept_by_seed) == 3


def test_ablation_payload_refuses_bad_input():
    with pytest.raises(ValueError, match="each of the 16"):
        ablation_payload(ablations(masks=np.ones((16, L, H))), TOKENS, ln_v=3.0)
    with pytest.raises(ValueError, match="only 0"):
        ablation_payload(ablations(masks=0.5 * all_head_masks(L, H)), TOKENS, ln_v=3.0)
    with pytest.raises(ValueError, match="repeat_loss"):
        ablation_payload(ablations(repeat_loss=np.ones(3)), TOKENS, ln_v=3.0)
    with pytest.raises(ValueError, match="probe_attention"):
        ablation_payload(ablations(probe_attention=_causal((16, H, T + 1, T + 1), 3)), TOKENS, ln_v=3.0)
    with pytest.raises(ValueError, match="tokens"):
        ablation_payload(ablations(), TOKENS[:-1], ln_v=3.0)
    with pytest.raises(TypeError, match="ablations .* lacks"):
        ablation_payload(SimpleNamespace(masks=all_head_masks(L, H)), TOKENS, ln_v=3.0)
    with pytest.raises(TypeError, match="name"):
        ablation_layout(ablation_payload(ablations(), TOKENS, ln_v=3.0), name=None)


# --- extrapolation ----------------------------------------------------------------------------------------
def test_extrapolation_view_matches_the_result():
    e = extrapolation()
    p = extrapolation_payload(e, train_len=4)
    assert p.controls[0].values == ("4", "8", "16")
    for m, Te in enumerate(LENGTHS):
        shown = p.view({"length": str(Te)})
        src = shown["positions-source"]
        np.testing.assert_array_equal(src["position"], np.arange(Te))
        for k, s in enumerate(e.schemes):
            np.testing.assert_allclose(src[s], e.position_loss[m][k], rtol=1e-6)
        np.testing.assert_allclose(shown["marker"]["y"], e.loss[:, m], rtol=1e-6)
        assert shown["marker"]["x"] == [Te] * 3
        caption = shown["caption"]["text"]
        assert f"Windows of {Te} tokens" in caption and f"({Te // 4}× the training length)" in caption
        assert f"rope {e.loss[1, m]:.3f} (at 4: {e.loss[1, 0]:.3f})" in caption
    assert np.isnan(pick(p, "position_loss", {"length": "4"})[:, 4:]).all()  # padding past the length


def test_extrapolation_layout_legends_outside_and_select_labels():
    fig = extrapolation_figure(extrapolation(), train_len=4)
    for plot in ("curve", "positions"):
        legend = fig.select_one({"name": f"heads-alibi-{plot}-legend"})
        assert legend in fig.select_one({"name": f"heads-alibi-{plot}"}).below
    select = fig.select_one({"name": "heads-alibi-length"})
    assert select.value == "16" and select.options[0] == ("4", "4 (1×)")
    assert extrapolation_layout(extrapolation_payload(extrapolation(), train_len=4), length="8") is not None


def test_extrapolation_payload_refuses_bad_input():
    with pytest.raises(ValueError, match="result.loss"):
        extrapolation_payload(extrapolation(loss=np.ones((2, 3))), train_len=4)
    with pytest.raises(TypeError, match="result.position_loss"):
        extrapolation_payload(extrapolation(position_loss=[np.ones((3, 4))]), train_len=4)
    bad = (np.ones((3, 4)), np.ones((3, 9)), np.ones((3, 16)))
    with pytest.raises(ValueError, match=r"result.position_loss\[1\]"):
        extrapolation_payload(extrapolation(position_loss=bad), train_len=4)
    with pytest.raises(TypeError, match="result.schemes"):
        extrapolation_payload(extrapolation(schemes="alibi"), train_len=4)
    with pytest.raises(ValueError, match="result.lengths"):
        extrapolation_payload(extrapolation(lengths=np.array([8, 4, 16])), train_len=4)
    with pytest.raises(ValueError, match="train_len"):
        extrapolation_payload(extrapolation(), train_len=5)
    with pytest.raises(ValueError, match="length"):
        extrapolation_layout(extrapolation_payload(extrapolation(), train_len=4), length="5")


# --- importance -------------------------------------------------------------------------------------------
def test_importance_view_matches_attnbook_statistics():
    results = importance()
    p = importance_payload(results, threshold=0.3)
    for label, r in results.items():
        imp, delta = r.importance.ravel(), r.ablation_delta.ravel()
        values = p.view({"model": label, "scale": 0})
        ranks = p.view({"model": label, "scale": 1})
        np.testing.assert_allclose(values["scatter-source"]["x"], imp, rtol=1e-6)
        np.testing.assert_allclose(values["scatter-source"]["y"], delta, rtol=1e-6)
        np.testing.assert_array_equal(ranks["scatter-source"]["x"], rank_values(imp))
        np.testing.assert_array_equal(ranks["scatter-source"]["y"], rank_values(delta))
        bars = values["bars-source"]
        np.testing.assert_allclose(bars["delta"], np.sort(delta)[::-1], rtol=1e-6)  # largest first
        heads = [f"L{a + 1} H{h + 1}" for a in range(2) for h in range(4)]
        assert bars["label"] == [heads[h] for h in np.argsort(-delta, kind="stable")]
        assert values["bars-xaxis"]["major_label_overrides"]["0"] == bars["label"][0]
        assert f"ρ = <b>{spearman(imp, delta):.3f}</b>" in values["caption"]["text"]
        assert f"{int((delta < 0.3).sum())} of 8 heads cost less than 0.3 nats" in values["caption"]["text"]
        assert values["scatter-xaxis"]["axis_label"] != ranks["scatter-xaxis"]["axis_label"]


def test_importance_ranks_share_ties_and_a_constant_result_has_no_rho():
    tied = {
        "m": SimpleNamespace(importance=np.array([[1.0, 2.0, 2.0, 3.0]]), ablation_delta=np.zeros((1, 4)))
    }
    p = importance_payload(tied, threshold=0.1)
    shown = p.view({"model": "m", "scale": 1})
    np.testing.assert_array_equal(shown["scatter-source"]["x"], [1.0, 2.5, 2.5, 4.0])
    assert "ρ = <b>undefined</b>" in shown["caption"]["text"]


def test_importance_payload_refuses_bad_input():
    good = importance()
    with pytest.raises(ValueError, match="empty"):
        importance_payload({}, threshold=0.05)
    with pytest.raises(TypeError, match="results"):
        importance_payload([("a", np.ones((2, 2)), np.ones((2, 2)))], threshold=0.05)
    with pytest.raises(TypeError, match="lacks"):
        importance_payload({"a": SimpleNamespace(importance=np.ones((2, 2)))}, threshold=0.05)
    odd = SimpleNamespace(importance=np.ones((2, 3)), ablation_delta=np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        importance_payload(good | {"b": odd}, threshold=0.05)
    with pytest.raises(ValueError, match="threshold"):
        importance_payload(good, threshold=0.0)
    p = importance_payload(good, threshold=0.05)
    with pytest.raises(ValueError, match="model"):
        importance_layout(p, model="learned")
    with pytest.raises(ValueError, match="scale"):
        importance_layout(p, scale=2)


# --- kit parts added for these figures --------------------------------------------------------------------
def test_line_series_draws_one_line_per_series_with_the_legend_outside():
    from bokeh.models import ColumnDataSource as Source

    from attnbook.viz.kit import line_panel, line_series, outside_legend

    plot = line_panel(name="k", title="t", x_label="x", y_label="y")
    src = Source({"x": [0, 1], "a": [1, 2], "b": [2, 1]})
    lines = line_series(
        plot, src, "x", [("A", "a", "red"), ("B", "b", "blue", "dashed")], name="k-legend", dots=4
    )
    assert [r.glyph.line_dash for r in lines] == [[], [6]]
    (legend,) = plot.below[1:]  # after the x axis
    assert legend.name == "k-legend" and [len(i.renderers) for i in legend.items] == [2, 2]
    with pytest.raises(ValueError, match="place"):
        outside_legend(plot, [("A", lines[:1])], name="k-other", place="inside")
    with pytest.raises(TypeError, match="name"):
        line_series(plot, src, "x", [], name="")


def test_other_seeds_are_drawn_as_thin_lines_and_checked():
    other = control(val_loss=np.array([3.1, 1.9, 1.4]))
    p = training_payload(curves(), ln_v=3.1, others=[other, other])
    np.testing.assert_allclose(p.other_loss, [other.val_loss] * 2)
    assert training_payload(curves(), ln_v=3.1).other_loss.shape == (0, 3)
    fig = FIGURES["training"]()
    assert fig.select_one({"name": "heads-train-loss-seed0"}).data["loss"].tolist() == pytest.approx(
        [3.1, 1.9, 1.4]
    )
    with pytest.raises(ValueError, match="eval_steps"):
        training_payload(curves(), ln_v=3.1, others=[control(eval_steps=np.array([0, 10, 30]))])
    with pytest.raises(TypeError, match="others"):
        training_payload(curves(), ln_v=3.1, others="seed 1")
    o = extrapolation(loss=np.full((3, 3), 0.5))
    p = extrapolation_payload(extrapolation(), train_len=4, others=[o])
    np.testing.assert_allclose(p.seed_loss, [o.loss])
    fig = FIGURES["extrapolation"]()
    assert fig.select_one({"name": "heads-alibi-curve-seed0"}).data["rope"].tolist() == [0.5] * 3
    with pytest.raises(ValueError, match="schemes"):
        extrapolation_payload(extrapolation(), train_len=4, others=[extrapolation(schemes=("a", "b", "c"))])
    with pytest.raises(ValueError, match="shape"):
        extrapolation_payload(extrapolation(), train_len=4, others=[extrapolation(loss=np.zeros((3, 2)))])


def test_importance_without_a_threshold_states_the_costliest_and_median_head():
    res = importance()
    p = importance_payload(res)
    assert np.isnan(p.threshold)
    d = res["rope"].ablation_delta
    assert f"costliest head adds {d.max():.3f}" in p.captions[1]
    assert f"median head {np.median(d):.3f}" in p.captions[1]
    assert FIGURES["importance"]().select_one({"name": "heads-importance-threshold"}) is None
    assert "heads cost less than 0.05" in importance_payload(res, threshold=0.05).captions[0]
