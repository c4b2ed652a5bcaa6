"""Chapter 11 in a real browser: the model that trains in the page is NumPy's model, step for step.

* ``runtime/train.mjs`` gradients for given weights and batch against ``attnbook.model`` (float32, relative error
  of every parameter's gradient <= 1e-4), for every positional scheme the page offers, with and without MLP;
* 50 AdamW steps in JS against 50 steps of ``attnbook.model`` + ``attnbook.optim`` from the same weights on the same
  batches (fed from Python): losses equal to 1e-3;
* the tasks, the head scores against ``attnbook.analysis``, the page (reset, determinism, copy learned in budget);
* chapter 11's induction claims: the preset's run (two layers, then one) in Chromium is the run Node makes for the
  chapter (``attnbook.experiments.in_page.trainer_run``), and the heads form in it; the page, driven by its preset button,
  shows the same scores at the same steps. Everything runs in Chromium (about a minute): no Node-only check.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from _bokeh import allowed_prefixes, open_page

import attnbook.viz.core as core
from attnbook import model
from attnbook.config import ModelConfig
from attnbook.optim import AdamW, clip_grad_norm
from attnbook.viz.trainer import COPY_ACCURACY

GRAD_TOL = 1e-4  # issue 13: relative error of the JS gradients, float32
LOSS_TOL = 1e-3  # issue 13: a 50-step run, loss by loss

BASE = ModelConfig(vocab_size=11, block_size=16, d_model=32, n_layer=2, n_head=4, d_ff=64, attn_only=True)
VARIANTS = [
    {},
    {"pos": "sinusoidal"},
    {"pos": "rope"},
    {"pos": "none"},
    {"pos": "alibi"},
    {"pos": "alibi", "n_head": 2},
    {"attn_only": False},
    {"n_layer": 1, "n_head": 1, "d_model": 16, "pos": "rope", "attn_only": False},
]


def js_config(cfg: ModelConfig) -> dict:
    return {
        k: getattr(cfg, k)
        for k in ("vocab_size", "block_size", "d_model", "n_layer", "n_head", "d_ff", "pos")
    } | {"attn_only": cfg.attn_only}


def runtime_src(name: str = "runtime/train") -> str:
    return base64.b64encode(core.js_module(name).encode()).decode()


@pytest.fixture
def blank(tmp_path) -> Path:
    path = tmp_path / "blank.html"
    path.write_text("<!DOCTYPE html><title>runtime</title>", encoding="utf-8")
    return path


def _open(chromium, path: Path):
    return open_page(chromium, path.as_uri(), allowed_prefixes("file", None))


def batch(rng, cfg: ModelConfig, B: int, T: int, ignore: float = 0.3):
    x = rng.integers(0, cfg.vocab_size, (B, T))
    y = rng.integers(0, cfg.vocab_size, (B, T))
    y[rng.random((B, T)) < ignore] = -1
    y[:, -1] = rng.integers(0, cfg.vocab_size, B)  # at least one counted target per row
    return x, y


GRADS_JS = """async ([src, cases]) => {
  const tr = await import("data:text/javascript;base64," + src)
  return cases.map((c) => {
    const m = tr.newModel(c.config, c.weights)
    const out = tr.lossAndGrads(m, Int32Array.from(c.x), Int32Array.from(c.y), c.B, c.T)
    return {loss: out.loss, grads: Object.fromEntries(Object.entries(m.grads).map(([k, g]) => [k, Array.from(g)]))}
  })
}"""


@pytest.mark.browser
def test_js_gradients_are_numpys(chromium, blank):
    rng = np.random.default_rng(0)
    cases, refs = [], []
    for i, over in enumerate(VARIANTS):
        cfg = BASE.replace(**over)
        params = {
            k: (v + rng.normal(0, 0.2, v.shape)).astype(np.float32)
            for k, v in model.init_params(cfg, i).items()
        }
        B, T = 3, 13
        x, y = batch(rng, cfg, B, T)
        logits, cache = model.forward(params, x, cfg)
        loss, dlogits = model.loss(logits, y, ignore_index=-1)
        refs.append((loss, model.backward(dlogits, cache)))
        cases.append(
            {
                "config": js_config(cfg),
                "weights": {k: v.ravel().tolist() for k, v in params.items()},
                "x": x.ravel().tolist(),
                "y": y.ravel().tolist(),
                "B": B,
                "T": T,
            }
        )
    with _open(chromium, blank) as (page, report):
        got = page.evaluate(GRADS_JS, [runtime_src(), cases])
        assert not report.problems(), report.describe()
    worst = 0.0
    for over, (loss, grads), g in zip(VARIANTS, refs, got, strict=True):
        assert abs(g["loss"] - loss) <= 1e-5 * max(1.0, abs(loss)), (over, g["loss"], loss)
        assert set(g["grads"]) == set(grads), over
        for name, ref in grads.items():
            mine = np.array(g["grads"][name], dtype=np.float64).reshape(ref.shape)
            ref64 = ref.astype(np.float64)
            rel = np.linalg.norm(mine - ref64) / max(np.linalg.norm(ref64), 1e-30)
            worst = max(worst, rel)
            assert rel <= GRAD_TOL, (
                f"{over} {name}: relative error {rel:.2e}\nJS {mine.ravel()[:6]}\nNumPy {ref64.ravel()[:6]}"
            )
    print(f"worst relative gradient error {worst:.2e}")


RUN_JS = """async ([src, c]) => {
  const tr = await import("data:text/javascript;base64," + src)
  const m = tr.newModel(c.config, c.weights)
  const opt = tr.newAdamW(m, {beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: c.wd})
  const losses = []
  for (let s = 0; s < c.xs.length; s++) {
    const out = tr.trainStep(m, opt, Int32Array.from(c.xs[s]), Int32Array.from(c.ys[s]), c.B, c.T,
      {lr: c.lr, gradClip: c.clip})
    losses.push(out.loss)
  }
  return {losses, wte: Array.from(m.params.wte)}
}"""


@pytest.mark.browser
@pytest.mark.parametrize("over", [{}, {"pos": "rope", "attn_only": False}, {"pos": "alibi"}])
def test_fifty_js_steps_are_fifty_numpy_steps(chromium, blank, over):
    rng = np.random.default_rng(1)
    cfg = BASE.replace(**over)
    params = model.init_params(cfg, 3)
    start = {k: v.ravel().tolist() for k, v in params.items()}
    B, T, steps, lr, clip, wd = 8, 16, 50, 1e-2, 1.0, 0.01
    # A learnable task (the previous token, through attention), so that the run moves far from its start.
    xs = [rng.integers(0, cfg.vocab_size, (B, T)) for _ in range(steps)]
    ys = [np.concatenate([np.full((B, 1), -1), x[:, :-1]], axis=1) for x in xs]
    opt = AdamW(params, lr=lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=wd)
    losses = []
    for x, y in zip(xs, ys, strict=True):
        logits, cache = model.forward(params, x, cfg)
        loss, dlogits = model.loss(logits, y, ignore_index=-1)
        grads = model.backward(dlogits, cache)
        clip_grad_norm(grads, clip)
        opt.step(grads, lr=lr)
        losses.append(loss)
    case = {
        "config": js_config(cfg),
        "weights": start,
        "xs": [x.ravel().tolist() for x in xs],
        "ys": [y.ravel().tolist() for y in ys],
        "B": B,
        "T": T,
        "lr": lr,
        "clip": clip,
        "wd": wd,
    }
    with _open(chromium, blank) as (page, report):
        got = page.evaluate(RUN_JS, [runtime_src(), case])
        assert not report.problems(), report.describe()
    diff = np.abs(np.array(got["losses"]) - np.array(losses))
    print(f"{over}: loss {losses[0]:.4f} -> {losses[-1]:.4f}, max |JS - NumPy| {diff.max():.2e}")
    assert diff.max() <= LOSS_TOL, (diff.argmax(), got["losses"][:5], losses[:5])
    assert losses[-1] < losses[0] - 0.1, (
        "the run must actually learn something for the comparison to mean anything"
    )


TASKS_JS = """async ([a, b, text]) => {
  const tr = await import("data:text/javascript;base64," + a), tk = await import("data:text/javascript;base64," + b)
  const out = {}
  for (const name of tk.TASK_NAMES) {
    const task = tk.makeTask(name, {T: tk.TASK_WINDOWS[name], text})
    const held = tk.heldOut(task, tr.splitmix32(7), 32)
    const one = tk.trainBatch(task, tr.splitmix32(8), 64, held), two = tk.trainBatch(task, tr.splitmix32(8), 64, held)
    out[name] = {chars: task.chars, T: task.T, x: Array.from(one.x), y: Array.from(one.y), hx: Array.from(held.x),
      source: one.source ? Array.from(one.source) : null,
      hy: Array.from(held.y), same: one.x.every((v, i) => v === two.x[i]) && one.y.every((v, i) => v === two.y[i])}
  }
  return out
}"""


@pytest.mark.browser
def test_tasks_are_seeded_and_say_what_they_claim(chromium, blank):
    text = "the cat sees the dog.\nthe dogs see the cats.\n" * 12
    with _open(chromium, blank) as (page, report):
        got = page.evaluate(TASKS_JS, [runtime_src(), runtime_src("runtime/tasks"), text])
        assert not report.problems(), report.describe()
    from attnbook.viz.trainer import BLOCK_SIZES

    for name, g in got.items():
        T = g["T"]
        assert T == BLOCK_SIZES[name], name
        assert g["same"], f"{name}: the same seed must give the same batch"
        chars = g["chars"]
        x, y = np.array(g["x"]).reshape(-1, T), np.array(g["y"]).reshape(-1, T)
        hx = {tuple(r) for r in np.array(g["hx"]).reshape(-1, T)}
        # targets are the next input token wherever both are known
        assert (y[:, :-1][y[:, :-1] >= 0] == x[:, 1:][y[:, :-1] >= 0]).all(), name
        if name != "text":
            assert not hx & {tuple(r) for r in x}, f"{name}: a training sequence is in the held-out set"
        for row_x, row_y in zip(x, y, strict=True):
            seq = "".join(chars[i] for i in row_x) + chars[row_y[-1]]
            if name in ("copy", "reverse", "sort"):
                s, answer = seq[:8], seq[9:]
                assert seq[8] == "|" and (row_y[:8] == -1).all() and (row_y[8:] >= 0).all()
                want = {"copy": s, "reverse": s[::-1], "sort": "".join(sorted(s))}[name]
                assert answer == want, (name, seq)
            elif name == "induction":
                ids = [*row_x, row_y[-1]]
                scored = [t for t in range(T) if row_y[t] >= 0]
                assert len(scored) >= 3, seq
                for t in scored:  # the induction pattern: an earlier x[j] = x[t] followed by the target
                    assert any(ids[j] == ids[t] and ids[j + 1] == ids[t + 1] for j in range(t)), (seq, t)
            else:
                assert seq in text and (row_y >= 0).all()
        if (
            name == "induction"
        ):  # the prefix-matching key: the letter after an earlier occurrence of the current one
            src = np.array(g["source"]).reshape(-1, T)
            for row_x, row_s in zip(x, src, strict=True):
                for t in np.nonzero(row_s >= 0)[0]:
                    assert 1 <= row_s[t] <= t and row_x[row_s[t] - 1] == row_x[t], (row_x, t, row_s[t])
            assert (src >= 0).sum() >= x.shape[0] * T // 3


# --- the figure, on a standalone page opened from file:// ------------------------------------------------------
# Issue 13's budgets: the copy task learned (held-out accuracy > COPY_ACCURACY) within 10 s of training, no click waiting
# longer than 100 ms. Wall-clock times depend on the machine's load, so they are measured and reported (printed and
# written to test-results/trainer.json), never asserted; what is asserted is the number of steps, which the seed
# fixes: at the README's measured 8-21 steps/s, STEP_BUDGET steps take well under 10 s.
BUDGET_S = 10.0
LATENCY_MS = 100.0
STEP_BUDGET = 80


@pytest.fixture(scope="module")
def trainer_page(tmp_path_factory) -> Path:
    from _standalone import write_figure_page

    from attnbook.data import grammar_corpus
    from attnbook.viz.trainer import trainer_figure

    path = tmp_path_factory.mktemp("trainer") / "trainer.html"
    return write_figure_page(trainer_figure(grammar_corpus(60, 0)), path)


def live(page) -> dict:
    return page.evaluate(
        """() => { const l = (window.__attnbookLive || {}).trainer || {};
          return {step: l.step ?? null, train: l.train ?? null, held: l.held ?? null, rate: l.rate ?? null,
                  resets: l.resets ?? 0, draws: l.draws ?? 0} }"""
    )


def model_value(page, name: str, attr: str):
    return page.evaluate(
        "([n, a]) => { const v = Bokeh.documents[0].get_model_by_name(n)[a]; return v }", [name, attr]
    )


GRAD_AXIS_JS = """() => {
  const doc = Bokeh.documents[0], ticks = Array.from(doc.get_model_by_name("trainer-grads-xticks").ticks)
  const plot = doc.get_model_by_name("trainer-grads"), axis = plot.below[0], r = plot.x_range
  return {ticks, labels: ticks.map((t) => axis.major_label_overrides.get(t)), range: [r.start, r.end],
          x: Array.from(doc.get_model_by_name("trainer-grad").data.x)}
}"""


def grad_axis(page) -> dict:
    """The gradient bars' ticks, their labels, the x range and the bars' x: one per head of the current model."""
    return page.evaluate(GRAD_AXIS_JS)


def expected_grad_axis(n_layer: int, n_head: int) -> dict:
    from attnbook.viz.trainer import grad_labels

    n = n_layer * n_head
    return {"ticks": list(range(n)), "labels": grad_labels(n_layer, n_head), "range": [-0.5, n - 0.5],
            "x": list(range(n))}  # fmt: skip


def ready(page) -> None:
    page.wait_for_function("() => ((window.__attnbookLive || {}).trainer || {}).draws > 0", timeout=30_000)


def play_until(page, step: int, timeout_s: float = 120.0) -> dict:
    page.locator("button:has-text('Train')").click()
    page.wait_for_function(
        f"() => window.__attnbookLive.trainer.step >= {step}", timeout=timeout_s * 1000, polling=100
    )
    page.locator("button:has-text('Pause')").click()
    page.wait_for_function("() => !Bokeh.documents[0].get_model_by_name('trainer-play').active")
    return live(page)


@pytest.mark.browser
def test_page_opens_at_step_zero_and_one_step_steps(chromium, trainer_page):
    from attnbook.viz.figure import payload_from_data  # noqa: F401 - the view is read from the payload below
    from attnbook.viz.trainer import payload as trainer_payload

    with _open(chromium, trainer_page) as (page, report):
        ready(page)
        view = trainer_payload("x" * 200).view({})
        assert model_value(page, "trainer-train", "data") == view["train"]
        assert model_value(page, "trainer-status-text", "data")["text"][0] == "step 0"
        assert live(page)["step"] == 0 and len(live(page)["held"]["step"]) == 1
        for _ in range(3):
            page.locator("button:has-text('One step')").click()
        page.wait_for_function("() => window.__attnbookLive.trainer.step === 3")
        got = live(page)
        assert got["train"]["step"] == [1, 2, 3]
        shown = model_value(page, "trainer-status-text", "data")["text"]
        assert shown[0] == "step 3" and shown[2] == f"train loss {got['train']['loss'][-1]:.3f}"
        # every head of the 2 x 4 model has its attention map, rows summing to 1
        sums = page.evaluate(
            """() => [0, 1, 2, 3, 4, 5, 6, 7].map((s) => {
                 const img = Bokeh.documents[0].get_model_by_name(`trainer-att${s}-image`).data.image[0]
                 const T = 16, rows = []
                 for (let i = 0; i < T; i++) { let a = 0; for (let j = 0; j < T; j++) a += img[i * T + j]; rows.push(a) }
                 return rows })"""
        )
        np.testing.assert_allclose(np.array(sums), 1.0, atol=1e-5)
        assert not report.problems(), report.describe()


@pytest.mark.browser
def test_same_seed_same_curve_and_structural_changes_reset(chromium, trainer_page):
    with _open(chromium, trainer_page) as (page, report):
        ready(page)
        first = play_until(page, 60)
        page.locator("button:has-text('Reset')").click()
        page.wait_for_function("() => window.__attnbookLive.trainer.step === 0")
        notice = page.evaluate("() => window.__attnbookLive.trainer.notice")
        assert "Reset" in notice and "step 0" in notice, notice
        assert f"(the old run stopped at step {first['step']})." in notice, notice
        shown = model_value(page, "trainer-notice", "text")
        assert shown.startswith("<b>Reset: a new model</b> (2 layers × 4 heads") and shown.endswith(
            f"stopped at step {first['step']})."
        ), shown
        assert grad_axis(page) == expected_grad_axis(2, 4)
        second = play_until(page, 60)
        n = 60
        assert first["train"]["loss"][:n] == second["train"]["loss"][:n], (
            "the same seed must give the same curve"
        )
        assert first["held"]["loss"][:3] == second["held"]["loss"][:3]
        # a structural change (layers) while training: a new model, visibly
        page.locator("button:has-text('Train')").click()
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('trainer-layers').value = '1' }")
        page.wait_for_function("() => window.__attnbookLive.trainer.resets === 3")
        notice = page.evaluate("() => window.__attnbookLive.trainer.notice")
        assert "New layers" in notice and "1 layer " in notice, notice
        assert [model_value(page, f"trainer-att{s}", "visible") for s in range(8)] == [True] * 4 + [False] * 4
        page.locator("button:has-text('Pause')").click()
        page.locator("button:has-text('One step')").click()  # draws everything, the gradient bars too
        assert grad_axis(page) == expected_grad_axis(1, 4)
        # another seed, another curve; back to seed 0, the first curve again
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('trainer-layers').value = '2' }")
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('trainer-seed').value = 1 }")
        other = play_until(page, 20)
        assert other["train"]["loss"][:20] != first["train"]["loss"][:20]
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('trainer-seed').value = 0 }")
        third = play_until(page, 60)
        assert third["train"]["loss"][:n] == first["train"]["loss"][:n]
        assert not report.problems(), report.describe()


CLICK_JS = """() => {
  window.__clicks = []
  window.__longest = 0
  document.addEventListener("pointerdown", (e) => window.__clicks.push(performance.now() - e.timeStamp), true)
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longest = Math.max(window.__longest,
    e.duration) }).observe({type: "longtask", buffered: false})
}"""


@pytest.mark.browser
def test_copy_is_learned_in_budget_and_clicks_stay_quick(chromium, trainer_page, capsys):
    import os

    with _open(chromium, trainer_page) as (page, report):
        ready(page)
        page.evaluate(CLICK_JS)
        page.locator("button:has-text('Train')").click()
        page.wait_for_function(
            "(a) => { const h = window.__attnbookLive.trainer.held; return h.acc[h.acc.length - 1] > a "
            "|| h.seconds[h.seconds.length - 1] > 60 }",
            arg=COPY_ACCURACY,
            timeout=120_000,
            polling=200,
        )
        # clicks while training: pause and play a few times, each within LATENCY_MS of the pointer going down
        for _ in range(3):
            page.locator("button:has-text('Pause')").click()
            page.locator("button:has-text('Train')").click()
        page.locator("button:has-text('Pause')").click()
        got = live(page)
        clicks, longest = page.evaluate("() => [window.__clicks, window.__longest]")
        # chapter 11: "a head attends along a stripe eight positions back" in the answer half of the probe
        stripe = page.evaluate(
            """() => [0, 1, 2, 3, 4, 5, 6, 7].map((s) => {
                 const img = Bokeh.documents[0].get_model_by_name(`trainer-att${s}-image`).data.image[0]
                 let a = 0
                 for (let t = 8; t < 16; t++) a += img[t * 16 + t - 8]
                 return a / 8 })"""
        )
        assert not report.problems(), report.describe()
    held = got["held"]
    first = next(i for i, a in enumerate(held["acc"]) if a > COPY_ACCURACY)
    seconds, step = held["seconds"][first], held["step"][first]
    with capsys.disabled():
        print(
            f"\ncopy task: held-out accuracy {held['acc'][first]:.3f} at step {step} after {seconds:.1f} s of training "
            f"({step / seconds:.1f} steps/s, readout {got['rate']}); clicks waited {max(clicks):.0f} ms at most, "
            f"longest task {longest:.0f} ms; load average {os.getloadavg()[0]:.1f}; stripe weights {stripe}"
        )
    results = Path(__file__).resolve().parents[2] / "test-results"
    results.mkdir(exist_ok=True)
    (results / "trainer.json").write_text(
        json.dumps(
            {
                "copy_step": step,
                "copy_seconds": seconds,
                "copy_budget_s": BUDGET_S,
                "steps_per_s": step / seconds,
                "click_wait_ms_max": max(clicks),
                "click_budget_ms": LATENCY_MS,
                "longest_task_ms": longest,
                "load_average": os.getloadavg()[0],
            },
            indent=1,
        )
    )
    assert max(stripe) >= 0.5, stripe
    assert step <= STEP_BUDGET, f"copy learned at step {step} (> {STEP_BUDGET})"


# --- chapter 11's claims about the induction task ----------------------------------------------------------------
SCORES_JS = """async ([a, b]) => {
  const tr = await import("data:text/javascript;base64," + a), tk = await import("data:text/javascript;base64," + b)
  const T = tk.TASK_WINDOWS.induction, task = tk.makeTask("induction", {T}), H = 2
  const cfg = {vocab_size: 26, block_size: T, d_model: 32, n_layer: 2, n_head: H, d_ff: 128, pos: "alibi", attn_only: true}
  const p = tr.initParams(cfg, 5)
  for (const k of Object.keys(p)) if (k.includes("w_qkv")) p[k] = p[k].map((v) => v * 60)  // sharp, unequal maps
  const m = tr.newModel(cfg, p), held = tk.heldOut(task, tr.splitmix32(9), 6)
  tr.forward(m, held.x, held.B, T)
  const s = tk.headScores(m.last.layers.map((l) => l.att), held, H)
  return {att: m.last.layers.map((l) => Array.from(l.att)), source: Array.from(held.source), B: held.B, T,
    prev: Array.from(s.prev), induction: Array.from(s.induction)}
}"""


@pytest.mark.browser
def test_head_scores_are_attnbook_analysis_scores(chromium, blank):
    """The page's head scores (runtime/tasks.mjs headScores) are attnbook.analysis's, on the same attention maps."""
    from attnbook.analysis import prefix_matching_score, previous_token_score

    with _open(chromium, blank) as (page, report):
        g = page.evaluate(SCORES_JS, [runtime_src(), runtime_src("runtime/tasks")])
        assert not report.problems(), report.describe()
    B, T = g["B"], g["T"]
    maps = np.array(g["att"]).reshape(2, B, 2, T, T)  # (L, W, H, T, T)
    source = np.array(g["source"]).reshape(B, T)
    np.testing.assert_allclose(np.array(g["prev"]), previous_token_score(maps).ravel(), atol=1e-6)
    np.testing.assert_allclose(
        np.array(g["induction"]), prefix_matching_score(maps, source).ravel(), atol=1e-6
    )
    assert np.ptp(g["prev"]) > 0.01, "the maps must differ between heads for the comparison to mean anything"


RUN_SETTINGS_JS = """async ([a, b, c, runs]) => {
  const tr = await import("data:text/javascript;base64," + a), tk = await import("data:text/javascript;base64," + b)
  const fm = await import("data:text/javascript;base64," + c)
  return runs.map((o) => fm.trainRun(tr, tk, o))
}"""


@pytest.mark.browser
def test_chapter_11_induction_heads_form_with_two_layers_not_one(chromium, blank, capsys):
    """Chapter 11's induction claims, with the preset (INDUCTION_SETTINGS, seed 0, its steps): the page's training
    loop (runtime/formation.mjs) in Chromium gives the very log Node gives the chapter (trainer_run), and in it a
    layer-1 head passes PREV_THRESHOLD (previous-token score) no later than a layer-2 head passes INDUCTION_THRESHOLD
    (prefix-matching), both within the steps, while one layer ends ACC_MARGIN lower and below INDUCTION_THRESHOLD."""
    from attnbook.experiments.in_page import formation, trainer_run
    from attnbook.viz.trainer import (
        ACC_MARGIN,
        INDUCTION_SETTINGS,
        INDUCTION_THRESHOLD,
        PREV_THRESHOLD,
    )

    S = INDUCTION_SETTINGS
    node = [trainer_run(S), trainer_run(S | {"n_layer": 1})]
    runs = [
        {k: S[k] for k in ("task", "n_head", "d_model", "pos", "seed", "steps")}
        | {"n_layer": L, "lr": float(S["lr"]), "batch_size": 16, "n_held": 32, "eval_every": 10, "text": ""}
        for L in (2, 1)
    ]
    with _open(chromium, blank) as (page, report):
        got = page.evaluate(
            RUN_SETTINGS_JS,
            [runtime_src(), runtime_src("runtime/tasks"), runtime_src("runtime/formation"), runs],
        )
        assert not report.problems(), report.describe()
    for mine, theirs in zip(got, node, strict=True):
        assert mine["step"] == theirs["step"]
        np.testing.assert_allclose(mine["acc"], theirs["acc"], atol=1e-12)
        np.testing.assert_allclose(mine["prev"], theirs["prev"], atol=1e-9)
    f = formation(got[0], got[1], S["n_head"])
    with capsys.disabled():
        print(
            f"\ninduction preset: previous-token >= {PREV_THRESHOLD} at step {f.prev_step}, induction >= "
            f"{INDUCTION_THRESHOLD} at step {f.induction_step}; accuracy 2 layers {f.acc2:.3f}, 1 layer {f.acc1:.3f}; "
            f"1-layer best induction {f.induction1:.2f}"
        )
    assert f.prev_step is not None and f.induction_step is not None, f
    assert f.prev_step <= f.induction_step <= S["steps"], f
    i = f.steps.index(f.prev_step)
    assert f.prev[i] >= PREV_THRESHOLD and max(got[0]["prev"][i - 1][: S["n_head"]]) < PREV_THRESHOLD
    assert f.acc2 >= f.acc1 + ACC_MARGIN, f
    assert f.induction1 < INDUCTION_THRESHOLD, f


@pytest.mark.browser
def test_preset_button_trains_chapter_8s_induction_in_the_page(chromium, trainer_page, capsys):
    """One click sets chapter 8's induction; Train; the page's head-score curves are the Node run's at every step."""
    from attnbook.experiments.in_page import formation, trainer_run
    from attnbook.viz.trainer import INDUCTION_SETTINGS as S

    two = trainer_run(S)
    f = formation(two, trainer_run(S | {"n_layer": 1}), S["n_head"])
    until = f.induction_step
    with _open(chromium, trainer_page) as (page, report):
        ready(page)
        page.locator('button:has-text("Chapter 8\'s induction")').click()
        page.wait_for_function(
            '() => window.__attnbookLive.trainer.notice.startsWith("Chapter 8\'s induction")'
        )
        for key, w in (("task", "task"), ("n_layer", "layers"), ("n_head", "heads"), ("pos", "pos")):
            assert str(model_value(page, f"trainer-{w}", "value")) == str(S[key]), key
        # the run being replaced never started: the notice says so without naming its step
        notice = page.evaluate("() => window.__attnbookLive.trainer.notice")
        assert notice.endswith("training restarted from step 0.") and "stopped" not in notice, notice
        assert grad_axis(page) == expected_grad_axis(S["n_layer"], S["n_head"])  # L1H1 L1H2 L2H1 L2H2
        got = play_until(page, until, timeout_s=240)
        held = page.evaluate("() => window.__attnbookLive.trainer.held")
        shown = model_value(page, "trainer-held", "data")
        assert not report.problems(), report.describe()
    n = len(held["step"])
    assert held["step"] == two["step"][:n] and held["step"][-1] >= until
    np.testing.assert_allclose(held["acc"], two["acc"][:n], atol=1e-12)
    np.testing.assert_allclose(held["prev"], two["prev"][:n], atol=1e-9)
    np.testing.assert_allclose(shown["prev"], [max(r[: S["n_head"]]) for r in two["prev"][:n]], atol=1e-9)
    np.testing.assert_allclose(
        shown["induction"], [max(r[S["n_head"] :]) for r in two["induction"][:n]], atol=1e-9
    )
    # the numbers chapter 11 quotes (formation) are the ones the panel plots
    np.testing.assert_allclose(shown["prev"], f.prev[:n], atol=1e-9)
    np.testing.assert_allclose(shown["induction"], f.induction[:n], atol=1e-9)
    seconds = held["seconds"][two["step"].index(until)]
    with capsys.disabled():
        print(
            f"\npage, induction preset: both heads formed by step {until} after {seconds:.1f} s of training "
            f"({until / seconds:.1f} steps/s, readout {got['rate']})"
        )
    results = Path(__file__).resolve().parents[2] / "test-results"
    results.mkdir(exist_ok=True)
    (results / "trainer_induction.json").write_text(
        json.dumps({"formed_step": until, "seconds": seconds, "steps_per_s": until / seconds}, indent=1)
    )


@pytest.mark.browser
def test_chapter_page_trains_from_file_url(chromium, tmp_path):
    """scripts/run_chapter.py's standalone page of chapter 11, opened by file://, trains (no server, no network)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    html = tmp_path / "ch11.html"
    run = subprocess.run(
        [sys.executable, str(root / "scripts" / "run_chapter.py"), "book/chapters/11_train_yourself.md", "--html",
         str(html)],
        cwd=root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with _open(chromium, html) as (page, report):
        assert page.url.startswith("file://")
        ready(page)
        page.locator("button:has-text('Train')").click()
        page.wait_for_function("() => window.__attnbookLive.trainer.step >= 20", timeout=120_000, polling=100)
        page.locator("button:has-text('Pause')").click()
        assert not report.problems(), report.describe()
        assert not report.external, report.external
