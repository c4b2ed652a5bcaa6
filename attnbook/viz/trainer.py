"""Chapter 11's figure: a small attention model trained in the reader's page (``js/runtime/train.mjs``) on toy tasks
generated there (``js/runtime/tasks.mjs``), with its loss, attention maps, gradient norms and predictions drawn as
it learns.

Nothing is precomputed: the payload carries only the small text of the "text" task and the starting settings;
the page builds, trains and draws the model. :meth:`TrainerPayload.view` says what the page shows before any
training (no training step). Callback ``js/trainer_update.mjs``.
"""

from __future__ import annotations

from typing import NamedTuple

from bokeh.layouts import column, row
from bokeh.models import DataRange1d, Div, Range1d

from .._checks import check_choice, check_int
from .core import check_name, js_callback, on_document_ready
from .figure import check_payload, payload_source
from .kit import (
    bar_panel,
    button,
    color_mapper,
    curve,
    description,
    empty_source,
    fit,
    hover,
    image_cells,
    image_source,
    integer_ticks,
    line_panel,
    outside_legend,
    select,
    spinner,
    text_panel,
    toggle,
)

__all__ = [
    "ACC_MARGIN",
    "BLOCK_SIZES",
    "COPY_ACCURACY",
    "HEADS",
    "INDUCTION_SETTINGS",
    "INDUCTION_THRESHOLD",
    "LAYERS",
    "LEARNING_RATES",
    "NOTICE_START",
    "POSITIONS",
    "PREV_THRESHOLD",
    "TASKS",
    "WIDTHS",
    "TrainerPayload",
    "layout",
    "payload",
    "status_cells",
    "grad_labels",
    "trainer_figure",
]

TASKS = ("copy", "reverse", "sort", "induction", "text")  # runtime/tasks.mjs TASK_NAMES
# the window length T of each task (runtime/tasks.mjs TASK_WINDOWS): chapter 8's windows for induction
BLOCK_SIZES = {"copy": 16, "reverse": 16, "sort": 16, "induction": 32, "text": 16}
LAYERS = ("1", "2")
HEADS = ("1", "2", "4")
WIDTHS = ("16", "32")
POSITIONS = ("learned", "sinusoidal", "rope", "alibi", "none")
LEARNING_RATES = ("0.001", "0.003", "0.01", "0.03")
# Chapter 8's choices for the induction task (its windows of 32 letters, two heads, RoPE, learning rate 3e-3) at
# the page's width: the preset button "Chapter 8's induction" sets them, chapter 11 suggests them, and the tests
# train with them (seed 0, these many steps) to check what the chapter says about two layers against one.
INDUCTION_SETTINGS = {
    "task": "induction", "n_layer": 2, "n_head": 2, "d_model": 32, "pos": "rope", "lr": "0.003", "seed": 0,
    "steps": 300,
}  # fmt: skip
# The thresholds chapter 11's prose names and the tests check (glued into the prose, never typed there).
COPY_ACCURACY = 0.95  # the copy task counts as learned when the held-out accuracy passes this
PREV_THRESHOLD = 0.5  # a previous-token head: attnbook.analysis.previous_token_score at least this
INDUCTION_THRESHOLD = 0.5  # an induction head: attnbook.analysis.prefix_matching_score at least this
ACC_MARGIN = 0.10  # two layers beat one by at least this much held-out accuracy on the induction task
MAX_HEADS = 2 * 4  # attention maps: one slot per (layer, head) of the largest model
# the notice under the readouts when the page opens (js/trainer_update.mjs writes the same text)
NOTICE_START = "A new model, not trained yet: press Train or One step."
TRAIN_COLOR, HELD_COLOR = "#3182bd", "#e6550d"
PREV_COLOR, IND_COLOR = "#756bb1", "#31a354"
_WHAT = (
    "A small attention model training in this page: its loss on training batches and on held-out sequences, "
    "the attention of every head on a probe sequence, each head's gradient norm and the model's predictions."
)


