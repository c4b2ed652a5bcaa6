"""Figures of the training chapter: loss and gradient-norm curves, the experiment comparison, attention before
and after training, sampling with temperature and top-k, and Pre-LN vs Post-LN (Xiong et al. 2020).

Every builder takes arrays recorded by :func:`attnbook.train.train` (a run's ``history``) or computed by
:mod:`attnbook.experiments.training`; the page's callbacks only pick precomputed values.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    DataRange1d,
    Div,
    FixedTicker,
    HoverTool,
    Legend,
    LegendItem,
    Range1d,
    Select,
    Slider,
    Toggle,
)
from bokeh.plotting import figure

from .._checks import as_float_array, check_choice, check_int, check_tokens
from .core import check_name, float32, js_callback, numbered_select, on_document_ready
from .heatmap import attention_heatmap

__all__ = [
    "METRICS",
    "attention_toggle_figure",
    "comparison_figure",
    "display_char",
    "sampling_figure",
    "training_curves_figure",
    "xiong_figure",
]

_PLAIN = {"toolbar_location": None, "tools": ""}
_LAYER_COLORS = ("#2166ac", "#b2182b", "#4d9221", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#666666")
_A_COLOR, _B_COLOR = "#2166ac", "#d6604d"
_BLOCK_COLORS = {"pre": "#2166ac", "post": "#b2182b", "sandwich": "#4d9221"}
_BLOCK_LABELS = {"pre": "Pre-LN", "post": "Post-LN", "sandwich": "Sandwich"}

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


def _check_history(name: str, history, keys: Sequence[str]) -> Mapping[str, np.ndarray]:
    if not isinstance(history, Mapping):
        raise TypeError(f"{name} must be a training history (dict of arrays), got {type(history).__name__}")
    missing = [k for k in keys if k not in history]
    if missing:
        raise ValueError(f"{name} is missing {missing} (a history from attnbook.train.train has them)")
    return history


def _finite_xy(name: str, x, y) -> tuple[np.ndarray, np.ndarray]:
    """x and y as float32 with the non-finite points left out (a diverged run ends in NaN or inf)."""
    x = np.asarray(x, dtype=np.float64)
    y = as_float_array(name, y, ndim=1, finite=False)
    if x.shape != y.shape:
        raise ValueError(f"{name} must have one value per step, got {y.shape} values for {x.shape} steps")
    keep = np.isfinite(y)
    return float32(f"{name} steps", x[keep]), float32(name, y[keep])


# ---------------------------------------------------------------------------------------------------------
# Loss and gradient norms of one run


def training_curves_figure(history: Mapping[str, np.ndarray], *, name: str = "training"):
    """Loss curves (batch loss, train and validation estimates) and per-layer gradient norms over training.

    Parameters
    ----------
    history : dict of str to ndarray
        A run's history from :func:`attnbook.train.train`: ``step`` (N,), ``loss`` (N,), ``grad_norm`` (N,),
        ``grad_norm_layers`` (N, n_layer), ``eval_step`` (M,), ``train_loss`` (M,), ``val_loss`` (M,).
    name : str
        Prefix of every model's name.

    Returns
    -------
    layout : bokeh column
    """
    check_name(name)
    h = _check_history(
        "history",
        history,
        ("step", "loss", "grad_norm", "grad_norm_layers", "eval_step", "train_loss", "val_loss"),
    )
    layers = as_float_array("history['grad_norm_layers']", h["grad_norm_layers"], ndim=2, finite=False)
    n_layer = layers.shape[1]
    if n_layer > len(_LAYER_COLORS):
        raise ValueError(f"history has {n_layer} layers; at most {len(_LAYER_COLORS)} can be drawn")
    step, loss = _finite_xy("history['loss']", h["step"], h["loss"])
    est_step, train_est = _finite_xy("history['train_loss']", h["eval_step"], h["train_loss"])
    val_step, val_est = _finite_xy("history['val_loss']", h["eval_step"], h["val_loss"])

    loss_plot = figure(
        name=f"{name}-loss-plot",
        title="Loss",
        width=740,
        height=260,
        y_axis_label="cross-entropy (nats)",
        **_PLAIN,
    )
    batch_src = ColumnDataSource(dict(step=step, loss=loss), name=f"{name}-batch")
    est_src = ColumnDataSource(dict(step=est_step, train=train_est), name=f"{name}-train-estimate")
    val_src = ColumnDataSource(dict(step=val_step, val=val_est), name=f"{name}-val-estimate")
    r_batch = loss_plot.line("step", "loss", source=batch_src, color="#bbbbbb", line_width=1.5)
    r_train = loss_plot.line("step", "train", source=est_src, color="#2166ac", line_width=2)
    loss_plot.scatter("step", "train", source=est_src, color="#2166ac", size=5)
    r_val = loss_plot.line("step", "val", source=val_src, color="#d6604d", line_width=2)
    loss_plot.scatter("step", "val", source=val_src, color="#d6604d", size=5, marker="square")
    loss_plot.add_layout(
        Legend(
            items=[
                LegendItem(label="one training batch", renderers=[r_batch]),
                LegendItem(label="training set (estimate)", renderers=[r_train]),
                LegendItem(label="validation set (estimate)", renderers=[r_val]),
            ],
            location="top_right",
            name=f"{name}-loss-legend",
        )
    )
    loss_plot.add_tools(
        HoverTool(renderers=[r_val], tooltips=[("step", "@step"), ("val loss", "@val{0.000}")])
    )

    grad_plot = figure(
        name=f"{name}-grad-plot",
        title="Gradient norm of each block's parameters (before clipping)",
        width=740,
        height=260,
        x_axis_label="step",
        y_axis_label="‖∇‖ (log scale)",
        y_axis_type="log",
        **_PLAIN,
    )
    n_step = np.asarray(h["step"], dtype=np.float64)
    keep = np.isfinite(layers).all(axis=1)
    cols = {"step": float32("history['step']", n_step[keep])}
    for layer in range(n_layer):
        cols[f"layer{layer}"] = float32("history['grad_norm_layers']", layers[keep, layer])
    grad_src = ColumnDataSource(cols, name=f"{name}-grad-layers")
    items = []
    for layer in range(n_layer):
        r = grad_plot.line("step", f"layer{layer}", source=grad_src, color=_LAYER_COLORS[layer], line_width=2)
        items.append(LegendItem(label=f"block {layer + 1}", renderers=[r]))
    grad_plot.add_layout(Legend(items=items, location="top_right", name=f"{name}-grad-legend"))
    grad_plot.x_range = loss_plot.x_range
    return column(loss_plot, grad_plot, name=name)


# ---------------------------------------------------------------------------------------------------------
# Experiment comparison


def _fmt(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.3f}"


def _table_html(rows: list[list[str]]) -> str:
    """An HTML table of the runs' final losses (cells already formatted and escaped)."""
    head = ["run", "final train loss", "final val loss", "best val loss", ""]

    def cell(tag: str, text: str, j: int) -> str:
        align = "right" if j else "left"
        line = "border-bottom:1px solid #999;" if tag == "th" else ""
        return f'<{tag} style="text-align:{align};padding:2px 8px;{line}">{text}</{tag}>'

    out = ['<table style="border-collapse:collapse;font-size:13px;width:100%">']
    out.append("<tr>" + "".join(cell("th", h, j) for j, h in enumerate(head)) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(cell("td", c, j) for j, c in enumerate(r)) + "</tr>")
    return "".join(out) + "</table>"


