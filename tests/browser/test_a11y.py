"""Every page works with a keyboard and a screen reader, in light and dark mode: axe-core (shipped offline inside
``axe-playwright-python``) finds no critical or serious violation; every control of every figure has an accessible
name, is reached by Tab and is operated by the keyboard; every figure has a text description a screen reader
reaches (``aria-describedby``, a live region) that changes with the figure.

Run on a harness page (no book needed) and on every page of the built book (skipped when it is not built; a
failure under CI=true). Violations of lesser impact are reported, not failed, in ``test-results/axe.json``; the
ones that come from the theme (pydata-sphinx-theme / sphinx-book-theme) and cannot be fixed here are listed in
``THEME_VIOLATIONS``.
"""

from __future__ import annotations

import json

import pytest
from _bokeh import (
    HTML_ROOT,
    REPO,
    allowed_prefixes,
    discover_pages,
    figure_pages,
    open_book_page,
    open_page,
    wait_for_book_page,
)
from _theme import harness_page, install, look, set_theme, wrapper_handles
from test_theme import _figures

FAIL_IMPACTS = ("critical", "serious")
# Moderate/minor violations that come from the theme itself, found on every built page; reported, never failed.
THEME_VIOLATIONS = {
    "region": "sphinx-book-theme puts the sidebar's first item (the logo and title link) outside any landmark",
}
PAGES = discover_pages(HTML_ROOT)
FIGURE_PAGES = figure_pages(HTML_ROOT)
AXE_LOG: list[dict] = []


def _axe(page) -> list[dict]:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:  # pragma: no cover - the test dependency group installs it
        from _bokeh import unavailable

        unavailable("axe-playwright-python is not installed (it ships axe-core)")
    # preload: axe-core would fetch every stylesheet again for one rule (css-orientation-lock), resolving the
    # theme's @import against the page's address: a 404 that is axe's, not the page's.
    result = Axe().run(page, options={"resultTypes": ["violations"], "preload": False}).response
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [" > ".join(map(str, n["target"])) for n in v["nodes"]][:5],
            "count": len(v["nodes"]),
        }
        for v in result["violations"]
    ]


def _check_axe(page, where: str, theme: str) -> None:
    set_theme(page, theme)
    page.wait_for_timeout(200)  # the theme's own transitions
    violations = _axe(page)
    AXE_LOG.append({"page": where, "theme": theme, "violations": violations})
    (REPO / "test-results").mkdir(exist_ok=True)
    (REPO / "test-results" / "axe.json").write_text(json.dumps(AXE_LOG, indent=1), encoding="utf-8")
    bad = [v for v in violations if v["impact"] in FAIL_IMPACTS]
    assert not bad, f"{where} ({theme}): axe-core violations:\n" + "\n".join(
        f"  {v['id']} ({v['impact']}, {v['count']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in bad
    )


def _check_figures(page, where: str) -> None:
    """Names, Tab order, keyboard operation and text description of every figure on a loaded page."""
    wrappers = wrapper_handles(page)
    problems = []
    for k, wrapper in enumerate(wrappers):
        fig = f"{where}: figure {k + 1}"
        controls = look(page, "controls", wrapper, f"f{k}")
        unnamed = [c for c in controls if not c["name"]]
        problems += [f"{fig}: a {c['role']} <{c['tag'].lower()}> has no accessible name" for c in unnamed]
        problems += [
            f"{fig}: {c['role']} '{c['name']}' is out of the Tab order" for c in controls if c["tabindex"] < 0
        ]
        problems += _tab_through(page, wrapper, controls, fig)
        problems += _keyboard(page, wrapper, controls, fig)
        problems += _description(page, wrapper, fig)
    assert not problems, "\n".join(problems)


def _tab_through(page, wrapper, controls, fig) -> list[str]:
    """From just before the figure, Tab must visit every control of the figure, then leave it."""
    page.evaluate(
        """(w) => { const s = document.createElement("button"); s.id = "attnbook-before"; s.textContent = "before";
                    w.before(s); s.focus(); }""",
        wrapper,
    )
    reached = []
    for _ in range(2 * len(controls) + 10):
        page.keyboard.press("Tab")
        f = look(page, "focused", wrapper)
        if f is None or not f["inside"]:
            break
        reached.append(f["id"])
    page.evaluate("() => document.getElementById('attnbook-before').remove()")
    missed = [c for c in controls if c["id"] not in reached]
    return [f"{fig}: Tab never reaches {c['role']} '{c['name']}'" for c in missed]


