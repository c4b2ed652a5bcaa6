"""One check for every figure test: each CustomJS callback of a layout destructures exactly the arguments given."""

from __future__ import annotations

import re

from bokeh.models import CustomJS

_HEAD = re.compile(r"^export default \(\{([^}]*)\}", re.M)


def destructured(code: str) -> set[str]:
    """The names a callback module's default export destructures from its first argument."""
    m = _HEAD.search(code)
    if m is None:
        raise AssertionError("the callback has no `export default ({...}) =>`")
    return {part.split(":")[0].strip() for part in m.group(1).split(",") if part.strip()}


def assert_callbacks_match_their_args(layout) -> int:
    """Every CustomJS reachable from ``layout`` reads exactly its ``args``; returns how many were checked."""
    callbacks = [m for m in layout.references() if isinstance(m, CustomJS)]
    for cb in callbacks:
        names = destructured(cb.code)
        assert names == set(cb.args), f"callback destructures {sorted(names)} but is given {sorted(cb.args)}"
    return len(callbacks)
