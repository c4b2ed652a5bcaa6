"""Self-tests of the browser harness against a tiny generated site: it must drive every widget kind, see
data change, and also catch what it exists to catch (a dead widget, an external request, a console error).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from _bokeh import (
    StaticServer,
    allowed_prefixes,
    discover_pages,
    drive_widgets,
    failed_actions,
    model_inventory,
    open_page,
    page_url,
    page_weight,
    theme_shared_assets,
    unavailable,
    wait_for_book_page,
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>{head}</head>
<body><h1>{title}</h1>{body}</body></html>
"""
BOKEH_HEAD = '<script src="_static/bokeh/bokeh-{v}.min.js"></script><script src="_static/bokeh/bokeh-widgets-{v}.min.js"></script>'
MATHJAX_PARTS = ("tex-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors")


def _figure(layout) -> str:
    from bokeh.embed import components

    script, div = components(layout)
    return f'<div class="attnbook-figure" data-attnbook-figure>{div}{script}</div>'


def _good_figure():
    """One figure with every widget kind the book uses, plain and ES-module callbacks, a play toggle."""
    from bokeh.layouts import column, row
    from bokeh.models import (
        Button,
        ColumnDataSource,
        CustomJS,
        Div,
        RadioButtonGroup,
        Select,
        Slider,
        TextInput,
        Toggle,
    )
    from bokeh.plotting import figure

    src = ColumnDataSource(
        {"x": np.arange(6, dtype=np.float32), "y": np.ones(6, dtype=np.float32)}, name="src"
    )
    plot = figure(name="plot", width=320, height=200, toolbar_location=None)
    plot.line("x", "y", source=src, name="line", line_width=3)
    div = Div(text="start", name="readout")
    step = Slider(start=0, end=5, value=1, step=1, title="step", name="step")
    step.js_on_change(
        "value",
        CustomJS(
            args={"src": src},
            code="const y = Float32Array.from(src.data.y); y[0] = cb_obj.value; src.data = {...src.data, y};",
        ),
    )
    head = Select(options=["1", "2", "3"], value="1", title="heads", name="heads")
    head.js_on_change(
        "value",
        CustomJS(
            args={"src": src},
            module=True,
            code="export default ({src}, obj) => {\n"
            "  const y = Float32Array.from(src.data.y); y[1] = Number(obj.value); src.data = {...src.data, y};\n"
            "}",
        ),
    )
    causal = Toggle(label="causal", active=False, name="causal")
    causal.js_on_change("active", CustomJS(args={"div": div}, code="div.text = 'causal: ' + cb_obj.active;"))
    # has an effect only while "causal" is on: reported as state-dependent, not as dead
    temperature = Slider(start=0.5, end=2.0, value=1.0, step=0.5, title="temperature", name="temperature")
    temperature.js_on_change(
        "value",
        CustomJS(
            args={"src": src, "causal": causal},
            code="if (!causal.active) return;"
            "const y = Float32Array.from(src.data.y); y[4] = cb_obj.value; src.data = {...src.data, y};",
        ),
    )
    reset = Button(label="bump", name="bump")
    reset.js_on_event("button_click", CustomJS(args={"div": div}, code="div.text = div.text + '!';"))
    text = TextInput(value="hello", title="sentence", name="sentence")
    text.js_on_change("value", CustomJS(args={"div": div}, code="div.text = 'tokens: ' + cb_obj.value;"))
    window = Slider(start=1, end=4, value=2, step=1, title="window", name="window", disabled=True)
    mode = RadioButtonGroup(labels=["none", "local"], active=0, name="mode")
    mode.js_on_change(
        "active",
        CustomJS(
            args={"src": src, "window": window},
            code="window.disabled = cb_obj.active !== 1;"
            "const y = Float32Array.from(src.data.y); y[2] = cb_obj.active; src.data = {...src.data, y};",
        ),
    )
    # matters only in "local" mode: the driver must find that state instead of calling it dead
    window.js_on_change(
        "value",
        CustomJS(
            args={"src": src, "mode": mode},
            code="if (mode.active !== 1) return;"
            "const y = Float32Array.from(src.data.y); y[3] = cb_obj.value; src.data = {...src.data, y};",
        ),
    )
    play = Toggle(label="play", active=False, name="step-play")
    play.js_on_change(
        "active",
        CustomJS(
            args={"step": step},
            code="if (cb_obj.active) {"
            "  window.__play = setInterval(() => { step.value = (step.value + 1) % (step.end + 1); }, 100);"
            "} else { clearInterval(window.__play); }",
        ),
    )
    controls = column(step, head, causal, temperature, reset, text, window, mode, play, name="controls")
    return _figure(row(plot, column(div, controls, name="side"), name="layout"))


