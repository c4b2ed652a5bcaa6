"""Browser-side machinery of the real-browser tests: a sandboxed page opener, a local static server and the
JavaScript that inspects, fingerprints and drives the Bokeh documents embedded in a built attnbook page.

Nothing here is specific to a chapter: every figure is found through ``Bokeh.documents`` and every widget
through ``doc.all_models``, so a new chapter is covered by the tests without new test code.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import NoReturn
from urllib.parse import unquote, urlsplit

import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError:  # pragma: no cover - the chromium fixture reports the missing package
    PlaywrightTimeoutError = TimeoutError

REPO = Path(__file__).resolve().parents[2]
# The built book under test (noxfile sets ATTNBOOK_BOOK_HTML to the folder it just built).
HTML_ROOT = Path(os.environ.get("ATTNBOOK_BOOK_HTML", REPO / "book" / "_build" / "html")).resolve()
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# Pages that are not book content: Sphinx's own output directories.
NON_PAGE_DIRS = {"_static", "_sources", "_images", "_downloads", ".doctrees"}
# Shared assets that the page-weight budget leaves out (DESIGN.md §5): BokehJS and MathJax, shipped once.
SHARED_ASSET_DIRS = ("_static/bokeh/", "_static/mathjax/")

# Console messages of type "error" that are tolerated, as (regex, reason). Every entry needs a reason;
# nothing else is ignored. Keep this empty unless a message is provably outside the book's control.
TOLERATED_CONSOLE_ERRORS: list[tuple[re.Pattern[str], str]] = []


def running_in_ci() -> bool:
    """True when the environment says CI (there, unavailable browser tests must fail, not skip)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip the test locally, fail it under ``CI=true``: CI must never pass by skipping the browser."""
    if running_in_ci():
        pytest.fail(f"browser tests cannot run under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def book_root() -> Path:
    """The built book, or skip (fail under CI=true) when it has not been built."""
    if not (HTML_ROOT / "index.html").is_file():
        unavailable(f"the book is not built ({HTML_ROOT}/index.html is missing; run `nox -s build`)")
    return HTML_ROOT


def launch_chromium(playwright):
    """Launch Debian's headless Chromium (never a downloaded browser)."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)


# --- static server ------------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by http.server
        pass


class StaticServer:
    """A threaded ``http.server`` on ``127.0.0.1`` and a free port, serving one directory."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.root = Path(root)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="book-server", daemon=True)

    def __enter__(self) -> StaticServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


# --- pages --------------------------------------------------------------------------------------------
def discover_pages(root: Path) -> list[str]:
    """Every HTML page of a built book, as POSIX paths relative to ``root``."""
    if not root.is_dir():
        return []
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.html")
        if not NON_PAGE_DIRS.intersection(p.relative_to(root).parts[:-1])
    )


FIGURE_TAG = re.compile(r"<div\b[^>]*\sdata-attnbook-figure[\s>=]")


def figure_pages(root: Path) -> list[str]:
    """Pages of the built book that hold at least one attnbook figure (its wrapper div, not the word)."""
    return [p for p in discover_pages(root) if FIGURE_TAG.search((root / p).read_text("utf-8"))]


def page_url(rel: str, protocol: str, server_url: str | None, root: Path) -> str:
    """URL of one page over ``http`` (the local server) or ``file``."""
    if protocol == "http":
        return f"{server_url}{rel}"
    return (root / rel).resolve().as_uri()


def allowed_prefixes(protocol: str, server_url: str | None) -> tuple[str, ...]:
    """URL prefixes a page may request; everything else is aborted and recorded."""
    local = (server_url,) if protocol == "http" else ("file://",)
    return (*local, "data:", "blob:")


@dataclass
class PageReport:
    """What one page did while it was open: console errors, uncaught exceptions, blocked requests."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Human-readable list of everything that makes the page fail (empty when clean)."""
        out = [f"console error: {m}" for m in self.console_errors]
        out += [f"uncaught exception: {m}" for m in self.page_errors]
        out += [f"external request (aborted): {u}" for u in self.external]
        out += [f"HTTP error: {m}" for m in self.http_errors]
        return out

    def describe(self) -> str:
        lines = [f"page {self.url}:"] + [f"  - {p}" for p in self.problems()]
        if self.warnings:
            lines += ["  console warnings (context, not failures):"] + [
                f"    {w}" for w in self.warnings[:10]
            ]
        return "\n".join(lines)


def _console_text(msg) -> str:
    loc = msg.location or {}
    where = f" ({loc.get('url', '')}:{loc.get('lineNumber', '')})" if loc.get("url") else ""
    return f"{msg.text}{where}"