class TrainerPayload(NamedTuple):
    """What the page needs to train: the text task's text and the settings it opens with."""

    controls: tuple  # none: the widgets drive a live run, they select no slice of the payload
    axes: dict
    text: str  # the "text" task's corpus (its last tenth is held out)
    settings: (
        dict  # task, n_layer, n_head, d_model, pos, lr, seed, block_size, batch_size, n_held, eval_every
    )

    def view(self, state) -> dict:
        """What the page shows before training: no training step on the loss curve, the opening notice, one
        gradient bar per head of the opening model. (The model is drawn from the seed in the page, so its held-out
        loss and attention at step 0 are the page's to say; the browser tests check them against the runtime, which
        is checked against NumPy.)"""
        n = self.settings["n_layer"] * self.settings["n_head"]
        return {
            "train": {"step": [], "loss": []},
            "notice": {"text": NOTICE_START},
            "grad": {"x": list(range(n))},
            "grads-xticks": {"ticks": list(range(n))},
        }


def grad_labels(n_layer: int, n_head: int) -> list[str]:
    """The gradient bars' tick labels, bar ``l * n_head + h`` for head ``h`` of layer ``l``: ``["L1H1", ...]``;
    twin of ``gradLabels`` in js/trainer_update.mjs."""
    n_layer = check_int("n_layer", n_layer, low=1, high=len(LAYERS))
    n_head = check_int("n_head", n_head, low=1, high=max(map(int, HEADS)))
    return [f"L{layer + 1}H{head + 1}" for layer in range(n_layer) for head in range(n_head)]


def status_cells(step: int, rate, train, held, acc) -> list[str]:
    """The readouts, one string each (``None`` shows as a dash); twin of ``statusCells`` in js/trainer_update.mjs."""

    def f(x, digits):
        return "–" if x is None else f"{x:.{digits}f}"

    return [
        f"step {step}",
        f"{f(rate, 1)} steps/s",
        f"train loss {f(train, 3)}",
        f"held-out loss {f(held, 3)}",
        f"held-out accuracy {f(None if acc is None else 100 * acc, 1)}%",
    ]


def payload(
    text: str,
    *,
    task: str = "copy",
    n_layer: int = 2,
    n_head: int = 4,
    d_model: int = 32,
    pos: str = "learned",
    lr: str = "0.01",
    seed: int = 0,
) -> TrainerPayload:
    """The figure's record: the text task's ``text`` (at least 170 characters) and the opening settings."""
    if not isinstance(text, str) or len(text) < 170:
        raise ValueError("text must be a str of at least 170 characters (ten windows of 17)")
    settings = {
        "task": check_choice("task", task, TASKS),
        "n_layer": check_int("n_layer", n_layer, low=1, high=2),
        "n_head": check_choice("n_head", str(n_head), HEADS) and int(n_head),
        "d_model": check_choice("d_model", str(d_model), WIDTHS) and int(d_model),
        "pos": check_choice("pos", pos, POSITIONS),
        "lr": float(check_choice("lr", lr, LEARNING_RATES)),
        "seed": check_int("seed", seed, low=0, high=999),
        "block_sizes": dict(BLOCK_SIZES),
        "batch_size": 16,
        "n_held": 32,
        "eval_every": 10,
        "preset": {k: v for k, v in INDUCTION_SETTINGS.items() if k != "steps"},
    }
    return TrainerPayload((), {}, text, settings)


