"""The figure contract: controls and axes, pick, shipping a payload and reading it back, the JS module loader."""

import re
import shutil
import subprocess
from typing import NamedTuple

import numpy as np
import pytest

from attnbook.viz.core import JS_DIR, js_callback, js_module
from attnbook.viz.figure import (
    Control,
    axis_index,
    check_payload,
    figure_module,
    payload_from_data,
    payload_source,
    pick,
)


class Demo(NamedTuple):
    controls: tuple
    axes: dict
    grid: np.ndarray  # (3, 2, 4)
    labels: list  # (2,)
    fixed: np.ndarray


def demo():
    controls = (Control("step", (0, 1, 2)), Control("mode", ("a", "b")))
    grid = np.arange(24, dtype=np.float32).reshape(3, 2, 4)
    return Demo(controls, {"grid": ("step", "mode"), "labels": ("mode",)}, grid, ["A", "B"], np.ones(2))


def test_pick_indexes_the_leading_axes_by_control_values():
    p = demo()
    np.testing.assert_array_equal(pick(p, "grid", {"step": 2, "mode": "b"}), p.grid[2, 1])
    assert pick(p, "labels", {"mode": "b"}) == "B"
    assert pick(p, "fixed", {}) is p.fixed
    assert pick(p, "grid", {"step": 2.0, "mode": "a"})[0] == 16  # a slider's 2.0 is 2


def test_pick_and_axis_index_name_what_is_wrong():
    p = demo()
    with pytest.raises(ValueError, match="step"):
        pick(p, "grid", {"mode": "a"})
    with pytest.raises(ValueError, match="mode must be one of"):
        pick(p, "grid", {"step": 0, "mode": "c"})
    with pytest.raises(ValueError, match="field"):
        pick(p, "nope", {})
    assert axis_index(Control("on", (False, True), "active"), True) == 1
    with pytest.raises(ValueError):
        axis_index(Control("n", (0, 1)), True)  # a bool is not the number 1


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (lambda p: p._replace(grid=np.zeros((2, 2, 4))), "leading shape"),
        (lambda p: p._replace(axes={"grid": ("speed",)}), "unknown controls"),
        (lambda p: p._replace(axes={"gird": ("step",)}), "not a field"),
        (lambda p: p._replace(controls=(Control("a", (1,)), Control("a", (2,)))), "once"),
    ],
)
def test_check_payload(bad, match):
    check_payload(demo())
    with pytest.raises(ValueError, match=match):
        check_payload(bad(demo()))
    with pytest.raises(TypeError, match="NamedTuple"):
        check_payload({"controls": ()})


def test_payload_round_trips_through_the_page_encoding():
    source = payload_source(demo(), name="demo")
    assert source.name == "demo-payload" and source.tags == [f"{__name__}:Demo"]
    # what the browser harness reads back: typed arrays as {__ndarray__, dtype, shape}
    page = {}
    for key, (value,) in source.data.items():
        if isinstance(value, np.ndarray):
            value = {
                "__ndarray__": value.ravel().tolist(),
                "dtype": str(value.dtype),
                "shape": list(value.shape),
            }
        page[key] = [value]
    back = payload_from_data(Demo, page)
    assert back.controls == demo().controls
    np.testing.assert_array_equal(back.grid, demo().grid)
    assert back.grid.dtype == np.float32 and back.labels == ["A", "B"]


def test_figure_module_resolves_tags_only_inside_attnbook_viz():
    module, cls = figure_module("attnbook.viz.masks:MasksPayload")
    assert cls.__name__ == "MasksPayload" and callable(cls.view) and module.__name__ == "attnbook.viz.masks"
    with pytest.raises(ValueError, match="tag"):
        figure_module("os:system")


def test_js_module_inlines_the_shared_library_and_refuses_other_imports(tmp_path, monkeypatch):
    code = js_module("masks_update")
    assert not re.search(r"^import", code, re.M) and "const pick = " in code and "export default" in code
    assert "export const" not in code  # the library's exports became plain constants
    monkeypatch.setattr("attnbook.viz.core.JS_DIR", tmp_path)
    (tmp_path / "lib.mjs").write_text((JS_DIR / "lib.mjs").read_text())
    (tmp_path / "remote.mjs").write_text(
        'import x from "https://cdn.example/x.mjs"\nexport default () => x\n'
    )
    with pytest.raises(ValueError, match="only local modules"):
        js_module("remote")
    with pytest.raises(ValueError, match="name"):
        js_callback("lib")


def test_every_callback_imports_only_the_library():
    for path in JS_DIR.glob("*.mjs"):
        if path.stem != "lib":
            js_module(path.stem)  # raises on any other import


def test_js_module_inlines_nested_local_modules_once(tmp_path, monkeypatch):
    monkeypatch.setattr("attnbook.viz.core.JS_DIR", tmp_path)
    (tmp_path / "runtime").mkdir()
    (tmp_path / "lib.mjs").write_text("export const one = () => 1\n")
    (tmp_path / "runtime" / "gpt.mjs").write_text(
        'import {one} from "../lib.mjs"\nexport function two() { return one() + 1 }\n'
    )
    (tmp_path / "cb.mjs").write_text(
        'import {one} from "./lib.mjs"\nimport {two} from "./runtime/gpt.mjs"\nexport default () => one() + two()\n'
    )
    code = js_module("cb")
    assert code.count("const one = ") == 1 and "function two()" in code and "export function" not in code
    (tmp_path / "bad.mjs").write_text('import {x} from "../../etc/passwd.mjs"\nexport default () => x\n')
    with pytest.raises(ValueError, match="not a module"):
        js_module("bad")


def test_indexed_fields_may_be_ragged_below_their_axes():
    p = demo()._replace(labels=[["a", "b", "c"], ["d"]], axes={"grid": ("step", "mode"), "labels": ("mode",)})
    check_payload(p)
    assert pick(p, "labels", {"mode": "a"}) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="leading shape"):
        check_payload(p._replace(labels=[["a"]]))


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to parse JavaScript")
def test_every_callback_parses_once_its_modules_are_inlined(tmp_path):
    """A callback's own names must not clash with the inlined library's (a clash is a SyntaxError in the page)."""
    bad = []
    for path in sorted(JS_DIR.glob("*.mjs")):
        if path.stem == "lib":
            continue
        out = tmp_path / f"{path.stem}.mjs"
        out.write_text(js_module(path.stem), encoding="utf-8")
        r = subprocess.run(["node", "--check", str(out)], capture_output=True, text=True)
        if r.returncode:
            bad.append(
                f"{path.name}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}"
            )
    assert not bad, "\n".join(bad)


def test_seed_labels():
    from attnbook.viz.figure import seed_labels

    assert seed_labels(None, 0, "runs") == ("",)
    assert seed_labels(["seed 0", "seed 1"], 1, "runs") == ("seed 0", "seed 1")
    with pytest.raises(ValueError, match="seeds must label every seed"):
        seed_labels(None, 2, "runs")
    with pytest.raises(ValueError, match=r"seeds must be 2 distinct labels \(runs and others\)"):
        seed_labels(["a", "a"], 1, "runs and others")
    with pytest.raises(ValueError, match="seeds must be 3 distinct"):
        seed_labels(["a", "b"], 2, "runs")
    with pytest.raises(TypeError, match="seeds must be a sequence of str"):
        seed_labels("ab", 1, "runs")