@contextmanager
def open_page(
    browser, url: str, allowed: tuple[str, ...], timeout_ms: float = 30_000, **context_options
) -> Iterator[tuple]:
    """Open ``url`` in a fresh context with every non-allowed request aborted and recorded.

    Yields ``(page, report)``; the report keeps filling while the page stays open. ``context_options`` go to
    Playwright's ``new_context`` (another viewport, touch...); by default the viewport is 1280 × 900.
    """
    report = PageReport(url)
    options = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1, **context_options}
    context = browser.new_context(**options)
    context.set_default_timeout(timeout_ms)

    def route(r):
        u = r.request.url
        if u.startswith(allowed):
            r.continue_()
        else:
            report.external.append(u)
            r.abort("blockedbyclient")

    def on_console(msg):
        if msg.type == "error":
            text = _console_text(msg)
            for pattern, reason in TOLERATED_CONSOLE_ERRORS:
                if pattern.search(text):
                    report.tolerated.append(f"{text}  [tolerated: {reason}]")
                    break
            else:
                report.console_errors.append(text)
        elif msg.type == "warning":
            report.warnings.append(_console_text(msg))

    def on_response(resp):
        if resp.status >= 400:
            report.http_errors.append(f"{resp.status} {resp.url}")

    def on_websocket(ws):
        report.external.append(f"websocket {ws.url}")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", on_console)
    page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
    page.on("request", lambda req: report.requests.append(req.url))
    page.on("response", on_response)
    page.on("websocket", on_websocket)
    try:
        page.goto(url, wait_until="load")
        page.evaluate(HELPERS_JS)
        yield page, report
    finally:
        context.close()


@contextmanager
def open_book_page(browser, rel: str | None, server_url: str, *, what: str = "page with an attnbook figure"):
    """Open the built book's page ``rel`` from the test server (only the server's requests allowed) and wait until
    its figures and maths are rendered; yields ``(page, report)``. Skips (fails under CI=true) when the book is not
    built; fails when ``rel`` is None, the parametrisation's stand-in when the book has no ``what``."""
    root = book_root()
    if rel is None:
        pytest.fail(f"the book at {root} has no {what}", pytrace=False)
    url = page_url(rel, "http", server_url, HTML_ROOT)
    with open_page(browser, url, allowed_prefixes("http", server_url)) as (page, report):
        wait_for_book_page(page, report)
        yield page, report


def wait_for_book_page(page, report: PageReport | None = None, timeout_ms: float = 20_000) -> dict:
    """Wait until every figure is rendered by BokehJS and MathJax has typeset every formula.

    Returns the page's facts: number of figure wrappers and Bokeh documents, per-figure render checks,
    and the math counts (``math`` elements, ``mjx-container`` elements, MathJax errors). A timeout fails
    with what the page reported (console errors usually say why).
    """

    def wait(what: str, expression: str, arg=None) -> None:
        try:
            page.wait_for_function(expression, arg=arg, timeout=timeout_ms)
        except PlaywrightTimeoutError:
            detail = report.describe() if report is not None else ""
            pytest.fail(f"{page.url}: timed out after {timeout_ms / 1000:.0f} s waiting for {what}\n{detail}")

    n_fig = page.evaluate("document.querySelectorAll('[data-attnbook-figure]').length")
    facts: dict = {"figures": n_fig}
    if n_fig:
        wait(
            f"BokehJS to render {n_fig} figure(s)",
            """(n) => window.Bokeh && Bokeh.documents && Bokeh.documents.length >= n
                && Bokeh.documents.every((d) => d.is_idle)""",
            n_fig,
        )
        facts.update(page.evaluate("() => __attnbookTest.figureFacts()"))
    n_math = page.evaluate("document.querySelectorAll('.math').length")
    facts["math"] = n_math
    if n_math:
        wait("MathJax to start", "() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        facts.update(
            page.evaluate(
                """async () => {
                    await MathJax.startup.promise;
                    const maths = [...document.querySelectorAll('.math')];
                    return {
                        math_typeset: maths.filter((e) => e.querySelector('mjx-container')).length,
                        mjx_containers: document.querySelectorAll('mjx-container').length,
                        mjx_errors: [...document.querySelectorAll('mjx-merror')].map((e) => e.textContent),
                    };
                }"""
            )
        )
    return facts


