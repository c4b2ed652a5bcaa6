"""The kit parts that fit a figure to the reader's column and make its plots exportable: fit, exportable,
fitted_title (and its callback js/fit_title.mjs, run in Node), scroller."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, CustomJS, Div, HoverTool, LayoutDOM, SaveTool, TapTool
from bokeh.plotting import figure

from attnbook.viz.core import JS_DIR, diagram_figure
from attnbook.viz.kit import (
    LAYOUT_CALLBACK,
    SAVE_PREFIX,
    WRAP,
    exportable,
    fit,
    fitted_title,
    line_panel,
    scroller,
    select,
    slider,
    token_grid,
)

NODE = shutil.which("node")


def _grid(name: str, width: int = 360):
    src = ColumnDataSource(dict(x=[0.0], y=[0.0], w=[0.5]), name=f"{name}-cells")
    from attnbook.viz.kit import color_mapper

    plot, cells = token_grid(
        src, name=name, title="A grid", q_tokens=["a"], k_tokens=["a"], color_field="w",
        mapper=color_mapper(f"{name}-mapper"), width=width,
    )  # fmt: skip
    plot.add_tools(HoverTool(renderers=[cells], tooltips=[("w", "@w")]))
    return plot


def _figure():
    a, b = _grid("f-a"), _grid("f-b", 380)
    curve = line_panel(name="f-curve", title="A curve", x_label="x", y_label="y", width=740)
    curve.line([0, 1], [0, 1])
    caption = Div(text="text", name="f-caption", width=740, height=60)
    controls = row(select("f-pick", "Pick", ["a", "b"], "a"), slider("f-n", "N", 0, 3, 1), name="f-controls")
    return column(controls, caption, row(a, b, name="f-plots"), curve, name="f"), dict(a=a, b=b, curve=curve)


def _plots(layout):
    from bokeh.models import Plot

    return [m for m in layout.references() if isinstance(m, Plot)]


def test_fit_lets_rows_wrap_and_plots_shrink_to_their_column_never_past_their_width():
    fig, p = _figure()
    assert fit(fig) is fig
    for box in (fig.select_one({"name": "f-controls"}), fig.select_one({"name": "f-plots"})):
        assert dict(box.styles)["flex-wrap"] == "wrap" and box.sizing_mode == "stretch_width"
    assert fig.sizing_mode == "stretch_width"
    # a grid keeps its aspect ratio; a line panel keeps its height; neither grows past its designed width
    assert p["a"].sizing_mode == "scale_width" and p["curve"].sizing_mode == "stretch_width"
    assert [(q.max_width, q.min_width) for q in (p["a"], p["b"])] == [(360, round(WRAP * 360)), (380, 285)]
    assert p["curve"].max_width == 740 and p["curve"].min_width is None  # alone: it shrinks all the way


def test_fit_lets_captions_grow_and_widgets_stay_inside_their_row():
    fig, _ = _figure()
    fit(fig)
    caption = fig.select_one({"name": "f-caption"})
    assert (caption.sizing_mode, caption.max_width, caption.height, caption.min_height) == (
        "stretch_width",
        740,
        None,
        60,
    )
    assert any("overflow-x: auto" in s.css for s in caption.stylesheets)  # a wide table scrolls inside it
    for name in ("f-pick", "f-n"):
        w = fig.select_one({"name": name})
        assert dict(w.styles)["max-width"] == "calc(100% - 10px)"  # margin 5 on either side


def test_every_plot_saves_a_png_named_after_it_and_leaves_gestures_to_the_page():
    fig, _ = _figure()
    fit(fig)
    for plot in _plots(fig):
        saves = [t for t in plot.toolbar.tools if isinstance(t, SaveTool)]
        assert [t.filename for t in saves] == [SAVE_PREFIX + plot.name]
        assert all(not t.visible for t in plot.toolbar.tools if not isinstance(t, SaveTool))
        assert (plot.toolbar_location, plot.toolbar_inner, plot.toolbar.autohide) == ("above", True, True)
        assert plot.toolbar.active_drag is None and plot.toolbar.active_scroll is None
        assert "flex-end" in plot.toolbar.stylesheets[0].css
        # hidden, the toolbar is transparent, not invisible: Tab still reaches Save (shown while focused)
        assert ":host(.bk-hidden) { visibility: visible !important; }" in plot.toolbar.stylesheets[0].css


def test_exportable_renames_an_existing_save_tool_and_checks_its_input():
    plot = figure(name="e-plot", tools=[SaveTool(filename="x"), TapTool()])
    exportable(plot, corner="left")
    assert [t.filename for t in plot.toolbar.tools if isinstance(t, SaveTool)] == ["attnbook-e-plot"]
    assert "flex-start" in plot.toolbar.stylesheets[0].css
    with pytest.raises(ValueError, match="corner"):
        exportable(plot, corner="middle")
    with pytest.raises(TypeError, match="name"):
        exportable(figure())
    with pytest.raises(TypeError, match="layout"):
        fit("not a layout")


def test_fitted_title_shrinks_only_titles_sized_in_units():
    plot = figure(name="t-plot", title="A title", width=300)
    plot.title.text_font_size = "10pt"
    fitted_title(plot)
    (cb,) = plot.js_property_callbacks["change:inner_width"]
    assert cb is plot.title.js_property_callbacks["change:text"][0]
    assert LAYOUT_CALLBACK in cb.tags
    assert cb.args["size_px"] == pytest.approx(40 / 3) and cb.args["min_px"] == 9.0
    for untouched in (figure(name="t-none"), diagram_figure(name="t-diagram")):
        fitted_title(untouched)
        assert not untouched.js_property_callbacks


def test_scroller_keeps_a_dense_plot_legible_and_fit_puts_its_save_button_in_view():
    plot = diagram_figure(name="s-plot", title="Steps", width=740, height=200)
    box = scroller(plot)
    assert isinstance(box, LayoutDOM) and box.name == "s-plot-box" and list(box.children) == [plot]
    assert dict(box.styles)["overflow-x"] == "auto"
    assert (plot.sizing_mode, plot.max_width, plot.min_width) == ("scale_width", 740, 592)
    assert scroller(diagram_figure(name="s-other", width=500), least=400).children[0].min_width == 400
    fit(column(box, name="s"))
    assert "flex-start" in plot.toolbar.stylesheets[0].css  # the box's right edge may be out of view
    with pytest.raises(ValueError, match="least"):
        scroller(diagram_figure(name="s-bad", width=300), least=301)


def test_layout_callbacks_are_tagged_apart_from_the_figure_s_own():
    fig, _ = _figure()
    fit(fig)
    tagged = [m for m in fig.references() if isinstance(m, CustomJS) and LAYOUT_CALLBACK in m.tags]
    assert len(tagged) == 3  # one per titled plot: f-a, f-b, f-curve


def _fit_title(plot: dict, size_px: float, min_px: float) -> str:
    """Run js/fit_title.mjs in Node on a stand-in plot whose characters measure 0.6 em each; return the font size."""
    module = (
        (JS_DIR / "fit_title.mjs").read_text(encoding="utf-8").replace("export default", "const fitTitle =")
    )
    stub = """
