"""Figures of the training chapter: loss and gradient-norm curves, two runs compared, attention before and after
training, sampling with temperature and top-k, and Pre-LN vs Post-LN (Xiong et al. 2020).

Each figure is three parts (see :mod:`attnbook.viz.figure`): ``<figure>_payload`` packs results passed in (a
run's ``history`` from :func:`attnbook.train.train`, or the results of :mod:`attnbook.experiments.training`)
with pure NumPy; ``<figure>_layout`` assembles the figure from :mod:`attnbook.viz.kit`; the callback
``js/training_<figure>.mjs`` picks the slice the widgets select. ``<figure>_figure`` is the layout of the payload.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, DataRange1d, Div, FixedTicker, Range1d

from .._checks import as_float_array, check_bool, check_choice, check_int, check_tokens
from ..analysis import attention_entropy
from .core import SEQUENTIAL, check_name, js_callback, on_document_ready
from .figure import Control, check_payload, payload_source, pick, seed_labels
from .kit import (
    bar_panel,
    color_mapper,
    control_row,
    curve,
    described,
    description,
    empty_source,
    fit,
    grid_source,
    hover,
    labelled_select,
    legend,
    line_panel,
    log_ticks,
    on_change,
    select,
    toggle,
    token_grid,
    value_slider,
    view_sources,
)

__all__ = [
    "METRICS",
    "display_char",
    "select_label",
    "CurvesPayload",
    "curves_payload",
    "curves_layout",
    "training_curves_figure",
    "ComparisonPayload",
    "comparison_payload",
    "comparison_layout",
    "comparison_figure",
    "AttentionPayload",
    "attention_payload",
    "attention_layout",
    "attention_toggle_figure",
    "SamplingPayload",
    "sampling_payload",
    "sampling_layout",
    "sampling_figure",
    "XiongPayload",
    "xiong_payload",
    "xiong_layout",
    "xiong_figure",
]

_LAYER_COLORS = ("#2166ac", "#b2182b", "#4d9221", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#666666")
_A_COLOR, _B_COLOR = "#2166ac", "#d6604d"
_BLOCK_COLORS = {"pre": "#2166ac", "post": "#b2182b", "sandwich": "#4d9221"}
_BLOCK_LABELS = {"pre": "Pre-LN", "post": "Post-LN", "sandwich": "Sandwich"}
_STATUSES = ("done", "diverged", "interrupted")

# The comparison figure's metrics: label, and the history keys of its x and y.
METRICS: dict[str, tuple[str, str, str]] = {
    "val_loss": ("validation loss (estimate)", "eval_step", "val_loss"),
    "loss": ("training loss (one batch)", "step", "loss"),
    "grad_norm": ("gradient norm before clipping", "step", "grad_norm"),
}


def display_char(c: str) -> str:
    """A visible label for one character: ``␣`` for a space, ``⏎`` for a newline, the character otherwise."""
    if not isinstance(c, str) or len(c) != 1:
        raise ValueError(f"c must be a single character, got {c!r}")
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(c, c)


# ---------------------------------------------------------------------------------------------------------
# Shared by the payloads: checks, curves with their non-finite points, the page's number formats


def _fmt(x, digits: int = 2) -> str:
    """``fmt`` of js/lib.mjs: f"{x:.{digits}f}", "∞"/"−∞" for infinities, "" for NaN."""
    x = float(x)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}f}"


def _sig(x, digits: int = 3) -> str:
    """``sig`` of js/lib.mjs: ``digits`` significant digits, trailing zeros kept (f"{x:#.{digits}g}" without
    a trailing decimal point, as JavaScript's toPrecision writes it)."""
    x = float(x)
    return _fmt(x) if not math.isfinite(x) else f"{x:#.{digits}g}".replace(".e", "e").removesuffix(".")


def _check_history(name: str, history, keys: Sequence[str]) -> Mapping[str, np.ndarray]:
    if not isinstance(history, Mapping):
        raise TypeError(f"{name} must be a training history (dict of arrays), got {type(history).__name__}")
    missing = [k for k in keys if k not in history]
    if missing:
        raise ValueError(f"{name} is missing {missing} (a history from attnbook.train.train has them)")
    return history


def _check_run(name: str, entry, keys: Sequence[str]) -> tuple[str, Mapping[str, np.ndarray], str]:
    if not isinstance(entry, tuple) or len(entry) != 3 or not isinstance(entry[0], str):
        raise TypeError(f"{name} must be a (label, history, status) tuple")
    label, history, status = entry
    check_choice(f"{name} status", status, _STATUSES)
    return label, _check_history(f"{name} history", history, keys), status


def _series(name: str, x, y) -> tuple[np.ndarray, np.ndarray]:
    """A recorded curve as float32 ``(x, y)``, non-finite values kept (the figure leaves them out)."""
    y = as_float_array(name, y, ndim=1, finite=False)
    x = np.asarray(x, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"{name} must have one value per step, got {y.shape} values for {x.shape} steps")
    return x.astype(np.float32), y.astype(np.float32)


def _padded(curves: list) -> tuple[np.ndarray, np.ndarray]:
    """Nested lists of ``(x, y)`` curves as two float32 arrays ``(..., N)``, NaN past each curve's end."""
    flat, shape = [], []

    def walk(c, depth):
        if isinstance(c, tuple):
            flat.append(c)
            return
        if len(shape) == depth:
            shape.append(len(c))
        for item in c:
            walk(item, depth + 1)

    walk(curves, 0)
    n = max(len(x) for x, _ in flat)
    xs, ys = np.full((len(flat), n), np.nan, np.float32), np.full((len(flat), n), np.nan, np.float32)
    for i, (x, y) in enumerate(flat):
        xs[i, : len(x)], ys[i, : len(y)] = x, y
    return xs.reshape(*shape, n), ys.reshape(*shape, n)


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``finiteXY`` of js/lib.mjs: the points whose y is finite."""
    keep = np.isfinite(y)
    return x[keep], y[keep]


# ---------------------------------------------------------------------------------------------------------
# Loss and gradient norms of one run


class CurvesPayload(NamedTuple):
    """One run's history as recorded, float32 (a diverged run's last values are NaN or inf and are not drawn)."""

    controls: tuple  # none: the figure has no widgets
    axes: dict
    step: np.ndarray  # (N,) logged steps
    loss: np.ndarray  # (N,) loss of that step's batch
    grad_layers: np.ndarray  # (N, n_layer) gradient norm of each block's parameters, before clipping
    eval_step: np.ndarray  # (M,) steps of the loss estimates
    train_loss: np.ndarray  # (M,) estimate on the training text
    val_loss: np.ndarray  # (M,) estimate on the validation text

    def view(p, state: dict) -> dict:
        """The curves' finite points (a step whose gradient norms are not all finite is left out)."""
        keep = np.isfinite(p.grad_layers).all(axis=1)
        grad = {f"layer{i}": p.grad_layers[keep, i] for i in range(p.grad_layers.shape[1])}
        return {
            "description": _describe_curves(p),
            "batch": dict(zip(("step", "loss"), _finite(p.step, p.loss), strict=True)),
            "train-estimate": dict(zip(("step", "train"), _finite(p.eval_step, p.train_loss), strict=True)),
            "val-estimate": dict(zip(("step", "val"), _finite(p.eval_step, p.val_loss), strict=True)),
            "grad-layers": {"step": p.step[keep], **grad},
        }


