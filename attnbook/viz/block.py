"""Figures of the transformer-block chapter (chapter 6): the block's wiring, the signal across depth and the gradients
per layer at initialisation (Pre-LN vs Post-LN, Xiong et al. 2020).

Both figures take a sweep of profiles measured by :func:`attnbook.stats.signal_sweep`, a mapping
``(norm, block, activation, depth, init) -> profile`` whose profiles have the fields of
:class:`attnbook.stats.SignalProfile` (read by name; this module runs nothing). :func:`signal_figure` draws the
residual stream's statistics and histograms (callback ``js/block_signal.mjs``), :func:`gradient_figure` each
block's gradient norm (callback ``js/block_gradients.mjs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div, HoverTool

from .._checks import check_choice
from .core import check_name, diagram_figure, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source, pick
from .kit import (
    control_row,
    described,
    description,
    empty_source,
    fit,
    histogram_panel,
    integer_ticks,
    labelled_select,
    labels,
    line_panel,
    line_series,
    log_ticks,
    on_change,
    scroller,
    select,
    slider,
)

__all__ = [
    "ACTIVATION_LABELS",
    "BLOCK_LABELS",
    "INIT_LABELS",
    "NORM_LABELS",
    "SignalPayload",
    "GradientPayload",
    "block_diagram",
    "signal_payload",
    "signal_layout",
    "signal_figure",
    "gradient_payload",
    "gradient_layout",
    "gradient_figure",
]

NORM_LABELS = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "none": "no norm"}
BLOCK_LABELS = {"pre": "Pre-LN", "post": "Post-LN", "sandwich": "Sandwich"}
ACTIVATION_LABELS = {"relu": "ReLU", "gelu": "GeLU", "swish": "Swish", "swiglu": "SwiGLU"}
INIT_LABELS = {
    "gpt2": "GPT-2: N(0, 0.02²), output projections / √(2L)",
    "xavier": "Xavier: N(0, 2/(fan_in + fan_out))",
}
_BLOCK_COLORS = {"pre": "#2166ac", "post": "#b2182b", "sandwich": "#4d9221"}
_STAT_SERIES = {"max": ("max |x|", "#b2182b"), "std": ("std", "#2166ac"), "mean": ("mean", "#4d4d4d")}
_NORM_FILL, _F_FILL = "#fddbc7", "#d1e5f0"
_PROFILE_FIELDS = ("mean", "std", "max", "grad_norm", "resid_hist", "resid_range", "mlp_hist", "mlp_range")


# ---------------------------------------------------------------------------------------------------------
# the wiring diagram


def block_diagram(norm: str, block: str, activation: str) -> dict[str, dict[str, list]]:
    """Geometry of one block's wiring: boxes, wires and the "+" of the residual additions.

    The residual stream runs left to right along ``y = 0``; each sublayer branches off above it and adds its
    output back at a "+". Post-LN puts its norm on the stream itself, after the addition.

    Parameters
    ----------
    norm : {"layernorm", "rmsnorm", "none"}
    block : {"pre", "post", "sandwich"}
    activation : {"relu", "gelu", "swish", "swiglu"}

    Returns
    -------
    diagram : dict
        ``"boxes"`` (columns x, y, w, label, fill), ``"wires"`` (xs, ys), ``"adds"`` (x, y) and ``"labels"``
        (x, y, text), ready for ColumnDataSources.
    """
    norm = check_choice("norm", norm, NORM_LABELS)
    block = check_choice("block", block, BLOCK_LABELS)
    activation = check_choice("activation", activation, ACTIVATION_LABELS)
    boxes: dict[str, list] = {"x": [], "y": [], "w": [], "label": [], "fill": []}
    wires: dict[str, list] = {"xs": [], "ys": []}
    adds: dict[str, list] = {"x": [], "y": []}
    has_norm = norm != "none"
    norm_name = NORM_LABELS[norm]
    y_branch = 1.3

    def box(x: float, y: float, w: float, label: str, fill: str) -> None:
        for key, value in zip(boxes, (x, y, w, label, fill), strict=True):
            boxes[key].append(value)

    for a, f_label in ((0.5, "attention"), (10.5, f"MLP ({ACTIVATION_LABELS[activation]})")):
        parts = []  # the branch's boxes, left to right: (label, fill, width)
        if has_norm and block in ("pre", "sandwich"):
            parts.append((norm_name, _NORM_FILL, 2.2))
        parts.append((f_label, _F_FILL, 3.2 if f_label != "attention" else 2.6))
        if has_norm and block == "sandwich":
            parts.append((norm_name, _NORM_FILL, 2.2))
        post = has_norm and block == "post"
        x0, add_x = a + 0.4, (a + 5.6 if post else a + 8.6)  # post leaves room for its norm on the stream
        # lay the branch's boxes out evenly between its start and the "+"
        total = sum(w for _, _, w in parts)
        gap = (add_x - x0 - total) / (len(parts) + 1)
        cursor = x0 + gap
        for label, fill, w in parts:
            box(cursor + w / 2, y_branch, w, label, fill)
            cursor += w + gap
        wires["xs"].append([x0, x0, add_x, add_x])
        wires["ys"].append([0.0, y_branch, y_branch, 0.25])
        adds["x"].append(add_x)
        adds["y"].append(0.0)
        if post:
            box(add_x + 1.8, 0.0, 2.2, norm_name, _NORM_FILL)  # on the stream, after the addition
    # the residual stream itself, through both additions (so every wire has four points: one array shape)
    wires["xs"].insert(0, [0.0, *adds["x"], 20.0])
    wires["ys"].insert(0, [0.0, 0.0, 0.0, 0.0])
    labels = {
        "x": [0.0, 10.0, 20.0],
        "y": [-0.75, -0.75, -0.75],
        "text": ["stream in (x)", "residual stream", "stream out"],
    }
    return {"boxes": boxes, "wires": wires, "adds": adds, "labels": labels}


def _diagram_plot(name: str, first: dict):
    """The wiring diagram: wires, boxes with their labels, the "+" of each addition; one source per part."""
    ranges = dict(x_range=(-1.2, 21.2), y_range=(-1.2, 2.1))
    plot = diagram_figure(name=f"{name}-diagram", title="One block", width=740, height=170, **ranges)
    sources = {key: ColumnDataSource(first[key], name=f"{name}-diagram-{key}") for key in first}
    plot.multi_line("xs", "ys", source=sources["wires"], line_color="#555555", line_width=2)
    plot.rect("x", "y", "w", 0.8, source=sources["boxes"], fill_color="fill", line_color="#444444")
    labels(plot, sources["boxes"], text="label", size="9pt")
    plot.scatter("x", "y", source=sources["adds"], size=18, fill_color="white", line_color="#444444")
    labels(plot, sources["adds"], text={"value": "+"}, size="12pt")
    labels(plot, sources["labels"], color="#666666")
    return plot, sources


# ---------------------------------------------------------------------------------------------------------
# checking a sweep


def _sweep_axes(profiles: Mapping) -> tuple[tuple, ...]:
    """The values of each key position in order of appearance, and a check that the sweep is complete."""
    if not isinstance(profiles, Mapping) or not profiles:
        raise TypeError(
            "profiles must be a non-empty mapping from (norm, block, activation, depth, init) keys"
        )
    for key, prof in profiles.items():
        missing = [f for f in _PROFILE_FIELDS if not hasattr(prof, f)]
        if not (isinstance(key, tuple) and len(key) == 5) or missing:
            raise TypeError(
                "profiles must map (norm, block, activation, depth, init) to the profiles of "
                f"attnbook.stats.signal_sweep; got {key!r} -> {type(prof).__name__}"
            )
    axes = tuple(tuple(dict.fromkeys(k[i] for k in profiles)) for i in range(5))
    n = int(np.prod([len(a) for a in axes]))
    if n != len(profiles):
        raise ValueError(
            f"profiles must hold every combination of its keys' values ({n}), got {len(profiles)}"
        )
    for field, labels_ in (("norm", NORM_LABELS), ("block", BLOCK_LABELS), ("activation", ACTIVATION_LABELS)):
        for v in axes[("norm", "block", "activation").index(field)]:
            check_choice(field, v, labels_)
    depths = axes[3]
    if not all(isinstance(d, int) and d >= 1 for d in depths) or list(depths) != list(
        range(depths[0], depths[0] + len(depths))
    ):
        raise ValueError(f"depths must be consecutive integers >= 1 (one slider step each), got {depths}")
    return axes


def _floats(*columns: str) -> dict[str, str]:
    """Float columns for :func:`attnbook.viz.kit.empty_source`."""
    return dict.fromkeys(columns, "float")


def _num(x: float) -> str:
    """A statistic in the readout: 3 decimals, or 2 significant digits in exponent form below 0.01."""
    return f"{x:.3f}" if abs(x) >= 0.01 or x == 0 else f"{x:.1e}"


# ---------------------------------------------------------------------------------------------------------
# signal across depth


_WHAT_SIGNAL = (
    "Signal through the transformer block: a diagram of one block, the mean, standard deviation and largest "
    "value of the residual stream after each block, and histograms of the stream and of the MLP activation in "
    "the chosen block."
)
_WHAT_GRADIENTS = (
    "Gradient norms per block at initialisation: one line per norm placement, the gradient norm of each block's "
    "parameters against the block's depth."
)


class SignalPayload(NamedTuple):
    """Per norm, activation, depth and placement (the axes of ``mean``, ``std``, ``max``; the histograms add the
    block shown): the residual stream's statistics after each block (index 0: the embeddings) and histograms of
    the stream and of the MLP's activation output, each padded with zeros to the deepest model. Placements come
    last so that without a norm, where they are one network, the three copies sit side by side in the page."""

    controls: tuple  # norm, block, activation (selects), depth (slider), layer (select, "1" ..)
    axes: dict
    depths: tuple
    labels: dict  # {"norm": {value: label}, "block": ..., "activation": ...}
    diagrams: list  # [norm][block][activation] -> block_diagram(...)
    mean: np.ndarray  # (N, A, Dp, B, Lmax + 1) float32
    std: np.ndarray
    max: np.ndarray
    resid_hist: np.ndarray  # (N, A, Dp, B, Lmax, bins): fraction of the stream's entries in each bin
    resid_range: np.ndarray  # (N, A, Dp, B, Lmax, 2): the bins' (low, high)
    mlp_hist: np.ndarray  # the same for the MLP's activation output
    mlp_range: np.ndarray

    def view(p, state: dict) -> dict:
        """Diagram, statistics across depth, the chosen block's histograms and the readout (the callback's twin)."""
        d = state["depth"]
        L = min(int(state["layer"]), d)  # the page moves the block select back when the depth drops below it
        stats = {k: pick(p, k, state)[: d + 1].astype(float) for k in ("mean", "std", "max")}
        lab = {k: p.labels[k][state[k]] for k in ("norm", "block", "activation")}
        out = {f"diagram-{k}": v for k, v in pick(p, "diagrams", state).items()}
        out["stats"] = {"layer": np.arange(d + 1), **stats}
        out["stats-plot"] = {"x_range.end": d + 0.3}
        out["layer"] = {"options": [str(i) for i in range(1, d + 1)]}
        titles = {
            "resid": f"Residual stream after block {L} of {d}",
            "mlp": f"{lab['activation']} output in block {L}'s MLP",
        }
        for part in ("resid", "mlp"):
            top = pick(p, f"{part}_hist", {**state, "layer": str(L)})
            lo, hi = (float(v) for v in pick(p, f"{part}_range", {**state, "layer": str(L)}))
            width = (hi - lo) / len(top)
            b = np.arange(len(top))
            out[part] = {"left": lo + b * width, "right": lo + (b + 1) * width, "top": top}
            out[f"{part}-plot"] = {
                "x_range.start": lo - width,
                "x_range.end": hi + width,
                "title.text": titles[part],
            }
        std, mx, mean = stats["std"], stats["max"], stats["mean"]
        same = (
            " Without a norm the three placements are the same network, x + f(x): the numbers do not change."
            if state["norm"] == "none"
            else ""
        )
        out["readout"] = {
            "text": f"<b>{lab['block']}, {lab['norm']}, {lab['activation']}, {d} blocks.</b> Std of the stream: "
            f"{_num(std[0])} (embeddings) → <b>{_num(std[d])}</b> after block {d}; largest |value| {_num(mx[d])}. "
            f"After block {L}: mean {_num(mean[L])}, std {_num(std[L])}.{same}"
        }
        out["description"] = described(_WHAT_SIGNAL, out["readout"]["text"])
        return out


def signal_payload(profiles: Mapping, *, init: str | None = None) -> SignalPayload:
    """The signal figure's payload.

    Parameters
    ----------
    profiles : mapping
        ``(norm, block, activation, depth, init) -> profile`` from :func:`attnbook.stats.signal_sweep`, with
        histograms. Every depth is its own model; the depth slider picks it, the layer select one of its blocks.
    init : str, optional
        Which initialisation to show when the sweep holds several; default the first.
    """
    norms, blocks, acts, depths, inits = _sweep_axes(profiles)
    init = inits[0] if init is None else check_choice("init", init, inits)
    first = profiles[norms[0], blocks[0], acts[0], depths[0], init]
    if first.resid_hist is None or first.mlp_hist is None:
        raise ValueError("profiles must have histograms (signal_sweep with histograms=True, attn_only=False)")
    bins, Lmax = np.shape(first.resid_hist)[1], depths[-1]
    lead = (len(norms), len(acts), len(depths), len(blocks))
    fields = {k: np.zeros((*lead, Lmax + 1), np.float32) for k in ("mean", "std", "max")}
    for part in ("resid", "mlp"):
        fields[f"{part}_hist"] = np.zeros((*lead, Lmax, bins), np.float32)
        fields[f"{part}_range"] = np.zeros((*lead, Lmax, 2), np.float32)
    for n, a, k, b in np.ndindex(lead):
        d = depths[k]
        prof = profiles[norms[n], blocks[b], acts[a], d, init]
        for field in ("mean", "std", "max"):
            fields[field][n, a, k, b, : d + 1] = _checked(prof, field, (d + 1,))
        for field, shape in (("hist", (d, bins)), ("range", (d, 2))):
            for part in ("resid", "mlp"):
                fields[f"{part}_{field}"][n, a, k, b, :d] = _checked(prof, f"{part}_{field}", shape)
    controls = (
        Control("norm", norms),
        Control("block", blocks),
        Control("activation", acts),
        Control("depth", depths),
        Control("layer", tuple(str(i) for i in range(1, Lmax + 1))),
    )
    axes = dict.fromkeys(("mean", "std", "max"), ("norm", "activation", "depth", "block"))
    hists = [f"{part}_{field}" for part in ("resid", "mlp") for field in ("hist", "range")]
    axes.update(dict.fromkeys(hists, ("norm", "activation", "depth", "block", "layer")))
    axes["diagrams"] = ("norm", "block", "activation")
    diagrams = [[[block_diagram(n, b, a) for a in acts] for b in blocks] for n in norms]
    labels_ = {"norm": NORM_LABELS, "block": BLOCK_LABELS, "activation": ACTIVATION_LABELS}
    return SignalPayload(controls, axes, depths, labels_, diagrams, **fields)


def _checked(prof, field: str, shape: tuple[int, ...]) -> np.ndarray:
    """``prof.<field>`` as float32 of the given shape, finite (a missing histogram says which sweep to run)."""
    value = getattr(prof, field)
    if value is None:
        raise ValueError(f"profiles must have {field} for every model (signal_sweep with histograms=True)")
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape or not np.isfinite(value).all():
        raise ValueError(f"profile {field} must be finite with shape {shape}, got {value.shape}")
    return value.astype(np.float32)


def _labels(p, control) -> dict[str, str]:
    """The labels of one select's values, in the sweep's order."""
    return {v: p.labels[control.widget][v] for v in control.values}


def _stats_panel(name: str, deepest: int):
    """The residual stream's mean, std and largest |x| after each block, one line each."""
    source = empty_source(f"{name}-stats", deepest + 1, **_floats("layer", "mean", "std", "max"))
    title, x_label = "Residual stream after each block", "after block (0 = embeddings)"
    kw = dict(width=370, height=300, x_range=(-0.3, deepest + 0.3))
    plot = line_panel(name=f"{name}-stats-plot", title=title, x_label=x_label, y_label="", **kw)
    series = [(label, column, color) for column, (label, color) in _STAT_SERIES.items()]
    line_series(plot, source, "layer", series, name=f"{name}-legend", dots=5)
    integer_ticks(plot.xaxis[0], name=f"{name}-stats-xticks")
    tips = [
        ("layer", "@layer"),
        ("mean", "@mean{0.0000}"),
        ("std", "@std{0.0000}"),
        ("max |x|", "@max{0.000}"),
    ]
    plot.add_tools(HoverTool(tooltips=tips, mode="vline"))
    return plot, source


