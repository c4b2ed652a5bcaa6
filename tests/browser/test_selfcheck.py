"""Self-check questions work in a real browser, offline: a right and a wrong answer, by keyboard only, each get
their verdict in the live region (with the hint or the explanation revealed), and the questions stay readable in
dark mode. Checked on a tiny page built with the book's extension (tests/_selfcheck_page.py), not on the book.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _bokeh import allowed_prefixes, open_page
from _theme import set_theme

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the page builder
from _selfcheck_page import build, write_project  # noqa: E402

pytestmark = pytest.mark.browser

CONTRAST_JS = r"""
(sel) => {
  const ctx = document.createElement("canvas").getContext("2d");
  const rgba = (c) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = "#000"; ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1);
                        return Array.from(ctx.getImageData(0, 0, 1, 1).data); };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
                                  if (rgba(c)[3] > 0) return c; } return "rgb(255, 255, 255)"; };
  return Array.from(document.querySelectorAll(sel)).map((el) => {
    const a = lum(rgba(getComputedStyle(el).color)), b = lum(rgba(background(el)));
    return { text: el.textContent.trim().slice(0, 40), ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) };
  });
}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("selfcheck-site")
    result = build(write_project(root / "src"), root / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "out"


@pytest.fixture
def checks_page(site, chromium):
    with open_page(chromium, (site / "checks.html").resolve().as_uri(), allowed_prefixes("file", None)) as (
        page,
        report,
    ):
        page.wait_for_function(
            "() => document.querySelectorAll('form.attnbook-selfcheck[data-ready]').length === 3"
        )
        yield page, report
        assert not report.problems(), report.problems()


def _verdict(page, form: str) -> str:
    page.wait_for_function(f"() => document.querySelector('#{form} .selfcheck-verdict').textContent !== ''")
    return page.inner_text(f"#{form} .selfcheck-verdict")


def _shown(page, form: str, part: str) -> bool:
    return page.is_visible(f"#{form} .selfcheck-{part}")


def test_choice_by_keyboard_wrong_then_right(checks_page):
    page, _ = checks_page
    form = "selfcheck-checks-1"
    page.focus(f"#{form}-1")  # the first radio button
    page.keyboard.press("Space")  # choose "one": wrong
    page.keyboard.press("Tab")  # a radio group is one tab stop: next is the Check button
    assert page.evaluate("() => document.activeElement.className") == "selfcheck-check"
    page.keyboard.press("Enter")
    assert _verdict(page, form).startswith("Not quite")
    assert page.get_attribute(f"#{form}", "data-state") == "wrong"
    assert _shown(page, form, "hint") and not _shown(page, form, "explain")
    page.focus(f"#{form}-1")
    page.keyboard.press("ArrowDown")  # moves the choice to "two"
    assert page.is_checked(f"#{form}-2")
    page.keyboard.press("Enter")  # implicit submission from a radio button of the form
    page.wait_for_function(f"() => document.querySelector('#{form}').dataset.state === 'right'")
    assert _verdict(page, form) == "Right."
    assert _shown(page, form, "explain") and not _shown(page, form, "hint")
    live = page.get_attribute(f"#{form} .selfcheck-feedback", "aria-live")
    assert live == "polite" and page.get_attribute(f"#{form} .selfcheck-feedback", "role") == "status"


def test_number_from_glue_wrong_right_and_not_a_number(checks_page):
    page, _ = checks_page
    form = "selfcheck-checks-2"
    field = f"#{form}-value"
    page.fill(field, "0.3")
    page.press(field, "Enter")
    assert _verdict(page, form) == "Not quite: 0.3 is too large. Try again."
    assert page.get_attribute(field, "aria-invalid") == "true" and _shown(page, form, "hint")
    page.fill(field, "abc")
    page.press(field, "Enter")
    page.wait_for_function(
        f"() => document.querySelector('#{form} .selfcheck-verdict').textContent.startsWith('Type')"
    )
    page.fill(field, "1/4")  # within the tolerance of the glued 0.25, written as a fraction
    page.press(field, "Enter")
    page.wait_for_function(f"() => document.querySelector('#{form}').dataset.state === 'right'")
    assert (
        _verdict(page, form) == "Right." and _shown(page, form, "explain") and not _shown(page, form, "hint")
    )
    assert page.get_attribute(field, "aria-invalid") == "false"
    # the forms a reader may type a number in
    parse = "(s) => window.attnbookSelfcheck.parseNumber(s)"
    for text, value in (
        ("0.25", 0.25),
        (" 1/4 ", 0.25),
        ("2^-2", 0.25),
        ("2^(-2)", 0.25),
        ("\u22120.5", -0.5),
        ("2.5e-1", 0.25),
        (".25", 0.25),
    ):
        assert page.evaluate(parse, text) == value, text
    assert page.evaluate("(s) => isNaN(window.attnbookSelfcheck.parseNumber(s))", "0.25x")
    # an exact answer: 8 is right, 8.5 is wrong (tolerance 0); the button checks too
    page.fill("#selfcheck-checks-3-value", "8.5")
    page.click("#selfcheck-checks-3 .selfcheck-check")
    assert "too large" in _verdict(page, "selfcheck-checks-3")
    page.fill("#selfcheck-checks-3-value", "8")
    page.click("#selfcheck-checks-3 .selfcheck-check")
    page.wait_for_function("() => document.querySelector('#selfcheck-checks-3').dataset.state === 'right'")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_questions_are_readable_in_both_themes(checks_page, theme):
    page, _ = checks_page
    set_theme(page, theme)
    assert page.evaluate("() => document.documentElement.dataset.theme") == theme
    page.fill("#selfcheck-checks-2-value", "1")
    page.press("#selfcheck-checks-2-value", "Enter")
    _verdict(page, "selfcheck-checks-2")
    selectors = (
        "form.attnbook-selfcheck .selfcheck-label, form.attnbook-selfcheck .selfcheck-question p, "
        "form.attnbook-selfcheck label, form.attnbook-selfcheck .selfcheck-check, "
        "form.attnbook-selfcheck .selfcheck-verdict, form.attnbook-selfcheck input[type=text], "
        ".attnbook-takeaways li"
    )
    low = [r for r in page.evaluate(CONTRAST_JS, selectors) if r["ratio"] < 4.5]
    assert not low, f"{theme}: text below 4.5:1 contrast: {low}"
    # the form itself follows the theme: a dark background in dark mode, a light one in light mode
    bg = page.evaluate(
        "() => getComputedStyle(document.querySelector('form.attnbook-selfcheck')).backgroundColor"
    )
    channels = [int(c) for c in bg[bg.index("(") + 1 : bg.index(")")].split(",")[:3]]
    assert (sum(channels) / 3 < 80) == (theme == "dark"), bg


def test_no_serious_axe_violation_in_the_questions(checks_page):
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:  # pragma: no cover - the test dependency group installs it
        pytest.skip("axe-playwright-python is not installed")
    page, _ = checks_page
    for theme in ("light", "dark"):
        set_theme(page, theme)
        result = (
            Axe()
            .run(
                page,
                context={"include": [["form.attnbook-selfcheck"], [".attnbook-takeaways"]]},
                options={"resultTypes": ["violations"], "preload": False},
            )
            .response
        )
        bad = [
            (v["id"], v["impact"], v["help"])
            for v in result["violations"]
            if v["impact"] in ("critical", "serious")
        ]
        assert not bad, (theme, bad)