_WHAT_CURVES = (
    "Training curves: the loss of each batch and the estimated training and validation losses against the step, "
    "and below them the gradient norm of each block's parameters on a log scale."
)


def _describe_curves(p: CurvesPayload) -> dict:
    """The curves' description: the last and the lowest validation estimate, the last training estimate."""
    step, val = _finite(p.eval_step, p.val_loss)
    _, train = _finite(p.eval_step, p.train_loss)
    if len(val) == 0:
        return described(_WHAT_CURVES, "No finite loss estimate.")
    best = int(np.argmin(val))
    state = (
        f"At step {int(step[-1])}: validation loss {_fmt(val[-1], 3)}"
        + (f", training loss {_fmt(train[-1], 3)}" if len(train) else "")
        + f"; lowest validation loss {_fmt(val[best], 3)} at step {int(step[best])}."
    )
    return described(_WHAT_CURVES, state)


def curves_payload(history: Mapping[str, np.ndarray]) -> CurvesPayload:
    """Pack a run's history from :func:`attnbook.train.train` (``step``, ``loss``, ``grad_norm_layers`` (N, n_layer),
    ``eval_step``, ``train_loss``, ``val_loss``)."""
    keys = ("step", "loss", "grad_norm_layers", "eval_step", "train_loss", "val_loss")
    h = _check_history("history", history, keys)
    step, loss = _series("history['loss']", h["step"], h["loss"])
    layers = as_float_array("history['grad_norm_layers']", h["grad_norm_layers"], ndim=2, finite=False)
    if layers.shape[0] != len(step):
        raise ValueError(f"history['grad_norm_layers'] must have one row per step, got {layers.shape}")
    if layers.shape[1] > len(_LAYER_COLORS):
        raise ValueError(f"history has {layers.shape[1]} layers; at most {len(_LAYER_COLORS)} can be drawn")
    eval_step, train = _series("history['train_loss']", h["eval_step"], h["train_loss"])
    _, val = _series("history['val_loss']", h["eval_step"], h["val_loss"])
    return CurvesPayload((), {}, step, loss, layers.astype(np.float32), eval_step, train, val)


def curves_layout(p: CurvesPayload, *, name: str = "training"):
    """Loss (batch, training and validation estimates) above the gradient norm of each block, sharing the steps."""
    check_name(name)
    check_payload(p)
    # Nothing to choose: the sources hold the view's columns, and the payload rides along for the numbers check.
    shown = p.view({})
    drawn = [m for m in shown if m != "description"]
    src = dict(zip(drawn, view_sources(name, shown, *drawn), strict=True))
    loss = line_panel(
        name=f"{name}-loss-plot", title="Loss", x_label="", y_label="cross-entropy (nats)", width=740
    )
    r_batch = curve(loss, src["batch"], "step", "loss", color="#bbbbbb", width=1.5)
    r_train = curve(loss, src["train-estimate"], "step", "train", color="#2166ac", marker="circle", size=5)
    r_val = curve(loss, src["val-estimate"], "step", "val", color="#d6604d", marker="square", size=5)
    items = [
        ("one training batch", r_batch[:1]),
        ("training set (estimate)", r_train[:1]),
        ("validation set (estimate)", r_val[:1]),
    ]
    legend(loss, items, name=f"{name}-loss-legend")
    loss.add_tools(hover(r_val[0], ("step", "@step"), ("val loss", "@val{0.000}")))
    grad = line_panel(
        name=f"{name}-grad-plot",
        title="Gradient norm of each block's parameters (before clipping)",
        x_label="step",
        y_label="‖∇‖ (log scale)",
        width=740,
        y_axis_type="log",
        x_range=loss.x_range,
    )
    log_ticks(grad.yaxis[0], name=f"{name}-grad-yticks")  # Bokeh's own crowds 1.5, 2, 2.5 within a decade
    n_layer = p.grad_layers.shape[1]
    lines = [
        curve(grad, src["grad-layers"], "step", f"layer{i}", color=_LAYER_COLORS[i]) for i in range(n_layer)
    ]
    legend(grad, [(f"block {i + 1}", r) for i, r in enumerate(lines)], name=f"{name}-grad-legend")
    about = description(name, _WHAT_CURVES)
    about.text = shown["description"]["text"]  # nothing moves: the description is written once, here
    return fit(column(loss, grad, name=name, tags=[payload_source(p, name=name), about]))


def training_curves_figure(history: Mapping[str, np.ndarray], *, name: str = "training"):
    """``curves_layout(curves_payload(history))``: loss curves and per-block gradient norms over training."""
    return curves_layout(curves_payload(history), name=name)


# ---------------------------------------------------------------------------------------------------------
# Experiment comparison


_WHAT_COMPARE = (
    "Experiment comparison: the chosen curve of run A (solid) and run B (dashed) against the step, and a table "
    "of every run's final losses."
)
_WHAT_ATTENTION = (
    "Random against trained attention: one head's attention weights over a text as a heatmap, at "
    "initialisation or after training."
)
_WHAT_SAMPLING = (
    "Sampling with temperature and top-k: the probability of each character coming next as bars, and text "
    "generated after the prompt at these settings."
)
_WHAT_XIONG = (
    "Pre-LN against Post-LN: the gradient norm of each block at initialisation for each placement, and the "
    "validation loss of each run against the step at the chosen peak learning rate."
)


