"""The shared JS number formatting writes what Python's format writes (the numbers check compares texts
exactly): ``fmt`` and ``fmtExp`` of ``js/lib.mjs`` against ``f"{x:.{d}f}"`` and ``f"{x:.{d}e}"``, in Chromium."""

from __future__ import annotations

import numpy as np
import pytest

from attnbook.viz.core import JS_DIR

# ties (exact in binary, so Python rounds them to even), near-ties that are not exact, signs, tiny and huge
SPECIAL = [
    0.0,
    1.125,
    -1.125,
    2.5,
    3.5,
    1.135,
    1.15,
    9.995,
    9.999,
    1e-5,
    1.2345e-16,
    12345.678,
    1e100,
    5e-324,
]


@pytest.mark.browser
def test_fmt_exp_writes_what_python_writes(chromium):
    rng = np.random.default_rng(0)
    xs = SPECIAL + [float(x) for x in rng.standard_normal(300) * 10.0 ** rng.integers(-20, 20, 300)]
    xs += [float(np.float32(x)) for x in rng.random(200) * 1e-3]  # float32 values, as payloads hold them
    lib = (JS_DIR / "lib.mjs").read_text(encoding="utf-8").replace("export const ", "const ")
    page = chromium.new_page()
    try:
        page.set_content("<!doctype html><html><body></body></html>")
        page.add_script_tag(content=lib + "\nwindow.__fmtExp = fmtExp\n")
        for d in range(4):
            got = page.evaluate("([xs, d]) => xs.map((x) => window.__fmtExp(x, d))", [xs, d])
            want = [f"{x:.{d}e}" for x in xs]
            bad = [(x, g, w) for x, g, w in zip(xs, got, want, strict=True) if g != w]
            assert not bad, f"digits={d}: (x, page, Python) {bad[:5]}"
    finally:
        page.close()


@pytest.mark.browser
def test_fmt_writes_what_python_writes(chromium):
    rng = np.random.default_rng(1)
    xs = SPECIAL + [-0.5, 0.5, -2.5, 0.125, -0.125, 0.375, 1 / 3, -1e-9, 0.005, 0.015, 0.025]
    xs += [float(np.float32(x)) for x in rng.standard_normal(300)]  # float32 values, as payloads hold them
    xs += [k / 8 for k in range(-40, 41)]  # exact ties at 2 digits: 0.125, 0.375, ...
    lib = (JS_DIR / "lib.mjs").read_text(encoding="utf-8").replace("export const ", "const ")
    page = chromium.new_page()
    try:
        page.set_content("<!doctype html><html><body></body></html>")
        page.add_script_tag(content=lib + "\nwindow.__fmt = fmt\n")
        for d in range(5):
            got = page.evaluate("([xs, d]) => xs.map((x) => window.__fmt(x, d))", [xs, d])
            want = [f"{x:.{d}f}" for x in xs]
            bad = [(x, g, w) for x, g, w in zip(xs, got, want, strict=True) if g != w]
            assert not bad, f"digits={d}: (x, page, Python) {bad[:5]}"
    finally:
        page.close()
