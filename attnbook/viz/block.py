"""Figures of the transformer-block chapter: the block's wiring, the signal across depth and the gradients per layer
at initialisation (Pre-LN vs Post-LN, Xiong et al. 2020), from profiles measured by :mod:`attnbook.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, DataRange1d, Div, HoverTool, Legend, LegendItem, Select, Slider
from bokeh.plotting import figure

from .._checks import check_choice
from ..stats import SignalProfile
from .core import diagram_figure, float32, js_callback, on_document_ready

__all__ = [
    "ACTIVATION_LABELS",
    "BLOCK_LABELS",
    "INIT_LABELS",
    "NORM_LABELS",
    "block_diagram",
    "gradient_figure",
    "signal_figure",
]

NORM_LABELS = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "none": "no norm"}
BLOCK_LABELS = {"pre": "Pre-LN", "post": "Post-LN", "sandwich": "Sandwich"}
ACTIVATION_LABELS = {"relu": "ReLU", "gelu": "GeLU", "swish": "Swish", "swiglu": "SwiGLU"}
INIT_LABELS = {
    "gpt2": "GPT-2: N(0, 0.02²), output projections / √(2L)",
    "xavier": "Xavier: N(0, 2/(fan_in + fan_out))",
}
_PLAIN = {"toolbar_location": None, "tools": ""}
_BLOCK_COLORS = {"pre": "#2166ac", "post": "#b2182b", "sandwich": "#4d9221"}
_NORM_FILL, _F_FILL = "#fddbc7", "#d1e5f0"


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

    wires["xs"].append([0.0, 20.0])  # the residual stream itself
    wires["ys"].append([0.0, 0.0])
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
    labels = {
        "x": [0.0, 10.0, 20.0],
        "y": [-0.75, -0.75, -0.75],
        "text": ["stream in (x)", "residual stream", "stream out"],
    }
    return {"boxes": boxes, "wires": wires, "adds": adds, "labels": labels}


def _diagram_plot(name: str, first: dict) -> tuple[object, dict[str, ColumnDataSource]]:
    plot = diagram_figure(
        name=f"{name}-diagram",
        title="One block",
        width=740,
        height=170,
        x_range=(-1.2, 21.2),
        y_range=(-1.2, 2.1),
    )
    sources = {key: ColumnDataSource(first[key], name=f"{name}-diagram-{key}") for key in first}
    plot.multi_line("xs", "ys", source=sources["wires"], line_color="#555555", line_width=2)
    plot.rect("x", "y", "w", 0.8, source=sources["boxes"], fill_color="fill", line_color="#444444")
    plot.text(
        "x",
        "y",
        text="label",
        source=sources["boxes"],
        text_align="center",
        text_baseline="middle",
        text_font_size="9pt",
    )
    plot.scatter("x", "y", source=sources["adds"], size=18, fill_color="white", line_color="#444444")
    plot.text(
        "x",
        "y",
        text={"value": "+"},
        source=sources["adds"],
        text_align="center",
        text_baseline="middle",
        text_font_size="12pt",
    )
    plot.text(
        "x",
        "y",
        text="text",
        source=sources["labels"],
        text_align="center",
        text_baseline="middle",
        text_font_size="8pt",
        text_color="#666666",
    )
    return plot, sources


# ---------------------------------------------------------------------------------------------------------
# checking and packing a sweep


def _axes(profiles: Mapping) -> tuple[tuple, ...]:
    """The sorted-by-appearance values of each key position, and a check that the sweep is complete."""
    if not isinstance(profiles, Mapping) or not profiles:
        raise TypeError(
            "profiles must be a non-empty mapping from (norm, block, activation, depth, init) keys"
        )
    for key, prof in profiles.items():
        if not (isinstance(key, tuple) and len(key) == 5) or not isinstance(prof, SignalProfile):
            raise TypeError(
                "profiles must map (norm, block, activation, depth, init) to SignalProfile, "
                f"as made by attnbook.stats.signal_sweep; got {key!r}"
            )
    axes = tuple(tuple(dict.fromkeys(k[i] for k in profiles)) for i in range(5))
    n = int(np.prod([len(a) for a in axes]))
    if n != len(profiles):
        raise ValueError(
            f"profiles must hold every combination of its keys' values ({n}), got {len(profiles)}"
        )
    for v in axes[0]:
        check_choice("norm", v, NORM_LABELS)
    for v in axes[1]:
        check_choice("block", v, BLOCK_LABELS)
    for v in axes[2]:
        check_choice("activation", v, ACTIVATION_LABELS)
    depths = axes[3]
    if list(depths) != sorted(depths) or min(depths) < 1:
        raise ValueError(f"depths must be increasing and >= 1, got {depths}")
    return axes


def _offsets(depths: tuple[int, ...], extra: int) -> list[int]:
    """Start of each depth's slots when depth ``d`` takes ``d + extra`` slots, one after the other."""
    out, acc = [], 0
    for d in depths:
        out.append(acc)
        acc += d + extra
    return out