class ComparisonPayload(NamedTuple):
    """Every run's curves for every metric at every seed, and their final losses.

    ``x`` and ``y`` are indexed by run and metric (the first seed's curves, drawn thick); ``seed_x`` and ``seed_y``
    hold the other seeds' (thin lines). Both selects ``a`` and ``b`` take the run keys, so run B's curve is the
    same field picked with B's run on the ``a`` axis: ``pick(p, "y", {**state, "a": state["b"]})``.
    """

    controls: tuple  # a, b: run keys; metric: keys of METRICS
    axes: dict
    labels: tuple  # (R,) run labels
    seeds: (
        tuple  # (S,) the seeds' labels, the first is the one drawn thick (one seed: the table has no seeds)
    )
    x: np.ndarray  # (R, n_metrics, N) steps, NaN past the end of a curve
    y: np.ndarray  # (R, n_metrics, N) values, NaN past the end; NaN or inf where a run diverged
    seed_x: np.ndarray  # (R, n_metrics, S - 1, N) the same at the other seeds
    seed_y: np.ndarray  # (R, n_metrics, S - 1, N)
    final_train: np.ndarray  # (R,) last training estimate (NaN if none), first seed
    final_val: np.ndarray  # (R,) last validation estimate, first seed
    best_val: np.ndarray  # (R,) lowest finite validation estimate, first seed
    seed_val: np.ndarray  # (S, R) last validation estimate at every seed
    diverged: tuple  # (R,) bool, at any seed

    def view(p, state: dict) -> dict:
        """Run A's and run B's curves of the chosen metric (finite points) at every seed, and the table."""
        b = {**state, "a": state["b"]}
        a_xy, b_xy = (
            _finite(pick(p, "x", state), pick(p, "y", state)),
            _finite(pick(p, "x", b), pick(p, "y", b)),
        )
        runs = p.controls[0].values
        parts = []
        for who, key, (x, y) in (("A", state["a"], a_xy), ("B", state["b"], b_xy)):
            last = f"last value {_fmt(y[-1], 3)} at step {int(x[-1])}" if len(y) else "no finite value"
            parts.append(f"run {who}, {p.labels[runs.index(key)]}: {last}")
        text = f"{METRICS[state['metric']][0]}; " + "; ".join(parts) + "."
        out = {
            "a-source": dict(zip(("x", "y"), a_xy, strict=True)),
            "b-source": dict(zip(("x", "y"), b_xy, strict=True)),
        }
        for side, st in (("a", state), ("b", b)):
            xs, ys = pick(p, "seed_x", st), pick(p, "seed_y", st)  # (S - 1, N) each
            for k in range(len(p.seeds) - 1):
                out[f"{side}-seed{k + 1}-source"] = dict(zip(("x", "y"), _finite(xs[k], ys[k]), strict=True))
        out["table"] = {"text": _table_html(p)}
        out["description"] = described(_WHAT_COMPARE, html.escape(text))
        return out


def _table_html(p: ComparisonPayload) -> str:
    """An HTML table of the runs' final losses (with several seeds: the final validation loss at each, and the mean)."""
    several = len(p.seeds) > 1
    if several:
        head = ["run: final validation loss at", *p.seeds, "mean", ""]
    else:
        head = ["run", "final train loss", "final val loss", "best val loss", ""]

    def cell(tag: str, text: str, j: int) -> str:
        align = "right" if j else "left"
        line = "border-bottom:1px solid #999;" if tag == "th" else ""
        # numbers and "seed 0" stay whole on a phone; run names wrap
        keep = "white-space:nowrap;" if j else ""
        return f'<{tag} style="text-align:{align};padding:4px 8px;vertical-align:top;{keep}{line}">{text}</{tag}>'

    def num(x) -> str:
        return f"{x:.3f}" if math.isfinite(x) else "—"

    out = ['<table style="border-collapse:collapse;font-size:13px;width:100%">']
    out.append("<tr>" + "".join(cell("th", h, j) for j, h in enumerate(head)) + "</tr>")
    for r, label in enumerate(p.labels):
        if several:
            vals = p.seed_val[:, r]
            cells = [html.escape(label), *(num(v) for v in vals), num(float(np.mean(vals)))]
        else:
            cells = [html.escape(label), num(p.final_train[r]), num(p.final_val[r]), num(p.best_val[r])]
        cells.append("diverged" if p.diverged[r] else "")
        out.append("<tr>" + "".join(cell("td", c, j) for j, c in enumerate(cells)) + "</tr>")
    return "".join(out) + "</table>"


