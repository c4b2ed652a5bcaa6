"""The pointer interactions of chapter 9's head and model views: hovering or tapping sets a control (focus, head,
layer), and the page then shows the Python numbers for the state it reached."""

from __future__ import annotations

import numpy as np
import pytest
from _bokeh import allowed_prefixes, open_page, wait_for_book_page
from _numbers import check_figure, payload_figures
from _standalone import write_figure_page

from attnbook.experiments.pretrained import SentenceAttention, attention_sweep
from attnbook.viz.pretrained import GEOMETRY, head_view_figure, model_view_figure

L, H = 2, 3
TOKENS = ("[CLS]", "the", "cat", "sat", ",", "the", "end", "[SEP]")  # T = 8


def _sweep():
    rng = np.random.default_rng(0)
    shorter = TOKENS[:6] + ("[SEP]",)
    return attention_sweep(
        [
            SentenceAttention(
                label, tokens, rng.dirichlet(np.full(len(tokens), 0.3), size=(L, H, len(tokens)))
            )
            for label, tokens in (("first", TOKENS), ("second", shorter))
        ]
    )


def _pointer(page, tool: str, data: dict) -> None:
    """Run the callback of the pointer tool named ``tool`` with the event data a hover or tap would give."""
    page.evaluate(
        "async ([name, data]) => { const t = Bokeh.documents[0].get_model_by_name(name);"
        " await t.callback.execute(t, data) }",
        [tool, data],
    )


def _value(page, name: str):
    return page.evaluate("(n) => Bokeh.documents[0].get_model_by_name(n).value", name)


def _numbers_hold(page) -> None:
    """The numbers check, starting from the state the pointer left (its first state is the current one)."""
    (fig,) = payload_figures(page)
    result = check_figure(page, fig["doc"], fig["name"], fig["tag"], timeout_s=1.0)
    assert not result["mismatches"], result["mismatches"][:2]


@pytest.mark.browser
def test_tapping_a_thumbnail_moves_the_sliders(chromium, tmp_path):
    path = write_figure_page(model_view_figure(_sweep()), tmp_path / "model.html")
    with open_page(chromium, path.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        P, T = len(TOKENS) + 1, len(TOKENS)  # thumbnail pitch and size, in image pixels
        _pointer(page, "modelview-tap", {"geometries": {"x": 2 * P + T / 2 + 1, "y": -(1 * P + 1)}})
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('modelview-head').value === 3")
        assert _value(page, "modelview-layer") == 2
        _numbers_hold(page)
        assert not report.problems(), report.describe()


@pytest.mark.browser
def test_hovering_and_tapping_tokens_and_squares(chromium, tmp_path):
    path = write_figure_page(head_view_figure(_sweep()), tmp_path / "head.html")
    with open_page(chromium, path.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        key2 = {"x": GEOMETRY["right_box"], "y": -2}
        _pointer(page, "headview-hover", {"geometry": key2})  # hover the key "cat": who looks at it
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('headview-focus').value === 'k2'")
        _pointer(page, "headview-hover", {"geometry": {"x": 0.5, "y": -2}})  # off the tokens: focus released
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('headview-focus').value === 'all'")
        _pointer(page, "headview-tap", {"geometries": {"x": GEOMETRY["left_box"], "y": -5}})  # pin query 5
        _pointer(page, "headview-hover", {"geometry": key2})  # a pinned focus ignores hovering
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('headview-focus').value === 'q5'")
        squares = page.evaluate("() => Bokeh.documents[0].get_model_by_name('headview-legend').data.x[2]")
        _pointer(page, "headview-tap", {"geometries": {"x": squares, "y": 1.15}})  # the third head's square
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('headview-head').value === '3'")
        assert _value(page, "headview-focus") == "q5"
        _numbers_hold(page)
        assert not report.problems(), report.describe()
