"""Chapter 8's "type it twice" figure in a real browser: texts typed key by key into the box, the attention the page
shows for both models (trained, at initialisation), every layer and head, against NumPy's forward pass (max abs
difference <= 1e-4), and the induction head's weight on the character after the earlier occurrence: high in the
trained model, low in the random one, as NumPy says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _bokeh import allowed_prefixes, open_page, wait_for_book_page
from _standalone import write_figure_page

from attnbook import model
from attnbook.analysis import copy_weight
from attnbook.experiments.induction import InductionSetup, induction_curves, run_induction
from attnbook.experiments.induction_text import MODELS, copy_weights, induction_models, induction_reference
from attnbook.experiments.own_text import encode_text
from attnbook.viz.induction_text import induction_text_figure

TOL = 1e-4
NAME = "induction-live"
SEGMENT = "QkBdTwAaXe"
TEXTS = [
    SEGMENT * 2,  # repeated
    "ABCDEFGHIJKLMNOP",  # nothing repeated
    "hello World, 123",  # mostly outside the vocabulary (g..z, space, digits skipped)
    "PQYeBEaeHJbN" * 4,  # 48 letters: longer than the window of 32
    "",  # empty
    "Z",  # one letter
    "AbAbAbAbAbAb",  # period 2
]


@pytest.fixture(scope="module")
def setup_models():
    setup = InductionSetup()
    data = setup.data()
    two = run_induction(setup, 2, data=data)
    text = "".join(induction_curves(two).probe_tokens[: setup.max_len]) * 2
    return induction_models(two), text


@pytest.fixture(scope="module")
def figure_page(setup_models, tmp_path_factory) -> Path:
    models, text = setup_models
    fig = induction_text_figure(models, induction_reference(models, [text]))
    return write_figure_page(fig, tmp_path_factory.mktemp("page") / "induction_text.html")


def live(page):
    return page.evaluate(f"() => ((window.__attnbookLive || {{}})['{NAME}'] || {{}}).view || null")


def wait_shown(page, text, model_name=None, layer=None, head=None):
    page.wait_for_function(
        f"""([t, m, l, h]) => {{ const v = ((window.__attnbookLive || {{}})['{NAME}'] || {{}}).view;
            return v && v.text === t && (m === null || v.model === m) && (l === null || v.layer === l)
              && (h === null || v.head === h) }}""",
        arg=[text, model_name, layer, head],
        timeout=10_000,
    )


def set_model(page, name: str, attr: str, value) -> None:
    page.evaluate(
        "([n, a, v]) => { Bokeh.documents[0].get_model_by_name(n)[a] = v }", [f"{NAME}-{name}", attr, value]
    )


def type_text(page, text: str) -> None:
    box = page.locator("input[placeholder='Type here']")
    box.click()
    box.press("Control+a")
    box.press("Backspace")
    if text:
        box.press_sequentially(text)


def shown_maps(page, text: str, cfg) -> np.ndarray:
    """The heatmap the page shows for every model, layer and head: (2, L, H, T, T), NaN where masked."""
    maps = []
    for m, name in enumerate(MODELS):
        for layer in range(1, cfg.n_layer + 1):
            for head in range(1, cfg.n_head + 1):
                set_model(page, "model", "active", m)
                set_model(page, "layer", "value", str(layer))
                set_model(page, "head", "value", str(head))
                wait_shown(page, text, name, layer, head)
                maps.append(
                    page.evaluate(
                        f"() => Array.from(Bokeh.documents[0].get_model_by_name('{NAME}-cells').data.image[0] ?? [])"
                    )
                )
    set_model(page, "model", "active", 0)
    set_model(page, "layer", "value", "2")
    set_model(page, "head", "value", "1")
    T = int(round(np.sqrt(len(maps[0]))))
    a = np.array([[np.nan if v is None else v for v in x] for x in maps], dtype=np.float64)
    return a.reshape(2, cfg.n_layer, cfg.n_head, T, T)


@pytest.mark.browser
def test_typed_texts_give_numpys_attention_in_both_models(chromium, setup_models, figure_page):
    models, opening = setup_models
    cfg, params = models.cfg, {"trained": models.trained, "random": models.random}
    worst = 0.0
    with open_page(chromium, figure_page.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        wait_shown(page, opening)
        for text in TEXTS:
            type_text(page, text)
            wait_shown(page, text)
            e = encode_text(text, models.chars, cfg.block_size)
            chars = page.evaluate(f"() => Bokeh.documents[0].get_model_by_name('{NAME}-chars').data.char")
            assert "".join(chars) == e.window
            T = len(e.ids)
            if T == 0:
                assert (
                    page.evaluate(
                        f"() => Bokeh.documents[0].get_model_by_name('{NAME}-cells').data.image.length"
                    )
                    == 0
                )
                continue
            got = shown_maps(page, text, cfg)
            below = np.tril(np.ones((T, T), bool))
            assert np.isnan(got[..., ~below]).all(), "keys after the query must be masked"
            for m, name in enumerate(MODELS):
                _, cache = model.forward(params[name], e.ids[None], cfg)  # float32, as the .npz would give
                want = model.attention_maps(cache)[:, 0].astype(np.float64)  # (L, H, T, T)
                worst = max(worst, float(np.abs(got[m][..., below] - want[..., below]).max()))
        assert not report.problems(), report.describe()
    assert worst <= TOL, f"the page differs from NumPy's float32 pass by {worst:.2e}"


@pytest.mark.browser
def test_the_induction_head_copies_when_trained_and_not_at_initialisation(
    chromium, setup_models, figure_page
):
    models, opening = setup_models
    with open_page(chromium, figure_page.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        wait_shown(page, opening)
        for text in (SEGMENT * 2, "ABCDEFGHIJ" * 2, "PQYeBEaeHJbN" * 2):
            type_text(page, text)
            wait_shown(page, text, "trained", 2, 1)
            want = copy_weights(models, text)[:, -1]  # (2, H): NumPy's float64 pass of the float32 weights
            best = int(np.argmax(want[0]))
            set_model(page, "head", "value", str(best + 1))
            wait_shown(page, text, "trained", 2, best + 1)
            got = np.array(live(page)["weights"])
            np.testing.assert_allclose(got, want[:, best], atol=TOL)
            assert got[0] > 0.5 and got[1] < 0.25, (text, got)
            score = page.evaluate(f"() => Bokeh.documents[0].get_model_by_name('{NAME}-score').text")
            assert f"<b>{got[0]:.2f}</b> trained, <b>{got[1]:.2f}</b> at initialisation" in score
            set_model(page, "head", "value", "1")
        # No repeat: nothing to score, and the readout says so.
        type_text(page, "ABCDEF")
        wait_shown(page, "ABCDEF")
        assert np.isnan(np.array(live(page)["weights"], dtype=float)).all()
        score = page.evaluate(f"() => Bokeh.documents[0].get_model_by_name('{NAME}-score').text")
        assert score.startswith("No character has occurred before")
        assert not report.problems(), report.describe()
    e = encode_text(SEGMENT * 2, models.chars, models.cfg.block_size)
    ref = induction_reference(models, [e.text])
    assert copy_weight(ref[0].attention[0][-1], e.window).max() > 0.5