def comparison_figure(
    runs: Mapping[str, tuple[str, Mapping[str, np.ndarray], str]],
    *,
    first: tuple[str, str] | None = None,
    metric: str = "val_loss",
    name: str = "compare",
):
    """Two runs' curves overlaid (each picked with a select), and a table of every run's final losses.

    Parameters
    ----------
    runs : dict
        ``runs[key] = (label, history, status)``: a run's label, its history from
        :func:`attnbook.train.train` and its status (``"done"`` or ``"diverged"``). At least two runs.
    first : (str, str), optional
        The runs shown first as A and B (default the first two keys).
    metric : str
        One of :data:`METRICS`, shown first.
    name : str
        Prefix of every model's name.

    Returns
    -------
    layout : bokeh column
    """
    check_name(name)
    if not isinstance(runs, Mapping) or len(runs) < 2:
        raise ValueError("runs must be a dict of at least two runs")
    keys = list(runs)
    if first is None:
        first = (keys[0], keys[1])
    if not isinstance(first, tuple) or len(first) != 2:
        raise ValueError(f"first must be a pair of run keys, got {first!r}")
    for k in first:
        check_choice("first[i]", k, keys)
    check_choice("metric", metric, METRICS)
    labels, curves, rows = [], [], []
    for key in keys:
        entry = runs[key]
        if not isinstance(entry, tuple) or len(entry) != 3 or not isinstance(entry[0], str):
            raise TypeError(f"runs[{key!r}] must be a (label, history, status) tuple")
        label, hist, status = entry
        h = _check_history(
            f"runs[{key!r}] history",
            hist,
            ("step", "loss", "grad_norm", "eval_step", "train_loss", "val_loss"),
        )
        check_choice(f"runs[{key!r}] status", status, ("done", "diverged", "interrupted"))
        labels.append(label)
        per_metric = []
        for _, xkey, ykey in METRICS.values():
            x, y = _finite_xy(f"runs[{key!r}]['{ykey}']", h[xkey], h[ykey])
            per_metric.append([x, y])
        curves.append(per_metric)
        val = np.asarray(h["val_loss"], dtype=np.float64)
        tr = np.asarray(h["train_loss"], dtype=np.float64)
        fin = val[np.isfinite(val)]
        rows.append(
            [
                html.escape(label),
                _fmt(float(tr[-1])) if len(tr) else "—",
                _fmt(float(val[-1])) if len(val) else "—",
                _fmt(float(fin.min())) if len(fin) else "—",
                "diverged" if status == "diverged" else "",
            ]
        )
    metric_keys = list(METRICS)
    m0 = metric_keys.index(metric)
    ia, ib = keys.index(first[0]), keys.index(first[1])
    src_a = ColumnDataSource(dict(x=curves[ia][m0][0], y=curves[ia][m0][1]), name=f"{name}-a-source")
    src_b = ColumnDataSource(dict(x=curves[ib][m0][0], y=curves[ib][m0][1]), name=f"{name}-b-source")
    plot = figure(
        name=f"{name}-plot",
        title="Run A (solid) and run B (dashed)",
        width=740,
        height=300,
        x_axis_label="step",
        x_range=DataRange1d(name=f"{name}-x-range"),
        y_range=DataRange1d(name=f"{name}-y-range"),
        **_PLAIN,
    )
    ra = plot.line("x", "y", source=src_a, color=_A_COLOR, line_width=2.5)
    plot.scatter("x", "y", source=src_a, color=_A_COLOR, size=4)
    rb = plot.line("x", "y", source=src_b, color=_B_COLOR, line_width=2.5, line_dash="dashed")
    plot.scatter("x", "y", source=src_b, color=_B_COLOR, size=4, marker="square")
    legend = Legend(
        items=[LegendItem(label="run A", renderers=[ra]), LegendItem(label="run B", renderers=[rb])],
        location="top_right",
        name=f"{name}-legend",
    )
    plot.add_layout(legend)
    plot.add_tools(HoverTool(tooltips=[("step", "@x"), ("value", "@y{0.000}")]))

    options = [(k, lab) for k, lab in zip(keys, labels, strict=True)]
    select_a = Select(title="Run A (solid)", value=first[0], options=options, name=f"{name}-a", width=360)
    select_b = Select(title="Run B (dashed)", value=first[1], options=options, name=f"{name}-b", width=360)
    select_m = Select(
        title="Curve",
        value=metric,
        options=[(k, v[0]) for k, v in METRICS.items()],
        name=f"{name}-metric",
        width=260,
    )
    # The table never changes (a Div's new text costs a re-render of ~10 ms): the selects pick the curves.
    table = Div(text=_table_html(rows), name=f"{name}-table", width=740, height=40 + 26 * len(keys))
    update = js_callback(
        "training_compare",
        select_a=select_a,
        select_b=select_b,
        select_m=select_m,
        src_a=src_a,
        src_b=src_b,
        keys=keys,
        curves=curves,
        metric_keys=metric_keys,
    )
    for w in (select_a, select_b, select_m):
        w.js_on_change("value", update)
    layout = column(row(select_a, select_b), select_m, plot, table, name=name)
    return on_document_ready(layout, update)