def comparison_payload(
    runs: Mapping[str, tuple[str, Mapping[str, np.ndarray], str]],
    *,
    others: Sequence[Mapping[str, tuple[str, Mapping[str, np.ndarray], str]]] = (),
    seeds: Sequence[str] | None = None,
) -> ComparisonPayload:
    """Pack ``runs[key] = (label, history, status)`` (at least two runs; histories from :func:`attnbook.train.train`,
    status ``"done"``, ``"diverged"`` or ``"interrupted"``; :func:`attnbook.experiments.training.figure_runs`).

    ``others``: the same runs (same keys) at other seeds, drawn as thin lines; ``seeds``: a label for each seed,
    ``runs``'s first (required with ``others``, e.g. ``("seed 0", "seed 1", "seed 2")``).
    """
    if not isinstance(runs, Mapping) or len(runs) < 2:
        raise ValueError("runs must be a dict of at least two runs")
    if not all(isinstance(k, str) for k in runs):
        raise TypeError(f"runs must be keyed by str (the selects' values), got {list(runs)}")
    if isinstance(others, (str, bytes, Mapping)) or not isinstance(others, Sequence):
        raise TypeError("others must be a sequence of dicts of runs (one per other seed)")
    for k, o in enumerate(others):
        if not isinstance(o, Mapping) or list(o) != list(runs):
            raise ValueError(f"others[{k}] must have the keys of runs, in order: {list(runs)}")
    seeds = seed_labels(seeds, len(others), "runs and each of others")
    keys = ("step", "loss", "grad_norm", "eval_step", "train_loss", "val_loss")
    labels, curves, finals, diverged = [], [], [], np.zeros(len(runs), bool)
    for si, group in enumerate((runs, *others)):
        curves.append([])
        finals.append([])
        for r, (key, entry) in enumerate(group.items()):
            where = f"runs[{key!r}]" if si == 0 else f"others[{si - 1}][{key!r}]"
            label, h, status = _check_run(where, entry, keys)
            if si == 0:
                labels.append(label)
            curves[-1].append([_series(f"{where}['{y}']", h[x], h[y]) for _, x, y in METRICS.values()])
            tr, val = (np.asarray(h[k], dtype=np.float64) for k in ("train_loss", "val_loss"))
            fin = val[np.isfinite(val)]
            finals[-1].append(
                [
                    tr[-1] if len(tr) else np.nan,
                    val[-1] if len(val) else np.nan,
                    fin.min() if len(fin) else np.nan,
                ]
            )
            diverged[r] |= status == "diverged"
    xs, ys = _padded(curves)  # (S, R, n_metrics, N)
    finals = np.array(finals, dtype=np.float64)  # (S, R, 3)
    keys = tuple(runs)
    controls = (Control("a", keys), Control("b", keys), Control("metric", tuple(METRICS)))
    axes = {f: ("a", "metric") for f in ("x", "y", "seed_x", "seed_y")}
    return ComparisonPayload(
        controls,
        axes,
        tuple(labels),
        seeds,
        xs[0],
        ys[0],
        np.ascontiguousarray(xs[1:].transpose(1, 2, 0, 3)),
        np.ascontiguousarray(ys[1:].transpose(1, 2, 0, 3)),
        *finals[0].T,
        finals[:, :, 1],
        tuple(bool(d) for d in diverged),
    )


_SELECT_CHARS = 46  # a run's label in a 360-pixel select: longer ones are cut, at a comma when there is one


def select_label(label: str, limit: int = _SELECT_CHARS) -> str:
    """``label`` short enough to be read whole in a run select: at most ``limit`` characters, cut after its last
    whole ", "-separated part that fits, and ending in "…" when cut (the figure's table gives the whole label)."""
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}")
    limit = check_int("limit", limit, low=2)
    if len(label) <= limit:
        return label
    head = label[: limit - 1]
    cut = head.rfind(", ")
    return (head[:cut] if cut > 0 else head.rstrip()) + "…"


def comparison_layout(
    p: ComparisonPayload,
    *,
    first: tuple[str, str] | None = None,
    metric: str = "val_loss",
    name: str = "compare",
):
    """Two selects for runs A and B, one for the curve, the two curves overlaid, the table of final losses."""
    check_name(name)
    check_payload(p)
    keys = p.controls[0].values
    first = (keys[0], keys[1]) if first is None else first
    if not isinstance(first, tuple) or len(first) != 2:
        raise ValueError(f"first must be a pair of run keys, got {first!r}")
    for k in first:
        check_choice("first[i]", k, keys)
    check_choice("metric", metric, METRICS)
    runs = [
        (k, select_label(label)) for k, label in zip(keys, p.labels, strict=True)
    ]  # the table has them whole
    widgets = {
        "a": labelled_select(f"{name}-a", "Run A (solid)", runs, first[0], width=450),
        "b": labelled_select(f"{name}-b", "Run B (dashed)", runs, first[1], width=450),
        "metric": labelled_select(
            f"{name}-metric", "Curve", [(k, v[0]) for k, v in METRICS.items()], metric, width=260
        ),
    }
    shown = p.view({"a": first[0], "b": first[1], "metric": metric})
    src_a, src_b = view_sources(name, shown, "a-source", "b-source")
    n_other = len(p.seeds) - 1
    seeds_a = view_sources(name, shown, *(f"a-seed{k + 1}-source" for k in range(n_other)))
    seeds_b = view_sources(name, shown, *(f"b-seed{k + 1}-source" for k in range(n_other)))
    title = "Run A (solid) and run B (dashed)"
    if n_other:
        title += f"; thin lines: {', '.join(p.seeds[1:])}"
    plot = line_panel(
        name=f"{name}-plot",
        title=title,
        x_label="step",
        y_label="",
        width=740,
        height=300,
        x_range=DataRange1d(name=f"{name}-x-range"),
        y_range=DataRange1d(name=f"{name}-y-range"),
    )
    for srcs, color, dash in ((seeds_a, _A_COLOR, "solid"), (seeds_b, _B_COLOR, "dashed")):
        for src in srcs:  # the other seeds: thin, faint, under the first seed's curves, no legend
            plot.line("x", "y", source=src, color=color, line_dash=dash, line_width=1.2, alpha=0.45)
    ra = curve(plot, src_a, "x", "y", color=_A_COLOR, width=2.5, marker="circle")
    rb = curve(plot, src_b, "x", "y", color=_B_COLOR, width=2.5, dash="dashed", marker="square")
    first_seed = f", {p.seeds[0]}" if n_other else ""
    legend(
        plot, [(f"run A{first_seed}", ra[:1]), (f"run B{first_seed}", rb[:1])], name=f"{name}-legend"
    )  # solid and dashed lines
    plot.add_tools(*(hover(r[0], ("step", "@x"), ("value", "@y{0.000}")) for r in (ra, rb)))
    # The table never changes (a Div's new text costs a re-render of ~10 ms): the selects pick the curves.
    table = Div(text=shown["table"]["text"], name=f"{name}-table", width=740, height=40 + 26 * len(keys))
    update = js_callback(
        "training_compare",
        payload=payload_source(p, name=name),
        widgets=widgets,
        a_source=src_a,
        b_source=src_b,
        a_seeds=seeds_a,
        b_seeds=seeds_b,
        description=description(name, _WHAT_COMPARE),
    )
    on_change(update, *widgets.values())
    controls = column(row(widgets["a"], widgets["b"]), widgets["metric"], name=f"{name}-controls")
    return on_document_ready(fit(column(controls, plot, table, name=name)), update)


