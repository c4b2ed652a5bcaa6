"""Fixtures of the real-browser tests (one headless Chromium per session, a local server for the built book)
and the terminal summary of widget latencies and page weights, also written to ``test-results/``.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from _bokeh import StaticServer, book_root, launch_chromium, unavailable

SLOW_MS = 30.0  # DESIGN.md §5: every widget callback <= 30 ms (reported, never asserted)

LATENCY_KEY = pytest.StashKey[list]()
WEIGHT_KEY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def html_root() -> Path:
    return book_root()


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian Chromium for the whole session; each page gets its own context."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test dependency group installs it
        unavailable("playwright is not installed")
    pw = sync_playwright().start()
    try:
        browser = launch_chromium(pw)
    except BaseException:
        pw.stop()
        raise
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture(scope="session")
def book_server(html_root):
    with StaticServer(html_root) as server:
        yield server


@pytest.fixture(scope="session")
def latency_log(pytestconfig) -> list:
    return pytestconfig.stash.setdefault(LATENCY_KEY, [])


@pytest.fixture(scope="session")
def weight_log(pytestconfig) -> list:
    return pytestconfig.stash.setdefault(WEIGHT_KEY, [])


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.1f}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    latencies = config.stash.get(LATENCY_KEY, [])
    weights = config.stash.get(WEIGHT_KEY, [])
    if not latencies and not weights:
        return
    out_dir = config.rootpath / "test-results"
    out_dir.mkdir(exist_ok=True)
    tr = terminalreporter
    if latencies:
        (out_dir / "latency.json").write_text(json.dumps(latencies, indent=1), encoding="utf-8")
        tr.section("widget latency (action -> first change of the figure; callback = CustomJS run time)")
        tr.write_line(
            f"{'page':<48} {'via':<5} {'n':>4} {'median ms':>10} {'max ms':>8} {'max callback ms':>16}"
        )
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in latencies:
            groups.setdefault((r["page"], r["protocol"]), []).append(r)
        for (page, protocol), rs in sorted(groups.items()):
            ms = [r["ms"] for r in rs if r["ms"] is not None]
            cb = [r["callback_ms"] for r in rs if r.get("callback_ms") is not None]
            tr.write_line(
                f"{page:<48} {protocol:<5} {len(rs):>4} {_fmt(statistics.median(ms) if ms else None):>10} "
                f"{_fmt(max(ms) if ms else None):>8} {_fmt(max(cb) if cb else None):>16}"
            )
        slow = [r for r in latencies if max(r["ms"] or 0, r.get("callback_ms") or 0) > SLOW_MS]
        if slow:
            tr.write_line(f"over the {SLOW_MS:.0f} ms budget:", yellow=True)
            for r in slow:
                tr.write_line(
                    f"  {r['page']} [{r['protocol']}] {r['type']} '{r['widget']}' {r['action']}: "
                    f"{_fmt(r['ms'])} ms to first change, callback {_fmt(r.get('callback_ms'))} ms",
                    yellow=True,
                )
        else:
            tr.write_line(f"every widget action is within the {SLOW_MS:.0f} ms budget")
        notes = {(r["page"], r["type"], r["widget"], r["note"]) for r in latencies if r.get("note")}
        if notes:
            tr.write_line("state-dependent widgets (had an effect only after another control moved):")
            for page, typ, name, note in sorted(notes):
                tr.write_line(f"  {page}: {typ} '{name}': {note}")
        tr.write_line(f"written to {out_dir / 'latency.json'}")
    if weights:
        (out_dir / "page_weight.json").write_text(json.dumps(weights, indent=1), encoding="utf-8")
        tr.section("chapter page weight (HTML + page-specific assets; BokehJS, MathJax, theme excluded)")
        for w in sorted(weights, key=lambda w: w["page"]):
            tr.write_line(
                f"{w['page']:<48} {w['total_bytes'] / 1e6:7.3f} MB  "
                f"(html {w['html_bytes'] / 1e6:.3f} MB, assets {w['asset_bytes'] / 1e6:.3f} MB)"
            )
        tr.write_line(f"written to {out_dir / 'page_weight.json'}")
