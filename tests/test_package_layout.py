"""The package's import rules (DESIGN.md §6): imports point down only; viz never runs a model or an experiment."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "attnbook"
# What a figure module may not import: anything that computes results (models, training, experiments).
VIZ_FORBIDDEN = (
    "model",
    "experiments",
    "train",
    "runs",
    "attention",
    "layers",
    "pretrained",
    "sample",
    "stats",
)


def attnbook_imports(path: Path) -> set[str]:
    """Absolute names of the attnbook modules one file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["attnbook", *path.relative_to(PACKAGE).parts[:-1]]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("attnbook")}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            if mod.startswith("attnbook"):
                out.add(mod)
                out |= {f"{mod}.{a.name}" for a in node.names}
    return out


# Figure modules not yet split into payload / layout / callback (issue 10). Remove a name when its module is.
NOT_YET: set[str] = set()


def _viz_modules():
    for path in sorted((PACKAGE / "viz").glob("*.py")):
        marks = (
            [pytest.mark.xfail(strict=True, reason="not yet split (issue 10)")]
            if path.stem in NOT_YET
            else []
        )
        yield pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", _viz_modules())
def test_viz_imports_no_computation(path):
    bad = sorted(
        m
        for m in attnbook_imports(path)
        if any(m == f"attnbook.{f}" or m.startswith(f"attnbook.{f}.") for f in VIZ_FORBIDDEN)
    )
    assert not bad, f"attnbook/viz/{path.name} imports {bad}: compute results outside viz and pass them in"


def test_the_rule_is_checked_on_real_imports(tmp_path):
    (tmp_path / "viz").mkdir()
    f = tmp_path / "viz" / "x.py"
    f.write_text("from ..model import forward\nfrom .kit import grid_source\nimport attnbook.train\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path
    try:
        assert attnbook_imports(f) >= {"attnbook.model", "attnbook.model.forward", "attnbook.train"}
    finally:
        PACKAGE = saved
