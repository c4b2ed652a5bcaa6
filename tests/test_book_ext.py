"""The book's Sphinx extension: chapter cache keys follow the attnbook modules a chapter uses, and rebuilds reuse."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK / "_ext"))
ext = importlib.import_module("attnbook_offline")

CHAPTER_MASKS = "```{code-cell} ipython3\nfrom attnbook.masks import causal\n```\n"
CHAPTER_VIZ = "```{code-cell} ipython3\nfrom attnbook.viz import show\n```\n"


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A private copy of the attnbook sources that the extension hashes instead of the real ones."""
    copy = tmp_path / "attnbook"
    shutil.copytree(ROOT / "attnbook", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(ext, "PACKAGE", copy)
    ext._imports_of.cache_clear()
    yield copy
    ext._imports_of.cache_clear()


def test_dependencies_follow_imports_transitively(package_copy):
    files = {p.relative_to(package_copy).as_posix() for p in ext.dependency_files(CHAPTER_MASKS)}
    assert {"__init__.py", "masks.py", "_checks.py"} <= files
    assert "viz/core.py" not in files
    assert not any(f.startswith("pretrained/") for f in files)


def test_viz_chapters_depend_on_the_js_callbacks(package_copy):
    files = {p.relative_to(package_copy).as_posix() for p in ext.dependency_files(CHAPTER_VIZ)}
    assert "viz/js/attention_steps.mjs" in files
    assert "_checks.py" in files  # followed transitively: viz.steps imports attnbook._checks
    assert "attention.py" not in files  # viz runs no model: a chapter depends on it through experiments only


def test_editing_a_used_module_changes_the_stamp_and_an_unused_one_does_not(package_copy):
    before = ext.dependency_hash(CHAPTER_MASKS)
    assert ext.dependency_hash(CHAPTER_MASKS) == before  # deterministic
    (package_copy / "pretrained" / "rollout.py").write_text("# unrelated edit\n", encoding="utf-8")
    ext._imports_of.cache_clear()
    assert ext.dependency_hash(CHAPTER_MASKS) == before
    with open(package_copy / "_checks.py", "a", encoding="utf-8") as f:
        f.write("\n# an edit to a module masks.py imports\n")
    ext._imports_of.cache_clear()
    assert ext.dependency_hash(CHAPTER_MASKS) != before


def test_the_stamp_is_a_hidden_cell_appended_to_notebook_chapters():
    source = [CHAPTER_MASKS]
    ext._stamp_chapter(None, "chapters/x", source)
    assert source[0].startswith(CHAPTER_MASKS.rstrip("\n"))
    assert ":tags: [remove-cell]" in source[0]
    assert ext.dependency_hash(CHAPTER_MASKS) in source[0]
    plain = ["# A page without code\n"]
    ext._stamp_chapter(None, "glossary", plain)
    assert plain == ["# A page without code\n"]


class _Env:
    """The part of a Sphinx BuildEnvironment the outdated-chapter hook reads."""

    def __init__(self, docs: dict[str, Path]):
        self.found_docs = set(docs)
        self._docs = docs

    def doc2path(self, docname):
        return self._docs[docname]


def test_a_chapter_is_reread_when_a_module_it_uses_changes(package_copy, tmp_path):
    chapter, page = tmp_path / "ch.md", tmp_path / "page.md"
    chapter.write_text(CHAPTER_MASKS, encoding="utf-8")
    page.write_text("# no code here\n", encoding="utf-8")
    env = _Env({"chapters/ch": chapter, "page": page})
    env.attnbook_stamps = {"chapters/ch": ext.dependency_hash(CHAPTER_MASKS)}
    assert ext._outdated_chapters(None, env, set(), set(), set()) == []
    with open(package_copy / "masks.py", "a", encoding="utf-8") as f:
        f.write("\n# edited\n")
    ext._imports_of.cache_clear()
    assert ext._outdated_chapters(None, env, set(), set(), set()) == ["chapters/ch"]
    # a chapter Sphinx already re-reads (its .md changed) is not listed twice
    assert ext._outdated_chapters(None, env, set(), {"chapters/ch"}, set()) == []


@pytest.mark.slow
def test_a_no_change_rebuild_executes_no_notebook(tmp_path):
    """Build twice into a fresh output folder sharing one execution cache: the second run executes nothing."""
    cache = tmp_path / "jupyter_cache"
    env = {**os.environ, "ATTNBOOK_JUPYTER_CACHE": str(cache)}
    # Only the step-by-step chapter, to keep this test short; the real build uses the same mechanism.
    args = [sys.executable, "-m", "sphinx", "-b", "html", "-D", "nb_execution_mode=cache"]
    book = tmp_path / "book"
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("_build", "jupyter_execute"))
    keep = {"02_attention.md"}
    for chapter in (book / "chapters").glob("*.md"):
        if chapter.name not in keep:
            chapter.unlink()
    index = book / "index.md"
    index.write_text(
        "\n".join(
            line
            for line in index.read_text(encoding="utf-8").splitlines()
            if not line.startswith("chapters/") or line.split("/")[1] + ".md" in keep
        ),
        encoding="utf-8",
    )
    first = subprocess.run(
        [*args, str(book), str(tmp_path / "out1")], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr[-3000:]
    second = subprocess.run(
        [*args, str(book), str(tmp_path / "out2")], env=env, capture_output=True, text=True
    )
    assert second.returncode == 0, second.stderr[-3000:]
    log = second.stdout + second.stderr
    assert "Executing notebook" in first.stdout + first.stderr
    assert "Executing notebook" not in log
    assert log.count("Using cached notebook") == len(keep)


def test_the_chapter_hash_covers_the_js_modules_its_callbacks_import():
    source = "```{code-cell} ipython3\nfrom attnbook.viz.masks import masks_figure\n```\n"
    files = {p.relative_to(ext.PACKAGE).as_posix() for p in ext.dependency_files(source)}
    assert {"viz/js/masks_update.mjs", "viz/js/lib.mjs"} <= files


def test_citations_become_list_items():
    """A bibliography's entries get the role its list needs (axe-core's aria-required-children is critical)."""
    body = '<div role="list" class="citation-list">\n<div class="citation" id="id1" role="doc-biblioentry">x</div>'
    context = {"body": body}
    ext._citation_roles(None, "references", "page.html", context, None)
    assert 'role="doc-biblioentry"' not in context["body"] and 'id="id1" role="listitem"' in context["body"]
    untouched = {"body": "<p>no citations</p>"}
    ext._citation_roles(None, "index", "page.html", untouched, None)
    assert untouched == {"body": "<p>no citations</p>"}


def test_the_theme_modules_count_in_every_figure_chapters_hash():
    """show() attaches js/theme.mjs (which imports js/colors.mjs) to every figure: editing them re-executes."""
    files = {p.name for p in ext.dependency_files(CHAPTER_VIZ)}
    assert {"theme.mjs", "colors.mjs", "core.py"} <= files


# --- self-checks and takeaways (book/_ext/attnbook_selfcheck.py) ------------------------------------------
selfcheck_ext = importlib.import_module("attnbook_selfcheck")


@pytest.fixture(scope="module")
def selfcheck_site(tmp_path_factory):
    """The tiny project of tests/_selfcheck_page.py, built once with -W (executes one glue cell)."""
    from _selfcheck_page import build, write_project

    root = tmp_path_factory.mktemp("selfcheck")
    result = build(write_project(root / "src"), root / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "out"


def _forms(html: str) -> list[str]:
    return re.findall(r"<form class=\"attnbook-selfcheck\".*?</form>", html, flags=re.S)


@pytest.mark.slow
def test_selfcheck_renders_native_controls_with_the_answer(selfcheck_site):
    html = (selfcheck_site / "checks.html").read_text(encoding="utf-8")
    choice, glued, literal = _forms(html)
    assert 'data-kind="choice"' in choice and 'data-answer="2"' in choice
    assert choice.count('type="radio"') == 3 and choice.count("<label for=") == 3
    assert 'role="radiogroup" aria-labelledby="selfcheck-checks-1-question"' in choice
    # an option with maths is named by its source text (it has no text until MathJax runs); plain ones by their label
    assert 'value="3" aria-label="3 (three)">' in choice and choice.count("aria-label=") == 1
    assert '<button type="submit"' in choice and 'aria-live="polite"' in choice
    # the hint and the explanation are in the page, hidden until the reader checks an answer
    assert '<div class="selfcheck-hint" hidden>' in choice and "<em>letters</em>" in choice
    assert '<div class="selfcheck-explain" hidden>' in choice
    # a number question's answer comes from the notebook's glue; the label states the tolerance
    assert (
        'data-kind="number"' in glued and 'data-answer="0.25"' in glued and 'data-tolerance="0.01"' in glued
    )
    assert "Your answer (within ±0.01)" in glued and 'inputmode="decimal"' in glued
    assert 'data-answer="8"' in literal and "within" not in literal and "selfcheck-explain" not in literal
    # ids are unique on the page
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


@pytest.mark.slow
def test_takeaways_box_and_script_only_where_needed(selfcheck_site):
    html = (selfcheck_site / "checks.html").read_text(encoding="utf-8")
    assert '<p class="admonition-title">Key takeaways</p>' in html and "attnbook-takeaways" in html
    assert re.search(r'<script defer="defer" src="_static/attnbook-selfcheck\.js', html)
    assert (selfcheck_site / "_static" / "attnbook-selfcheck.js").is_file()
    assert "attnbook-selfcheck.js" not in (selfcheck_site / "plain.html").read_text(encoding="utf-8")


BAD_CHECKS = """# Bad

```{selfcheck}
:answer: 5

Out of range?

- a
- b
```

```{selfcheck}
A number question without an answer?
```

```{selfcheck}
:glue: nowhere

Glued from a page that glued nothing?
```

```{selfcheck}
:answer: two

Not a number?
```

```{selfcheck}
:answer: 1
:tolerance: 0.5

Tolerance on a choice?

- a
- b
```

```{selfcheck}
:answer: 1

- Only choices, no question.
- b
```
"""


def test_selfcheck_mistakes_fail_the_build_with_a_message(tmp_path):
    """Every authoring mistake is a warning naming it, so the book's ``sphinx-build -W`` fails."""
    from _selfcheck_page import build, write_project

    result = build(
        write_project(tmp_path / "src", page=BAD_CHECKS), tmp_path / "out", warnings_are_errors=False
    )
    log = result.stderr
    for message in (
        ":answer: must be between 1 and 2, got 5",
        "needs exactly one of :answer: and :glue:",
        "No key 'nowhere' found in glue data",
        ":answer: must be a number, got 'two'",
        ":glue: and :tolerance: belong to number questions",
        "the question is missing",
    ):
        assert message in log, (message, log[-3000:])
    strict = build(tmp_path / "src", tmp_path / "out-strict")
    assert strict.returncode != 0


def test_selfcheck_nodes_are_skipped_outside_html():
    """Builders other than HTML leave the interactive questions out instead of failing on unknown nodes."""
    with pytest.raises(selfcheck_ext.nodes.SkipNode):
        selfcheck_ext._skip(None, None)


def test_run_chapter_reports_glued_names_the_prose_uses_but_no_cell_glues():
    """scripts/run_chapter.py does not render Markdown, but it does catch a misspelt glue name (role or option)."""
    import nbformat

    spec = importlib.util.spec_from_file_location("run_chapter", ROOT / "scripts" / "run_chapter.py")
    run_chapter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_chapter)
    glued = nbformat.v4.new_code_cell("glue(...)")
    glued.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/plain": "0.25"}, metadata={"scrapbook": {"name": "quarter"}}
        )
    ]
    prose = nbformat.v4.new_markdown_cell(
        "A quarter is {glue:text}`quarter:.2f`, a half {glue}`half`.\n\n"
        "```{selfcheck}\n:glue: quarter\n\nQ?\n```\n\n```{selfcheck}\n:glue: third\n\nQ?\n```\n"
    )
    nb = nbformat.v4.new_notebook(cells=[glued, prose])
    assert run_chapter.missing_glue(nb) == [
        "the prose uses 'half', which no cell glues",
        "the prose uses 'third', which no cell glues",
    ]


@pytest.mark.parametrize("chapter", sorted((BOOK / "chapters").glob("*.md")), ids=lambda p: p.stem)
def test_every_chapter_ends_with_takeaways_and_self_checks(chapter):
    """Issue 14: each chapter ends with a "Key takeaways" box and 2-4 self-check questions the page grades
    (the {takeaways} and {selfcheck} directives of book/_ext/attnbook_selfcheck.py)."""
    text = chapter.read_text(encoding="utf-8")
    tail = text[text.rfind("\n## ") :]
    assert "```{takeaways}" in tail, f"{chapter.name}: the last section has no {{takeaways}} box"
    n = tail.count("```{selfcheck}")
    assert 2 <= n <= 4, f"{chapter.name}: the last section has {n} {{selfcheck}} questions, not 2 to 4"
