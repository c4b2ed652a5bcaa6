"""Every widget of every figure of every page is moved in headless Chromium and the figure is seen to change.

The driver is generic (``tests/browser/_bokeh.py``): it walks ``doc.all_models`` of each
``Bokeh.documents[i]``, picks the controls (sliders, range sliders, selects, radio and checkbox groups,
toggles, switches, buttons, text and autocomplete inputs, spinners/numeric inputs, tabs, dropdowns) and moves
each through real Bokeh property changes (``model.value = v``) or a real DOM click on a button. Before each
action it fingerprints the document (a hash of every property of every model except the widget being moved:
ColumnDataSource data with its typed arrays, Div/Paragraph text, axis ``major_label_overrides``, ticker
ticks, colour-mapper ``low``/``high``, titles, ranges, visibility, ...), then polls inside the page until the
fingerprint differs (2 s at most) and records the latency from the action to the first change, measured with
``performance.now()`` and the models' change signals, and how long each CustomJS callback ran.

Conventions the book follows so this works without per-chapter code:

* a widget that changes nothing is a bug. If it only has an effect in some state (e.g. a window slider that
  matters only in "local" mask mode), the driver looks for that state by moving one other control and reports
  the widget as state-dependent instead of failing;
* a widget whose ``name`` ends with ``-nochange`` is exempt from the change check (it is still moved, so its
  errors still count). Avoid needing it;
* a Toggle or Button whose ``name`` contains ``play`` is a play control: pressed, left running 600 ms (the
  figure must change), pressed again (the figure must then stand still);
* a disabled widget is moved in the first state (reached by moving one other control) where it is enabled.

Timing is recorded in ``test-results/latency.json`` and summarised in the terminal; it is never asserted.
"""

from __future__ import annotations

import pytest
from _bokeh import (
    HTML_ROOT,
    allowed_prefixes,
    book_root,
    drive_widgets,
    failed_actions,
    figure_pages,
    model_inventory,
    open_page,
    page_url,
    wait_for_book_page,
)

FIGURE_PAGES = figure_pages(HTML_ROOT)


def _params(protocols: tuple[str, ...]) -> list:
    if not FIGURE_PAGES:  # not built yet, or no figure anywhere: one placeholder that explains
        return [pytest.param(None, proto, id=f"{proto}:no-figure-pages") for proto in protocols]
    return [pytest.param(p, proto, id=f"{proto}:{p}") for p in FIGURE_PAGES for proto in protocols]


def _open(chromium, request, rel: str, protocol: str):
    server = request.getfixturevalue("book_server").url if protocol == "http" else None
    return open_page(chromium, page_url(rel, protocol, server, HTML_ROOT), allowed_prefixes(protocol, server))


def _require_page(rel):
    root = book_root()
    if rel is None:
        pytest.fail(f"the book at {root} has no page with an attnbook figure", pytrace=False)


@pytest.mark.browser
@pytest.mark.parametrize(("rel", "protocol"), _params(("http", "file")))
def test_every_widget_changes_its_figure(rel, protocol, chromium, request, latency_log):
    _require_page(rel)
    with _open(chromium, request, rel, protocol) as (page, report):
        wait_for_book_page(page, report)
        results = drive_widgets(page)
        page.wait_for_timeout(100)
        problems = report.problems()

    for r in results:
        if r.get("ms") is not None or r.get("callback_ms") is not None:
            latency_log.append(
                {
                    "page": rel,
                    "protocol": protocol,
                    "widget": r["widget"],
                    "type": r["type"],
                    "action": r["action"],
                    "ms": r["ms"],
                    "settle_ms": r.get("settle_ms"),
                    "callback_ms": r.get("callback_ms"),
                    "n_callbacks": r.get("n_callbacks"),
                    "note": r.get("note"),
                }
            )
    bad = failed_actions(results)
    assert not bad, f"{rel} [{protocol}]: widgets that failed:\n  " + "\n  ".join(bad)
    assert not problems, "while driving the widgets:\n" + report.describe()


@pytest.mark.browser
@pytest.mark.parametrize(("rel", "protocol"), _params(("http",)))
def test_every_widget_and_source_is_named(rel, protocol, chromium, request):
    _require_page(rel)
    with _open(chromium, request, rel, protocol) as (page, report):
        wait_for_book_page(page, report)
        models = model_inventory(page)
    unnamed = [f"document {m['doc']}: {m['type']} {m['id']}" for m in models if not m["name"].strip()]
    assert not unnamed, f"{rel}: widgets/ColumnDataSources without a name:\n  " + "\n  ".join(unnamed)
    seen: dict[tuple[int, str], str] = {}
    duplicates = []
    for m in models:
        key = (m["doc"], m["name"])
        if key in seen:
            duplicates.append(f"document {m['doc']}: '{m['name']}' on {seen[key]} and {m['type']}")
        seen[key] = m["type"]
    # Bokeh's get_model_by_name throws when a name is shared, so tests could not find these models.
    assert not duplicates, f"{rel}: names used twice in one document:\n  " + "\n  ".join(duplicates)
