"""Sphinx extension that makes the book work offline and keeps executed chapters in step with the package.

It does three things:

* copies BokehJS (from the installed bokeh, so versions always match) and a local MathJax into ``_static``
  and adds the BokehJS script tags only to pages that contain an attnbook figure;
* appends to every chapter a hidden code cell holding a hash of the ``attnbook`` modules the chapter
  imports (and, transitively, what they import, plus the JavaScript callbacks), because jupyter-cache keys
  only on cell source: a no-change rebuild executes nothing, an edited module re-executes its chapters;
* fails the build if a page would load anything from the network;
* repairs one piece of Sphinx's markup that assistive technology rejects (citation roles, see ``_citation_roles``).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
import shutil
from functools import cache
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

FIGURE_MARKER = "data-attnbook-figure"
# The marker as an attribute of a figure's wrapper (not the word in a docstring on the API page).
FIGURE_TAG = re.compile(r"<div\b[^>]*\sdata-attnbook-figure[\s>=]")
# The attnbook the chapters will import (the editable install of this repository in the nox sessions).
PACKAGE = Path(importlib.util.find_spec("attnbook").origin).parent
BOKEH_DIR = "bokeh"
MATHJAX_DIR = "mathjax"
# What MathJax needs for TeX input and CommonHTML output; the speech-rule engine (sre/, ~15 MB) is left out.
MATHJAX_PARTS = ("tex-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors")
_CALLBACK_RE = re.compile(r"""js_callback\(\s*["'](\w+)["']""")
_JS_IMPORT_RE = re.compile(r"""^import\s*\{[^}]*\}\s*from\s*["'](\.\.?/[\w/.]+?)\.mjs["']""", re.M)
_IMPORT_RE = re.compile(r"^\s*(?:from\s+(attnbook[\w.]*)\s+import|import\s+(attnbook[\w.]*))", re.M)


# --- chapter dependency hash ---------------------------------------------------------------------------
def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    base = PACKAGE.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@cache
def _imports_of(path: Path) -> tuple[str, ...]:
    """Absolute names of the attnbook modules imported by one package file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["attnbook", *path.relative_to(PACKAGE).with_suffix("").parts]
    if path.name == "__init__.py":
        package = package[:-1]
    else:
        package = package[:-1]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.startswith("attnbook")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("attnbook"):
                names.append(mod)
                names += [f"{mod}.{a.name}" for a in node.names]
    return tuple(names)


def dependency_files(source: str) -> list[Path]:
    """Files of the attnbook package that a chapter's source depends on (transitive closure)."""
    todo = ["attnbook"] + [m for pair in _IMPORT_RE.findall(source) for m in pair if m]
    seen: set[Path] = set()
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += list(_imports_of(path))
        # a package's parents are imported with it
        todo += [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
    files = set(seen)
    # the JavaScript callbacks the imported figure builders load by name
    for path in seen:
        for name in _CALLBACK_RE.findall(path.read_text(encoding="utf-8")):
            js = PACKAGE / "viz" / "js" / f"{name}.mjs"
            if js.is_file():
                files.add(js)
    # and the modules those callbacks import (js_callback inlines them: lib.mjs, runtime/...)
    todo = [f for f in files if f.suffix == ".mjs"]
    while todo:
        js = todo.pop()
        for rel in _JS_IMPORT_RE.findall(js.read_text(encoding="utf-8")):
            dep = (js.parent / f"{rel}.mjs").resolve()
            if dep.is_file() and dep not in files:
                files.add(dep)
                todo.append(dep)
    return sorted(files)


def dependency_hash(source: str) -> str:
    digest = hashlib.sha256()
    for path in dependency_files(source):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _is_notebook(text: str) -> bool:
    return "```{code-cell}" in text


def _stamp_chapter(app: Sphinx, docname: str, source: list[str]) -> None:
    text = source[0]
    if not _is_notebook(text):
        return
    stamp = dependency_hash(text)
    if app is not None:
        _stamps(app.env)[docname] = stamp
    source[0] = (
        text.rstrip("\n")
        + "\n\n```{code-cell} ipython3\n:tags: [remove-cell]\n\n"
        + f"# attnbook sources this chapter depends on: {stamp}\n```\n"
    )


def _stamps(env) -> dict[str, str]:
    if not hasattr(env, "attnbook_stamps"):
        env.attnbook_stamps = {}
    return env.attnbook_stamps


def _outdated_chapters(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Chapters whose .md did not change but whose attnbook dependencies did: Sphinx must re-read them."""
    stamps = _stamps(env)
    outdated = []
    for docname in sorted(env.found_docs - set(added) - set(changed)):
        path = Path(env.doc2path(docname))
        if path.suffix != ".md" or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if _is_notebook(text) and stamps.get(docname) != dependency_hash(text):
            outdated.append(docname)
    if outdated:
        logger.info(f"[attnbook] attnbook sources changed for: {', '.join(outdated)}")
    return outdated


def _merge_stamps(app: Sphinx, env, docnames, other) -> None:
    _stamps(env).update({d: s for d, s in _stamps(other).items() if d in docnames})


def _purge_stamp(app: Sphinx, env, docname: str) -> None:
    _stamps(env).pop(docname, None)


# --- offline assets ------------------------------------------------------------------------------------
def _bokeh_files() -> dict[str, Path]:
    from bokeh import __version__
    from bokeh.util.paths import bokehjs_path

    js = Path(bokehjs_path()) / "js"
    return {
        f"{BOKEH_DIR}/{stem}-{__version__}.min.js": js / f"{stem}.min.js"
        for stem in ("bokeh", "bokeh-widgets", "bokeh-tables")
    }


def _mathjax_source() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "The local MathJax copy comes from the sphinx-mathjax-offline wheel: pip install sphinx-mathjax-offline"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def _add_bokeh_to_figure_pages(app: Sphinx, pagename, templatename, context, doctree) -> None:
    body = context.get("body", "")
    if not FIGURE_TAG.search(body):
        return
    for rel in _bokeh_files():
        if "bokeh-tables" in rel and '"name":"DataTable"' not in body.replace(" ", ""):
            continue
        app.builder.add_js_file(rel)


def _citation_roles(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Sphinx writes a bibliography as ``<div role="list">`` of ``role="doc-biblioentry"`` entries; that role is
    deprecated (DPUB-ARIA 1.1) and a list must hold list items, so axe-core reports a critical violation on the
    references page. The entries become ``role="listitem"``, the role DPUB-ARIA names in its place."""
    body = context.get("body", "")
    if 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def _offer_notebook(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Offer a chapter's executed notebook beside its source: copy myst-nb's ``.ipynb`` into ``_sources`` and
    tell the theme's download button (which shows ``ipynb_source`` when set) where it is."""
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return
    dest = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(executed, dest)
    context["ipynb_source"] = f"{pagename}.ipynb"


def _copy_assets(app: Sphinx, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    for rel, src in _bokeh_files().items():
        dest = static / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists() or dest.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, dest)
    mathjax = _mathjax_source()
    for part in MATHJAX_PARTS:
        src, dest = mathjax / part, static / MATHJAX_DIR / part
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)


def setup(app: Sphinx) -> dict:
    app.connect("source-read", _stamp_chapter)
    app.connect("env-get-outdated", _outdated_chapters)
    app.connect("env-merge-info", _merge_stamps)
    app.connect("env-purge-doc", _purge_stamp)
    app.connect("html-page-context", _add_bokeh_to_figure_pages)
    app.connect("html-page-context", _citation_roles)
    app.connect("html-page-context", _offer_notebook, priority=400)  # before the theme's header buttons
    app.connect("build-finished", _copy_assets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