def _histogram_panels(name: str, bins: int):
    """Histograms of the stream after one block and of that block's MLP activation output."""
    plots, sources = {}, {}
    for part, x_label in (("resid", "value"), ("mlp", "act(h)")):
        sources[part] = empty_source(f"{name}-{part}", bins, **_floats("left", "right", "top"))
        plots[part] = histogram_panel(sources[part], name=f"{name}-{part}-plot", title="", x_label=x_label)
    return plots, sources


def signal_layout(
    p: SignalPayload,
    *,
    name: str = "signal",
    norm: str | None = None,
    block: str | None = None,
    activation: str | None = None,
):
    """The signal figure: norm, placement and activation selects, depth slider and block select, the block's
    wiring, the stream's statistics across depth, histograms of one block, a readout."""
    check_name(name)
    check_payload(p)
    first, chosen = (
        {c.widget: c.values[0] for c in p.controls},
        dict(norm=norm, block=block, activation=activation),
    )
    for c in p.controls[:3]:
        if chosen[c.widget] is not None:
            first[c.widget] = check_choice(c.widget, chosen[c.widget], c.values)
    deepest = p.depths[-1]
    diagram, diagram_sources = _diagram_plot(name, pick(p, "diagrams", first))
    stats_plot, stats = _stats_panel(name, deepest)
    plots, sources = _histogram_panels(name, p.resid_hist.shape[-1])
    titles = {"norm": "Norm", "block": "Placement", "activation": "Activation"}
    widgets = {
        c.widget: labelled_select(
            f"{name}-{c.widget}", titles[c.widget], _labels(p, c), first[c.widget], width=150
        )
        for c in p.controls[:3]
    }
    widgets["depth"] = slider(f"{name}-depth", "Depth (blocks)", p.depths[0], deepest, deepest, width=260)
    blocks = [str(i) for i in range(1, deepest + 1)]
    widgets["layer"] = select(f"{name}-layer", "Histograms of block", blocks, "1", width=150)
    readout = Div(text="", name=f"{name}-readout", width=350, margin=(20, 5, 5, 15))
    update = js_callback(
        "block_signal",
        payload=payload_source(p, name=name),
        widgets=widgets,
        readout=readout,
        sources={"stats": stats, **sources, **{f"diagram-{k}": v for k, v in diagram_sources.items()}},
        plots={"stats": stats_plot, **plots},
        description=description(name, _WHAT_SIGNAL),
    )
    on_change(update, *widgets.values())
    selects = control_row(f"{name}-selects", widgets["norm"], widgets["block"], widgets["activation"])
    sliders = control_row(f"{name}-sliders", widgets["depth"], widgets["layer"])
    fig = column(
        selects,
        sliders,
        scroller(diagram),
        row(stats_plot, plots["resid"]),
        row(plots["mlp"], readout),
        name=name,
    )
    return on_document_ready(fit(fig), update)


