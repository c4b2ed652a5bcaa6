"""The shared figure pieces (attnbook.viz.core, .heatmap); the step-by-step figure is in test_viz_steps.py."""

import re

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, CustomJS, Select, Slider, Toggle
from bokeh.plotting import figure

from attnbook._checks import check_tokens
from attnbook.viz import attention_heatmap, heatmap_columns, js_callback, show
from attnbook.viz.core import JS_DIR, diagram_figure, float32, numbered_select, on_document_ready

# --- core ---------------------------------------------------------------------------------------------


def test_show_wraps_one_marked_html_block():
    plot = figure(name="p", width=200, height=200)
    out = show(plot, title='a "quoted" <title>')
    assert out.html.startswith('<div class="attnbook-figure" data-attnbook-figure role="figure" aria-label=')
    assert "&quot;quoted&quot; &lt;title&gt;" in out.html  # the label is escaped
    assert "<script" in out.html and out._repr_html_() == out.html
    assert "cdn.bokeh.org" not in out.html  # BokehJS comes from the book's _static, never a CDN
    with pytest.raises(TypeError, match="layout"):
        show(np.zeros(3))


def test_js_callback_reads_the_module_and_refuses_unknown_names():
    toggle = Toggle(name="t")
    cb = js_callback("play", toggle=toggle, slider=Slider(start=0, end=1, value=0), interval_ms=10)
    assert isinstance(cb, CustomJS)
    assert "export default" in cb.code and cb.args["toggle"] is toggle
    with pytest.raises(ValueError, match="name"):
        js_callback("no_such_callback")


@pytest.mark.parametrize("path", sorted(JS_DIR.glob("*.mjs")), ids=lambda p: p.stem)
def test_every_callback_module_has_one_default_export(path):
    code = path.read_text(encoding="utf-8")
    expected = 0 if path.stem in ("lib", "colors") else 1  # the shared libraries only have named exports
    assert len(re.findall(r"^export default", code, re.M)) == expected, path.name


def test_float32_keeps_inf_refuses_nan():
    out = float32("x", np.array([[1.0, -np.inf]]))
    assert out.dtype == np.float32 and out.flags.c_contiguous and np.isneginf(out[0, 1])
    with pytest.raises(ValueError, match="x must not contain NaN"):
        float32("x", np.array([np.nan]))
    with pytest.raises(TypeError, match="x"):
        float32("x", "abc")


def test_on_document_ready_runs_the_callback_once_per_document():
    plot = figure(name="p")
    cb = CustomJS(code="")
    assert on_document_ready(plot, cb) is plot
    assert plot.document is not None
    assert cb in [c for cbs in plot.document.callbacks._js_event_callbacks.values() for c in cbs]


def test_numbered_select():
    s = numbered_select("Head", 4, value=2, name="h")
    assert isinstance(s, Select) and s.options == ["1", "2", "3", "4"] and s.value == "2" and s.name == "h"
    with pytest.raises(ValueError, match="n must be >= 1"):
        numbered_select("Head", 0, name="h")
    with pytest.raises(ValueError, match="value must be <= 4"):
        numbered_select("Head", 4, value=5, name="h")
    with pytest.raises(TypeError, match="n must be an int"):
        numbered_select("Head", 2.0, name="h")


def test_diagram_figure_is_a_bare_canvas():
    plot = diagram_figure(name="d", width=120, height=80, x_range=(0, 120), y_range=(-80, 0))
    assert plot.name == "d" and plot.width == 120 and plot.toolbar_location is None
    assert all(not a.visible for a in plot.axis) and all(not g.visible for g in plot.grid)
    assert plot.outline_line_color is None
    assert diagram_figure(tools="hover").tools  # defaults can be overridden


def test_check_tokens():
    assert check_tokens("tokens", (t for t in "ab"), 2) == ("a", "b")  # a generator is read once
    with pytest.raises(TypeError, match="tokens must be a sequence of str"):
        check_tokens("tokens", "ab")
    with pytest.raises(TypeError, match="tokens must be a sequence of str"):
        check_tokens("tokens", ["a", 1])
    with pytest.raises(TypeError, match="tokens"):
        check_tokens("tokens", 3)
    with pytest.raises(ValueError, match="tokens must have T = 3 entries"):
        check_tokens("tokens", ["a", "b"], 3)


# --- heatmap ------------------------------------------------------------------------------------------


