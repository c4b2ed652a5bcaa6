"""Figures follow the page's theme live: switching ``html[data-theme]`` light -> dark -> light recolours their
backgrounds, axes, grids, titles, legends and widget text to readable contrast, without a reload and without
touching what a figure shows (a widget moved before the switch keeps its value, and the data stays the same).

Checked on a harness page that switches the theme as the book's theme does (runs without the book), and on every
figure page of the built book (skipped when it is not built; a failure under CI=true).
"""

from __future__ import annotations

import numpy as np
import pytest
from _bokeh import (
    HELPERS_JS,
    HTML_ROOT,
    allowed_prefixes,
    figure_pages,
    open_book_page,
    open_page,
    wait_for_book_page,
)
from _theme import harness_page, look, on_screen, set_theme, wrapper_handles

from attnbook.experiments.masks import mask_sweep
from attnbook.experiments.position import alibi_heads
from attnbook.positional import sinusoidal
from attnbook.viz import show
from attnbook.viz.kit import description
from attnbook.viz.masks import masks_figure
from attnbook.viz.position import alibi_figure, sinusoidal_figure

TEXT = 4.5  # WCAG AA contrast for text
PAGES = figure_pages(HTML_ROOT)


def _figures():
    rng = np.random.default_rng(0)
    T, C = 6, 4
    sweep = mask_sweep([f"w{i}" for i in range(T)], rng.standard_normal((T, C)), *rng.standard_normal((3, C, C)),
                       rng.standard_normal(C), max_global=2)  # fmt: skip
    return [
        show(masks_figure(sweep), title="Masks"),
        show(sinusoidal_figure(sinusoidal(8, 6), dim=2), title="Sinusoids"),
        show(alibi_figure(alibi_heads(4, 6), head=1), title="ALiBi"),
        show(_toolbar_plot(), title="A plot with a toolbar"),
    ]


def _toolbar_plot():
    """A plain plot with Bokeh's toolbar (save, reset): its buttons must be named, reachable and themed too."""
    from bokeh.plotting import figure

    plot = figure(
        name="tools", title="Toolbar", width=320, height=220, tools="save,reset", toolbar_location="above"
    )
    plot.line([0, 1, 2], [1, 0, 2], color="#2166ac", line_width=2)
    plot.xaxis.axis_label, plot.yaxis.axis_label = "x", "y"
    plot.tags = [description("tools", "A line through three points.")]  # a static figure's description
    return plot


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    return harness_page(_figures(), tmp_path_factory.mktemp("theme") / "figures.html")


def _move_widgets(page) -> None:
    """Move one widget of each figure away from its first state, as a reader would."""
    page.evaluate(
        """() => Bokeh.documents.forEach((doc) => {
          for (const m of doc.all_models) {
            if (m.type === "Select" && m.options.length > 1) {
              const last = m.options.at(-1)
              m.value = Array.isArray(last) ? last[0] : last
              break
            }
            if (m.type === "Slider" && m.end > m.start) { m.value = m.end; break }
          }
        })"""
    )
    page.wait_for_function("() => Bokeh.documents.every((d) => d.is_idle)")
    # and what a figure finishes when the reader pauses: chapter 10 writes the plots off screen 250 ms and its
    # screen-reader description 400 ms after the last change
    page.wait_for_timeout(600)


def _readings(page) -> dict:
    n = page.evaluate("() => Bokeh.documents.length")
    wrappers = wrapper_handles(page)
    return {
        "canvas": [t for d in range(n) for t in look(page, "canvasText", d)],
        "plots": [p for d in range(n) for p in look(page, "plots", d)],
        "widgets": [w for el in wrappers for w in look(page, "widgetText", el)],
        "state": [look(page, "state", d) for d in range(n)],
    }


def _unreadable(r: dict) -> list[str]:
    bad = [f"{t['plot']}: {t['what']} {t['color']} on {t['on']}: {t['contrast']}:1"
           for t in r["canvas"] if t["what"] != "grid" and t["contrast"] < TEXT]  # fmt: skip
    bad += [f"<{w['tag']}> '{w['text']}' {w['color']} on {w['on']}: {w['contrast']}:1"
            for w in r["widgets"] if w["contrast"] < TEXT]  # fmt: skip
    return bad


