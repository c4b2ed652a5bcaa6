"""Chapter 10 in a real browser: the model that runs in the page gives NumPy's numbers for any text typed into it.

* ``runtime/gpt.mjs`` against ``attnbook.model.forward`` for a small model of every configuration the book uses;
* the figure, on a standalone page built from the downloaded checkpoint: at least 20 texts (ordinary, repeated,
  out of the vocabulary, longer than the window, one character, empty, edits) typed key by key into the real
  text box, ``live-next`` and the attention map of every layer and head read back and compared with NumPy's
  forward pass of that ``.npz`` (max abs difference <= 1e-4), and a wrong attention scale caught;
* the seeded sampler against a Python twin (same generator, NumPy's model), the tap on a position, the latency
  from a keystroke to the updated figure at the full window, and the built book's page when it exists.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
from pathlib import Path

import numpy as np
import pytest
from _bokeh import HTML_ROOT, allowed_prefixes, open_page, unavailable, wait_for_book_page
from _standalone import write_figure_page

import attnbook.viz.core as core
from attnbook import model
from attnbook.checkpoint import load_checkpoint
from attnbook.config import ModelConfig
from attnbook.data import CharTokenizer
from attnbook.experiments.own_text import OwnTextModel, encode_text, own_text_model, reference, save_model
from attnbook.sample import generate as numpy_generate
from attnbook.viz import show
from attnbook.viz.own_text import own_text_figure, sampling_probs

TOL = 1e-4  # issue 12: max abs difference from NumPy's float32 forward pass of the .npz
REPORT = Path(os.environ.get("ATTNBOOK_TEST_RESULTS", Path(__file__).resolve().parents[2] / "test-results"))

TEXTS = [
    "the cat sees the dog.",  # ordinary
    "the cats see the dogs.",
    "",  # empty
    "t",  # one character
    ".",
    "the dog. the dog. the dog. the dog.",  # repeated
    "aaaaaaaaaaaaaaaaaaaaaaaa",
    "The Zebra sees 3 old cats!",  # capitals folded, z 3 ! skipped
    "jazz quiz 123",  # mostly outside the vocabulary
    "🙂🙂 émigré",  # not ASCII at all
    "!!!",  # nothing left to read
    "x",  # one character outside the vocabulary
    "   ",
    "the quiet girl hears the old king. the young boys follow the happy frogs. the bird sees the",  # > 64
    "the happy frogs follow the young queen and the old bird. the clever king finds the little dog and the cat.",
    "the big cat and the small dog see the old bird and the young queen",  # 64 or so
    "the girl hear",
    "THE BIG DOGS",
    "the cat\tsees",
    "the king and the queen help the boys. the boys help the king and the queen. the",
]


# --- page helpers -------------------------------------------------------------------------------------------
def live(page, key=None):
    log = page.evaluate("() => (window.__attnbookLive || {}).live || null")
    return log if key is None else (log or {}).get(key)


def wait_shown(page, text: str, layer: int | None = None, head: int | None = None, timeout=10_000):
    page.wait_for_function(
        """([t, l, h]) => { const v = ((window.__attnbookLive || {}).live || {}).view;
            return v && v.text === t && (l === null || v.layer === l) && (h === null || v.head === h) }""",
        arg=[text, layer, head],
        timeout=timeout,
    )


def read(page, name: str, columns: list[str]) -> dict:
    return page.evaluate(
        """([n, cols]) => { const m = Bokeh.documents[0].get_model_by_name(n);
            return Object.fromEntries(cols.map((c) => [c, Array.from(m.data[c], (x) => x)])) }""",
        [name, columns],
    )


def set_widget(page, name: str, value) -> None:
    page.evaluate("([n, v]) => { Bokeh.documents[0].get_model_by_name(n).value = v }", [name, value])


def text_box(page):
    return page.locator("input[placeholder='Type here']")


def type_text(page, text: str, *, delay: float = 0) -> None:
    """Clear the box and type ``text`` key by key (as a reader does: every key an input event)."""
    box = text_box(page)
    box.click()
    box.press("Control+a")
    box.press("Backspace")
    if text:
        box.press_sequentially(text, delay=delay)


def nums(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


# --- NumPy's side -------------------------------------------------------------------------------------------
def numpy_pass(params: dict, cfg: ModelConfig, ids: np.ndarray):
    """Next-character probabilities (T, V) and attention (L, H, T, T) of NumPy's forward pass."""
    logits, cache = model.forward(params, ids[None], cfg)
    z = logits[0].astype(np.float64)
    p = np.exp(z - z.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True), model.attention_maps(cache)[:, 0].astype(np.float64)