def _keyboard(page, wrapper, controls, fig) -> list[str]:
    """Each slider moves with the arrow keys, each select with ArrowDown/Up, each toggle with Space."""
    out = []
    n = page.evaluate("() => Bokeh.documents.length")
    for c in controls:
        key = {"slider": ("ArrowRight", "ArrowLeft"), "select": ("ArrowDown", "ArrowUp")}.get(c["role"])
        if key is None:
            continue
        loc = page.locator(f'[data-attnbook-control="{c["id"]}"]')
        before = [look(page, "state", d) for d in range(n)]
        loc.focus()
        for k in key:  # one way, or the other at the end of the range
            page.keyboard.press(k)
            page.wait_for_function("() => Bokeh.documents.every((d) => d.is_idle)")
            page.wait_for_timeout(50)
            if [look(page, "state", d) for d in range(n)] != before:
                break
        else:
            out.append(f"{fig}: {c['role']} '{c['name']}' does not move with {' or '.join(key)}")
    return out


def _description(page, wrapper, fig) -> list[str]:
    """The wrapper is a named figure described by a live region holding the figure's current description."""
    install(page)
    info = page.evaluate(
        """(w) => {
          const id = w.getAttribute("aria-describedby");
          const d = id ? document.getElementById(id) : null;
          const text = d ? window.__attnbookLook.text(d) : "";
          return {role: w.getAttribute("role"), label: w.getAttribute("aria-label"), id,
                  live: d ? d.getAttribute("aria-live") : null, text};
        }""",
        wrapper,
    )
    out = []
    if info["role"] != "figure" or not info["label"]:
        out.append(f"{fig}: the wrapper is not a named figure ({info['role']!r}, {info['label']!r})")
    if not info["id"] or info["live"] != "polite":
        out.append(f"{fig}: no live region describes it (aria-describedby={info['id']!r})")
    elif len(info["text"]) < 20:
        out.append(f"{fig}: its description is empty or too short: {info['text']!r}")
    return out


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    return harness_page(_figures(), tmp_path_factory.mktemp("a11y") / "figures.html")


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_harness_page_has_no_serious_axe_violation(theme, chromium, harness):
    with open_page(chromium, harness.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        _check_axe(page, "harness", theme)
        problems = report.problems()
    assert not problems, report.describe()


@pytest.mark.browser
def test_harness_figures_are_named_reached_by_tab_operated_by_keys_and_described(chromium, harness):
    with open_page(chromium, harness.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        _check_figures(page, "harness")
        problems = report.problems()
    assert not problems, report.describe()


@pytest.mark.browser
def test_the_description_follows_the_figure(chromium, harness):
    """Moving a widget rewrites the figure's description (the live region announces it)."""
    with open_page(chromium, harness.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        read = "() => Bokeh.documents[0].get_model_by_name('masks-description').text"
        first = page.evaluate(read)
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('masks-type').value = 'none' }")
        page.wait_for_function(f"(t) => ({read})() !== t", arg=first)
        assert "none mask" in page.evaluate(read)
        problems = report.problems()
    assert not problems, report.describe()


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("rel", PAGES or [None])
def test_book_page_has_no_serious_axe_violation(rel, theme, chromium, book_server):
    with open_book_page(chromium, rel, book_server.url, what="pages") as (page, report):
        _check_axe(page, rel, theme)
        problems = report.problems()
    assert not problems, report.describe()


@pytest.mark.browser
@pytest.mark.parametrize("rel", FIGURE_PAGES or [None])
def test_book_figures_are_named_reached_by_tab_operated_by_keys_and_described(rel, chromium, book_server):
    with open_book_page(chromium, rel, book_server.url) as (page, report):
        _check_figures(page, rel)
        problems = report.problems()
    assert not problems, report.describe()