def _check_theme_switch(page) -> dict:
    """Light -> dark -> light on a loaded page; returns the readings in the three states (asserts on the way)."""
    page.evaluate("() => { window.__notReloaded = true }")
    _move_widgets(page)
    light = _readings(page)
    assert not _unreadable(light), "light mode:\n" + "\n".join(_unreadable(light))

    set_theme(page, "dark")
    dark = _readings(page)
    assert page.evaluate("() => window.__notReloaded === true"), "switching the theme reloaded the page"
    assert dark["state"] == light["state"], "switching to dark changed a widget value or the data shown"
    assert not _unreadable(dark), "dark mode:\n" + "\n".join(_unreadable(dark))
    lum = page.evaluate("(c) => __attnbookLook.luminance(c)", [0, 0, 0])
    assert lum == 0
    for p in dark["plots"]:
        for part in ("border", "frame"):
            if p[part] is not None:
                assert page.evaluate("(c) => __attnbookLook.luminance(c)", p[part]) < 0.05, (
                    f"plot {p['name']}: {part} {p[part]} is not dark"
                )
        if p["png"] is not None:  # what the SaveTool writes is what the reader sees
            assert page.evaluate("(c) => __attnbookLook.luminance(c)", p["png"][:3]) < 0.05, (
                f"plot {p['name']}: its PNG export is still light ({p['png']})"
            )
        seen = on_screen(page, p)  # the reader sees the drawing, and no light seam around it
        if seen is not None:
            assert seen["colours"] > 1, f"plot {p['name']}: blank on screen in dark mode"
            assert seen["edge_max"] < 128, (
                f"plot {p['name']}: a light seam along its edge in dark mode {seen}"
            )
    grids = [t for t in dark["canvas"] if t["what"] == "grid"]
    assert all(g["contrast"] > 1.1 for g in grids), f"grid lines vanish in dark mode: {grids}"

    set_theme(page, "light")
    back = _readings(page)
    assert page.evaluate("() => window.__notReloaded === true")
    assert back["state"] == light["state"], "switching back to light changed what a figure shows"
    assert back["plots"] == light["plots"] and back["canvas"] == light["canvas"], "light mode is not restored"
    for p in back["plots"]:
        seen = on_screen(page, p)
        assert seen is None or seen["colours"] > 1, f"plot {p['name']}: blank on screen in light mode"
    return {"light": light, "dark": dark}


@pytest.mark.browser
def test_figures_follow_the_theme_live_on_a_harness_page(chromium, harness):
    with open_page(chromium, harness.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        readings = _check_theme_switch(page)
        problems = report.problems()
    assert not problems, report.describe()
    selects = [w for w in readings["dark"]["widgets"] if w["tag"] == "SELECT"]
    assert selects and all(w["contrast"] >= TEXT for w in selects), selects  # the select's choice is visible


@pytest.mark.browser
def test_a_page_opened_in_dark_mode_starts_dark(chromium, harness):
    """The reader's stored choice is applied before the figures render: they never flash light."""
    with open_page(chromium, harness.as_uri(), allowed_prefixes("file", None)) as (page, report):
        page.add_init_script("localStorage.setItem('theme', 'dark')")
        page.reload()
        page.evaluate(HELPERS_JS)
        wait_for_book_page(page, report)
        page.wait_for_timeout(100)
        plots = [
            p for d in range(page.evaluate("() => Bokeh.documents.length")) for p in look(page, "plots", d)
        ]
        assert plots and all(
            page.evaluate("(c) => __attnbookLook.luminance(c)", p["border"]) < 0.05 for p in plots
        ), plots
        problems = report.problems()
    assert not problems, report.describe()


@pytest.mark.browser
@pytest.mark.parametrize("rel", PAGES or [None])
def test_book_figures_follow_the_theme_live(rel, chromium, book_server):
    with open_book_page(chromium, rel, book_server.url) as (page, report):
        set_theme(page, "light")
        _check_theme_switch(page)
        problems = report.problems()
    assert not problems, report.describe()