def test_heatmap_columns_lay_rows_down_and_columns_across():
    w = np.array([[0.25, 0.75], [1.0, 0.0], [0.5, 0.5]])
    cols = heatmap_columns(w, ["a", "b", "a"], ["x", "y"], scores=np.array([[0, 1], [2, -np.inf], [4, 5]]))
    assert cols["x"].tolist() == [0, 1, 0, 1, 0, 1]
    assert cols["y"].tolist() == [0, 0, -1, -1, -2, -2]  # repeated token "a" keeps its own row
    np.testing.assert_array_equal(cols["weight"], w.ravel().astype(np.float32))
    assert cols["q_token"] == ["a", "a", "b", "b", "a", "a"] and cols["k_token"] == ["x", "y"] * 3
    assert np.isneginf(cols["score"][3])
    assert np.isnan(heatmap_columns(w, ["a", "b", "c"], ["x", "y"])["score"]).all()  # unknown scores


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(weights=np.zeros((2, 2)), q_tokens=["a"], k_tokens=["a", "b"]), ValueError, "q_tokens"),
        (dict(weights=np.zeros((2, 2)), q_tokens=["a", "b"], k_tokens="ab"), TypeError, "k_tokens"),
        (dict(weights=np.zeros(4), q_tokens=["a"], k_tokens=["a"]), ValueError, "weights"),
        (
            dict(weights=np.zeros((2, 2)), q_tokens=["a", "b"], k_tokens=["a", "b"], scores=np.zeros((2, 3))),
            ValueError,
            "scores",
        ),
    ],
)
def test_heatmap_columns_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        heatmap_columns(**kwargs)


def test_attention_heatmap_is_named_with_hover_and_colour_bar():
    w = np.full((3, 3), 1 / 3)
    plot = attention_heatmap(w, ["a", "b", "c"], ["a", "b", "c"], name="hm")
    source = plot.select_one({"name": "hm-source"})
    assert isinstance(source, ColumnDataSource) and len(source.data["x"]) == 9
    assert plot.select_one({"name": "hm-colorbar"}) is not None
    assert plot.select_one({"name": "hm-mapper"}).high == 1.0
    assert plot.xaxis[0].major_label_overrides == {0: "a", 1: "b", 2: "c"}
    assert plot.yaxis[0].major_label_overrides == {0: "a", -1: "b", -2: "c"}
    (hover,) = plot.hover
    assert [t[0] for t in hover.tooltips] == ["query", "key", "score", "weight"]


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(name=""), TypeError, "name"),
        (dict(width=10), ValueError, "width"),
        (dict(low=1.0, high=0.0), ValueError, "low must be < high"),
        (dict(palette=[]), ValueError, "palette"),
        (dict(palette="#fff"), TypeError, "palette"),
    ],
)
def test_attention_heatmap_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        attention_heatmap(np.eye(2), ["a", "b"], ["a", "b"], **kwargs)


# --- theme and accessibility (core.dress, core.show, kit.description) -------------------------------------------


def _described_figure():
    from bokeh.layouts import column

    from attnbook.viz.kit import description, labels

    plot = figure(name="f-plot", title="t")
    cells_src = ColumnDataSource(
        dict(x=[0, 1], y=[0, 0], text=["a", "b"], fill=["#ffffff", "#08306b"]), name="s"
    )
    cells = plot.rect("x", "y", 1, 1, source=cells_src, fill_color="fill", line_color="white")
    on_cells = labels(plot, cells_src, color="#222222")
    beside = labels(plot, ColumnDataSource(dict(x=[2], y=[0], text=["c"]), name="r"), color="#333333")
    line = plot.line([0, 1], [0, 1], color="#2166ac")
    slider = Slider(start=0, end=2, value=0, title="Slider", name="f-slider")
    desc = description("f", "A test figure.")
    slider.js_on_change("value", CustomJS(args=dict(description=desc), code=""))
    return column(slider, plot, name="f"), dict(
        cells=cells, on_cells=on_cells, beside=beside, line=line, desc=desc
    )


def test_dark_mode_roles_keep_cell_labels_and_map_the_rest():
    from attnbook.viz.core import _theme_targets

    layout, r = _described_figure()
    roles = {(m.id, attr): role for m, attr, role in _theme_targets(layout)}
    plot = layout.children[1]
    assert roles[(plot.id, "background_fill_color")] == "surface"
    assert roles[(plot.xaxis[0].id, "major_label_text_color")] == "text"
    assert roles[(plot.title.id, "text_color")] == "text"
    assert (r["on_cells"].glyph.id, "text_color") not in roles  # drawn on its cell, not on the page
    assert (r["cells"].glyph.id, "fill_color") not in roles  # the cell under a label keeps its colour
    assert roles[(r["cells"].glyph.id, "line_color")] == "edge"  # white lines between cells
    assert roles[(r["beside"].glyph.id, "text_color")] == "text"
    assert roles[(r["line"].glyph.id, "line_color")] == "line"
    assert roles[(layout.children[0].id, "bar_color")] == "line"