def signal_figure(profiles: Mapping, *, init: str | None = None, name: str = "signal", **initial):
    """``signal_layout(signal_payload(profiles, init=init))``: the figure the chapter shows (``initial``: norm,
    block, activation shown first)."""
    return signal_layout(signal_payload(profiles, init=init), name=name, **initial)


# ---------------------------------------------------------------------------------------------------------
# gradients per layer


class GradientPayload(NamedTuple):
    """Per initialisation, norm and depth (the axes of ``grads``): each placement's gradient norm per block,
    padded with ones to the deepest model (a log axis)."""

    controls: tuple  # init, norm (selects), depth (slider)
    axes: dict
    blocks: tuple  # the placements, one line each
    depths: tuple
    labels: dict  # {"init": {value: label}, "norm": ..., "block": ...}
    activation: str  # the label of the activation every model uses
    grads: np.ndarray  # (I, N, Dp, B, Lmax) float32

    def view(p, state: dict) -> dict:
        """Each placement's line and the readout (the callback's twin)."""
        d = state["depth"]
        g = pick(p, "grads", state)[:, :d].astype(float)  # (B, d)
        parts = [
            f"{p.labels['block'][b]}: block 1 <b>{g[i, 0]:#.3g}</b>, block {d} <b>{g[i, -1]:#.3g}</b>"
            for i, b in enumerate(p.blocks)
        ]
        head = f"{p.labels['init'][state['init']]}; {p.labels['norm'][state['norm']]}; {p.activation}; {d} blocks."
        return {
            "source": {"layer": np.arange(1, d + 1), **{b: g[i] for i, b in enumerate(p.blocks)}},
            "plot": {"x_range.end": d + 0.3},
            "readout": {"text": f"{head}<br>{' · '.join(parts)}"},
            "description": described(_WHAT_GRADIENTS, f"{head}<br>{' · '.join(parts)}"),
        }


