"""The figure contract: a payload of arrays, the widgets that select a slice of it, and what the page must show.

Every interactive figure of the book is three parts:

* a **payload**: a NamedTuple of arrays and labels computed by pure NumPy from results passed in. Two of its
  fields are the same in every payload: ``controls`` (the widgets whose values select what is shown, as
  :class:`Control` records, in order) and ``axes`` (for each per-state field, the controls that index its
  leading axes);
* a **layout**: Bokeh models assembled from :mod:`attnbook.viz.kit`, with the payload shipped once into the
  page as a one-row data source named ``<name>-payload`` (:func:`payload_source`);
* a **callback** module in ``viz/js/`` that reads payload fields by name and writes the displayed sources.

The encoding of "a state of the widgets selects this slice" (the only one in the book): a field listed in
``axes`` as ``("window", "n_global")`` has shape ``(len(window.values), len(n_global.values), ...)``, and the
state ``{"window": w, "n_global": g}`` selects ``field[values.index(w), values.index(g)]``. :func:`pick` does
it in Python, ``pick`` in ``js/lib.mjs`` in the page. A field not listed in ``axes`` is the same in every state.

Each payload class also has a method ``view(state) -> {model: {attribute: value}}``: what the page's
displayed models must hold for a state (model names without the figure's prefix; a source's attributes are
its columns), written in Python from the payload: the callback's twin. The browser tests move the widgets,
read the page and compare it with ``view`` (``tests/browser/_numbers.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from bokeh.models import ColumnDataSource

from .core import check_name

__all__ = [
    "Control",
    "axis_index",
    "pick",
    "payload_source",
    "payload_from_data",
    "figure_module",
    "check_payload",
    "seed_labels",
]


class Control(NamedTuple):
    """A widget whose value selects a slice of the payload."""

    widget: str  # name suffix: the widget is the model named "<figure name>-<widget>"
    values: tuple  # the values it takes, in order; a field's axis for this control runs over them
    attr: str = "value"  # the widget property holding the value ("value" for sliders/selects, "active"...)


def _controls_by_name(controls) -> dict[str, Control]:
    if not isinstance(controls, (tuple, list)) or not all(isinstance(c, Control) for c in controls):
        raise TypeError("payload.controls must be a tuple of Control records")
    names = [c.widget for c in controls]
    if len(set(names)) != len(names):
        raise ValueError(f"payload.controls must name each widget once, got {names}")
    return {c.widget: c for c in controls}


def axis_index(control: Control, value) -> int:
    """Position of ``value`` among ``control.values`` (numbers compare by value: a slider's 2.0 is 2, and a slider
    moved by the keyboard holds 1.2500000000000002 for 1.25: floats match to 1e-9 relative, as ``controlIndex``)."""
    for i, v in enumerate(control.values):
        if isinstance(v, bool) or isinstance(value, bool):
            if v is value:
                return i
        elif v == value:
            return i
        elif isinstance(v, (int, float)) and isinstance(value, (int, float)):
            if abs(value - v) <= 1e-9 * max(1.0, abs(v)):
                return i
    raise ValueError(f"{control.widget} must be one of {list(control.values)}, got {value!r}")


def _leading_shape(value, k: int) -> tuple:
    """The first ``k`` axes of an array or of nested lists (ragged below them, e.g. sentences of other lengths)."""
    if isinstance(value, np.ndarray):
        return value.shape[:k]
    shape, level = [], [value]
    for _ in range(k):
        if not all(isinstance(v, (list, tuple, np.ndarray)) for v in level):
            break
        lengths = {len(v) for v in level}
        if len(lengths) != 1:
            break
        shape.append(lengths.pop())
        level = [x for v in level for x in v]
    return tuple(shape)


def seed_labels(seeds, n_others: int, what: str) -> tuple[str, ...]:
    """The labels of a figure's seeds: ``seeds`` (one distinct str per seed: the figure's own results, then each
    of its ``n_others``) or, with no others, ``("",)`` when ``seeds`` is None. ``what`` names the results in the
    error, e.g. ``"runs and each of others"``."""
    if seeds is None:
        if n_others:
            raise ValueError("seeds must label every seed when others are given")
        return ("",)
    if isinstance(seeds, (str, bytes)) or not all(isinstance(s, str) for s in seeds):
        raise TypeError("seeds must be a sequence of str")
    seeds = tuple(seeds)
    if len(seeds) != 1 + n_others or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be {1 + n_others} distinct labels ({what}), got {seeds}")
    return seeds


def check_payload(payload) -> None:
    """Check the shared part of a payload: ``controls``, ``axes``, and each indexed field's leading shape."""
    if not (isinstance(payload, tuple) and hasattr(payload, "_fields")):
        raise TypeError(f"payload must be a NamedTuple, got {type(payload).__name__}")
    for required in ("controls", "axes"):
        if required not in payload._fields:
            raise TypeError(f"payload must have a {required!r} field ({type(payload).__name__} has none)")
    controls = _controls_by_name(payload.controls)
    if not isinstance(payload.axes, Mapping):
        raise TypeError("payload.axes must map field names to tuples of control names")
    for field, names in payload.axes.items():
        if field not in payload._fields:
            raise ValueError(
                f"payload.axes names {field!r}, which is not a field of {type(payload).__name__}"
            )
        unknown = [n for n in names if n not in controls]
        if unknown:
            raise ValueError(f"payload.axes[{field!r}] names unknown controls {unknown}")
        want = tuple(len(controls[n].values) for n in names)
        got = _leading_shape(getattr(payload, field), len(names))
        if got != want:
            raise ValueError(
                f"payload.{field} must have leading shape {want} (controls {tuple(names)}), got {got}"
            )