def _widgets(p: TrainerPayload, name: str) -> dict:
    s = p.settings
    return {
        "play": toggle(f"{name}-play", "▶ Train", width=100),
        "step": button(f"{name}-step", "One step", width=100),
        "reset": button(f"{name}-reset", "Reset", width=90),
        "preset": button(f"{name}-preset", "Chapter 8's induction", width=170),
        "task": select(f"{name}-task", "Task", TASKS, s["task"], width=110),
        "layers": select(f"{name}-layers", "Layers", LAYERS, str(s["n_layer"]), width=70),
        "heads": select(f"{name}-heads", "Heads", HEADS, str(s["n_head"]), width=70),
        "width": select(f"{name}-width", "Width", WIDTHS, str(s["d_model"]), width=70),
        "pos": select(f"{name}-pos", "Positions", POSITIONS, s["pos"], width=110),
        "lr": select(f"{name}-lr", "Learning rate", LEARNING_RATES, f"{s['lr']:g}", width=110),
        "seed": spinner(f"{name}-seed", "Seed", s["seed"], low=0, high=999, width=80),
    }


def _curves(name: str, src: dict):
    loss = line_panel(
        name=f"{name}-loss",
        title="Loss",
        x_label="step",
        y_label="cross-entropy (nats)",
        width=340,
        height=240,
    )
    loss.y_range = DataRange1d(start=0, name=f"{name}-loss-y")
    train = curve(loss, src["train"], "step", "loss", color=TRAIN_COLOR, width=1.5)
    held = curve(loss, src["held"], "step", "loss", color=HELD_COLOR, marker="circle", size=4)
    outside_legend(loss, [("training batch", train), ("held-out", held)], name=f"{name}-loss-legend")
    acc = line_panel(
        name=f"{name}-accuracy", title="Held-out accuracy", x_label="step", y_label="", width=300, height=240
    )
    acc.y_range = Range1d(0, 1.02, name=f"{name}-accuracy-y")
    # one step axis for both panels, from step 0 (not -1..1 before the first step; half a step of margin so the
    # first point shows), whole steps only
    loss.x_range = acc.x_range = DataRange1d(start=-0.5, name=f"{name}-steps")
    for plot in (loss, acc):
        integer_ticks(plot.xaxis[0])
    r = curve(acc, src["held"], "step", "acc", color=HELD_COLOR, marker="circle", size=4)
    acc.add_tools(hover(r[0], ("step", "@step"), ("accuracy", "@acc{0.0%}")))
    # the heads' scores on the held-out set: the best previous-token head of layer 1, the best induction head of the
    # last layer (prefix-matching; the induction task only)
    scores = line_panel(
        name=f"{name}-scores",
        title="Head scores (held-out)",
        x_label="step",
        y_label="",
        width=300,
        height=240,
    )
    scores.y_range = Range1d(0, 1.02, name=f"{name}-scores-y")
    scores.x_range = loss.x_range
    integer_ticks(scores.xaxis[0])
    prev = curve(scores, src["held"], "step", "prev", color=PREV_COLOR, marker="circle", size=4)
    ind = curve(scores, src["held"], "step", "induction", color=IND_COLOR, marker="square", size=4)
    outside_legend(
        scores,
        [("previous token", prev), ("induction", ind)],
        name=f"{name}-scores-legend",
    )
    scores.add_tools(
        hover(
            prev[0],
            ("step", "@step"),
            ("previous token, layer 1", "@prev{0.00}"),
            ("induction, last layer", "@induction{0.00}"),
        )
    )
    return loss, acc, scores


def _heads(p: TrainerPayload, name: str, src: dict):
    mapper = color_mapper(f"{name}-att-mapper", high=1.0)
    plots = []
    for slot in range(MAX_HEADS):
        layer, head = divmod(slot, 4)
        plot = line_panel(
            name=f"{name}-att{slot}", title=f"layer {layer + 1}, head {head + 1}", x_label="key", y_label="query",
            width=170, height=170, x_range=(-0.5, 15.5), y_range=(15.5, -0.5),
        )  # fmt: skip
        # the y axis runs down (query 0 at the top), so row 0 of the image goes at the smallest y
        cells = image_cells(plot, src["att"][slot], mapper, origin="bottom_left")
        plot.add_tools(hover(cells, ("weight", "@image{0.00}")))
        plot.grid.visible = False
        plots.append(plot)
    grads, _ = bar_panel(
        src["grad"],
        name=f"{name}-grads",
        title="Gradient norm of each head (last step)",
        x="x",
        top="norm",
        labels=grad_labels(p.settings["n_layer"], p.settings["n_head"]),
        width=340,
        height=200,
        y_range=DataRange1d(start=0, name=f"{name}-grads-y"),
    )
    # one bar per head of the current model (the callback relabels the ticks and resizes the range)
    grads.x_range = Range1d(-0.5, p.settings["n_layer"] * p.settings["n_head"] - 0.5, name=f"{name}-grads-x")
    return plots, grads