def gradient_payload(profiles: Mapping, *, activation: str | None = None) -> GradientPayload:
    """The gradient figure's payload.

    Parameters
    ----------
    profiles : mapping
        ``(norm, block, activation, depth, init) -> profile`` from :func:`attnbook.stats.signal_sweep`
        (histograms not needed).
    activation : str, optional
        The activation shown when the sweep holds several; default the first.
    """
    norms, blocks, acts, depths, inits = _sweep_axes(profiles)
    act = acts[0] if activation is None else check_choice("activation", activation, acts)
    Lmax = depths[-1]
    grads = np.ones((len(inits), len(norms), len(depths), len(blocks), Lmax), np.float32)
    for i, n, k, b in np.ndindex(grads.shape[:4]):
        d = depths[k]
        grads[i, n, k, b, :d] = _checked(profiles[norms[n], blocks[b], act, d, inits[i]], "grad_norm", (d,))
    if grads.min() <= 0:
        raise ValueError("profiles must have positive gradient norms to draw on a log scale")
    controls = (Control("init", inits), Control("norm", norms), Control("depth", depths))
    labels_ = {"init": {i: INIT_LABELS.get(i, i) for i in inits}, "norm": NORM_LABELS, "block": BLOCK_LABELS}
    axes = {"grads": ("init", "norm", "depth")}
    return GradientPayload(controls, axes, blocks, depths, labels_, ACTIVATION_LABELS[act], grads)


