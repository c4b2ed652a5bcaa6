"""Chapter 11's training runs outside the page: the in-page trainer's own JavaScript (``viz/js/runtime/train.mjs``,
``tasks.mjs``, ``formation.mjs``) run by Node with the page's settings, cached in the run cache, and read as the
page's Head scores panel shows them (when the previous-token and induction heads form).

The browser tests check that Chromium, driven through the page, gives the same log as Node.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from .._checks import check_choice, check_int
from ..runs import default_cache_dir, load_or_make
from ..viz.core import JS_DIR
from ..viz.trainer import (
    HEADS,
    INDUCTION_THRESHOLD,
    LEARNING_RATES,
    POSITIONS,
    PREV_THRESHOLD,
    TASKS,
    WIDTHS,
)

__all__ = ["Formation", "formation", "trainer_run"]


_RUN_JS = """
import * as tr from {train}
import * as tk from {tasks}
import {{trainRun}} from {formation}
import {{readFileSync}} from "node:fs"
process.stdout.write(JSON.stringify(trainRun(tr, tk, JSON.parse(readFileSync(0, "utf8")))))
"""


def trainer_run(settings: dict, *, text: str = "", cache_dir=None) -> dict:
    """The page's training run for ``settings`` (INDUCTION_SETTINGS' keys), run by Node on the page's own code
    (``js/runtime/formation.mjs`` over ``train.mjs`` and ``tasks.mjs``) with the page's batch size, held-out set
    and evaluation interval; the browser tests check that Chromium gives the same numbers.

    Returns the held-out log ``{"step", "loss", "acc", "prev", "induction"}`` (``prev``/``induction``: per
    evaluation, the (n_layer, n_head) scores row-major). Cached as JSON in the run cache (``$ATTNBOOK_CACHE``), keyed
    by the three modules' text and the settings; raises RuntimeError if Node is needed and not installed.
    """
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict like INDUCTION_SETTINGS, got {type(settings).__name__}")
    o = {
        "task": check_choice("task", settings.get("task"), TASKS),
        "n_layer": check_int("n_layer", settings.get("n_layer"), low=1, high=2),
        "n_head": int(check_choice("n_head", str(settings.get("n_head")), HEADS)),
        "d_model": int(check_choice("d_model", str(settings.get("d_model")), WIDTHS)),
        "pos": check_choice("pos", settings.get("pos"), POSITIONS),
        "lr": float(check_choice("lr", str(settings.get("lr")), LEARNING_RATES)),
        "seed": check_int("seed", settings.get("seed"), low=0, high=999),
        "steps": check_int("steps", settings.get("steps"), low=0, high=5000),
        "batch_size": 16,
        "n_held": 32,
        "eval_every": 10,
        "text": text,
    }
    files = [JS_DIR / "runtime" / f"{m}.mjs" for m in ("train", "tasks", "formation")]
    h = hashlib.sha256(json.dumps(o, sort_keys=True).encode())
    for f in files:
        h.update(f.read_bytes())
    path = (
        Path(cache_dir if cache_dir is not None else default_cache_dir())
        / f"trainer-{h.hexdigest()[:20]}.json"
    )

    def load():
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def make():
        node = shutil.which("node")
        if node is None:
            raise RuntimeError(
                "node is not installed: chapter 11's training run needs it (or a cached result)"
            )
        code = _RUN_JS.format(
            **{k: json.dumps(f.as_uri()) for k, f in zip(("train", "tasks", "formation"), files, strict=True)}
        )
        run = subprocess.run(
            [node, "--input-type=module", "-e", code],
            input=json.dumps(o),
            text=True,
            capture_output=True,
            check=False,
        )
        if run.returncode != 0:
            raise RuntimeError(f"node failed: {run.stderr[-2000:]}")
        log = json.loads(run.stdout)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(log), encoding="utf-8")
        tmp.replace(path)
        return log

    # one process runs it (the build's prefetch or the chapter); the other waits and reads it
    return load_or_make(path, load, make)


class Formation(NamedTuple):
    """When the heads of a two-layer run formed, and how far one layer got (chapter 11's induction claims).

    The scores are the page's Head scores panel: at each evaluation, the best head of layer 1 (previous token) and
    of layer 2 (prefix matching), which need not be the same head from one evaluation to the next."""

    prev_step: int | None  # first evaluation at which a layer-1 head's previous-token score >= PREV_THRESHOLD
    induction_step: int | None  # the same for a layer-2 head's prefix-matching score >= INDUCTION_THRESHOLD
    prev_head: int  # the layer-1 head with the best final previous-token score (0-based)
    induction_head: int  # the layer-2 head with the best final prefix-matching score (0-based)
    prev: list  # the best layer-1 head's previous-token score at every evaluation
    induction: list  # the best layer-2 head's prefix-matching score at every evaluation
    steps: list  # the evaluations' steps
    acc2: float  # the two-layer model's final held-out accuracy
    acc1: float  # the one-layer model's
    induction1: float  # the one-layer model's best prefix-matching score, over its heads and every evaluation


def formation(two: dict, one: dict, n_head: int) -> Formation:
    """Read :func:`trainer_run` logs of a two-layer and a one-layer model (``n_head`` heads each) as the Head scores
    panel shows them (the best head of each layer at each evaluation)."""
    n_head = check_int("n_head", n_head, low=1, high=4)
    for name, log, L in (("two", two, 2), ("one", one, 1)):
        if (
            not isinstance(log, dict)
            or len(log.get("prev", [[]])[-1]) != L * n_head
            or log["induction"][-1] is None
        ):
            raise ValueError(
                f"{name} must be the trainer_run log of a {L}-layer induction run with {n_head} heads"
            )
    prev = [row[:n_head] for row in two["prev"]]  # layer 1
    ind = [row[n_head:] for row in two["induction"]]  # layer 2
    bp = max(range(n_head), key=lambda h: prev[-1][h])
    bi = max(range(n_head), key=lambda h: ind[-1][h])

    def first(rows, threshold):
        return next((s for s, r in zip(two["step"], rows, strict=True) if max(r) >= threshold), None)

    return Formation(
        first(prev, PREV_THRESHOLD), first(ind, INDUCTION_THRESHOLD), bp, bi, [max(r) for r in prev],
        [max(r) for r in ind], list(two["step"]), two["acc"][-1], one["acc"][-1],
        max(max(r) for r in one["induction"]),
    )  # fmt: skip
