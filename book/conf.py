"""Sphinx configuration of the attnbook book: myst-nb notebooks executed at build time, shipped fully offline."""

import atexit
import os
import subprocess
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
sys.path.insert(0, str(BOOK / "_ext"))
sys.path.insert(0, str(BOOK.parent))

import attnbook  # noqa: E402

# The chapters' kernels inherit this process's environment. Their matrices are tiny (C <= 128): one BLAS
# thread per kernel is several times faster than two fighting over two cores (measured: 42 s vs 359 s for
# the block chapter's sweep under load). Authors can override it in their shell.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

project = "attnbook"
author = "the attnbook authors"
copyright = "2026, the attnbook authors"
release = attnbook.__version__

extensions = [
    "myst_nb",
    "sphinx_design",
    "sphinxcontrib.bibtex",
    "sphinx.ext.mathjax",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "attnbook_offline",
    "attnbook_selfcheck",
]

exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints", "README.md"]
root_doc = "index"

# --- notebooks -----------------------------------------------------------------------------------------
# Execute chapters at build time, cached. jupyter-cache keys only on cell source, so attnbook_offline
# appends to each chapter a hidden cell holding a hash of the attnbook modules it imports: editing one of
# them re-executes exactly the chapters that depend on it.
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get("ATTNBOOK_JUPYTER_CACHE", str(BOOK / "_build" / ".jupyter_cache"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 900
nb_merge_streams = True
# Build output never reaches a page: a cell that writes to stderr (a warning, a library's log line) fails the build.
nb_output_stderr = "error"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3

# --- references ----------------------------------------------------------------------------------------
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# --- api -----------------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
# numpydoc type fields read "ndarray, shape (T, C)"; "shape" then matches every cache NamedTuple's `shape`
# field. Those ambiguous cross-references are harmless; every other warning still fails the build.
suppress_warnings = ["ref.python"]

# --- html ----------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "attnbook: attention, by moving the numbers"
html_static_path = ["_static"]
html_css_files = ["attnbook.css", "attnbook-dark.css"]
html_favicon = "_static/favicon.svg"
# The reader chooses light, dark or auto (the system's setting) with the theme's switcher; figures follow it live
# (attnbook/viz/js/theme.mjs). "auto" until the reader chooses: a dark system gets a dark book.
html_context = {"default_mode": "auto"}
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,  # the chapter's .md and its executed .ipynb (attnbook_offline)
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    # Below 1200 px the theme floats "Back to top" over the middle of the text column while the reader scrolls up,
    # where it covers a figure's controls (at 1200 px and up it hides it itself); the header stays reachable.
    "back_to_top_button": False,
}
html_last_updated_fmt = None
# MathJax from a local copy (attnbook_offline copies it into _static/mathjax): zero requests to a CDN.
mathjax_path = "mathjax/tex-chtml.js"


# --- training ahead ------------------------------------------------------------------------------------
# Chapters execute one after another in one process each, so while chapters 1-6 run the second core idles. When
# a chapter that trains (7, 8, 10) is to be read, start `attnbook.experiments.prefetch` beside the build: it
# trains their runs into the run cache on the idle core, under the cache's per-run lock (a chapter that reaches
# a run being trained waits for it and loads it). It ends with the build, also when the build fails (and with
# the build's process, by PR_SET_PDEATHSIG). ATTNBOOK_PREFETCH=0 turns it off; its log is _build/prefetch.log.
# The chapters that train (the prefetch orders their runs itself: attnbook.experiments.prefetch.book_jobs).
PREFETCH_CHAPTERS = {
    "chapters/07_training": 7,
    "chapters/08_heads": 8,
    "chapters/10_own_text": 10,
    "chapters/11_train_yourself": 11,
}
_prefetch: list[subprocess.Popen] = []


def _stop_prefetch(*_args) -> None:
    while _prefetch:
        proc = _prefetch.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _start_prefetch(app, env, docnames) -> None:
    chapters = [c for d, c in PREFETCH_CHAPTERS.items() if d in docnames]
    if not chapters or _prefetch or os.environ.get("ATTNBOOK_PREFETCH", "1") == "0":
        return
    if app.config.nb_execution_mode == "off":
        return
    log = Path(app.outdir).parent / "prefetch.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as out:
        cmd = [
            sys.executable,
            "-m",
            "attnbook.experiments.prefetch",
            "--parent",
            str(os.getpid()),
            "--chapters",
        ]
        _prefetch.append(
            subprocess.Popen(
                [*cmd, *map(str, chapters)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=BOOK.parent,
            )
        )
    atexit.register(_stop_prefetch)


def setup(app):
    app.connect("env-before-read-docs", _start_prefetch)
    app.connect("build-finished", _stop_prefetch)