def test_dress_styles_every_widget_once_and_returns_the_description():
    from attnbook.viz.core import DESCRIPTION_TAG, WIDGET_CSS, dress

    layout, r = _described_figure()
    assert dress(layout) is r["desc"] and dress(layout) is r["desc"]  # a second call adds nothing
    slider = layout.children[0]
    assert [s.css for s in slider.stylesheets] == [WIDGET_CSS]
    assert r["desc"].tags == [DESCRIPTION_TAG, "A test figure."] and r["desc"].text == "A test figure."
    ready = [c for cbs in layout.document.callbacks._js_event_callbacks.values() for c in cbs]
    assert sum("pageTheme" in c.code for c in ready) == 1
    with pytest.raises(TypeError, match="layout"):
        dress("not a layout")


def test_show_renders_the_description_in_a_live_region_the_figure_points_to():
    layout, r = _described_figure()
    out = show(layout, title="T").html
    ident = re.search(r'aria-describedby="([^"]+)"', out).group(1)
    assert f'id="{ident}" aria-live="polite"' in out and "clip-path:inset(50%)" in out
    assert out.count("data-root-id") == 2  # the layout and its description, one document
    assert "pageTheme" in out and '"attnbook-description"' in out  # the theme hook and the description ship
    with pytest.raises(TypeError, match="title"):
        show(layout, title=3)


def test_described_is_the_twin_of_describe():
    from attnbook.viz.kit import described, description

    assert described("What <it> is.", "<b>3</b> of 4 &amp; more") == {
        "text": "What &lt;it&gt; is. 3 of 4 &amp; more"
    }
    assert described("What.") == {"text": "What."}
    lib = (JS_DIR / "lib.mjs").read_text(encoding="utf-8")
    assert "export const describe = (description, state" in lib
    with pytest.raises(TypeError, match="what"):
        description("f", "")
    with pytest.raises(TypeError):
        described("x", 3)


def test_readable_darkens_a_colour_until_it_reads_on_white():
    from attnbook.viz.kit import readable

    assert readable("#1f77b4") == "#1f77b4"  # already 4.8:1
    dark = readable("#ff7f0e")  # orange: 2.5:1 on white
    r, g, b = (int(dark[i : i + 2], 16) for i in (1, 3, 5))
    assert r > g > b and dark != "#ff7f0e"  # still an orange, darker
    with pytest.raises(ValueError, match="rrggbb"):
        readable("orange")


def test_axis_index_matches_a_keyboard_step_in_floating_point():
    from attnbook.viz.figure import Control, axis_index

    c = Control("temperature", (0.25, 0.5, 1.25, 2.0))
    assert axis_index(c, 1.2500000000000002) == 2 and axis_index(c, 2) == 3
    with pytest.raises(ValueError, match="temperature"):
        axis_index(c, 1.26)


def test_on_change_wires_each_widget_kind_to_what_the_reader_changes():
    from bokeh.models import Button, Div, RadioButtonGroup, Spinner, TextInput

    from attnbook.viz.kit import on_change

    cb = CustomJS(code="")
    kinds = {
        "value": (
            Slider(start=0, end=2, value=0, step=1),
            Select(options=["a"], value="a"),
            Spinner(value=1),
        ),
        "value_input": (TextInput(),),
        "active": (Toggle(), RadioButtonGroup(labels=["a", "b"])),
    }
    button = Button()
    assert on_change(cb, *(w for ws in kinds.values() for w in ws), button) is cb
    for attr, widgets in kinds.items():
        for w in widgets:
            assert dict(w.js_property_callbacks) == {f"change:{attr}": [cb]}, type(w).__name__
    assert dict(button.js_event_callbacks) == {"button_click": [cb]} and not button.js_property_callbacks
    with pytest.raises(TypeError, match="widgets must be .* got Div 'notes'"):
        on_change(cb, Div(name="notes"))
    with pytest.raises(TypeError, match="callback must be a CustomJS"):
        on_change("update", Toggle())