def gradient_layout(p: GradientPayload, *, name: str = "grads", init: str | None = None):
    """The gradient figure: initialisation and norm selects, depth slider, one line per placement (log scale),
    a readout of the first and last block's norms."""
    check_name(name)
    check_payload(p)
    inits, norms = p.controls[0].values, p.controls[1].values
    init = inits[0] if init is None else check_choice("init", init, inits)
    deepest = p.depths[-1]
    source = empty_source(f"{name}-source", deepest, **_floats("layer", *p.blocks))
    kw = dict(width=740, height=320, y_axis_type="log", x_range=(0.7, deepest + 0.3))
    title, y_label = "Gradient norm of each block's parameters", "‖∂loss/∂θ_block‖ (log scale)"
    plot = line_panel(
        name=f"{name}-plot", title=title, x_label="block (1 = nearest the input)", y_label=y_label, **kw
    )
    series = [(BLOCK_LABELS[b], b, _BLOCK_COLORS.get(b, "#333333")) for b in p.blocks]
    line_series(plot, source, "layer", series, name=f"{name}-legend", legend="above", dots=6, line_width=2.5)
    integer_ticks(plot.xaxis[0], name=f"{name}-xticks")
    log_ticks(plot.yaxis[0], name=f"{name}-yticks")
    tips = [("block", "@layer")] + [(BLOCK_LABELS[b], f"@{b}{{0.0000}}") for b in p.blocks]
    plot.add_tools(HoverTool(tooltips=tips, mode="vline"))
    widgets = {
        "init": labelled_select(f"{name}-init", "Initialisation", p.labels["init"], init, width=330),
        "norm": labelled_select(f"{name}-norm", "Norm", _labels(p, p.controls[1]), norms[0], width=150),
        "depth": slider(f"{name}-depth", "Depth (blocks)", p.depths[0], deepest, deepest, width=230),
    }
    readout = Div(text="", name=f"{name}-readout", width=740)
    shipped = payload_source(p, name=name)
    update = js_callback(
        "block_gradients",
        payload=shipped,
        widgets=widgets,
        readout=readout,
        source=source,
        plot=plot,
        description=description(name, _WHAT_GRADIENTS),
    )
    on_change(update, *widgets.values())
    fig = column(control_row(f"{name}-controls", *widgets.values()), plot, readout, name=name)
    return on_document_ready(fit(fig), update)


def gradient_figure(
    profiles: Mapping, *, activation: str | None = None, init: str | None = None, name: str = "grads"
):
    """``gradient_layout(gradient_payload(profiles, activation=activation))``: the figure the chapter shows
    (``init`` first)."""
    return gradient_layout(gradient_payload(profiles, activation=activation), name=name, init=init)