def compare_shown(page, ck, chars: str, text: str) -> dict:
    """Max abs differences between the page (live-next, every head's heatmap) and NumPy, float32 and float64."""
    e = encode_text(text, chars, ck.cfg.block_size)
    T, L, H = len(e.ids), ck.cfg.n_layer, ck.cfg.n_head
    wait_shown(page, text)
    assert (
        "".join(read(page, "live-chars", ["char"])["char"]).replace("␣", " ").replace("⏎", "\n") == e.window
    )
    nxt = read(page, "live-next", ["char", "prob"])
    assert nxt["char"] == list(chars)
    got_next = nums(nxt["prob"])
    got_att = np.full((L, H, T, T), np.nan)
    for layer in range(1, L + 1):
        for head in range(1, H + 1):
            set_widget(page, "live-layer", str(layer))
            set_widget(page, "live-head", str(head))
            wait_shown(page, text, layer, head)
            image = page.evaluate(
                "() => Array.from(Bokeh.documents[0].get_model_by_name('live-cells').data.image[0] ?? [])"
            )
            w = nums(image)
            assert w.size == T * T
            got_att[layer - 1, head - 1] = w.reshape(T, T)
    diffs = {}
    for name, params in (
        ("float32", ck.params),
        ("float64", {k: v.astype(np.float64) for k, v in ck.params.items()}),
    ):
        if T == 0:
            assert np.isnan(got_next).all(), "an empty window must show no probabilities"
            diffs[name] = 0.0
            continue
        p, att = numpy_pass(params, ck.cfg, e.ids)
        below = np.tril(np.ones((T, T), bool))
        assert np.isnan(got_att[..., ~below]).all(), "keys after the query must be masked"
        diffs[name] = max(
            float(np.abs(got_next - p[-1]).max()), float(np.abs(got_att[..., below] - att[..., below]).max())
        )
    set_widget(page, "live-layer", "1")
    set_widget(page, "live-head", "1")
    return diffs


# --- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The chapter's model written as the chapter writes it, and read back as a reader would."""
    path = save_model(own_text_model(), tmp_path_factory.mktemp("weights") / "own_text_model.npz")
    ck = load_checkpoint(path)
    return path, ck, CharTokenizer.from_dict(ck.extra["tokenizer"]).chars


def _model_of(ck, chars: str) -> OwnTextModel:
    return OwnTextModel(
        ck.params,
        ck.cfg,
        ck.train_cfg,
        CharTokenizer(chars),
        ck.step,
        ck.opt_state,
        ck.history,
        ck.extra["data_spec"],
    )


def _page(trained, path: Path, mutate=None, monkeypatch=None) -> Path:
    _, ck, chars = trained
    if mutate is not None:
        original = core.js_module
        monkeypatch.setattr(core, "js_module", lambda name: mutate(original(name)))
    fig = own_text_figure(
        _model_of(ck, chars), reference(ck.params, ck.cfg, chars, ["the cat and the dogs see the "])
    )
    return write_figure_page(fig, path)


@pytest.fixture(scope="module")
def figure_page(trained, tmp_path_factory):
    return _page(trained, tmp_path_factory.mktemp("page") / "own_text.html")


def _open(chromium, path: Path, **context_options):
    return open_page(chromium, path.as_uri(), allowed_prefixes("file", None), **context_options)