def comparison_figure(
    runs,
    *,
    others=(),
    seeds=None,
    first: tuple[str, str] | None = None,
    metric: str = "val_loss",
    name: str = "compare",
):
    """``comparison_layout(comparison_payload(runs, others=others, seeds=seeds))``: two runs' curves overlaid (the
    other seeds' as thin lines) and every run's final losses."""
    return comparison_layout(
        comparison_payload(runs, others=others, seeds=seeds), first=first, metric=metric, name=name
    )


# ---------------------------------------------------------------------------------------------------------
# Attention before and after training

# The toggle says what clicking it does (it shows the trained weights while it is down): [off, on].
_TOGGLE_LABELS = ("Switch to trained weights", "Switch to random weights")


class AttentionPayload(NamedTuple):
    """One sentence's attention under the initial (``trained`` off) and the trained parameters, per layer and head."""

    controls: tuple  # trained (toggle, active), layer and head ("1" ...)
    axes: dict
    labels: tuple  # (T,) the characters as shown (␣ for a space)
    toggle_labels: tuple  # (2,) the toggle's label when off and when on: what clicking it does
    weights: np.ndarray  # (2, L, H, T, T) float32: [initial, trained]
    entropy: np.ndarray  # (L, H, 2) mean entropy of a row (nats), initial and trained
    top: np.ndarray  # (2, L, H) int32: the key the last query attends to most
    uniform: float  # mean entropy of uniform causal rows, mean over i of ln(i + 1)

    def view(p, state: dict) -> dict:
        """The heatmap's weights, the toggle's label and the readout."""
        shown = bool(state["trained"])
        e0, e1 = pick(p, "entropy", state)
        T, last = len(p.labels), int(pick(p, "top", state))
        what = "after training" if shown else "at initialisation"
        readout = (
            f"<b>Layer {state['layer']}, head {state['head']}, {what}.</b> Mean entropy of a row in this head: "
            f"<b>{_fmt(e0)}</b> nats at initialisation, <b>{_fmt(e1)}</b> after training (uniform over the "
            f"visible keys: {_fmt(p.uniform)}).<br>Showing {what}: the last character "
            f"“{html.escape(p.labels[T - 1])}” attends most to position {last + 1} (“{html.escape(p.labels[last])}”)."
        )
        return {
            "cells": {"weight": pick(p, "weights", state).ravel()},
            "trained": {"label": pick(p, "toggle_labels", state)},
            "readout": {"text": readout},
            "description": described(_WHAT_ATTENTION, readout),
        }


def attention_payload(before_after) -> AttentionPayload:
    """Pack a :class:`attnbook.experiments.training.BeforeAfter` (``tokens``; ``random`` and ``trained``, each
    (n_layer, H, T, T) attention weights) with each head's mean row entropy and the last query's top key."""
    missing = [f for f in ("tokens", "random", "trained") if not hasattr(before_after, f)]
    if missing:
        raise TypeError(
            "before_after must be a BeforeAfter (attnbook.experiments.training.attention_before_after); "
            f"it lacks {missing}"
        )
    tokens = check_tokens("before_after.tokens", before_after.tokens)
    random = as_float_array("before_after.random", before_after.random, ndim=4)
    trained = as_float_array("before_after.trained", before_after.trained, ndim=4)
    L, H, T, T2 = random.shape
    if T != T2 or T != len(tokens):
        raise ValueError(
            f"before_after.random must have shape (n_layer, H, T, T), T = len(tokens) = {len(tokens)}, "
            f"got {random.shape}"
        )
    if trained.shape != random.shape:
        raise ValueError(
            f"before_after.trained must have the shape of random {random.shape}, got {trained.shape}"
        )
    weights = np.stack([random, trained]).astype(np.float64)  # (2, L, H, T, T)
    entropy = attention_entropy(weights).mean(-1)  # (2, L, H); 0 log 0 = 0 for keys a query cannot see
    controls = (
        Control("trained", (False, True), "active"),
        Control("layer", tuple(str(i) for i in range(1, L + 1))),
        Control("head", tuple(str(i) for i in range(1, H + 1))),
    )
    return AttentionPayload(
        controls=controls,
        axes={
            "weights": ("trained", "layer", "head"),
            "entropy": ("layer", "head"),
            "top": ("trained", "layer", "head"),
            "toggle_labels": ("trained",),
        },
        labels=tuple(display_char(t) if len(t) == 1 else t for t in tokens),
        toggle_labels=_TOGGLE_LABELS,
        weights=weights.astype(np.float32),
        entropy=np.moveaxis(entropy, 0, -1).astype(np.float32),
        top=weights[..., -1, :].argmax(-1).astype(np.int32),
        uniform=float(np.mean(np.log(np.arange(1, T + 1)))),
    )


def attention_layout(
    p: AttentionPayload,
    *,
    name: str = "trained-attention",
    trained: bool = True,
    layer: int = 0,
    head: int = 0,
):
    """A toggle (trained / random weights), layer and head selects, a readout, the attention heatmap."""
    check_name(name)
    check_payload(p)
    trained = check_bool("trained", trained)
    layers, heads = p.controls[1].values, p.controls[2].values
    layer = check_int("layer", layer, low=0, high=len(layers) - 1)
    head = check_int("head", head, low=0, high=len(heads) - 1)
    T = len(p.labels)
    shown = p.view({"trained": trained, "layer": layers[layer], "head": heads[head]})
    cells = grid_source(
        f"{name}-cells",
        T,
        T,
        q_token=[p.labels[i] for i in range(T) for _ in range(T)],
        k_token=list(p.labels) * T,
        weight=shown["cells"]["weight"],
    )
    plot, r = token_grid(
        cells,
        name=f"{name}-map",
        title="Attention weights (rows: queries, columns: keys)",
        q_tokens=p.labels,
        k_tokens=p.labels,
        color_field="weight",
        mapper=color_mapper(f"{name}-mapper", SEQUENTIAL, 0.0, 1.0),
        width=560,
        height=520,
        colorbar=True,
    )
    plot.add_tools(hover(r, ("query", "@q_token"), ("key", "@k_token"), ("weight", "@weight{0.000}")))
    widgets = {
        "trained": toggle(f"{name}-trained", shown["trained"]["label"], trained, width=170),
        "layer": select(f"{name}-layer", "Layer", layers, layers[layer], width=90),
        "head": select(f"{name}-head", "Head", heads, heads[head], width=90),
    }
    readout = Div(text=shown["readout"]["text"], name=f"{name}-readout", width=740, height=64)
    update = js_callback(
        "training_attention",
        payload=payload_source(p, name=name),
        widgets=widgets,
        cells=cells,
        readout=readout,
        description=description(name, _WHAT_ATTENTION),
    )
    on_change(update, widgets["trained"], widgets["layer"], widgets["head"])
    fig = column(control_row(f"{name}-controls", *widgets.values()), readout, plot, name=name)
    return on_document_ready(fit(fig), update)