# ---------------------------------------------------------------------------------------------------------
# Attention before and after training


def attention_toggle_figure(
    tokens: Sequence[str], random, trained, *, name: str = "trained-attention", layer: int = 0, head: int = 0
):
    """One sentence's attention weights, under random or trained parameters (toggle), per layer and head.

    Parameters
    ----------
    tokens : sequence of str, length T
        The characters (shown with :func:`display_char`).
    random, trained : float arrays, shape (n_layer, H, T, T)
        Attention weights at initialisation and after training.
    name : str
        Prefix of every model's name.
    layer, head : int
        Shown first (0-based).

    Returns
    -------
    layout : bokeh column
    """
    check_name(name)
    tokens = check_tokens("tokens", tokens)
    labels = [display_char(t) if len(t) == 1 else t for t in tokens]
    random = as_float_array("random", random, ndim=4)
    trained = as_float_array("trained", trained, ndim=4)
    L, H, T, T2 = random.shape
    if T != T2 or T != len(labels):
        raise ValueError(
            f"random must have shape (n_layer, H, T, T) with T = len(tokens) = {len(labels)}, got {random.shape}"
        )
    if trained.shape != random.shape:
        raise ValueError(f"trained must have the shape of random {random.shape}, got {trained.shape}")
    layer = check_int("layer", layer, low=0, high=L - 1)
    head = check_int("head", head, low=0, high=H - 1)
    weights = np.stack([random, trained]).astype(np.float64)  # (2, L, H, T, T)
    # Mean entropy of the rows (nats): a sharp head is low, a uniform one is high.
    p = np.where(weights > 0, weights, 1.0)
    entropy = -(weights * np.log(p)).sum(-1).mean(-1)  # (2, L, H)
    uniform = float(np.mean(np.log(np.arange(1, T + 1))))  # causal row i sees i + 1 keys
    top = weights.argmax(-1)  # (2, L, H, T) the key each query attends to most

    plot = attention_heatmap(
        trained[layer, head],
        labels,
        labels,
        name=f"{name}-map",
        title="Attention weights (rows: queries, columns: keys)",
        width=560,
        height=520,
    )
    source = plot.select_one({"name": f"{name}-map-source"})
    toggle = Toggle(label="Trained weights", active=True, name=f"{name}-trained", width=160, align="end")
    layer_w = numbered_select("Layer", L, value=layer + 1, name=f"{name}-layer", width=90)
    head_w = numbered_select("Head", H, value=head + 1, name=f"{name}-head", width=90)
    readout = Div(text="", name=f"{name}-readout", width=740, height=64)
    update = js_callback(
        "training_attention",
        toggle=toggle,
        layer_w=layer_w,
        head_w=head_w,
        source=source,
        readout=readout,
        weights=float32("weights", weights),
        entropy=float32("entropy", entropy),
        top=top.astype(np.int32),
        labels=labels,
        uniform=uniform,
    )
    toggle.js_on_change("active", update)
    for w in (layer_w, head_w):
        w.js_on_change("value", update)
    layout = column(row(toggle, layer_w, head_w), readout, plot, name=name)
    return on_document_ready(layout, update)