# --- the runtime against NumPy, every configuration ---------------------------------------------------------
VARIANTS = [
    {},
    {"pos": "sinusoidal"},
    {"pos": "rope"},
    {"pos": "alibi"},
    {"pos": "none"},
    {"norm": "rmsnorm"},
    {"norm": "none"},
    {"block": "post"},
    {"block": "sandwich"},
    {"activation": "relu"},
    {"activation": "swish"},
    {"activation": "swiglu"},
    {"attn_only": True},
    {"mask": "local", "window": 3},
    {"mask": "global_local", "window": 2, "n_global": 2},
    {"tie_weights": True},
    {"bias": False},
    {"n_head": 3, "d_model": 18, "pos": "alibi"},
    {
        "block": "sandwich",
        "norm": "rmsnorm",
        "activation": "swiglu",
        "pos": "rope",
        "bias": False,
        "tie_weights": True,
    },
]
RUNTIME_JS = """async ([src, cases]) => {
  const gpt = await import("data:text/javascript;base64," + src)
  return cases.map((c) => {
    const model = gpt.loadModel(c.config, c.weights)
    const whole = gpt.newCache(model), steps = gpt.newCache(model)
    gpt.run(model, whole, c.ids)
    for (let t = 1; t <= c.ids.length; t++) gpt.run(model, steps, c.ids.slice(0, t))  // one key at a time
    const L = c.config.n_layer, H = c.config.n_head, att = []
    for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) att.push(...gpt.attention(model, whole, l, h))
    const stream = []
    for (let s = 0; s < model.stages; s++) stream.push(...whole.stream[s].subarray(0, c.ids.length * model.C))
    const T = c.ids.length, V = model.V
    return {logits: Array.from(whole.logits.subarray(0, T * V)), att, stream,
            same: whole.logits.subarray(0, T * V).every((x, i) => x === steps.logits[i])}
  })
}"""


@pytest.mark.browser
def test_the_runtime_is_numpys_model_for_every_config(chromium, tmp_path):
    rng = np.random.default_rng(0)
    base = ModelConfig(vocab_size=26, block_size=16, d_model=16, n_layer=2, n_head=4, d_ff=24)
    cases, refs = [], []
    for i, over in enumerate(VARIANTS):
        cfg = base.replace(**over)
        params = {
            k: (v + rng.normal(0, 0.3, v.shape)).astype(np.float32)
            for k, v in model.init_params(cfg, i).items()
        }
        ids = rng.integers(0, cfg.vocab_size, 13)
        logits, cache = model.forward({k: v.astype(np.float64) for k, v in params.items()}, ids[None], cfg)
        stream = [cache.embedding[0], *(r[0] for r in cache.residuals)]
        if cfg.norm != "none" and cfg.block != "post":
            stream.append(cache.xf)
        refs.append((logits[0], model.attention_maps(cache)[:, 0], np.stack(stream)))
        cases.append(
            {
                "config": cfg.to_dict(),
                "weights": {k: v.ravel().tolist() for k, v in params.items()},
                "ids": ids.tolist(),
            }
        )
    src = base64.b64encode(core.js_module("runtime/gpt").encode()).decode()
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><title>runtime</title>", encoding="utf-8")
    with _open(chromium, blank) as (page, report):
        got = page.evaluate(RUNTIME_JS, [src, cases])
        assert not report.problems(), report.describe()
    for over, (logits, att, stream), g in zip(VARIANTS, refs, got, strict=True):
        np.testing.assert_allclose(
            np.array(g["logits"]).reshape(logits.shape), logits, atol=1e-10, err_msg=str(over)
        )
        np.testing.assert_allclose(np.array(g["att"]).reshape(att.shape), att, atol=1e-12, err_msg=str(over))
        np.testing.assert_allclose(
            np.array(g["stream"]).reshape(stream.shape), stream, atol=1e-10, err_msg=str(over)
        )
        assert g["same"], f"{over}: key by key (the cache) and all at once must give the very same numbers"


# --- the figure: typed texts against NumPy of the .npz ---------------------------------------------------------
@pytest.mark.browser
def test_typed_texts_give_numpys_numbers(chromium, trained, figure_page):
    _, ck, chars = trained
    worst = {"float32": 0.0, "float64": 0.0}
    with _open(chromium, figure_page) as (page, report):
        wait_for_book_page(page, report)
        wait_shown(page, "the cat and the dogs see the ")
        seen = []
        for text in TEXTS:
            type_text(page, text)
            d = compare_shown(page, ck, chars, text)
            seen.append(text)
            for k in worst:
                worst[k] = max(worst[k], d[k])
        # Edits: delete at the end (nothing to compute), then insert at the start (everything recomputed).
        box = text_box(page)
        type_text(page, "the cat sees the dog.")
        for _ in range(3):
            box.press("Backspace")
        d1 = compare_shown(page, ck, chars, "the cat sees the d")
        box.press("Home")
        box.press_sequentially("a ")
        d2 = compare_shown(page, ck, chars, "a the cat sees the d")
        for k in worst:
            worst[k] = max(worst[k], d1[k], d2[k])
        # "a" then " " before "the ...": the second key reuses the first position, and recomputes the rest
        assert live(page, "latency")[-1]["computed"] == len("a the cat sees the d") - 1
        assert not report.problems(), report.describe()
    assert len(seen) >= 20
    assert worst["float32"] <= TOL, f"the page differs from NumPy's float32 pass by {worst['float32']:.2e}"
    assert worst["float64"] <= 1e-9, f"the page differs from NumPy's float64 pass by {worst['float64']:.2e}"
    _record("float_error", {"texts": len(seen) + 2, **worst})