def attention_toggle_figure(before_after, *, name: str = "trained-attention", **initial):
    """``attention_layout(attention_payload(before_after))`` (``initial``: trained, layer, head, 0-based)."""
    return attention_layout(attention_payload(before_after), name=name, **initial)


# ---------------------------------------------------------------------------------------------------------
# Sampling: temperature and top-k


class SamplingPayload(NamedTuple):
    """Precomputed samples and next-character distributions for every prompt × temperature × top-k."""

    controls: tuple  # prompt ("0" ...), temperature (the slider's stops), topk ("all", "10", ...)
    axes: dict
    prompts: tuple  # (P,)
    chars: tuple  # (V,) the vocabulary as shown (␣ for a space)
    samples: list  # [P][n_temperatures][n_top_ks] the text generated after the prompt
    probs: np.ndarray  # (P, n_temperatures, n_top_ks, V) float32: the next character's distribution

    def view(p, state: dict) -> dict:
        """The bars, and the text: the setting, the most likely character, the prompt and its sample."""
        probs = pick(p, "probs", state)
        best = int(probs.argmax())
        text = (
            f'<div style="margin-bottom:6px">τ = <b>{_fmt(state["temperature"])}</b>, top-k = '
            f"<b>{state['topk']}</b>: {int((probs > 0).sum())} of {len(probs)} characters possible next, the most "
            f"likely “{html.escape(p.chars[best])}” with p = {_fmt(probs[best], 3)}.</div>"
            '<div style="font-family:monospace;white-space:pre-wrap;font-size:13px;line-height:1.35">'
            f'<span class="attnbook-muted">{html.escape(pick(p, "prompts", state))}</span>'
            f"<b>{html.escape(pick(p, 'samples', state))}</b></div>"
        )
        return {
            "bars": {"top": probs},
            "text": {"text": text},
            "description": described(_WHAT_SAMPLING, text),
        }


def sampling_payload(grid) -> SamplingPayload:
    """Pack a :class:`attnbook.experiments.training.SamplingGrid` (``prompts``, ``temperatures`` on an even grid,
    ``top_ks`` (None = all), ``samples`` [P][n_temperatures][n_top_ks], ``probs`` (P, n_temperatures,
    n_top_ks, V), ``vocab``)."""
    missing = [
        f for f in ("prompts", "temperatures", "top_ks", "samples", "probs", "vocab") if not hasattr(grid, f)
    ]
    if missing:
        raise TypeError(
            f"grid must be a SamplingGrid (attnbook.experiments.training.sampling_grid); it lacks {missing}"
        )
    prompts = grid.prompts
    if isinstance(prompts, str) or not prompts or not all(isinstance(s, str) for s in prompts):
        raise TypeError("grid.prompts must be a non-empty sequence of str")
    temps = tuple(float(t) for t in grid.temperatures)
    gaps = np.diff(temps)
    if len(temps) < 2 or temps[0] <= 0 or not (gaps > 0).all() or not np.allclose(gaps, gaps[0]):
        raise ValueError(
            f"grid.temperatures must be an increasing even grid (a slider's stops) > 0, got {temps}"
        )
    ks = tuple(grid.top_ks)
    if not ks:
        raise ValueError("grid.top_ks must not be empty")
    if not isinstance(grid.vocab, str) or not grid.vocab:
        raise TypeError("grid.vocab must be a non-empty str")
    P, nT, nK, V = len(prompts), len(temps), len(ks), len(grid.vocab)
    probs = as_float_array("grid.probs", grid.probs, ndim=4)
    if probs.shape != (P, nT, nK, V):
        raise ValueError(
            f"grid.probs must have shape (P, n_temperatures, n_top_ks, V) = {(P, nT, nK, V)}, got {probs.shape}"
        )
    try:
        samples = [[[grid.samples[i][t][k] for k in range(nK)] for t in range(nT)] for i in range(P)]
    except (TypeError, IndexError, KeyError):
        samples = None
    if samples is None or not all(isinstance(s, str) for a in samples for b in a for s in b):
        raise ValueError(f"grid.samples must be nested sequences of str, [{P}][{nT}][{nK}]")
    controls = (
        Control("prompt", tuple(str(i) for i in range(P))),
        Control("temperature", temps),
        Control("topk", tuple("all" if k is None else str(k) for k in ks)),
    )
    axes = {
        "prompts": ("prompt",),
        "samples": ("prompt", "temperature", "topk"),
        "probs": ("prompt", "temperature", "topk"),
    }
    chars = tuple(display_char(c) for c in grid.vocab)
    return SamplingPayload(controls, axes, tuple(prompts), chars, samples, probs.astype(np.float32))


def sampling_layout(p: SamplingPayload, *, name: str = "sampling", temperature: float = 1.0):
    """Prompt, temperature and top-k controls, the sample, and the bars of the next character's distribution."""
    check_name(name)
    check_payload(p)
    prompts, temps, ks = (c.values for c in p.controls)
    if temperature not in temps:
        raise ValueError(f"temperature must be one of {list(temps)}, got {temperature!r}")
    widgets = {
        "prompt": labelled_select(
            f"{name}-prompt",
            "Prompt",
            [(v, s.replace("\n", "⏎")) for v, s in zip(prompts, p.prompts, strict=True)],
            prompts[0],
            width=240,
        ),
        "temperature": value_slider(f"{name}-temperature", "Temperature", temps, temperature, width=280),
        "topk": select(f"{name}-topk", "Top-k", ks, ks[0], width=110),
    }
    V = len(p.chars)
    shown = p.view({w: widgets[w].value for w in widgets})
    bars = empty_source(f"{name}-bars", V, x=np.arange(V, dtype=np.float32), top=shown["bars"]["top"])
    plot, r = bar_panel(
        bars,
        name=f"{name}-plot",
        title="Distribution of the character after the prompt",
        x="x",
        top="top",
        labels=p.chars,
        width=740,
        height=240,
        color="#4393c3",
        y_range=Range1d(0, 1.02, name=f"{name}-y-range"),
    )
    plot.x_range = Range1d(-0.6, V - 0.4, name=f"{name}-x-range")
    plot.yaxis.axis_label = "probability"
    plot.add_tools(hover(r, ("p", "@top{0.000}")))
    text = Div(text=shown["text"]["text"], name=f"{name}-text", width=740, height=140)
    update = js_callback(
        "training_sampling",
        payload=payload_source(p, name=name),
        widgets=widgets,
        bars=bars,
        text=text,
        description=description(name, _WHAT_SAMPLING),
    )
    on_change(update, *widgets.values())
    fig = column(control_row(f"{name}-controls", *widgets.values()), text, plot, name=name)
    return on_document_ready(fit(fig), update)