def _zoo_figure():
    """A second figure with every other widget kind the driver knows, each writing its state to a Div."""
    from bokeh.layouts import column
    from bokeh.models import (
        AutocompleteInput,
        CategoricalSlider,
        Checkbox,
        CheckboxButtonGroup,
        CheckboxGroup,
        CustomJS,
        Div,
        Dropdown,
        HelpButton,
        MultiChoice,
        MultiSelect,
        NumericInput,
        RadioGroup,
        RangeSlider,
        Spinner,
        Switch,
        TabPanel,
        Tabs,
        TextAreaInput,
        Tooltip,
    )

    log = Div(text="", name="zoo-log")
    show = CustomJS(
        args={"log": log},
        code="log.text = cb_obj.name + ': ' + JSON.stringify(cb_obj.value ?? cb_obj.active ?? cb_obj.item);",
    )
    labels = ["a", "b", "c"]
    widgets = {
        "value": [
            RangeSlider(start=0, end=10, step=1, value=(2, 5), name="zoo-range"),
            CategoricalSlider(categories=labels, value="b", name="zoo-categorical"),
            Spinner(low=0, high=5, step=1, value=2, name="zoo-spinner"),
            NumericInput(value=3, mode="int", name="zoo-numeric"),
            AutocompleteInput(completions=["alpha", "beta", "gamma"], value="", name="zoo-autocomplete"),
            TextAreaInput(value="", name="zoo-textarea"),
            MultiChoice(options=labels, value=[], name="zoo-multichoice"),
            MultiSelect(options=labels, value=["c"], name="zoo-multiselect"),
        ],
        "active": [
            CheckboxGroup(labels=labels, active=[0], name="zoo-checkboxes"),
            CheckboxButtonGroup(labels=labels, active=[], name="zoo-checkbox-buttons"),
            RadioGroup(labels=labels, active=0, name="zoo-radio"),
            Switch(active=False, name="zoo-switch"),
            Checkbox(active=True, label="on", name="zoo-checkbox"),
            Tabs(
                tabs=[TabPanel(child=Div(text=t, name=f"zoo-tab-{t}"), title=t) for t in labels],
                name="zoo-tabs",
            ),
        ],
    }
    for attr, ws in widgets.items():
        for w in ws:
            w.js_on_change(attr, show)
    menu = Dropdown(label="menu", menu=[("first", "one"), ("second", "two")], name="zoo-dropdown")
    menu.js_on_event(
        "menu_item_click", CustomJS(args={"log": log}, code="log.text = 'menu: ' + cb_obj.item;")
    )
    help_button = HelpButton(tooltip=Tooltip(content="help", position="right"), name="zoo-help")
    return _figure(column(log, *widgets["value"], *widgets["active"], menu, help_button, name="zoo"))


def _dead_figure():
    """A slider whose callback changes nothing, next to a select that does change the data."""
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, CustomJS, Select, Slider
    from bokeh.plotting import figure

    src = ColumnDataSource({"x": [0.0, 1.0], "y": [0.0, 1.0]}, name="src")
    plot = figure(name="plot", width=200, height=150, toolbar_location=None)
    plot.scatter("x", "y", source=src, name="dots", size=10)
    dead = Slider(start=0, end=1, value=0, step=1, name="dead")
    dead.js_on_change("value", CustomJS(args={"src": src}, code="const unused = src.data.y.length;"))
    empty = figure(name="empty", width=200, height=150, toolbar_location=None)
    empty.line("x", "y", source=ColumnDataSource({"x": [], "y": []}, name="nothing"), name="no-line")
    other = Select(options=["a", "b"], value="a", name="other")
    other.js_on_change(
        "value",
        CustomJS(
            args={"src": src},
            code="src.data = {...src.data, y: cb_obj.value == 'a' ? [0.0, 1.0] : [1.0, 0.0]};",
        ),
    )
    return _figure(column(plot, empty, dead, other, name="layout"))