def layout(p: TrainerPayload, *, name: str = "trainer"):
    """The figure: run controls and settings (and the preset "Chapter 8's induction"); readouts; loss, accuracy and
    head-score curves; attention of every head on the probe; gradient norms per head; the probe's predictions."""
    check_name(name)
    check_payload(p)
    w = _widgets(p, name)
    src = {
        "train": empty_source(f"{name}-train", 0, step="float", loss="float"),
        "held": empty_source(
            f"{name}-held", 0, step="float", loss="float", acc="float", prev="float", induction="float"
        ),
        "grad": empty_source(f"{name}-grad", 0, x="float", norm="float"),
        "att": [image_source(f"{name}-att{slot}-image") for slot in range(MAX_HEADS)],
    }
    loss, acc, scores = _curves(name, src)
    att, grads = _heads(p, name, src)
    probe, probe_text, probe_bands = text_panel(
        f"{name}-probe",
        width=560,
        height=130,
        title="Probe sequence (held out): the model's next-token guesses",
    )
    status, status_text, _ = text_panel(f"{name}-status", width=350, height=44, font_size="9.5pt")
    # the notice of a reset or a new learning rate: real text that wraps to the column (it changes only on a click,
    # so a Div's re-layout costs nothing while training); two lines high at least, growing on a phone
    notice = Div(text=NOTICE_START, name=f"{name}-notice", sizing_mode="stretch_width", height=44)
    texts = {
        "description": description(name, _WHAT),
        "notice": notice,
    }
    update = js_callback(
        "trainer_update",
        payload=payload_source(p, name=name),
        widgets=w,
        sources={
            **{k: v for k, v in src.items() if k != "att"},
            "probe": probe_text,
            "bands": probe_bands,
            "status": status_text,
        },
        att=src["att"],
        plots=att,
        grad_axis=grads.xaxis[0],
        grad_range=grads.x_range,
        texts=texts,
    )
    for key in ("task", "layers", "heads", "width", "pos", "lr", "seed"):
        w[key].js_on_change("value", update)
    w["play"].js_on_change("active", update)
    w["step"].js_on_event("button_click", update)
    w["reset"].js_on_event("button_click", update)
    w["preset"].js_on_event("button_click", update)
    wrap = {"flex-wrap": "wrap"}
    fig = column(
        row(w["play"], w["step"], w["reset"], w["task"], w["lr"], w["seed"], name=f"{name}-run", styles=wrap),
        row(w["layers"], w["heads"], w["width"], w["pos"], w["preset"], name=f"{name}-model", styles=wrap),
        status,
        notice,
        row(loss, acc, scores, name=f"{name}-curves", styles=wrap),
        row(*att[:4], name=f"{name}-layer1", styles=wrap),
        row(*att[4:], name=f"{name}-layer2", styles=wrap),
        row(grads, name=f"{name}-gradrow", styles=wrap),
        probe,
        name=name,
        sizing_mode="stretch_width",
    )
    return on_document_ready(fit(fig), update)


def trainer_figure(text: str, *, name: str = "trainer", **settings):
    """``layout(payload(text, **settings))``: the figure chapter 11 shows."""
    return layout(payload(text, **settings), name=name)
