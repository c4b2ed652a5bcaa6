"""A tiny Sphinx project that uses the book's self-check extension, for the extension's unit and browser tests.

Building it executes one small notebook (one glue) with the book's extensions, theme and static files, instead
of building the book.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

CONF = f"""
import sys
sys.path.insert(0, {str(BOOK / "_ext")!r})
# attnbook_offline: the local MathJax, so the page makes no request to the network (as the book)
extensions = ["myst_nb", "attnbook_offline", "attnbook_selfcheck"]
mathjax_path = "mathjax/tex-chtml.js"
myst_enable_extensions = ["dollarmath", "colon_fence"]
nb_execution_mode = "force"
nb_execution_raise_on_error = True
html_theme = "sphinx_book_theme"
html_static_path = [{str(BOOK / "_static")!r}]
html_css_files = ["attnbook.css", "attnbook-dark.css"]
html_context = {{"default_mode": "light"}}
"""

PAGE = """---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---

# Self-checks

```{code-cell} ipython3
:tags: [remove-cell]

from myst_nb import glue

glue("quarter", 0.25, display=False)
```

```{takeaways}
- A takeaway with $x^2$.
```

```{selfcheck}
:answer: 2
:hint: Count the *letters*.
:explain: Two is **right**.

How many letters has the word *ox*?

- one
- two
- $3$ (three)
```

```{selfcheck}
:glue: quarter
:tolerance: 0.01
:hint: A quarter.
:explain: One in four.

What is $1/4$ as a decimal number?
```

```{selfcheck}
:answer: 8
:hint: Count the bits.

How many bits has a byte?
```
"""

INDEX = "# Index\n\n```{toctree}\nchecks\nplain\n```\n"
PLAIN = "# Plain\n\nNo questions here.\n"


def write_project(src: Path, page: str = PAGE) -> Path:
    """Write the project's conf.py and pages into ``src``; return ``src``."""
    src.mkdir(parents=True, exist_ok=True)
    (src / "conf.py").write_text(CONF, encoding="utf-8")
    (src / "index.md").write_text(INDEX, encoding="utf-8")
    (src / "checks.md").write_text(page, encoding="utf-8")
    (src / "plain.md").write_text(PLAIN, encoding="utf-8")
    return src


def build(src: Path, out: Path, *, warnings_are_errors: bool = True) -> subprocess.CompletedProcess:
    """``sphinx-build -b html`` of ``src`` into ``out`` (``-W`` by default); the completed process."""
    args = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E"]
    if warnings_are_errors:
        args.append("-W")
    return subprocess.run([*args, str(src), str(out)], capture_output=True, text=True, cwd=src)