const window = {};
const document = {createElement: () => ({getContext: () => ({
  set font(f) { this.px = parseFloat(f.split(" ")[1]); },
  measureText(t) { return {width: 0.6 * this.px * t.length}; },
})})};
"""
    run = f"const plot = {json.dumps(plot)};\nfitTitle({{plot, size_px: {size_px}, min_px: {min_px}}});\n"
    code = stub + module + run + "console.log(JSON.stringify(plot.title.text_font_size));\n"
    out = subprocess.run([NODE, "-e", code], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(out.stdout)


@pytest.mark.skipif(NODE is None, reason="needs node")
def test_fit_title_shrinks_a_long_title_to_its_frame_and_restores_it_when_there_is_room():
    title = dict(text="x" * 50, text_font_style="bold", text_font="helvetica", text_font_size="13px")
    # 50 characters at 13 px: 390 px; a 300 px frame fits 300 / (0.6 * 50) = 10 px
    assert _fit_title(dict(title=dict(title), inner_width=300), 13, 9) == "10px"
    assert _fit_title(dict(title=dict(title), inner_width=100), 13, 9) == "9px"  # never below min_px
    small = dict(title, text_font_size="9px")
    assert _fit_title(dict(title=small, inner_width=1000), 13, 9) == "13px"  # room again: its designed size
    multi = dict(title, text="x" * 10 + "\n" + "x" * 40)  # the widest line counts
    assert _fit_title(dict(title=multi, inner_width=240), 13, 9) == "10px"
    assert _fit_title(dict(title=dict(title), inner_width=float("nan")), 13, 9) == "13px"  # not laid out yet


def test_fit_keeps_each_plot_within_its_designed_width_for_any_column():
    """Bokeh's CSS contract, written down: the widest a plot may be drawn is its designed width."""
    fig, _ = _figure()
    fit(fig)
    widths = np.array([(p.width, p.max_width) for p in _plots(fig)])
    assert (widths[:, 1] == widths[:, 0]).all()