def pick(payload, field: str, state: Mapping[str, Any]):
    """The slice of ``payload.<field>`` that the widget values ``state`` select (the field itself if it has no axes)."""
    if field not in payload._fields:
        raise ValueError(f"field must be one of {payload._fields}, got {field!r}")
    value = getattr(payload, field)
    names = payload.axes.get(field, ())
    if not names:
        return value
    controls = _controls_by_name(payload.controls)
    missing = [n for n in names if n not in state]
    if missing:
        raise ValueError(f"state must give a value for {missing} (the axes of {field!r})")
    idx = tuple(axis_index(controls[n], state[n]) for n in names)
    if isinstance(value, np.ndarray):
        return value[idx]
    for i in idx:
        value = value[i]
    return value


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Control):
        return {"widget": value.widget, "values": [_jsonable(v) for v in value.values], "attr": value.attr}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def payload_source(payload, *, name: str) -> ColumnDataSource:
    """Ship ``payload`` into the page once: a one-row source named ``<name>-payload``, one column per field.

    Arrays travel as typed arrays with their shape; the source is tagged with the payload's module, so the
    browser tests find its class (and ``view``) for it.
    """
    check_name(name)
    check_payload(payload)
    data = {field: [_jsonable(getattr(payload, field))] for field in payload._fields}
    module = type(payload).__module__
    return ColumnDataSource(data, name=f"{name}-payload", tags=[f"{module}:{type(payload).__name__}"])


def figure_module(tag: str):
    """The figure module and payload class named by a payload source's tag (``module:Class``)."""
    if not isinstance(tag, str) or ":" not in tag or not tag.startswith("attnbook.viz."):
        raise ValueError(f"tag must read 'attnbook.viz.<module>:<Payload>', got {tag!r}")
    module_name, cls_name = tag.split(":", 1)
    module = importlib.import_module(module_name)
    return module, getattr(module, cls_name)


def _restore(value):
    """A column value read back from the page, as Python: ``{"dtype", "shape", "array"}`` dicts become arrays."""
    if isinstance(value, Mapping):
        if set(value) == {"__ndarray__", "dtype", "shape"}:
            return np.asarray(value["__ndarray__"], dtype=value["dtype"]).reshape(value["shape"])
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


def payload_from_data(cls, data: Mapping[str, Any]):
    """Rebuild a payload of class ``cls`` from its source's columns as read from the page."""
    fields = {}
    for field in cls._fields:
        if field not in data:
            raise ValueError(f"data must have a column {field!r} for {cls.__name__}")
        value = _restore(data[field][0] if isinstance(data[field], Sequence) else data[field])
        if field == "controls":
            value = tuple(Control(c["widget"], tuple(c["values"]), c["attr"]) for c in value)
        fields[field] = value
    return cls(**fields)