@pytest.mark.browser
def test_the_notice_says_what_happened(chromium, figure_page, trained):
    block = trained[1].cfg.block_size
    cases = {
        "": "Type some text",
        "!!!": "None of these characters is in the model's vocabulary",
        "The Zebra sees 3!": "Capitals folded to lower case (the training text has none): <code>T</code>.",
        "x" * 3 + "the dog": "Skipped 3 characters outside the vocabulary: <code>x</code> ×3.",
        "the dog. " * 9: f"longer than the model's window of {block} characters: it reads only the last",
    }
    with _open(chromium, figure_page) as (page, report):
        wait_for_book_page(page, report)
        for text, expect in cases.items():
            type_text(page, text)
            wait_shown(page, text)
            shown = page.evaluate("() => Bokeh.documents[0].get_model_by_name('live-notice').text")
            assert expect in shown, (text, shown)
        assert not report.problems(), report.describe()


MUTATIONS = {
    # attention scaled by 1/D instead of 1/sqrt(D): every weight a little off
    "wrong attention scale": ("const scale = 1 / Math.sqrt(D)", "const scale = 1 / D"),
}


@pytest.mark.browser
@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_wrong_attention_scale_is_caught(mutation, chromium, trained, tmp_path, monkeypatch):
    old, new = MUTATIONS[mutation]
    hits = []

    def mutate(code):  # every callback module passes here (the figure's, and fit's layout callbacks)
        hits.append(old in code)
        return code.replace(old, new)

    path = _page(trained, tmp_path / "mutated.html", mutate, monkeypatch)
    assert any(hits), f"mutation target {old!r} not found: the test needs updating"
    _, ck, chars = trained
    with _open(chromium, path) as (page, report):
        wait_for_book_page(page, report)
        type_text(page, TEXTS[0])
        d = compare_shown(page, ck, chars, TEXTS[0])
    assert d["float32"] > TOL, f"the comparison missed '{mutation}' (difference {d['float32']:.2e})"


# --- sampler, tap ---------------------------------------------------------------------------------------------
def mulberry32(seed: int):
    """The page's generator (runtime/gpt.mjs), in Python."""
    a = seed % 2**32

    def rand() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) % 2**32
        t = ((a ^ (a >> 15)) * (1 | a)) % 2**32
        t = ((t + ((t ^ (t >> 7)) * (61 | t)) % 2**32) % 2**32) ^ t
        return ((t ^ (t >> 14)) % 2**32) / 2**32

    return rand


def python_twin(ck, chars, text, n, temperature, top_k, seed) -> str:
    """What the page's Generate must produce: attnbook.sample's rule, the page's generator, NumPy's model."""
    p64 = {k: v.astype(np.float64) for k, v in ck.params.items()}
    ids, rand, out = list(encode_text(text, chars, ck.cfg.block_size).ids), mulberry32(seed), []
    for _ in range(n):
        logits, _ = model.forward(p64, np.array(ids[-ck.cfg.block_size :])[None], ck.cfg)
        p = sampling_probs(logits[0, -1], temperature, "all" if top_k is None else str(top_k))
        cdf = np.cumsum(p)
        nxt = min(int((cdf <= rand() * cdf[-1]).sum()), len(chars) - 1)
        ids.append(nxt)
        out.append(chars[nxt])
    return "".join(out)


