"""The trainer figure of chapter 11: payload, view, names, one callback for every event, bad input, and the
callback with both runtime modules inlined (the numbers are checked in Chromium: tests/browser/test_train_in_page.py)."""

import re
import shutil
import subprocess

import pytest
from _callbacks import assert_callbacks_match_their_args
from bokeh.models import ColumnDataSource, Widget

from attnbook.data import grammar_corpus
from attnbook.experiments.in_page import formation
from attnbook.viz.core import js_module
from attnbook.viz.figure import check_payload
from attnbook.viz.trainer import (
    BLOCK_SIZES,
    INDUCTION_SETTINGS,
    NOTICE_START,
    TASKS,
    grad_labels,
    layout,
    payload,
    status_cells,
    trainer_figure,
)

TEXT = grammar_corpus(20, 0)


def test_payload_carries_the_text_and_the_settings():
    p = payload(TEXT, task="sort", n_layer=1, n_head=2, d_model=16, pos="rope", lr="0.003", seed=7)
    check_payload(p)
    assert p.text == TEXT and p.controls == () and p.axes == {}
    assert p.settings | {} == {
        "task": "sort",
        "n_layer": 1,
        "n_head": 2,
        "d_model": 16,
        "pos": "rope",
        "lr": 0.003,
        "seed": 7,
        "block_sizes": BLOCK_SIZES,
        "batch_size": 16,
        "n_held": 32,
        "eval_every": 10,
        "preset": {k: v for k, v in INDUCTION_SETTINGS.items() if k != "steps"},
    }
    assert p.view({}) == {
        "train": {"step": [], "loss": []},
        "notice": {"text": NOTICE_START},
        "grad": {"x": [0, 1]},
        "grads-xticks": {"ticks": [0, 1]},
    }


def test_grad_labels_one_per_head_and_the_figure_opens_with_them():
    assert grad_labels(2, 2) == ["L1H1", "L1H2", "L2H1", "L2H2"]
    assert grad_labels(1, 4) == ["L1H1", "L1H2", "L1H3", "L1H4"]
    fig = trainer_figure(TEXT, n_layer=2, n_head=2)
    ticker = fig.select_one({"name": "trainer-grads-xticks"})
    assert ticker.ticks == [0, 1, 2, 3]
    axis = fig.select_one({"name": "trainer-grads"}).xaxis[0]
    assert axis.major_label_overrides == {0: "L1H1", 1: "L1H2", 2: "L2H1", 3: "L2H2"}
    rng = fig.select_one({"name": "trainer-grads-x"})
    assert (rng.start, rng.end) == (-0.5, 3.5)
    for bad, match in (((3, 1), "n_layer"), ((1, 5), "n_head"), ((1, 0), "n_head")):
        with pytest.raises(ValueError, match=match):
            grad_labels(*bad)


def test_status_cells():
    assert status_cells(0, None, None, None, None) == [
        "step 0",
        "– steps/s",
        "train loss –",
        "held-out loss –",
        "held-out accuracy –%",
    ]
    assert status_cells(12, 3.14159, 0.5, 0.25, 0.9876)[1:] == [
        "3.1 steps/s",
        "train loss 0.500",
        "held-out loss 0.250",
        "held-out accuracy 98.8%",
    ]


def test_every_model_is_named_and_one_callback_serves_every_event():
    fig = trainer_figure(TEXT)
    for m in [*fig.select({"type": Widget}), *fig.select({"type": ColumnDataSource})]:
        assert m.name and m.name.startswith("trainer-"), m
    names = [m.name for m in fig.references() if getattr(m, "name", None)]
    assert len(names) == len(set(names)), "model names must be unique"
    want = {
        "play",
        "step",
        "reset",
        "preset",
        "task",
        "layers",
        "heads",
        "width",
        "pos",
        "lr",
        "seed",
        "payload",
    }
    assert {f"trainer-{w}" for w in want} <= set(names)
    assert {f"trainer-att{s}-image" for s in range(8)} <= set(names)
    assert assert_callbacks_match_their_args(fig) == 1
    assert fig.select_one({"name": "trainer-task"}).options == list(TASKS)


def test_the_callback_inlines_both_runtimes_once_and_parses():
    code = js_module("trainer_update")
    assert not re.search(r"^\s*import\b", code, re.M)
    assert code.count("const trainStep =") == 1 and code.count("const makeTask =") == 1
    assert len(re.findall(r"^export ", code, re.M)) == 1
    for name in ("runtime/train", "runtime/tasks"):
        assert not re.search(r"^\s*import\b", js_module(name), re.M), f"{name} must stand alone"
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    run = subprocess.run([node, "--check", "--input-type=module"], input=code, text=True, capture_output=True)
    assert run.returncode == 0, run.stderr


def test_induction_settings_are_widget_values():
    S = INDUCTION_SETTINGS
    p = payload(TEXT, task=S["task"], n_layer=S["n_layer"], n_head=S["n_head"], d_model=S["d_model"], pos=S["pos"],
                lr=S["lr"], seed=S["seed"])  # fmt: skip
    assert p.settings["task"] == "induction" and p.settings["preset"]["lr"] == S["lr"]


def test_block_sizes_are_the_runtimes():
    code = js_module("runtime/tasks")
    m = re.search(r"TASK_WINDOWS = \{([^}]*)\}", code)
    got = {k: int(v) for k, v in re.findall(r"(\w+): (\d+)", m.group(1))}
    assert got == BLOCK_SIZES


def test_formation_reads_the_logs_as_the_panel_shows_them_and_bad_input():
    # the best head of a layer changes between evaluations: the scores are each evaluation's best, as the panel's
    steps = [0, 10, 20]
    two = {"step": steps, "acc": [0.1, 0.5, 0.9], "prev": [[0.1, 0.2, 0, 0], [0.6, 0.1, 0, 0], [0.7, 0.2, 0, 0]],
           "induction": [[0, 0, 0.1, 0.1], [0, 0, 0.3, 0.4], [0, 0, 0.6, 0.5]]}  # fmt: skip
    one = {"step": steps, "acc": [0.1, 0.2, 0.3], "prev": [[0.1, 0.1]] * 3,
           "induction": [[0.1, 0.3], [0.1, 0.2], [0.2, 0.1]]}  # fmt: skip
    f = formation(two, one, 2)
    assert (f.prev_step, f.induction_step, f.prev_head, f.induction_head) == (10, 20, 0, 0)
    assert f.prev == [0.2, 0.6, 0.7] and f.induction == [0.1, 0.4, 0.6]
    assert (f.acc2, f.acc1, f.induction1) == (0.9, 0.3, 0.3)
    with pytest.raises(ValueError, match="one"):
        formation(two, two, 2)
    with pytest.raises(ValueError, match="n_head"):
        formation(two, one, 5)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        (dict(task="add"), ValueError, "task"),
        (dict(n_layer=3), ValueError, "n_layer"),
        (dict(n_head=3), ValueError, "n_head"),
        (dict(d_model=24), ValueError, "d_model"),
        (dict(pos="xpos"), ValueError, "pos"),
        (dict(lr="0.1"), ValueError, "lr"),
        (dict(seed=-1), ValueError, "seed"),
    ],
)
def test_payload_bad_input(kw, error, match):
    with pytest.raises(error, match=match):
        payload(TEXT, **kw)


def test_text_and_name_bad_input():
    with pytest.raises(ValueError, match="text"):
        payload("too short")
    with pytest.raises(TypeError, match="name"):
        layout(payload(TEXT), name="")