def sampling_figure(grid, *, name: str = "sampling", temperature: float = 1.0):
    """``sampling_layout(sampling_payload(grid))``: samples and next-character bars for every setting."""
    return sampling_layout(sampling_payload(grid), name=name, temperature=temperature)


# ---------------------------------------------------------------------------------------------------------
# Pre-LN vs Post-LN


class XiongPayload(NamedTuple):
    """Gradient norms per block at initialisation for each placement and init, and the warm-up runs' validation
    losses at each setting (peak learning rate)."""

    controls: tuple  # init: the initialisations; setting: the learning rates, as labelled
    axes: dict
    init_labels: tuple  # (n_inits,) display names
    blocks: tuple  # block placements ("pre", "post", ...): the grad source's columns
    block_labels: tuple  # their display names
    norms: np.ndarray  # (n_inits, n_blocks, n_layer) float32
    runs: tuple  # run keys, the same at every setting
    run_labels: tuple
    step: np.ndarray  # (n_settings, n_runs, N) eval steps, NaN past a curve's end
    val: np.ndarray  # (n_settings, n_runs, N) validation loss
    finals: list  # [n_settings][n_runs] the last validation loss as shown, or "diverged"

    def view(p, state: dict) -> dict:
        """Both panels' lines and readouts."""
        norms = pick(p, "norms", state)  # (n_blocks, n_layer)
        n_layer = norms.shape[1]
        parts = [
            f"{lab}: block 1 <b>{_sig(g[0])}</b>, block {n_layer} <b>{_sig(g[-1])}</b> "
            f"(last / first = {_fmt(float(g[-1]) / float(g[0]))})"
            for lab, g in zip(p.block_labels, norms, strict=True)
        ]
        grad = {
            "layer": np.arange(1, n_layer + 1, dtype=np.float32),
            **dict(zip(p.blocks, norms, strict=True)),
        }
        step, val, finals = (pick(p, f, state) for f in ("step", "val", "finals"))
        out = {
            "grad-source": grad,
            "grad-readout": {"text": f"{html.escape(pick(p, 'init_labels', state))}.<br>{' · '.join(parts)}"},
            "loss-readout": {
                "text": f"Final validation loss at {html.escape(state['setting'])}: "
                + " · ".join(
                    f"{html.escape(lab)} <b>{f}</b>" for lab, f in zip(p.run_labels, finals, strict=True)
                )
            },
        }
        for j, key in enumerate(p.runs):
            out[f"run-{key}"] = dict(zip(("step", "val"), _finite(step[j], val[j]), strict=True))
        out["description"] = described(
            _WHAT_XIONG, out["grad-readout"]["text"] + " " + out["loss-readout"]["text"]
        )
        return out


def _xiong_runs(runs) -> tuple[tuple, tuple, list, list, list]:
    """Settings, run keys, run labels, ``[setting][run]`` (x, y) curves and final values of the warm-up runs."""
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict of settings")
    settings = tuple(runs)
    if not all(isinstance(s, str) for s in settings):
        raise TypeError(f"runs must be keyed by str settings (the select's options), got {list(settings)}")
    keys = tuple(runs[settings[0]]) if isinstance(runs[settings[0]], Mapping) else ()
    curves, finals, labels = [], [], []
    for s in settings:
        if not isinstance(runs[s], Mapping) or not runs[s]:
            raise ValueError(f"runs[{s!r}] must be a non-empty dict of runs")
        if tuple(runs[s]) != keys:
            raise ValueError(
                f"every setting must have the same run keys {list(keys)}, runs[{s!r}] has {list(runs[s])}"
            )
        per_run, per_final = [], []
        for key in keys:
            label, h, status = _check_run(f"runs[{s!r}][{key!r}]", runs[s][key], ("eval_step", "val_loss"))
            x, y = _series(f"runs[{s!r}][{key!r}]['val_loss']", h["eval_step"], h["val_loss"])
            val64 = np.asarray(h["val_loss"], dtype=np.float64)  # the last value as the text rounds it
            fin = val64[np.isfinite(val64)]
            per_run.append((x, y))
            per_final.append("diverged" if status == "diverged" else (f"{fin[-1]:.3f}" if len(fin) else "—"))
            if s == settings[0]:
                labels.append(label)
        curves.append(per_run)
        finals.append(per_final)
    return settings, keys, labels, curves, finals