DRIVE_DEFAULTS = {
    "timeout": 2000,  # ms to wait for a widget's effect before calling it a no-op
    "quiet": 60,  # ms without any change before a figure counts as settled
    "settleTimeout": 3000,  # ms a figure may take to settle
    "fallbackTimeout": 300,  # ms per retry when looking for a state in which a widget has an effect
    "searchMax": 24,  # retries allowed in that search
    "searchPerControl": 4,  # values tried per other control in that search
    "maxChoices": 8,  # options tried per Select / radio group / checkbox group
    "playMs": 600,  # how long a play control is left running
    "playQuiet": 1000,  # ms the figure must stay still after the play control is pressed again
}


def drive_widgets(page, **overrides) -> list[dict]:
    """Move every widget of every Bokeh document in the page; one result per action (see HELPERS_JS)."""
    opts = {**DRIVE_DEFAULTS, **overrides}
    return page.evaluate("(opts) => __attnbookTest.driveAll(opts)", opts)


def model_inventory(page) -> list[dict]:
    """Widgets and data sources of every document: ``{doc, id, type, name}`` each."""
    return page.evaluate("() => __attnbookTest.inventory()")


def failed_actions(results: list[dict]) -> list[str]:
    """Widget actions that broke the contract: an error, or no effect on a widget not marked -nochange."""
    bad = []
    for r in results:
        who = f"{r['type']} '{r['widget']}' (document {r['doc']}, action {r['action']})"
        if r.get("error"):
            bad.append(f"{who}: {r['error']}")
        elif r.get("skipped"):
            continue
        elif not r.get("changed") and not r.get("exempt"):
            bad.append(f"{who}: changed nothing in the figure within {DRIVE_DEFAULTS['timeout']} ms")
    return bad


# --- page weight --------------------------------------------------------------------------------------
class _AssetParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in {"script", "img", "source", "iframe", "embed", "video", "audio", "track"} and a.get("src"):
            self.refs.append(a["src"])
        elif tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower().split()
            if {"stylesheet", "preload", "modulepreload", "icon", "prefetch"} & set(rel):
                self.refs.append(a["href"])
        elif tag == "object" and a.get("data"):
            self.refs.append(a["data"])


def local_assets(root: Path, rel: str) -> set[str]:
    """Local files (relative to ``root``) that a page references from script/link/img/... tags."""
    parser = _AssetParser()
    parser.feed((root / rel).read_text(encoding="utf-8", errors="replace"))
    base = (root / rel).parent
    out = set()
    for ref in parser.refs:
        parts = urlsplit(ref)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        path = (base / unquote(parts.path)).resolve()
        try:
            out.add(path.relative_to(root.resolve()).as_posix())
        except ValueError:
            continue
    return {a for a in out if (root / a).is_file()}


def page_weight(root: Path, rel: str, shared: set[str]) -> dict:
    """Bytes of a page plus the assets only it brings (not BokehJS/MathJax, not the theme's shared files)."""
    own = sorted(
        a for a in local_assets(root, rel) if a not in shared and not a.startswith(SHARED_ASSET_DIRS)
    )
    html = (root / rel).stat().st_size
    assets = sum((root / a).stat().st_size for a in own)
    return {
        "page": rel,
        "html_bytes": html,
        "asset_bytes": assets,
        "total_bytes": html + assets,
        "assets": own,
    }


def theme_shared_assets(root: Path) -> set[str]:
    """Assets of a page with no content of its own (genindex): the theme's files every page loads."""
    for candidate in ("genindex.html", "search.html", "index.html"):
        if (root / candidate).is_file():
            return local_assets(root, candidate)
    return set()