# ---------------------------------------------------------------------------------------------------------
# signal across depth


def signal_figure(
    profiles: Mapping,
    *,
    init: str | None = None,
    norm: str | None = None,
    block: str | None = None,
    activation: str | None = None,
    name: str = "signal",
):
    """Signal statistics across depth and activation histograms, with selects for norm, placement, activation.

    Parameters
    ----------
    profiles : mapping
        ``(norm, block, activation, depth, init) -> SignalProfile`` from :func:`attnbook.stats.signal_sweep`,
        with histograms. Every depth is its own model; the depth slider picks it, the layer select one of
        its blocks.
    init : str, optional
        Which initialisation to show when the sweep holds several; default the first.
    norm, block, activation : str, optional
        The selects' first values; default the first of each in the sweep.
    name : str, optional
        Prefix of every model's name.
    """
    norms, blocks, acts, depths, inits = _axes(profiles)
    init = inits[0] if init is None else check_choice("init", init, inits)
    norm0 = norms[0] if norm is None else check_choice("norm", norm, norms)
    block0 = blocks[0] if block is None else check_choice("block", block, blocks)
    act0 = acts[0] if activation is None else check_choice("activation", activation, acts)
    # Without a norm the placements are one network; signal_sweep shares its profile, so store it once.
    rows: list[SignalProfile] = []
    row_of: dict[str, int] = {}
    for n_ in norms:
        for b_ in blocks:
            for a_ in acts:
                first = profiles[n_, b_, a_, depths[0], init]
                match = next((i for i, r in enumerate(rows) if r.resid_hist is first.resid_hist), None)
                if match is None:
                    match = len(rows)
                    rows.append(first)
                row_of[f"{n_}|{b_}|{a_}"] = match
    unique = {}
    for key, r in row_of.items():
        unique.setdefault(r, key)
    keys_of_row = [unique[r] for r in range(len(rows))]

    off_l, off_s = _offsets(depths, 0), _offsets(depths, 1)
    n_l, n_s = off_l[-1] + depths[-1], off_s[-1] + depths[-1] + 1
    first_prof = profiles[norms[0], blocks[0], acts[0], depths[0], init]
    if first_prof.resid_hist is None or first_prof.mlp_hist is None:
        raise ValueError("profiles must have histograms (signal_sweep with histograms=True, attn_only=False)")
    bins = first_prof.resid_hist.shape[1]
    R = len(rows)
    stats = np.zeros((R, n_s, 3))  # mean, std, max |x|; index 0 of each depth is the embedding
    resid = np.zeros((R, n_l, bins))
    resid_range = np.zeros((R, n_l, 2))
    mlp = np.zeros((R, n_l, bins))
    mlp_range = np.zeros((R, n_l, 2))
    for r, key in enumerate(keys_of_row):
        n_, b_, a_ = key.split("|")
        for k, d in enumerate(depths):
            p = profiles[n_, b_, a_, d, init]
            if p.resid_hist is None or p.mlp_hist is None or p.resid_hist.shape[1] != bins:
                raise ValueError(f"profile {key} depth {d} must have histograms of {bins} bins")
            stats[r, off_s[k] : off_s[k] + d + 1] = np.stack([p.mean, p.std, p.max], axis=1)
            resid[r, off_l[k] : off_l[k] + d] = p.resid_hist
            resid_range[r, off_l[k] : off_l[k] + d] = p.resid_range
            mlp[r, off_l[k] : off_l[k] + d] = p.mlp_hist
            mlp_range[r, off_l[k] : off_l[k] + d] = p.mlp_range

    diagrams = {f"{n}|{b}|{a}": block_diagram(n, b, a) for n in norms for b in blocks for a in acts}
    key0 = f"{norm0}|{block0}|{act0}"
    diagram, dsources = _diagram_plot(name, diagrams[key0])

    d0 = depths[-1]
    layer_x = np.arange(d0 + 1, dtype=np.float32)
    stats_source = ColumnDataSource(
        dict(
            layer=layer_x,
            mean=np.zeros(d0 + 1, np.float32),
            std=np.zeros(d0 + 1, np.float32),
            max=np.zeros(d0 + 1, np.float32),
        ),
        name=f"{name}-stats",
    )
    stats_plot = figure(
        name=f"{name}-stats-plot",
        title="Residual stream after each block",
        width=370,
        height=300,
        x_range=(-0.3, depths[-1] + 0.3),
        **_PLAIN,
    )
    colors = {"mean": "#4d4d4d", "std": "#2166ac", "max": "#b2182b"}
    items = []
    for key, label in (("max", "max |x|"), ("std", "std"), ("mean", "mean")):
        line = stats_plot.line("layer", key, source=stats_source, color=colors[key], line_width=2)
        dots = stats_plot.scatter("layer", key, source=stats_source, color=colors[key], size=5)
        items.append(LegendItem(label=label, renderers=[line, dots]))
    stats_plot.add_layout(
        Legend(
            items=items,
            orientation="horizontal",
            padding=2,
            margin=2,
            spacing=12,
            border_line_color=None,
            name=f"{name}-legend",
        ),
        "below",
    )
    stats_plot.add_tools(
        HoverTool(
            tooltips=[
                ("layer", "@layer"),
                ("mean", "@mean{0.0000}"),
                ("std", "@std{0.0000}"),
                ("max |x|", "@max{0.000}"),
            ],
            mode="vline",
        )
    )
    stats_plot.xaxis.axis_label = "after block (0 = embeddings)"

    def hist_plot(key: str, title: str):
        source = ColumnDataSource(
            dict(
                left=np.zeros(bins, np.float32),
                right=np.ones(bins, np.float32),
                top=np.zeros(bins, np.float32),
            ),
            name=f"{name}-{key}",
        )
        plot = figure(
            name=f"{name}-{key}-plot",
            title=title,
            width=370,
            height=260,
            y_range=DataRange1d(start=0, name=f"{name}-{key}-yrange"),
            **_PLAIN,
        )
        plot.quad(
            left="left",
            right="right",
            bottom=0,
            top="top",
            source=source,
            fill_color="#6baed6",
            line_color="white",
        )
        plot.yaxis.axis_label = "fraction of entries"
        return source, plot

    resid_source, resid_plot = hist_plot("resid", "Residual stream after block 1")
    mlp_source, mlp_plot = hist_plot("mlp", "MLP activation output in block 1")
    resid_plot.xaxis.axis_label = "value"
    mlp_plot.xaxis.axis_label = "act(h)"

    norm_w = Select(
        title="Norm",
        value=norm0,
        options=[(n, NORM_LABELS[n]) for n in norms],
        name=f"{name}-norm",
        width=150,
    )
    block_w = Select(
        title="Placement",
        value=block0,
        options=[(b, BLOCK_LABELS[b]) for b in blocks],
        name=f"{name}-block",
        width=150,
    )
    act_w = Select(
        title="Activation",
        value=act0,
        options=[(a, ACTIVATION_LABELS[a]) for a in acts],
        name=f"{name}-activation",
        width=150,
    )
    depth_w = Slider(
        start=depths[0],
        end=depths[-1],
        value=depths[-1],
        step=1,
        title="Depth (blocks)",
        name=f"{name}-depth",
        width=260,
    )
    layer_w = Select(
        title="Histograms of block",
        value="1",
        options=[str(i) for i in range(1, depths[-1] + 1)],
        name=f"{name}-layer",
        width=150,
    )
    readout = Div(text="", name=f"{name}-readout", width=350, margin=(20, 5, 5, 15))
    update = js_callback(
        "block_signal",
        norm_w=norm_w,
        block_w=block_w,
        act_w=act_w,
        depth_w=depth_w,
        layer_w=layer_w,
        readout=readout,
        stats_source=stats_source,
        stats_plot=stats_plot,
        resid_source=resid_source,
        resid_plot=resid_plot,
        mlp_source=mlp_source,
        mlp_plot=mlp_plot,
        diagram_sources=dsources,
        diagrams=diagrams,
        row_of=row_of,
        depths=list(depths),
        off_l=off_l,
        off_s=off_s,
        stats=float32("stats", stats),
        resid=float32("resid", resid),
        resid_range=float32("resid_range", resid_range),
        mlp=float32("mlp", mlp),
        mlp_range=float32("mlp_range", mlp_range),
        norm_labels=NORM_LABELS,
        block_labels=BLOCK_LABELS,
        act_labels=ACTIVATION_LABELS,
    )
    for w in (norm_w, block_w, act_w, depth_w, layer_w):
        w.js_on_change("value", update)
    layout = column(
        row(norm_w, block_w, act_w),
        row(depth_w, layer_w),
        diagram,
        row(stats_plot, resid_plot),
        row(mlp_plot, readout),
        name=f"{name}-layout",
    )
    return on_document_ready(layout, update)