# ---------------------------------------------------------------------------------------------------------
# Sampling: temperature and top-k


def sampling_figure(
    prompts: Sequence[str],
    temperatures: Sequence[float],
    top_ks: Sequence[int | None],
    samples,
    probs,
    vocab: str,
    *,
    name: str = "sampling",
    temperature: float = 1.0,
):
    """Precomputed samples for every prompt × temperature × top-k, and the next-character distribution.

    Parameters
    ----------
    prompts : sequence of str, P of them
    temperatures : sequence of float
        An even grid (the slider's stops), increasing.
    top_ks : sequence of int or None
        None means "all characters".
    samples : nested sequence of str, [P][n_temperatures][n_top_ks]
        The generated text after each prompt.
    probs : float array, shape (P, n_temperatures, n_top_ks, V)
        Distribution of the character after the prompt.
    vocab : str
        The V characters in id order.
    name : str
        Prefix of every model's name.
    temperature : float
        Shown first; one of ``temperatures``.

    Returns
    -------
    layout : bokeh column
    """
    check_name(name)
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise TypeError("prompts must be a non-empty sequence of str")
    temps = [float(t) for t in temperatures]
    if len(temps) < 2 or any(not t > 0 for t in temps):
        raise ValueError("temperatures must hold at least two values > 0")
    gaps = np.diff(temps)
    if not np.allclose(gaps, gaps[0]) or gaps[0] <= 0:
        raise ValueError(f"temperatures must be an increasing even grid (a slider's stops), got {temps}")
    if temperature not in temps:
        raise ValueError(f"temperature must be one of {temps}, got {temperature!r}")
    ks = list(top_ks)
    if not ks:
        raise ValueError("top_ks must not be empty")
    if not isinstance(vocab, str) or not vocab:
        raise TypeError("vocab must be a non-empty str")
    P, nT, nK, V = len(prompts), len(temps), len(ks), len(vocab)
    probs = as_float_array("probs", probs, ndim=4)
    if probs.shape != (P, nT, nK, V):
        raise ValueError(
            f"probs must have shape (P, n_temperatures, n_top_ks, V) = {(P, nT, nK, V)}, got {probs.shape}"
        )
    flat_samples = []
    try:
        for pi in range(P):
            for ti in range(nT):
                for ki in range(nK):
                    s = samples[pi][ti][ki]
                    if not isinstance(s, str):
                        raise TypeError
                    flat_samples.append(s)
    except (TypeError, IndexError):
        raise ValueError(f"samples must be nested sequences of str, [{P}][{nT}][{nK}]") from None
    k_labels = ["all" if k is None else str(k) for k in ks]
    chars = [display_char(c) for c in vocab]

    bars = ColumnDataSource(
        dict(x=np.arange(V, dtype=np.float32), top=float32("probs", probs[0, temps.index(temperature), 0])),
        name=f"{name}-bars",
    )
    plot = figure(
        name=f"{name}-plot",
        title="Distribution of the character after the prompt",
        width=740,
        height=240,
        x_range=Range1d(-0.6, V - 0.4, name=f"{name}-x-range"),
        y_range=Range1d(0, 1.02, name=f"{name}-y-range"),
        y_axis_label="probability",
        **_PLAIN,
    )
    plot.vbar(x="x", top="top", width=0.8, source=bars, fill_color="#4393c3", line_color=None)
    plot.xaxis.ticker = FixedTicker(ticks=list(range(V)), name=f"{name}-xticks")
    plot.xaxis.major_label_overrides = {i: c for i, c in enumerate(chars)}
    plot.xgrid.visible = False
    plot.add_tools(HoverTool(tooltips=[("p", "@top{0.000}")]))

    prompt_w = Select(
        title="Prompt",
        value="0",
        options=[(str(i), p.replace("\n", "⏎")) for i, p in enumerate(prompts)],
        name=f"{name}-prompt",
        width=240,
    )
    temp_w = Slider(
        start=temps[0],
        end=temps[-1],
        step=float(gaps[0]),
        value=temperature,
        title="Temperature",
        name=f"{name}-temperature",
        width=280,
    )
    k_w = Select(title="Top-k", value=k_labels[0], options=k_labels, name=f"{name}-topk", width=110)
    text = Div(text="", name=f"{name}-text", width=740, height=140)
    update = js_callback(
        "training_sampling",
        prompt_w=prompt_w,
        temp_w=temp_w,
        k_w=k_w,
        bars=bars,
        text=text,
        prompts=[html.escape(p) for p in prompts],
        temperatures=temps,
        k_labels=k_labels,
        samples=[html.escape(s) for s in flat_samples],
        probs=float32("probs", probs),
        chars=chars,
    )
    for w in (prompt_w, temp_w, k_w):
        w.js_on_change("value", update)
    layout = column(row(prompt_w, temp_w, k_w), text, plot, name=name)
    return on_document_ready(layout, update)