# --- in-page helpers ----------------------------------------------------------------------------------
# Installed once per page as window.__attnbookTest. Classification walks the class chain (``__name__`` of
# every base class), because abstract bases such as Control are not in Bokeh.Models.
HELPERS_JS = r"""
(() => {
  if (window.__attnbookTest) return;
  const T = {};
  window.__attnbookTest = T;

  // ---- classification ------------------------------------------------------------------------------
  T.chain = (m) => {
    const out = [];
    for (let c = m.constructor; c && c.__name__; c = Object.getPrototypeOf(c)) out.push(c.__name__);
    return out;
  };
  T.isA = (m, name) => T.chain(m).includes(name);
  T.label = (m) => `${m.type} '${m.name ?? ""}'`;
  T.isHasProps = (v) =>
    v != null && typeof v === "object" && typeof v.id === "string" && typeof v.syncable_properties === "function";
  T.isInteractive = (m) => {
    const c = T.chain(m);
    return c.includes("Control") || c.includes("ToggleInput") || c.includes("Tabs");
  };
  T.needsName = (m) => {
    const c = T.chain(m);
    return c.includes("Widget") || c.includes("Tabs") || c.includes("ColumnarDataSource");
  };
  T.isPlay = (m) => /play/i.test(m.name ?? "") && (T.isA(m, "Toggle") || T.isA(m, "Button"));

  T.docs = () => (window.Bokeh && Bokeh.documents) || [];
  T.inventory = () => {
    const out = [];
    T.docs().forEach((doc, i) => {
      for (const m of doc.all_models)
        if (T.needsName(m)) out.push({ doc: i, id: m.id, type: m.type, name: m.name ?? "" });
    });
    return out;
  };

  // ---- fingerprint: one hash per model over every (non-readonly) property value ----------------------
  const f64 = new Float64Array(1);
  const i32 = new Int32Array(f64.buffer);
  class Hasher {
    constructor() { this.a = -2128831035; this.b = 0x2545f491; }
    word(x) {
      this.a = Math.imul(this.a ^ x, 16777619);
      const b = Math.imul(this.b ^ x, 0x5bd1e995);
      this.b = b ^ (b >>> 15);
    }
    num(x) { f64[0] = x; this.word(i32[0]); this.word(i32[1]); }
    str(s) { this.word(s.length); for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i)); }
    hex() { return (this.a >>> 0).toString(16).padStart(8, "0") + (this.b >>> 0).toString(16).padStart(8, "0"); }
  }
  const hashValue = (h, v, depth, seen) => {
    if (v === null) return h.word(1);
    if (v === undefined) return h.word(2);
    switch (typeof v) {
      case "boolean": return h.word(v ? 3 : 4);
      case "number": h.word(5); return h.num(v);
      case "bigint": h.word(6); return h.str(v.toString());
      case "string": h.word(7); return h.str(v);
      case "function": return h.word(8);
      case "symbol": h.word(9); return h.str(String(v));
    }
    if (ArrayBuffer.isView(v)) {  // typed arrays and Bokeh's NDArrays: hash the bytes
      h.word(11); h.str(v.constructor.name);
      const n = v.byteLength, off = v.byteOffset;
      h.word(n);
      const w = off % 4 === 0 && n % 4 === 0 ? new Int32Array(v.buffer, off, n / 4) : new Uint8Array(v.buffer, off, n);
      for (let i = 0; i < w.length; i++) h.word(w[i]);
      if (Array.isArray(v.shape)) hashValue(h, v.shape, depth + 1, seen);
      return;
    }
    if (v instanceof ArrayBuffer) return hashValue(h, new Uint8Array(v), depth, seen);
    if (T.isHasProps(v)) { h.word(12); return h.str(v.id); }  // models are hashed on their own
    if (depth > 32 || seen.has(v)) return h.word(10);
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        h.word(13); h.word(v.length);
        for (const x of v) hashValue(h, x, depth + 1, seen);
      } else if (v instanceof Map) {
        h.word(14); h.word(v.size);
        for (const [k, x] of v) { hashValue(h, k, depth + 1, seen); hashValue(h, x, depth + 1, seen); }
      } else if (v instanceof Set) {
        h.word(15); h.word(v.size);
        for (const x of v) hashValue(h, x, depth + 1, seen);
      } else {
        const keys = Object.keys(v).sort();
        h.word(16); h.word(keys.length);
        for (const k of keys) { h.str(k); hashValue(h, v[k], depth + 1, seen); }
      }
    } finally {
      seen.delete(v);
    }
  };
  // Wiring, not state: these never change what the reader sees.
  const SKIP_ATTRS = new Set(["js_property_callbacks", "js_event_callbacks", "subscribed_events", "syncable"]);
  T.snapshot = (doc, exclude) => {
    const out = new Map();
    for (const m of doc.all_models) {
      if (exclude.has(m.id)) continue;
      const h = new Hasher();
      for (const p of m) {
        // readonly properties (inner_width, ...) are written by the layout engine, not by callbacks
        if (p.readonly || SKIP_ATTRS.has(p.attr)) continue;
        h.str(p.attr);
        let v;
        try { v = p.is_unset ? undefined : p.get_value(); } catch (e) { v = "<unreadable>"; }
        hashValue(h, v, 0, new Set());
      }
      out.set(m.id, h.hex());
    }
    return out;
  };
  T.diff = (a, b) => {
    const out = [];
    for (const [id, x] of b) if (a.get(id) !== x) out.push(id);
    for (const id of a.keys()) if (!b.has(id)) out.push(id);
    return out;
  };
  T.labelOf = (doc, id) => {
    const m = doc.get_model_by_id(id);
    return m ? T.label(m) : `removed model ${id}`;
  };
  T.fingerprint = (di) => {
    const h = new Hasher();
    for (const [id, x] of T.snapshot(Bokeh.documents[di], new Set())) { h.str(id); h.str(x); }
    return h.hex();
  };

  // Change signals give the exact time of each model's first and last change after an action.
  T.listen = (doc, exclude) => {
    const st = { count: 0, first: new Map(), last: new Map(), signals: [] };
    const on = (_args, sender) => {
      const t = performance.now();
      st.count++;
      const id = sender && sender.id;
      if (id === undefined) return;
      if (!st.first.has(id)) st.first.set(id, t);
      st.last.set(id, t);
    };
    for (const m of doc.all_models) {
      if (exclude.has(m.id)) continue;
      for (const s of [m.change, m.streaming, m.patching]) if (s && s.connect(on)) st.signals.push(s);
    }
    st.stop = () => { for (const s of st.signals) s.disconnect(on); };
    return st;
  };

  // ---- timing helpers --------------------------------------------------------------------------------
  const channel = new MessageChannel();
  const waiting = [];
  channel.port1.onmessage = () => { const r = waiting.shift(); if (r) r(); };
  T.tick = () => new Promise((r) => { waiting.push(r); channel.port2.postMessage(null); });
  T.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  T.frame = () => new Promise((r) => {
    let done = false;
    const f = () => { if (!done) { done = true; r(); } };
    requestAnimationFrame(f);
    setTimeout(f, 50);
  });

  // Every CustomJS.execute is timed (Bokeh calls cb.execute(obj, data) for property and event callbacks).
  T.cbLog = [];
  T.pending = 0;
  T.instrument = (doc) => {
    for (const m of doc.all_models) {
      if (!T.isA(m, "CustomJS") || m.__attnbookTimed) continue;
      const orig = m.execute;
      m.__attnbookTimed = true;
      m.execute = function (...args) {
        const rec = { id: this.id, t0: performance.now(), t1: null };
        T.cbLog.push(rec);
        T.pending++;
        const done = () => { rec.t1 = performance.now(); T.pending--; };
        let res;
        try { res = orig.apply(this, args); } catch (e) { done(); throw e; }
        return Promise.resolve(res).then((v) => { done(); return v; }, (e) => { done(); throw e; });
      };
    }
  };

  T.settle = async (doc, exclude, quiet, timeout) => {
    const t0 = performance.now();
    let prev = T.snapshot(doc, exclude);
    let since = performance.now();
    while (performance.now() - t0 < timeout) {
      await T.frame();
      const cur = T.snapshot(doc, exclude);
      if (T.diff(prev, cur).length || T.pending > 0) { prev = cur; since = performance.now(); }
      else if (performance.now() - since >= quiet) return true;
    }
    return false;
  };

  // ---- what to do with each kind of widget -----------------------------------------------------------
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const spread = (xs, n) =>
    xs.length <= n ? xs : Array.from({ length: n }, (_, i) => xs[Math.round((i * (xs.length - 1)) / (n - 1))]);
  const snap = (x) => Number(x.toPrecision(12));
  const show = (v) => JSON.stringify(v);
  const optionValues = (opts) => {
    const flat = (arr) => arr.map((o) => (Array.isArray(o) ? o[0] : o));
    if (Array.isArray(opts)) return flat(opts);
    const groups = opts instanceof Map ? [...opts.values()] : Object.values(opts ?? {});
    return groups.flatMap(flat);
  };
  const setValue = (m, attrs) => () => { for (const [k, v] of attrs) m.setv({ [k]: v }); };
  const click = (m) => () => {
    const view = Bokeh.index.find_one(m);
    if (view && view.button_el) view.button_el.click();  // a real DOM click inside the shadow root
    else m.trigger_event(new (Bokeh.require("core/bokeh_events").ButtonClick)());
  };

  // Returns {actions: [{label, apply}]} or {error} or {skip: reason}.
  T.plan = (m, opts) => {
    const c = T.chain(m);
    const max = opts.maxChoices;
    const act = (label, apply) => ({ label, apply });
    const values = (targets, attrs) =>
      targets.map((t) => act(`${attrs.join("+")}=${show(t)}`, setValue(m, attrs.map((a) => [a, t]))));
    if (c.includes("HelpButton")) return { skip: "a HelpButton only shows its tooltip" };
    if (c.includes("AbstractSlider")) {
      let targets;
      if (c.includes("CategoricalSlider")) {
        const cats = m.categories;
        targets = m.value === cats[cats.length - 1] ? [cats[0], cats[cats.length - 1]] : [cats[cats.length - 1], cats[0]];
      } else {
        const { start, end } = m;
        const step = m.step || 0;
        const top = step > 0 ? snap(start + Math.floor((end - start) / step + 1e-9) * step) : end;
        if (c.includes("NumericalRangeSlider")) {
          const mid = step > 0 ? snap(start + Math.round((top - start) / 2 / step) * step) : (start + top) / 2;
          targets = [[start, top], [mid, top], [start, mid]].filter((t) => !same(t, m.value)).slice(0, 2);
        } else {
          targets = m.value === top ? [start, top] : [top, start];  // to the end, then to the start
        }
      }
      targets = targets.filter((t, i) => !same(t, i === 0 ? m.value : targets[i - 1]));
      if (!targets.length) return { error: "the slider has a single position" };
      return { actions: values(targets, ["value", "value_throttled"]) };
    }
    if (c.includes("Select") || c.includes("MultiSelect") || c.includes("MultiChoice")) {
      const vals = optionValues(m.options);
      let targets;
      if (c.includes("Select")) targets = spread(vals.filter((v) => v !== m.value), max);
      else targets = [[vals[0]], vals.slice(0, 2)].filter((t, i, a) => t.length && !same(t, m.value) && (i === 0 || !same(t, a[0])));
      if (!targets.length) return { error: "no other option to choose" };
      return { actions: values(targets, ["value"]) };
    }
    if (c.includes("Tabs") || c.includes("RadioButtonGroup") || c.includes("RadioGroup")) {
      const n = c.includes("Tabs") ? m.tabs.length : m.labels.length;
      const targets = spread([...Array(n).keys()].filter((i) => i !== m.active), max);
      if (!targets.length) return { error: "a single choice" };
      return { actions: values(targets, ["active"]) };
    }
    if (c.includes("CheckboxButtonGroup") || c.includes("CheckboxGroup")) {
      const idx = spread([...m.labels.keys()], max);
      if (!idx.length) return { error: "no checkbox" };
      return {
        actions: idx.map((i) => act(`toggle box ${i}`, () => {
          const a = new Set(m.active);
          if (a.has(i)) a.delete(i); else a.add(i);
          m.active = [...a].sort((x, y) => x - y);
        })),
      };
    }
    if (c.includes("Toggle") || c.includes("ToggleInput")) {
      return { actions: [act("active=" + !m.active, () => { m.active = !m.active; }),
                         act("active=" + m.active, () => { m.active = !m.active; })] };
    }
    if (c.includes("Dropdown")) {
      const items = (m.menu ?? []).filter((x) => x != null).map((x) => (Array.isArray(x) ? x[1] : x));
      if (!items.length) return { actions: [act("click", click(m))] };
      const { MenuItemClick } = Bokeh.require("core/bokeh_events");
      return { actions: spread(items, max).map((it) => act(`menu item ${show(typeof it === "string" ? it : "<callback>")}`,
                                                          () => m.trigger_event(new MenuItemClick(it)))) };
    }
    if (c.includes("AbstractButton")) return { actions: [act("click", click(m))] };
    if (c.includes("NumericInput")) {
      const step = m.step ?? 1;
      const cur = m.value ?? m.low ?? 0;
      const round = (x) => (m.mode === "int" ? Math.round(x) : snap(x));
      const targets = [round(m.high ?? cur + step), round(m.low ?? cur - step)].filter((t, i, a) => t !== cur && a.indexOf(t) === i);
      return { actions: values(targets, ["value"]) };
    }
    if (c.includes("TextLikeInput")) {
      const completions = c.includes("AutocompleteInput") ? (m.completions ?? []) : [];
      const pool = completions.length ? completions : ["the cat sat on the mat", "a small dog ran home"];
      const targets = pool.filter((s) => s !== m.value).slice(0, 2);
      return { actions: values(targets, ["value_input", "value"]) };
    }
    return { error: `unsupported widget type ${m.type} (${c.join(" > ")}): teach tests/browser/_bokeh.py to drive it` };
  };

  // ---- one action: settle, snapshot, act, wait for the first change, settle again ---------------------
  T.act = async (doc, model, action, opts) => {
    const exclude = new Set([model.id]);
    const res = { action: action.label, changed: [], ms: null, apply_ms: null, settle_ms: null, callback_ms: null, n_callbacks: 0, error: null };
    if (!(await T.settle(doc, exclude, opts.quiet, opts.settleTimeout))) {
      res.error = "the figure kept changing before the action (is something animating on its own?)";
      return res;
    }
    const before = T.snapshot(doc, exclude);
    const lis = T.listen(doc, exclude);
    const nlog = T.cbLog.length;
    const t0 = performance.now();
    try { action.apply(); } catch (e) { res.error = `the action threw: ${(e && e.stack) || e}`; }
    res.apply_ms = performance.now() - t0;  // synchronous part: Bokeh's own view updates of the widget
    let changed = [], tDetect = null, seen = -1, lastSnap = -Infinity;
    for (;;) {
      const now = performance.now();
      if (lis.count !== seen || now - lastSnap >= 16) {
        seen = lis.count;
        lastSnap = now;
        changed = T.diff(before, T.snapshot(doc, exclude));
        if (changed.length) { tDetect = performance.now(); break; }
      }
      if (now - t0 > opts.timeout) break;
      await T.tick();
    }
    if (tDetect !== null) {
      await T.settle(doc, exclude, opts.quiet, opts.settleTimeout);
      changed = [...new Set([...changed, ...T.diff(before, T.snapshot(doc, exclude))])];
      const firsts = changed.map((id) => lis.first.get(id)).filter((t) => t !== undefined);
      const lasts = changed.map((id) => lis.last.get(id)).filter((t) => t !== undefined);
      res.ms = (firsts.length ? Math.min(...firsts) : tDetect) - t0;
      res.settle_ms = (lasts.length ? Math.max(...lasts, tDetect) : tDetect) - t0;
    }
    lis.stop();
    const cbs = T.cbLog.slice(nlog);
    res.n_callbacks = cbs.length;
    if (cbs.length) res.callback_ms = Math.max(...cbs.map((r) => (r.t1 ?? performance.now()) - r.t0));
    res.changed = changed.map((id) => T.labelOf(doc, id));
    return res;
  };

  // Look for a state of one other control in which `predicate` holds; returns a description or null.
  T.search = async (doc, model, controls, predicate, opts) => {
    let tries = 0;
    for (const other of controls) {
      if (other === model || other.disabled || T.isPlay(other)) continue;
      if (T.isA(other, "AbstractButton") && !T.isA(other, "Toggle")) continue;  // events, not states
      if (T.isA(other, "TextLikeInput")) continue;
      const plan = T.plan(other, opts);
      for (const a of (plan.actions ?? []).slice(0, opts.searchPerControl)) {
        if (tries++ >= opts.searchMax) return null;
        try { await a.apply(); } catch (e) { continue; }
        await T.settle(doc, new Set(), opts.quiet, opts.settleTimeout);
        if (await predicate()) return `${T.label(other)} ${a.label}`;
      }
    }
    return null;
  };

  T.play = async (doc, m, opts) => {
    const exclude = new Set([m.id]);
    const res = { action: `play ${opts.playMs} ms, then stop`, changed: [], ms: null, apply_ms: null, settle_ms: null, callback_ms: null, n_callbacks: 0, error: null };
    if (!(await T.settle(doc, exclude, opts.quiet, opts.settleTimeout))) {
      res.error = "the figure kept changing before play was pressed (autoplay?)";
      return res;
    }
    const toggle = T.isA(m, "Toggle");
    const press = toggle ? (on) => { m.active = on; } : () => click(m)();
    const before = T.snapshot(doc, exclude);
    const lis = T.listen(doc, exclude);
    const nlog = T.cbLog.length;
    const t0 = performance.now();
    press(true);
    let changed = [];
    while (performance.now() - t0 < Math.max(opts.timeout, opts.playMs)) {
      await T.sleep(16);
      changed = T.diff(before, T.snapshot(doc, exclude));
      if (changed.length && performance.now() - t0 >= opts.playMs) break;
    }
    press(false);
    lis.stop();
    const firsts = changed.map((id) => lis.first.get(id)).filter((t) => t !== undefined);
    if (changed.length) res.ms = (firsts.length ? Math.min(...firsts) : performance.now()) - t0;
    const cbs = T.cbLog.slice(nlog);
    res.n_callbacks = cbs.length;
    if (cbs.length) res.callback_ms = Math.max(...cbs.map((r) => (r.t1 ?? performance.now()) - r.t0));
    res.changed = changed.map((id) => T.labelOf(doc, id));
    if (!(await T.settle(doc, exclude, opts.playQuiet, opts.playQuiet + opts.settleTimeout)))
      res.error = "the figure kept changing after the play control was pressed again (play does not stop)";
    return res;
  };

  // ---- everything in one document ----------------------------------------------------------------------
  T.driveDocument = async (di, opts) => {
    const doc = Bokeh.documents[di];
    T.instrument(doc);
    const controls = [...doc.all_models].filter(T.isInteractive);
    const order = [...controls.filter((m) => !T.isPlay(m)), ...controls.filter(T.isPlay)];
    const results = [];
    for (const m of order) {
      const base = { doc: di, widget: m.name ?? "", type: m.type, exempt: (m.name ?? "").endsWith("-nochange"), note: null };
      if (T.isPlay(m)) {
        results.push({ ...base, ...(await T.play(doc, m, opts)) });
        continue;
      }
      let plan = T.plan(m, opts);
      if (plan.skip) { results.push({ ...base, action: "-", skipped: plan.skip, changed: [] }); continue; }
      if (plan.error) { results.push({ ...base, action: "-", error: plan.error, changed: [] }); continue; }
      if (m.disabled) {
        const found = await T.search(doc, m, controls, () => !m.disabled, opts);
        if (!found) {
          results.push({ ...base, action: "-", changed: [], error: "disabled in every state reached by moving one other control" });
          continue;
        }
        base.note = `disabled at first; enabled by ${found}`;
        plan = T.plan(m, opts);
      }
      for (const a of plan.actions ?? []) {
        let r = await T.act(doc, m, a, opts);
        if (!r.changed.length && !r.error && !base.exempt) {
          // No effect here; if moving one other control gives it an effect, it is state-dependent, not dead.
          const first = r;
          const found = await T.search(doc, m, controls, async () => {
            const p = T.plan(m, opts);
            if (!p.actions || !p.actions.length) return false;
            const rr = await T.act(doc, m, p.actions[0], { ...opts, timeout: opts.fallbackTimeout });
            if (rr.changed.length) { r = rr; return true; }
            return false;
          }, opts);
          r = found ? { ...r, note: `no effect after "${first.action}"; has one after ${found}` } : first;
        }
        results.push({ ...base, ...r, note: r.note ?? base.note });
      }
    }
    return results;
  };

  T.driveAll = async (opts) => {
    const out = [];
    for (let i = 0; i < T.docs().length; i++) out.push(...(await T.driveDocument(i, opts)));
    return out;
  };

  // ---- render checks ---------------------------------------------------------------------------------
  const allViews = () => [...Bokeh.index.all_views()];
  T.figureFacts = () => {
    const wrappers = [...document.querySelectorAll("[data-attnbook-figure]")];
    const roots = Bokeh.index.roots;
    const views = allViews();
    const figures = wrappers.map((w, i) => {
      const rect = w.getBoundingClientRect();
      const mine = roots.filter((v) => w.contains(v.el));
      const docs = new Set(mine.map((v) => v.model.document));
      const plots = views.filter((v) => docs.has(v.model.document) && T.isA(v.model, "Plot"));
      const plotFacts = plots.map((pv) => {
        const box = pv.el.getBoundingClientRect();
        const shown = pv.model.visible && box.width > 0 && box.height > 0;
        // what the plot draws: visible renderers (glyphs, or annotations with a source) that have rows
        const rows = (src) => (src && typeof src.get_length === "function" ? src.get_length() ?? 0 : 0);
        const drawn = [...pv.model.renderers, ...pv.model.center, ...pv.model.above, ...pv.model.below,
                       ...pv.model.left, ...pv.model.right]
          .filter((r) => r.visible && rows(r.data_source ?? r.source) > 0).length;
        const f = { name: pv.model.name ?? "", shown, finished: pv.has_finished(), colours: null, drawn };
        if (!shown) return f;
        const canvas = pv.export("png", false).canvas;
        const fb = pv.frame && pv.frame.bbox;
        const sx = canvas.width / Math.max(1, pv.bbox.width), sy = canvas.height / Math.max(1, pv.bbox.height);
        const [x0, y0, w0, h0] = fb && fb.width > 2 && fb.height > 2
          ? [Math.floor(fb.x0 * sx), Math.floor(fb.y0 * sy), Math.floor(fb.width * sx), Math.floor(fb.height * sy)]
          : [0, 0, canvas.width, canvas.height];
        const px = canvas.getContext("2d").getImageData(x0, y0, Math.max(1, w0), Math.max(1, h0)).data;
        const seen = new Set();
        for (let k = 0; k < px.length && seen.size < 64; k += 4) seen.add((px[k] << 16) | (px[k + 1] << 8) | px[k + 2]);
        f.colours = seen.size;
        return f;
      });
      return {
        index: i, width: rect.width, height: rect.height, roots: mine.length,
        finished: mine.every((v) => v.has_finished()), plots: plotFacts,
      };
    });
    return { documents: Bokeh.documents.length, idle: Bokeh.documents.every((d) => d.is_idle), figure_facts: figures };
  };
})();
"""