@pytest.mark.browser
def test_generate_is_seeded_and_is_numpys_sampler(chromium, trained, figure_page):
    _, ck, chars = trained
    text = "the cat and the dogs see the "
    with _open(chromium, figure_page) as (page, report):
        wait_for_book_page(page, report)
        button = page.get_by_role("button", name="Generate")

        def generated(seed, temperature, top_k):
            """Set the sampler's widgets; a new seed samples at once, the same seed needs the button."""
            n = live(page, "samples")
            set_widget(page, "live-temperature", temperature)
            set_widget(page, "live-top_k", top_k)
            if page.evaluate("() => Bokeh.documents[0].get_model_by_name('live-seed').value") == seed:
                button.click()
            else:
                set_widget(page, "live-seed", seed)
            page.wait_for_function("(n) => window.__attnbookLive.live.samples > n", arg=n, timeout=60_000)
            out = live(page, "sample")
            assert (out["seed"], out["temperature"], out["window"]) == (seed, temperature, text)
            return out["text"], None

        a, _ = generated(7, 1.0, "all")
        again, _ = generated(7, 1.0, "all")  # the button, same seed
        assert again == a, "the same seed must give the same text"
        b, _ = generated(8, 1.0, "all")
        assert a != b
        n = len(a)
        assert a == python_twin(ck, chars, text, n, 1.0, None, 7)
        c, _ = generated(3, 0.75, "5")
        assert c == python_twin(ck, chars, text, n, 0.75, 5, 3)
        greedy, _ = generated(1, 0.0, "all")
        ids = numpy_generate(ck.params, ck.cfg, encode_text(text, chars, 64).ids, n, temperature=0.0)
        assert greedy == "".join(chars[i] for i in ids[-n:]), "temperature 0 is attnbook.sample's greedy text"
        html = page.evaluate("() => Bokeh.documents[0].get_model_by_name('live-sample').text")
        assert "seed 1" in html
        type_text(page, "")
        wait_shown(page, "")
        button.click()
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('live-sample').text.startsWith('Type at least')"
        )
        assert not report.problems(), report.describe()


@pytest.mark.browser
def test_a_tap_picks_the_position(chromium, figure_page):
    with _open(chromium, figure_page) as (page, report):
        wait_for_book_page(page, report)
        wait_shown(page, "the cat and the dogs see the ")
        for x in (4, 0, 11):
            where = page.evaluate(
                """(x) => { const m = Bokeh.documents[0].get_model_by_name("live-model");
                    const v = Bokeh.index.find_one(m);
                    v.el.scrollIntoView({block: "center"});
                    const r = v.el.getBoundingClientRect();
                    return [r.left + v.frame.x_scale.compute(x), r.top + v.frame.y_scale.compute(0)] }""",
                x,
            )
            page.wait_for_timeout(400)  # two quick taps would be a double tap
            page.mouse.click(*where)
            page.wait_for_function(
                "(x) => window.__attnbookLive.live.view?.position === x", arg=x, timeout=5000
            )
            caption = page.evaluate("() => Bokeh.documents[0].get_model_by_name('live-caption').text")
            assert caption.startswith(f"Position {x} “")
        assert not report.problems(), report.describe()


@pytest.mark.browser
def test_the_position_slider_spans_the_text(chromium, figure_page):
    """The slider ends at the last character (ArrowLeft from its right end moves at once) and, at its right end,
    follows the text as it grows or shrinks; elsewhere it stays where the reader put it."""
    text = "the girl hears the big dog. t"  # 29 characters

    def slider() -> dict:
        return page.evaluate(
            """() => { const s = Bokeh.documents[0].get_model_by_name("live-position");
                return {end: s.end, value: s.value, shown: window.__attnbookLive.live.view.position} }"""
        )

    def keys(*names: str) -> None:
        page.evaluate(
            """() => { const s = Bokeh.documents[0].get_model_by_name("live-position");
                Bokeh.index.find_one(s).shadow_el.querySelector(".noUi-handle").focus() }"""
        )
        for k in names:
            page.keyboard.press(k)

    with _open(chromium, figure_page) as (page, report):
        wait_for_book_page(page, report)
        wait_shown(page, "the cat and the dogs see the ")
        type_text(page, text)
        wait_shown(page, text)
        assert slider() == {"end": 28, "value": 28, "shown": 28}
        keys(*["ArrowLeft"] * 5)
        page.wait_for_function("() => window.__attnbookLive.live.view?.position === 23")
        assert slider() == {"end": 28, "value": 23, "shown": 23}
        text_box(page).press("End")
        text_box(page).press_sequentially("he")  # the slider stays where it was put
        wait_shown(page, text + "he")
        assert slider() == {"end": 30, "value": 23, "shown": 23}
        page.evaluate(  # the reader drags it to its right end
            """() => { const s = Bokeh.documents[0].get_model_by_name("live-position"); s.value = s.end }"""
        )
        page.wait_for_function("() => window.__attnbookLive.live.view?.position === 30")
        text_box(page).press("End")
        text_box(page).press_sequentially(" dog")  # at its right end it follows the last character
        wait_shown(page, text + "he dog")
        assert slider() == {"end": 34, "value": 34, "shown": 34}
        type_text(page, "the")
        wait_shown(page, "the")
        assert slider() == {"end": 2, "value": 2, "shown": 2}
        assert not report.problems(), report.describe()


