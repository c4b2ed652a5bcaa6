"""The numbers on screen, checked: move a figure's widgets in the page and compare what its displayed models hold
with what the Python side says the figure shows in that state.

A figure built on :mod:`attnbook.viz.figure` ships its payload as a source named ``<name>-payload`` tagged with
its module. For each such figure this module reads the payload back from the page, rebuilds the NamedTuple,
drives a sample of widget states (for every control its first, middle and last value, the others held, then a
few seeded joint states), and after each one compares the page with ``payload.view(state)``:
integers and labels exactly, floats to ``1e-6``. The state compared is the one the widgets hold once the page
has settled (a callback may move a widget itself), so the check follows the figure's own rules.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from attnbook.viz.figure import Control, axis_index, figure_module, payload_from_data

RTOL = 1e-6
ATOL = 1e-6

NUMBERS_JS = r"""
(() => {
  if (window.__attnbookNumbers) return;
  const N = {};
  window.__attnbookNumbers = N;
  // By base class: Bokeh's own array classes (Uint8NDArray...) extend these, under minified names.
  const DTYPES = [[Float32Array, "float32"], [Float64Array, "float64"], [Int8Array, "int8"], [Uint8Array, "uint8"],
    [Int16Array, "int16"], [Uint16Array, "uint16"], [Int32Array, "int32"], [Uint32Array, "uint32"],
    [Uint8ClampedArray, "uint8"]];
  const dtypeOf = (v) => (DTYPES.find(([T]) => v instanceof T) ?? [null, "float64"])[1];
  const isModel = (v) => v != null && typeof v === "object" && typeof v.id === "string"
    && typeof v.syncable_properties === "function";
  // A value as plain data Playwright can return: typed arrays keep dtype and shape, Maps become objects.
  N.plain = (v, depth = 0) => {
    if (depth > 12) return "<too deep>";
    if (ArrayBuffer.isView(v)) {
      const shape = Array.isArray(v.shape) ? v.shape : [v.length];
      return {__ndarray__: Array.from(v), dtype: dtypeOf(v), shape};
    }
    if (isModel(v)) return {__model__: v.name ?? v.id};
    if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), N.plain(x, depth + 1)]));
    if (Array.isArray(v)) return v.map((x) => N.plain(x, depth + 1));
    if (v != null && typeof v === "object") {
      const out = {};
      for (const k of Object.keys(v)) out[k] = N.plain(v[k], depth + 1);
      return out;
    }
    return v;
  };
  N.doc = (i) => Bokeh.documents[i];
  N.model = (i, name) => {
    const m = N.doc(i).get_model_by_name(name);
    if (m == null) throw new Error(`no model named "${name}" in document ${i}`);
    return m;
  };
  N.payloads = () => {
    const out = [];
    Bokeh.documents.forEach((doc, i) => {
      for (const m of doc.all_models)
        if (typeof m.name === "string" && m.name.endsWith("-payload") && m.data !== undefined)
          out.push({doc: i, name: m.name.slice(0, -"-payload".length), tag: (m.tags ?? [])[0] ?? null});
    });
    return out;
  };
  N.payload = (i, name) => N.plain(N.model(i, `${name}-payload`).data);
  // Read attributes of models: {modelName: [attr, ...]}; a source's attributes are its columns.
  N.read = (i, wanted) => {
    const out = {};
    for (const [name, attrs] of Object.entries(wanted)) {
      const m = N.model(i, name);
      const vals = {};
      for (const a of attrs) {
        let v;
        if (m.data !== undefined && !a.includes(".") && a !== "data") v = m.data[a];
        else v = a.split(".").reduce((o, k) => (o == null ? undefined : o[k]), m);
        vals[a] = N.plain(v);
      }
      out[name] = vals;
    }
    return out;
  };
  N.set = (i, name, attr, value) => { N.model(i, name)[attr] = value; };
  N.get = (i, name, attr) => N.plain(N.model(i, name)[attr]);
  N.idle = (i) => N.doc(i).is_idle;
})();
"""


def install(page) -> None:
    page.evaluate(NUMBERS_JS)


def payload_figures(page) -> list[dict]:
    """Every figure in the page that ships a payload: ``{doc, name, tag}``."""
    install(page)
    return page.evaluate("() => __attnbookNumbers.payloads()")


def sample_states(
    controls: tuple[Control, ...], start: Mapping, seed: int = 0, n_joint: int = 4
) -> list[dict]:
    """Widget states to visit: each control at its first, middle and last value (others at ``start``),
    then ``n_joint`` states with every control drawn at random (seeded)."""
    states = []
    for c in controls:
        n = len(c.values)
        for i in sorted({0, n // 2, n - 1}):
            states.append({**start, c.widget: c.values[i]})
    rng = np.random.default_rng(seed)
    for _ in range(n_joint):
        states.append({c.widget: c.values[int(rng.integers(len(c.values)))] for c in controls})
    return states


def _to_js(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _arrays(value):
    """Typed arrays read from the page (``{"__ndarray__", "dtype", "shape"}``), also inside lists, as ndarrays."""
    if isinstance(value, Mapping) and "__ndarray__" in value:
        return np.asarray(value["__ndarray__"], dtype=value["dtype"]).reshape(value["shape"])
    if isinstance(value, list):
        return [_arrays(v) for v in value]
    return value


def differences(expected, actual, where: str) -> list[str]:
    """Where ``actual`` (read from the page) differs from ``expected`` (Python): floats to 1e-6, the rest exactly."""
    actual = _arrays(actual)
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{where}: expected a mapping, got {type(actual).__name__}"]
        out = []
        for k, v in expected.items():
            key = str(k)
            if key not in actual:
                out.append(f"{where}[{key!r}]: missing on the page")
            else:
                out += differences(v, actual[key], f"{where}[{key!r}]")
        extra = set(actual) - {str(k) for k in expected}
        if extra:
            out.append(f"{where}: unexpected keys on the page {sorted(extra)[:5]}")
        return out
    exp = np.asarray(expected) if not isinstance(expected, str) else expected
    if (
        isinstance(exp, np.ndarray)
        and exp.dtype.kind in "fiub"
        and exp.dtype.kind != "b"
        or isinstance(expected, (int, float))
        and not isinstance(expected, bool)
    ):
        exp = np.asarray(expected, dtype=np.float64)
        try:
            act = np.asarray(actual, dtype=np.float64)
        except (TypeError, ValueError):
            return [f"{where}: expected numbers, got {str(actual)[:80]}"]
        if act.size == exp.size and act.shape != exp.shape:
            act = act.reshape(exp.shape)
        if act.shape != exp.shape:
            return [f"{where}: shape {act.shape} on the page, {exp.shape} expected"]
        exact = np.asarray(expected).dtype.kind in "iu" if not isinstance(expected, float) else False
        ok = (
            np.array_equal(act, exp, equal_nan=True)
            if exact
            else np.allclose(act, exp, rtol=RTOL, atol=ATOL, equal_nan=True)
        )
        if ok:
            return []
        bad = np.argwhere(~np.isclose(act, exp, rtol=RTOL, atol=ATOL, equal_nan=True))
        first = tuple(int(i) for i in bad[0]) if bad.size else ()
        return [
            f"{where}: {len(bad)} value(s) differ; first at {first}: page {act[first] if first else act} "
            f"vs Python {exp[first] if first else exp}"
        ]
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: page holds {str(actual)[:120]}, Python {list(expected)[:10]}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out += differences(e, a, f"{where}[{i}]")
            if len(out) > 3:
                break
        return out
    return (
        [] if expected == actual else [f"{where}: page {str(actual)[:120]!r}, Python {str(expected)[:120]!r}"]
    )


def _wanted(view: Mapping, name: str) -> dict[str, list[str]]:
    return {f"{name}-{model}": list(attrs) for model, attrs in view.items()}


def check_figure(page, doc: int, name: str, tag: str, *, seed: int = 0, timeout_s: float = 3.0) -> dict:
    """Drive one figure's sampled states; return ``{"states": n, "mismatches": [...], "ms": [...]}``."""
    install(page)
    _, cls = figure_module(tag)
    payload = payload_from_data(
        cls, page.evaluate("([d, n]) => __attnbookNumbers.payload(d, n)", [doc, name])
    )
    controls = payload.controls

    def current_state() -> dict:
        return {
            c.widget: page.evaluate(
                "([d, n, a]) => __attnbookNumbers.get(d, n, a)", [doc, f"{name}-{c.widget}", c.attr]
            )
            for c in controls
        }

    start = current_state()
    mismatches: list[str] = []
    timings: list[float] = []
    states = [start, *sample_states(controls, start, seed=seed)]
    for target in states:
        t0 = time.perf_counter()
        for c in controls:
            page.evaluate(
                "([d, n, a, v]) => __attnbookNumbers.set(d, n, a, v)",
                [doc, f"{name}-{c.widget}", c.attr, _to_js(target[c.widget])],
            )
        deadline = time.perf_counter() + timeout_s
        while True:
            page.wait_for_function("(d) => __attnbookNumbers.idle(d)", arg=doc)
            state = current_state()
            for c in controls:  # a value the page holds must be one the payload covers
                axis_index(c, state[c.widget])
            expected = payload.view(state)
            actual = page.evaluate("([d, w]) => __attnbookNumbers.read(d, w)", [doc, _wanted(expected, name)])
            diffs = []
            for model, attrs in expected.items():
                for attr, value in attrs.items():
                    diffs += differences(value, actual[f"{name}-{model}"][attr], f"{name}-{model}.{attr}")
            if not diffs:
                timings.append(1000 * (time.perf_counter() - t0))
                break
            if time.perf_counter() > deadline:
                mismatches.append(f"state {state}:\n    " + "\n    ".join(diffs[:6]))
                break
            page.wait_for_timeout(25)
    return {"states": len(states), "mismatches": mismatches, "ms": timings}


def main(argv=None) -> int:
    """``python tests/browser/_numbers.py page.html``: run the numbers check on every figure of one page."""
    import argparse
    from pathlib import Path

    from _bokeh import BROWSER_ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description="Check the numbers of every figure in one HTML page.")
    parser.add_argument("page", type=Path)
    args = parser.parse_args(argv)
    bad = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(args.page.resolve().as_uri())
        page.wait_for_function(
            "() => window.Bokeh && Bokeh.documents.length && Bokeh.documents.every(d => d.is_idle)"
        )
        figures = payload_figures(page)
        n_docs = page.evaluate("() => Bokeh.documents.length")
        print(f"{n_docs} Bokeh document(s), {len(figures)} with a payload")
        for fig in figures:
            r = check_figure(page, fig["doc"], fig["name"], fig["tag"])
            status = "ok" if not r["mismatches"] else "MISMATCH"
            print(f"  {fig['name']}: {r['states']} states, {status}")
            for m in r["mismatches"]:
                print("    " + m.replace("\n", "\n    "))
            bad += bool(r["mismatches"])
        for e in errors:
            print(f"  page error: {e}")
        browser.close()
    return 1 if bad or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
