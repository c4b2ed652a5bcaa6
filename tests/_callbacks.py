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


def figure_callbacks(layout) -> list[CustomJS]:
    """The callbacks that draw ``layout``'s data: every CustomJS but those that only fit it to its column."""
    from attnbook.viz.kit import LAYOUT_CALLBACK

    return [m for m in layout.references() if isinstance(m, CustomJS) and LAYOUT_CALLBACK not in m.tags]


_IMPORT = re.compile(r"^\s*import\b|\bimport\s*\(", re.M)


def assert_callbacks_match_their_args(layout) -> int:
    """Every CustomJS reachable from ``layout`` reads exactly its ``args`` and imports nothing (its local modules
    are inlined: a page opened from ``file://`` cannot load them); returns how many of them draw the figure's data
    (:func:`figure_callbacks`; the layout's own are checked, not counted)."""
    for cb in (m for m in layout.references() if isinstance(m, CustomJS)):
        names = destructured(cb.code)
        assert names == set(cb.args), f"callback destructures {sorted(names)} but is given {sorted(cb.args)}"
        assert not _IMPORT.search(cb.code), f"callback still imports: {_IMPORT.search(cb.code).group(0)!r}"
    return len(figure_callbacks(layout))