# ---------------------------------------------------------------------------------------------------------
# gradients per layer


def gradient_figure(
    profiles: Mapping, *, activation: str | None = None, init: str | None = None, name: str = "grads"
):
    """Gradient norm of each block's parameters at initialisation, one line per placement.

    Parameters
    ----------
    profiles : mapping
        ``(norm, block, activation, depth, init) -> SignalProfile`` from :func:`attnbook.stats.signal_sweep`
        (histograms not needed).
    activation : str, optional
        The activation shown when the sweep holds several; default the first.
    init : str, optional
        The initialisation shown first; default the first in the sweep.
    name : str, optional
    """
    norms, blocks, acts, depths, inits = _axes(profiles)
    init0 = inits[0] if init is None else check_choice("init", init, inits)
    act = acts[0] if activation is None else check_choice("activation", activation, acts)
    off = _offsets(depths, 0)
    n_slots = off[-1] + depths[-1]
    grads = np.zeros((len(inits), len(norms), len(blocks), n_slots))
    for i, init in enumerate(inits):
        for n, norm in enumerate(norms):
            for b, block in enumerate(blocks):
                for k, d in enumerate(depths):
                    grads[i, n, b, off[k] : off[k] + d] = profiles[norm, block, act, d, init].grad_norm
    if not np.all(np.isfinite(grads)) or grads.min() <= 0:
        raise ValueError("profiles must have finite, positive gradient norms to draw on a log scale")

    d0 = depths[-1]
    source = ColumnDataSource(
        dict(layer=np.arange(1, d0 + 1, dtype=np.float32), **{b: np.ones(d0, np.float32) for b in blocks}),
        name=f"{name}-source",
    )
    plot = figure(
        name=f"{name}-plot",
        title="Gradient norm of each block's parameters",
        width=740,
        height=320,
        y_axis_type="log",
        x_range=(0.7, depths[-1] + 0.3),
        **_PLAIN,
    )
    items = []
    for b in blocks:
        line = plot.line("layer", b, source=source, color=_BLOCK_COLORS.get(b, "#333333"), line_width=2.5)
        dots = plot.scatter("layer", b, source=source, color=_BLOCK_COLORS.get(b, "#333333"), size=6)
        items.append(LegendItem(label=BLOCK_LABELS[b], renderers=[line, dots]))
    plot.add_layout(
        Legend(
            items=items,
            orientation="horizontal",
            padding=2,
            margin=2,
            spacing=12,
            border_line_color=None,
            name=f"{name}-legend",
        ),
        "above",
    )
    plot.add_tools(
        HoverTool(
            tooltips=[("block", "@layer")] + [(BLOCK_LABELS[b], f"@{b}{{0.0000}}") for b in blocks],
            mode="vline",
        )
    )
    plot.xaxis.axis_label = "block (1 = nearest the input)"
    plot.yaxis.axis_label = "‖∂loss/∂θ_block‖ (log scale)"

    init_w = Select(
        title="Initialisation",
        value=init0,
        options=[(i, INIT_LABELS.get(i, i)) for i in inits],
        name=f"{name}-init",
        width=330,
    )
    norm_w = Select(
        title="Norm",
        value=norms[0],
        options=[(n, NORM_LABELS[n]) for n in norms],
        name=f"{name}-norm",
        width=150,
    )
    depth_w = Slider(
        start=depths[0],
        end=depths[-1],
        value=depths[-1],
        step=1,
        title="Depth (blocks)",
        name=f"{name}-depth",
        width=230,
    )
    readout = Div(text="", name=f"{name}-readout", width=740)
    update = js_callback(
        "block_gradients",
        init_w=init_w,
        norm_w=norm_w,
        depth_w=depth_w,
        readout=readout,
        source=source,
        plot=plot,
        grads=float32("grads", grads),
        inits=list(inits),
        norms=list(norms),
        blocks=list(blocks),
        depths=list(depths),
        off=off,
        block_labels=BLOCK_LABELS,
        norm_labels=NORM_LABELS,
        init_labels={i: INIT_LABELS.get(i, i) for i in inits},
        activation=ACTIVATION_LABELS[act],
    )
    for w in (init_w, norm_w, depth_w):
        w.js_on_change("value", update)
    layout = column(row(init_w, norm_w, depth_w), plot, readout, name=f"{name}-layout")
    return on_document_ready(layout, update)