# ---------------------------------------------------------------------------------------------------------
# Pre-LN vs Post-LN


def xiong_figure(
    init_norms: Mapping[tuple[str, str], np.ndarray],
    runs: Mapping[str, Mapping[str, tuple[str, Mapping[str, np.ndarray], str]]],
    *,
    init_labels: Mapping[str, str] | None = None,
    init: str | None = None,
    name: str = "xiong",
):
    """Gradient norms per layer at initialisation (Pre-LN vs Post-LN) and the warm-up runs' validation losses.

    Parameters
    ----------
    init_norms : dict
        ``init_norms[block, init]`` (n_layer,) gradient norms per block at initialisation; every block kind
        with the same inits. A select picks the init.
    runs : dict
        ``runs[setting][key] = (label, history, status)``: for each setting (e.g. a learning rate, picked with
        a select) the same run keys. Keys starting with ``"post"`` are drawn in red, others in blue; keys
        containing ``"no-warmup"`` dashed.
    init_labels : dict, optional
        Display names of the inits.
    init : str, optional
        The init shown first (default the first one).
    name : str
        Prefix of every model's name.

    Returns
    -------
    layout : bokeh column
    """
    check_name(name)
    if not isinstance(init_norms, Mapping) or not init_norms:
        raise ValueError("init_norms must be a non-empty dict keyed by (block, init)")
    blocks = list(dict.fromkeys(b for b, _ in init_norms))
    inits = list(dict.fromkeys(i for _, i in init_norms))
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
    n_layer = norms.shape[-1]
    init = inits[0] if init is None else check_choice("init", init, inits)
    init_labels = dict(init_labels or {})
    ilabels = [init_labels.get(i, i) for i in inits]
    block_labels = [_BLOCK_LABELS[b] for b in blocks]

    i0 = inits.index(init)
    layer = np.arange(1, n_layer + 1, dtype=np.float32)
    grad_src = ColumnDataSource(
        dict(layer=layer, **{b: float32("init_norms", norms[i0, bi]) for bi, b in enumerate(blocks)}),
        name=f"{name}-grad-source",
    )
    grad_plot = figure(
        name=f"{name}-grad-plot",
        title="Gradient norm of each block's MLP weights at initialisation",
        width=740,
        height=250,
        x_axis_label="block (1 = nearest the input)",
        y_axis_label="‖∇ MLP weights‖",
        x_range=Range1d(0.7, n_layer + 0.3, name=f"{name}-grad-x-range"),
        y_range=DataRange1d(start=0, name=f"{name}-grad-y-range"),
        **_PLAIN,
    )
    grad_plot.xaxis.ticker = FixedTicker(ticks=list(range(1, n_layer + 1)), name=f"{name}-grad-xticks")
    items = []
    for b, lab in zip(blocks, block_labels, strict=True):
        r = grad_plot.line("layer", b, source=grad_src, color=_BLOCK_COLORS[b], line_width=2.5)
        s = grad_plot.scatter("layer", b, source=grad_src, color=_BLOCK_COLORS[b], size=7)
        items.append(LegendItem(label=lab, renderers=[r, s]))
    grad_plot.add_layout(Legend(items=items, location="top_right", name=f"{name}-grad-legend"))
    init_w = Select(
        title="Initialisation",
        value=init,
        options=list(zip(inits, ilabels, strict=True)),
        name=f"{name}-init",
        width=420,
    )
    grad_readout = Div(text="", name=f"{name}-grad-readout", width=740, height=48)
    update_grad = js_callback(
        "training_xiong_init",
        init_w=init_w,
        source=grad_src,
        readout=grad_readout,
        norms=float32("norms", norms),
        inits=inits,
        init_labels=ilabels,
        blocks=blocks,
        block_labels=block_labels,
    )
    init_w.js_on_change("value", update_grad)

    # The runs: one source per run key, refilled from the chosen setting.
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict of settings")
    settings = list(runs)
    keys = None
    curves, labels, finals = [], None, []
    for setting in settings:
        group = runs[setting]
        if not isinstance(group, Mapping) or not group:
            raise ValueError(f"runs[{setting!r}] must be a non-empty dict of runs")
        if keys is None:
            keys = list(group)
            labels = []
        elif list(group) != keys:
            raise ValueError(
                f"every setting must have the same run keys {keys}, runs[{setting!r}] has {list(group)}"
            )
        per_run, per_final = [], []
        for key in keys:
            entry = group[key]
            if not isinstance(entry, tuple) or len(entry) != 3 or not isinstance(entry[0], str):
                raise TypeError(f"runs[{setting!r}][{key!r}] must be a (label, history, status) tuple")
            label, hist, status = entry
            check_choice(f"runs[{setting!r}][{key!r}] status", status, ("done", "diverged", "interrupted"))
            if setting == settings[0]:
                labels.append(label)
            h = _check_history(f"runs[{setting!r}][{key!r}] history", hist, ("eval_step", "val_loss"))
            x, y = _finite_xy(f"runs[{setting!r}][{key!r}]['val_loss']", h["eval_step"], h["val_loss"])
            per_run.append([x, y])
            per_final.append("diverged" if status == "diverged" else (f"{y[-1]:.3f}" if len(y) else "—"))
        curves.append(per_run)
        finals.append(per_final)
    loss_plot = figure(
        name=f"{name}-loss-plot",
        title="Validation loss during training",
        width=740,
        height=300,
        x_axis_label="step",
        y_axis_label="validation loss (nats)",
        x_range=DataRange1d(name=f"{name}-loss-x-range"),
        y_range=DataRange1d(name=f"{name}-loss-y-range"),
        **_PLAIN,
    )
    sources, items = [], []
    for j, key in enumerate(keys):
        src = ColumnDataSource(dict(step=curves[0][j][0], val=curves[0][j][1]), name=f"{name}-run-{key}")
        color = _BLOCK_COLORS["post"] if key.startswith("post") else _BLOCK_COLORS["pre"]
        dash = "dashed" if "no-warmup" in key else "solid"
        r = loss_plot.line("step", "val", source=src, color=color, line_dash=dash, line_width=2.5)
        loss_plot.scatter("step", "val", source=src, color=color, size=4)
        items.append(LegendItem(label=labels[j], renderers=[r]))
        sources.append(src)
    loss_plot.add_layout(Legend(items=items, location="top_right", name=f"{name}-loss-legend"))
    setting_w = Select(
        title="Peak learning rate",
        value=settings[0],
        options=settings,
        name=f"{name}-setting",
        width=200,
    )
    loss_readout = Div(text="", name=f"{name}-loss-readout", width=740, height=48)
    update_runs = js_callback(
        "training_xiong_runs",
        setting_w=setting_w,
        sources=sources,
        readout=loss_readout,
        settings=settings,
        curves=curves,
        labels=labels,
        finals=finals,
    )
    setting_w.js_on_change("value", update_runs)
    layout = column(init_w, grad_readout, grad_plot, setting_w, loss_readout, loss_plot, name=name)
    on_document_ready(layout, update_grad)
    return on_document_ready(layout, update_runs)