def xiong_payload(
    init_norms: Mapping[tuple[str, str], np.ndarray],
    runs: Mapping[str, Mapping[str, tuple[str, Mapping[str, np.ndarray], str]]],
    *,
    init_labels: Mapping[str, str] | None = None,
) -> XiongPayload:
    """Pack the gradient norms at initialisation and the warm-up runs.

    Parameters
    ----------
    init_norms : dict
        ``init_norms[block, init]`` (n_layer,): from :func:`attnbook.experiments.training.init_grad_norms`;
        every block placement with the same inits.
    runs : dict
        ``runs[setting][key] = (label, history, status)`` (:func:`attnbook.experiments.training.figure_runs` of
        each learning rate's runs), the same keys at every setting. Keys starting with ``"post"`` are drawn in
        red, the others blue; keys containing ``"no-warmup"`` dashed.
    init_labels : dict, optional
        Display names of the inits.
    """
    if not isinstance(init_norms, Mapping) or not init_norms:
        raise ValueError("init_norms must be a non-empty dict keyed by (block, init)")
    blocks = tuple(dict.fromkeys(b for b, _ in init_norms))
    inits = tuple(dict.fromkeys(i for _, i in init_norms))
    for b in blocks:
        check_choice("init_norms block", b, tuple(_BLOCK_COLORS))
        for i in inits:
            if (b, i) not in init_norms:
                raise ValueError(f"init_norms is missing ({b!r}, {i!r})")
    norms = np.stack(
        [
            [as_float_array(f"init_norms[{b!r}, {i!r}]", init_norms[b, i], ndim=1) for b in blocks]
            for i in inits
        ]
    )  # (n_inits, n_blocks, n_layer)
    settings, keys, labels, curves, finals = _xiong_runs(runs)
    step, val = _padded(curves)
    labels_of = dict(init_labels or {})
    return XiongPayload(
        controls=(Control("init", inits), Control("setting", settings)),
        axes={
            "init_labels": ("init",),
            "norms": ("init",),
            "step": ("setting",),
            "val": ("setting",),
            "finals": ("setting",),
        },
        init_labels=tuple(labels_of.get(i, i) for i in inits),
        blocks=blocks,
        block_labels=tuple(_BLOCK_LABELS[b] for b in blocks),
        norms=norms.astype(np.float32),
        runs=keys,
        run_labels=tuple(labels),
        step=step,
        val=val,
        finals=finals,
    )


def _xiong_grad_plot(p: XiongPayload, source: ColumnDataSource, name: str):
    """Gradient norm per block at initialisation, one line per block placement."""
    n_layer = p.norms.shape[-1]
    plot = line_panel(
        name=f"{name}-grad-plot",
        title="Gradient norm of each block's MLP weights at initialisation",
        x_label="block (1 = nearest the input)",
        y_label="‖∇ MLP weights‖",
        width=740,
        height=250,
        x_range=Range1d(0.7, n_layer + 0.3, name=f"{name}-grad-x-range"),
        y_range=DataRange1d(start=0, name=f"{name}-grad-y-range"),
    )
    plot.xaxis.ticker = FixedTicker(ticks=list(range(1, n_layer + 1)), name=f"{name}-grad-xticks")
    items = []
    for b, label in zip(p.blocks, p.block_labels, strict=True):
        items.append(
            (
                label,
                curve(plot, source, "layer", b, color=_BLOCK_COLORS[b], width=2.5, marker="circle", size=7),
            )
        )
    legend(plot, items, name=f"{name}-grad-legend")
    return plot


def _xiong_loss_plot(p: XiongPayload, sources: list, name: str, blocks: int | None = None):
    """Validation loss of each run: Post-LN red, Pre-LN blue, no warm-up dashed."""
    plot = line_panel(
        name=f"{name}-loss-plot",
        title="Validation loss during training" + (f" ({blocks} blocks)" if blocks else ""),
        x_label="step",
        y_label="validation loss (nats)",
        width=740,
        height=300,
        x_range=DataRange1d(name=f"{name}-loss-x-range"),
        y_range=DataRange1d(name=f"{name}-loss-y-range"),
    )
    items = []
    for key, label, source in zip(p.runs, p.run_labels, sources, strict=True):
        color = _BLOCK_COLORS["post" if key.startswith("post") else "pre"]
        dash = "dashed" if "no-warmup" in key else "solid"
        line, _ = curve(plot, source, "step", "val", color=color, dash=dash, width=2.5, marker="circle")
        items.append((label, [line]))  # the line alone: its dash tells the runs apart
    legend(plot, items, name=f"{name}-loss-legend")
    return plot


def xiong_layout(p: XiongPayload, *, init: str | None = None, name: str = "xiong", blocks: int | None = None):
    """The init select, its readout and the gradient norms per block; the learning-rate (and seed) select, its
    readout and the runs' validation losses (``blocks``: the runs' depth, named in their title if given)."""
    check_name(name)
    blocks = None if blocks is None else check_int("blocks", blocks, low=1)
    check_payload(p)
    inits, settings = p.controls[0].values, p.controls[1].values
    init = inits[0] if init is None else check_choice("init", init, inits)
    shown = p.view({"init": init, "setting": settings[0]})
    grad_src, *run_srcs = view_sources(name, shown, "grad-source", *(f"run-{key}" for key in p.runs))
    options = list(zip(inits, p.init_labels, strict=True))
    widgets = {
        "init": labelled_select(f"{name}-init", "Initialisation", options, init, width=420),
        "setting": select(f"{name}-setting", "Peak learning rate, seed", settings, settings[0], width=200),
    }
    grad_text, loss_text = (
        Div(text=shown[r]["text"], name=f"{name}-{r}", width=740, height=48)
        for r in ("grad-readout", "loss-readout")
    )
    payload = payload_source(p, name=name)
    about = description(name, _WHAT_XIONG)
    update_grad = js_callback(
        "training_xiong_init",
        payload=payload,
        widgets=widgets,
        source=grad_src,
        readout=grad_text,
        other=loss_text,
        description=about,
    )
    update_runs = js_callback(
        "training_xiong_runs",
        payload=payload,
        widgets=widgets,
        sources=run_srcs,
        readout=loss_text,
        other=grad_text,
        description=about,
    )
    widgets["init"].js_on_change("value", update_grad)
    widgets["setting"].js_on_change("value", update_runs)
    fig = column(
        widgets["init"],
        grad_text,
        _xiong_grad_plot(p, grad_src, name),
        widgets["setting"],
        loss_text,
        _xiong_loss_plot(p, run_srcs, name, blocks),
        name=name,
    )
    on_document_ready(fit(fig), update_grad)
    return on_document_ready(fig, update_runs)


def xiong_figure(
    init_norms,
    runs,
    *,
    init_labels: Mapping[str, str] | None = None,
    init: str | None = None,
    name: str = "xiong",
    blocks: int | None = None,
):
    """``xiong_layout(xiong_payload(init_norms, runs))``: Pre-LN vs Post-LN at initialisation and in training."""
    return xiong_layout(
        xiong_payload(init_norms, runs, init_labels=init_labels), init=init, name=name, blocks=blocks
    )