# --- latency and weight -----------------------------------------------------------------------------------
def _p95(xs):
    return float(np.percentile(xs, 95)) if xs else None


LATENCY_TEXT = (
    "the quiet girl hears the old king. the young boys follow the happy frogs. the bird sees the cats and the dog."
)[:110]


def _time_keys(page, text: str, block: int, *, draw_all: bool) -> dict:
    """Type ``text`` at a reader's pace into the box (scrolled to the top of the window, the figure below it) and
    time every key: the first ``block`` keys grow the window (one position each, the cache), the rest slide it (a
    full recompute of all positions each). ``draw_all``: every plot is drawn on every key, on screen or not."""
    page.evaluate("(all) => { window.__attnbookDrawAll = all }", draw_all)
    type_text(page, "")
    wait_shown(page, "")
    text_box(page).evaluate("(e) => e.scrollIntoView({block: 'start'})")
    page.evaluate(
        "() => { if (!window.__keys) document.addEventListener('keydown', (e) => window.__keys.push(e.timeStamp), "
        "true); window.__keys = [] }"
    )
    n0 = len(live(page, "latency"))
    text_box(page).press_sequentially(text[:block], delay=60, timeout=180_000)
    wait_shown(page, text[:block])
    page.wait_for_timeout(200)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    load0 = os.getloadavg()
    before = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    text_box(page).press_sequentially(text[block:], delay=60, timeout=180_000)
    wait_shown(page, text)
    page.wait_for_timeout(200)
    after = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    load1 = os.getloadavg()
    keys = page.evaluate("() => window.__keys.splice(0)")
    entries = live(page, "latency")[n0:]
    cdp.detach()
    assert len(keys) == len(text) and 0.8 * len(keys) <= len(entries) <= len(keys)

    # Each key is shown by the first update that starts after it (keys typed while the page catches up are
    # taken together: that update shows them all).
    def shown_by(k):
        return next(e for e in entries if e["start"] >= k)

    pairs = [(k, shown_by(k)) for k in keys]
    grow = [(k, e) for k, e in pairs if e["chars"] < block]
    full = [(k, e) for k, e in pairs if e["chars"] == block and e["computed"] == block]
    assert len(full) >= 30 and all(e["computed"] <= 2 for _, e in grow[1:])
    assert all(e["painted"] is not None and e["painted"] >= e["done"] for _, e in pairs)
    plots = {p for _, e in full for p in e["drawn"]}
    if draw_all:
        assert all(len(e["drawn"]) == 6 for _, e in full), "every plot drawn on every key"
    else:
        assert {"attention", "top"} <= plots, "the heatmap and the next-character chart are on screen"

    def stats(group):
        model = [e["model_ms"] for _, e in group]
        written = [e["done"] - k for k, e in group]  # every source of the plots on screen written
        painted = [e["painted"] - k for k, e in group]  # ... and the frame that paints them over
        render = [e["render_ms"] for _, e in group]  # that frame's own work
        return {
            "n": len(group),
            "model_p50": statistics.median(model),
            "model_p95": _p95(model),
            "written_p50": statistics.median(written),
            "written_p95": _p95(written),
            "painted_p50": statistics.median(painted),
            "painted_p95": _p95(painted),
            "frame_p50": statistics.median(render),
            "frame_p95": _p95(render),
        }

    n_slide = len(text) - block

    def per_key(metric):  # seconds over the sliding keys -> ms per key
        return 1000 * (after[metric] - before[metric]) / n_slide

    full_stats = stats(full)
    full_stats.update(
        plots=sorted(plots),
        cpu_ms_per_key=per_key("ThreadTime"),
        script_ms_per_key=per_key("ScriptDuration"),
        style_ms_per_key=per_key("RecalcStyleDuration"),
        layout_ms_per_key=per_key("LayoutDuration"),
        style_recalcs_per_key=(after["RecalcStyleCount"] - before["RecalcStyleCount"]) / n_slide,
        load={"before": load0, "after": load1, "cpus": os.cpu_count()},
    )
    return {"cache (one position)": stats(grow), f"full recompute at T={block}": full_stats}


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_keystroke_to_updated_figure(chromium, figure_page, trained, width):
    """Issue 12's number: keystroke to updated figure at the full window, on a laptop and a phone. Type 110
    characters at a reader's pace with the text box at the top of the window. Times from the keydown event to the
    sources of the plots on screen written and to the end of the frame that paints them (the figure the reader
    sees, updated), the forward pass alone, and the main thread's CPU time per sliding key (Chromium's ThreadTime,
    which also counts the key's own input handling); then the same with every plot drawn on every key (what the
    visible-first drawing saves). Reported with the load average, and checked against a loose bound only (the
    machine is shared; the 16 ms target is reported, not asserted)."""
    block = trained[1].cfg.block_size
    height = {1280: 900, 390: 844}[width]
    with _open(chromium, figure_page, viewport={"width": width, "height": height}) as (page, report):
        wait_for_book_page(page, report)
        seen = _time_keys(page, LATENCY_TEXT, block, draw_all=False)
        every = _time_keys(page, LATENCY_TEXT, block, draw_all=True)
        assert not report.problems(), report.describe()
    full = f"full recompute at T={block}"
    result = {
        "plots on screen": seen,
        "every plot drawn": every,
        "target": "keystroke to painted figure, full recompute, p95 <= 16 ms (issue 12)",
        "viewport": [width, height],
    }
    _record(f"latency_{width}", result)
    print(json.dumps(result, indent=1))
    for what, r in (("plots on screen", seen[full]), ("every plot", every[full])):
        print(
            f"chapter 10 at {width} px, keystroke -> painted figure ({what}: {', '.join(r['plots'])}), full "
            f"recompute at T={block} ({r['n']} keys): p50 {r['painted_p50']:.1f} ms, p95 {r['painted_p95']:.1f} ms "
            f"(target p95 <= 16 ms); sources written p50/p95 {r['written_p50']:.1f}/{r['written_p95']:.1f} ms; "
            f"forward pass p50/p95 {r['model_p50']:.1f}/{r['model_p95']:.1f} ms; main-thread CPU "
            f"{r['cpu_ms_per_key']:.1f} ms per key; load average {r['load']['before'][0]:.1f} -> "
            f"{r['load']['after'][0]:.1f} on {os.cpu_count()} cores"
        )
    assert seen[full]["written_p95"] < 400 and every[full]["written_p95"] < 400, (
        result
    )  # loose: shared machine