def _throwing_figure():
    """A button whose ES-module callback throws: the error must surface even though it is asynchronous."""
    from bokeh.layouts import column
    from bokeh.models import Button, CustomJS, Div

    div = Div(text="x", name="readout")
    button = Button(label="break", name="break")
    button.js_on_event(
        "button_click",
        CustomJS(
            args={"div": div},
            code="export default ({div}) => { div.text = 'y'; throw new Error('callback broke'); }",
        ),
    )
    return _figure(column(div, button, name="layout"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    from bokeh import __version__
    from bokeh.util.paths import bokehjs_path

    root = tmp_path_factory.mktemp("fixture_site")
    bokeh_dir = root / "_static" / "bokeh"
    bokeh_dir.mkdir(parents=True)
    for stem in ("bokeh", "bokeh-widgets"):
        shutil.copyfile(
            Path(bokehjs_path()) / "js" / f"{stem}.min.js", bokeh_dir / f"{stem}-{__version__}.min.js"
        )
    (root / "_static" / "theme.css").write_text("body { font-family: sans-serif; }")
    head = BOKEH_HEAD.format(v=__version__) + '<link rel="stylesheet" href="_static/theme.css">'
    pages = {
        "genindex.html": PAGE.format(title="Index", head=head, body=""),
        "good.html": PAGE.format(title="Good", head=head, body=_good_figure() + _zoo_figure()),
        "dead.html": PAGE.format(title="Dead", head=head, body=_dead_figure()),
        "throws.html": PAGE.format(title="Throws", head=head, body=_throwing_figure()),
        "external.html": PAGE.format(title="External", head="", body='<img src="http://example.com/x.png">'),
        "error.html": PAGE.format(
            title="Error", head="", body="<script>console.error('boom'); throw new Error('kaput');</script>"
        ),
    }
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is not None and spec.submodule_search_locations:
        mathjax = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
        for part in MATHJAX_PARTS:
            src, dest = mathjax / part, root / "_static" / "mathjax" / part
            if src.is_dir():
                shutil.copytree(src, dest)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
        pages["math.html"] = PAGE.format(
            title="Math",
            head='<script defer src="_static/mathjax/tex-chtml.js"></script>',
            body='<p><span class="math notranslate nohighlight">\\(a^2 + b^2 = c^2\\)</span></p>'
            '<div class="math notranslate nohighlight">\\[\\mathrm{softmax}(QK^\\top / \\sqrt{d_k})V\\]</div>',
        )
    chapters = root / "chapters"
    chapters.mkdir()
    (root / "_images").mkdir()
    (root / "_images" / "pic.png").write_bytes(b"\0" * 1000)
    pages["chapters/one.html"] = PAGE.format(title="One", head=head, body='<img src="../_images/pic.png">')
    for rel, text in pages.items():
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def site_server(site):
    with StaticServer(site) as server:
        yield server


def _open(chromium, site, server, rel, protocol="http"):
    srv = server.url if protocol == "http" else None
    return open_page(chromium, page_url(rel, protocol, srv, site), allowed_prefixes(protocol, srv))


@pytest.mark.browser
def test_driver_moves_every_widget_and_sees_the_data_change(chromium, site, site_server):
    # over http only: the book's own widget test runs every figure page over http and file:// both
    with _open(chromium, site, site_server, "good.html") as (page, report):
        facts = wait_for_book_page(page)
        results = drive_widgets(page)
        names = {m["name"] for m in model_inventory(page)}
    assert facts["figures"] == facts["documents"] == 2
    plots = facts["figure_facts"][0]["plots"]
    assert plots and all(p["colours"] > 1 and p["drawn"] == 1 for p in plots)
    assert not report.problems(), report.describe()
    assert not failed_actions(results), failed_actions(results)
    driven = {r["widget"] for r in results if r["doc"] == 0}
    assert driven == {
        "step",
        "heads",
        "causal",
        "temperature",
        "bump",
        "sentence",
        "mode",
        "window",
        "step-play",
    }
    zoo = [r for r in results if r["doc"] == 1]
    assert {r["widget"] for r in zoo if r.get("skipped")} == {"zoo-help"}
    moved = [r for r in zoo if not r.get("skipped")]
    assert len({r["widget"] for r in moved}) == 15, moved
    assert all(r["changed"] == ["Div 'zoo-log'"] for r in moved), moved
    assert {"src", "readout", "step"} <= names
    by = {(r["widget"], r["action"]): r for r in results}
    # every action changed something, with a measured latency and a timed callback
    for r in results:
        if r.get("skipped"):
            continue
        assert r["changed"] and r["ms"] is not None and r["ms"] >= 0, r
        assert r["n_callbacks"] >= 1, r
    assert any("ColumnDataSource 'src'" in c for c in by[("heads", 'value="2"')]["changed"])  # the ES module
    assert "ColumnDataSource 'src'" in by[("step", "value+value_throttled=5")]["changed"]
    assert "Div 'readout'" in by[("bump", "click")]["changed"]
    window = [r for r in results if r["widget"] == "window"]
    assert window and window[0]["note"].startswith("disabled at first; enabled by RadioButtonGroup 'mode'")
    temperature = [r for r in results if r["widget"] == "temperature"]
    assert temperature[0]["note"].endswith("has one after Toggle 'causal' active=true"), temperature
    play = [r for r in results if r["widget"] == "step-play"][0]
    assert "Slider 'step'" in play["changed"] and not play["error"]


@pytest.mark.browser
def test_driver_reports_a_widget_that_changes_nothing(chromium, site, site_server):
    with _open(chromium, site, site_server, "dead.html") as (page, report):
        facts = wait_for_book_page(page, report)
        results = drive_widgets(page)
    drawn = {p["name"]: p["drawn"] for p in facts["figure_facts"][0]["plots"]}
    assert drawn == {"plot": 1, "empty": 0}  # the page test calls an empty plot blank
    bad = failed_actions(results)
    assert bad and all("Slider 'dead'" in b and "changed nothing" in b for b in bad), bad
    assert any(r["widget"] == "other" and r["changed"] for r in results)
    assert not report.problems(), report.describe()


@pytest.mark.browser
def test_fingerprint_is_stable_and_sees_typed_array_edits(chromium, site, site_server):
    with _open(chromium, site, site_server, "good.html") as (page, _):
        wait_for_book_page(page)
        a = page.evaluate("__attnbookTest.fingerprint(0)")
        page.wait_for_timeout(300)
        assert page.evaluate("__attnbookTest.fingerprint(0)") == a  # nothing changes on its own
        # an in-place edit of one float32 element, with no Bokeh event at all, still changes the hash
        page.evaluate("Bokeh.documents[0].get_model_by_name('src').data.y[5] += 1")
        assert page.evaluate("__attnbookTest.fingerprint(0)") != a


@pytest.mark.browser
def test_external_requests_are_aborted_and_reported(chromium, site, site_server):
    failed = []
    with _open(chromium, site, site_server, "external.html") as (page, report):
        page.on("requestfailed", lambda req: failed.append((req.url, req.failure)))
        page.reload(wait_until="load")
        page.wait_for_timeout(200)
    assert "http://example.com/x.png" in report.external
    assert any(url == "http://example.com/x.png" and "BLOCKED" in (why or "") for url, why in failed), failed
    assert any("external request" in p for p in report.problems())


@pytest.mark.browser
def test_console_errors_and_exceptions_are_reported(chromium, site, site_server):
    with _open(chromium, site, site_server, "error.html", "file") as (page, report):
        page.wait_for_timeout(100)
    assert any("boom" in e for e in report.console_errors)
    assert any("kaput" in e for e in report.page_errors)


@pytest.mark.browser
def test_errors_inside_async_callbacks_are_reported(chromium, site, site_server):
    with _open(chromium, site, site_server, "throws.html") as (page, report):
        wait_for_book_page(page, report)
        results = drive_widgets(page)
        page.wait_for_timeout(100)
    assert [r["changed"] for r in results] == [["Div 'readout'"]]
    assert any("callback broke" in e for e in report.page_errors + report.console_errors), report.describe()


@pytest.mark.browser
def test_math_is_seen_typeset(chromium, site, site_server):
    if not (site / "math.html").exists():
        unavailable("sphinx-mathjax-offline (the local MathJax) is not installed")
    with _open(chromium, site, site_server, "math.html", "file") as (page, report):
        facts = wait_for_book_page(page)
    assert facts["math"] == facts["math_typeset"] == 2 and not facts["mjx_errors"]
    assert not report.problems(), report.describe()


@pytest.mark.browser
@pytest.mark.parametrize("ci", ["true", "false"])
def test_unavailable_fails_under_ci_and_skips_elsewhere(ci, monkeypatch):
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci == "true" else pytest.skip.Exception
    with pytest.raises(expected, match="no browser here"):
        unavailable("no browser here")


@pytest.mark.browser
def test_page_discovery_and_weight(site):
    pages = discover_pages(site)
    assert "good.html" in pages and "chapters/one.html" in pages
    assert not any(p.startswith("_static") for p in pages)
    weight = page_weight(site, "chapters/one.html", theme_shared_assets(site))
    # its image counts; BokehJS and the theme's stylesheet (shared with genindex) do not
    assert weight["assets"] == ["_images/pic.png"]
    assert weight["total_bytes"] == (site / "chapters/one.html").stat().st_size + 1000
