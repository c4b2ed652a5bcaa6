"""The numbers on screen are the Python numbers: every figure's widgets are moved in Chromium and its displayed
data compared with ``view(payload, state)`` of its module (see ``_numbers.py``), and the check is shown to bite.
"""

from __future__ import annotations

import numpy as np
import pytest
from _bokeh import (
    HTML_ROOT,
    allowed_prefixes,
    figure_pages,
    open_book_page,
    open_page,
    wait_for_book_page,
)
from _numbers import check_figure, payload_figures
from _standalone import write_figure_page

import attnbook.viz.core as core
from attnbook.experiments.masks import mask_sweep
from attnbook.viz.masks import masks_figure

PAGES = figure_pages(HTML_ROOT)


@pytest.mark.browser
@pytest.mark.parametrize("rel", PAGES or [None])
def test_figures_show_the_python_numbers(rel, chromium, book_server, latency_log):
    with open_book_page(chromium, rel, book_server.url) as (page, report):
        failures = []
        for fig in payload_figures(page):
            result = check_figure(page, fig["doc"], fig["name"], fig["tag"])
            assert result["states"] >= 3
            failures += [f"{fig['name']}: {m}" for m in result["mismatches"]]
        problems = report.problems()
    assert not failures, f"{rel}: the page shows other numbers than Python:\n" + "\n".join(failures)
    assert not problems, report.describe()


def _masks_page(tmp_path, monkeypatch, mutate=None):
    rng = np.random.default_rng(0)
    T, C = 6, 4
    tokens = [f"w{i}" for i in range(T)]
    sweep = mask_sweep(
        tokens,
        rng.standard_normal((T, C)),
        *rng.standard_normal((3, C, C)),
        rng.standard_normal(C),
        max_global=2,
    )
    if mutate is not None:
        original = core.js_module
        monkeypatch.setattr(core, "js_module", lambda name: mutate(original(name)))
    return write_figure_page(masks_figure(sweep), tmp_path / "masks.html")


def _check_standalone(chromium, path):
    with open_page(chromium, path.as_uri(), allowed_prefixes("file", None)) as (page, report):
        wait_for_book_page(page, report)
        (fig,) = payload_figures(page)
        result = check_figure(page, fig["doc"], fig["name"], fig["tag"], timeout_s=0.5)
        return result, report.problems()


@pytest.mark.browser
def test_the_check_passes_on_the_real_callback(chromium, tmp_path, monkeypatch):
    result, problems = _check_standalone(chromium, _masks_page(tmp_path, monkeypatch))
    assert result["states"] >= 4 * 3 and not result["mismatches"] and not problems


MUTATIONS = {
    # an off-by-one in one callback module: each cell shows its right neighbour's weight
    "callback reads the next cell": ("weight[c] = weights[c]", "weight[c] = weights[c + 1]"),
    # an off-by-one in the shared state lookup: the slider's next setting is shown
    "lookup picks the next state": (
        "offset * shape[a] + idx[a]",
        "offset * shape[a] + Math.min(idx[a] + 1, shape[a] - 1)",
    ),
}


@pytest.mark.browser
@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_the_check_catches_an_off_by_one(mutation, chromium, tmp_path, monkeypatch):
    old, new = MUTATIONS[mutation]
    hits = []

    def mutate(code):  # every callback module passes here (the figure's, and kit.fit's layout callbacks)
        hits.append(old in code)
        return code.replace(old, new)

    page = _masks_page(tmp_path, monkeypatch, mutate)
    assert any(hits), f"mutation target {old!r} not found: the test needs updating"
    result, _ = _check_standalone(chromium, page)
    assert result["mismatches"], f"the numbers check missed the mutation '{mutation}'"