def test_the_figure_weighs_under_the_page_budget(trained):
    _, ck, chars = trained
    html = show(own_text_figure(_model_of(ck, chars), reference(ck.params, ck.cfg, chars, ["the cat "]))).html
    _record("figure_bytes", len(html.encode()))
    assert len(html.encode()) < 1.0e6  # the chapter page's budget is 1.5 MB besides BokehJS and MathJax


# --- the built book --------------------------------------------------------------------------------------------
@pytest.mark.browser
def test_the_built_page_runs_the_linked_weights(chromium, book_server):
    rel = "chapters/10_own_text.html"
    if not (HTML_ROOT / rel).is_file():
        unavailable(f"the book has no {rel} (build it with `nox -s build`)")
    html = (HTML_ROOT / rel).read_text("utf-8")
    links = sorted({h for h in __import__("re").findall(r'href="([^"]*own_text_model\.npz)"', html)})
    assert len(links) == 1, f"the chapter must link its weights once, found {links}"
    path = (HTML_ROOT / "chapters" / links[0]).resolve()
    assert path.is_relative_to(HTML_ROOT) and path.is_file(), f"{links[0]} is not inside the built book"
    ck = load_checkpoint(path)
    chars = CharTokenizer.from_dict(ck.extra["tokenizer"]).chars
    with open_page(chromium, f"{book_server.url}{rel}", allowed_prefixes("http", book_server.url)) as (
        page,
        report,
    ):
        wait_for_book_page(page, report)
        for text in ("the cat sees the dog.", "", "The Zebra!", TEXTS[13]):
            type_text(page, text)
            d = compare_shown(page, ck, chars, text)
            assert d["float32"] <= TOL, (text, d)
        assert not report.problems(), report.describe()


def _record(key: str, value) -> None:
    """Keep the measurements for the report: test-results/own_text.json."""
    REPORT.mkdir(exist_ok=True)
    path = REPORT / "own_text.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
