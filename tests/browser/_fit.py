"""Does every figure fit the reader's screen? The in-page measurements behind ``test_fit.py``, and a harness that
runs them on a chapter's figures without building the book.

Measured in the page, through Bokeh's shadow roots: every element of every figure against the article column and
the viewport; text clipped by its box (labels, buttons, the options of a select); whether the document scrolls
sideways; display maths and tables wider than the column (they must scroll inside a box of their own); what a
one-finger swipe over a plot does (CSS ``touch-action`` along the element under the finger, and the toolbar's
active drag and scroll tools); and each plot's PNG export (its ``SaveTool`` and file name).

The harness (``python tests/browser/_fit.py``) has two commands:

* ``column PAGE`` wraps a standalone figure page (``scripts/run_chapter.py --html``) in columns as wide as the
  theme's article at the test viewports (688, 755 and 358 px) with ``book/_static/attnbook.css``, and reports
  what does not fit at each;
* ``splice BOOK_PAGE PAGE OUT`` copies a built chapter page with its figures replaced by those of ``PAGE`` (same
  order), so a copy of a built book shows new figures in the real theme: then run ``test_fit.py`` with
  ``ATTNBOOK_BOOK_HTML`` pointing at the copy.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CSS = REPO / "book" / "_static" / "attnbook.css"
DARK_CSS = REPO / "book" / "_static" / "attnbook-dark.css"
THEMES = ("light", "dark")
# the book theme's page colours (as tests/browser/_theme.py's harness page)
PAGE_COLORS = (
    'html[data-theme="light"] body { background: #ffffff; color: #222832; }'
    ' html[data-theme="dark"] body { background: #121212; color: #ced6dd; }'
)

# Viewports of the tests (DESIGN.md §5) and the width of sphinx-book-theme's article column at each (measured).
VIEWPORTS = {"1280x900": (1280, 900), "1024x768": (1024, 768), "390x844": (390, 844)}
COLUMNS = {"1280x900": 688, "1024x768": 755, "390x844": 358}
PHONE_WIDTH = 600  # below this a viewport is a phone: touch events, and the swipe checks
SAVE_PREFIX = "attnbook-"  # a plot named "masks-attention" saves as attnbook-masks-attention.png
SLACK_PX = 1.0  # sub-pixel rounding allowed in every comparison

FIT_JS = r"""
(() => {
  if (window.__attnbookFit) return;
  const F = {};
  window.__attnbookFit = F;
  const SLACK = __SLACK__;
  const FULL = 24;  // px of margins and padding between a full-width select and its column
  const round = (x) => Math.round(x * 10) / 10;

  // The content box of the article column: the theme's article, or a harness column, or the body.
  F.column = (el) => {
    const col = el.closest("[data-fit-column], .bd-article") ?? document.body;
    const r = col.getBoundingClientRect(), s = getComputedStyle(col);
    const px = (v) => parseFloat(v) || 0;
    return {left: r.left + px(s.paddingLeft) + px(s.borderLeftWidth), right: r.right - px(s.paddingRight) - px(s.borderRightWidth)};
  };

  // Every element under `root`, through open shadow roots (each Bokeh view renders into one).
  F.elements = (root, out = []) => {
    for (const e of root.children) {
      out.push(e);
      if (e.shadowRoot) F.elements(e.shadowRoot, out);
      F.elements(e, out);
    }
    return out;
  };
  const up = (e) => e.parentElement ?? (e.parentNode instanceof ShadowRoot ? e.parentNode.host : null);

  // "Select 'masks-type' > SELECT": the Bokeh model an element belongs to, for messages.
  let owners = null;
  const owner = (e) => {
    if (owners === null) {
      owners = new Map();
      if (window.Bokeh && Bokeh.index) for (const v of Bokeh.index.all_views()) if (v.el) owners.set(v.el, v.model);
    }
    for (let x = e; x; x = up(x)) {
      const m = owners.get(x);
      if (m) return `${m.type} '${m.name ?? m.id}'` + (x === e ? "" : ` > ${e.tagName.toLowerCase()}${e.classList.length ? "." + [...e.classList].join(".") : ""}`);
    }
    return e.tagName.toLowerCase();
  };
  const drawn = (e) => {
    const r = e.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return null;
    const s = getComputedStyle(e);
    return s.visibility === "hidden" || s.display === "none" ? null : r;
  };

  let canvas = null;
  const textWidth = (text, style) => {
    canvas ??= document.createElement("canvas");
    const ctx = canvas.getContext("2d");
    ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    return ctx.measureText(text).width;
  };
  const ownText = (e) => [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());

  // Text cut off by its own box: an element holding text that is wider than it, or a select too narrow for
  // one of its options (a native select cuts its text without a scroll width). A select as wide as the column
  // cannot do better: an option longer than the column shows in full only in the list it opens (`cut`).
  F.clipped = (els, col, cut) => {
    const out = [];
    for (const e of els) {
      const r = drawn(e);
      if (!r) continue;
      if (e.tagName === "SELECT") {
        const s = getComputedStyle(e);
        const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
        const full = r.width >= col.right - col.left - FULL;
        for (const o of e.options) {
          const w = textWidth(o.text, s);
          if (w > room + SLACK) {
            (full ? cut : out).push(`${owner(e)}: option "${o.text}" needs ${round(w)} px, the box has ${round(room)}`);
            break;
          }
        }
      } else if (ownText(e) && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + SLACK) {
        out.push(`${owner(e)}: "${e.textContent.trim().slice(0, 40)}" is ${e.scrollWidth} px wide in a ${e.clientWidth} px box`);
      }
    }
    return out;
  };

  // The element a finger over (x, y) lands on, through shadow roots, and the touch-action along its ancestors.
  const hit = (x, y) => {
    let e = document.elementFromPoint(x, y);
    while (e && e.shadowRoot) {
      const inner = e.shadowRoot.elementFromPoint(x, y);
      if (!inner || inner === e) break;
      e = inner;
    }
    return e;
  };
  const blocksSwipe = (value) => value === "none" || value === "pinch-zoom" || (value !== "auto" && value !== "manipulation" && !value.includes("pan-y"));
  F.touch = (x, y) => {
    for (let e = hit(x, y); e; e = up(e)) {
      const v = getComputedStyle(e).touchAction;
      if (blocksSwipe(v)) return `${owner(e)} sets touch-action: ${v}`;
    }
    return null;
  };

  // A plot's titles are drawn on its canvas and cut at its edge: each must fit between the canvas edges.
  F.titles = (m, v, frame) => {
    const out = [], width = v.bbox.width;
    for (const t of [m.title, ...m.above, ...m.below]) {
      if (!t || !isA(t, "Title") || !t.visible || !t.text) continue;
      const w = textWidth(t.text, {fontStyle: t.text_font_style.includes("italic") ? "italic" : "normal",
        fontWeight: t.text_font_style.includes("bold") ? "bold" : "normal", fontSize: t.text_font_size, fontFamily: t.text_font});
      const x0 = t.align === "left" ? frame.x0 + t.offset
        : t.align === "right" ? frame.x1 - t.offset - w : frame.x0 + frame.width / 2 - w / 2;
      if (x0 < -SLACK || x0 + w > width + SLACK)
        out.push(`Title of '${m.name}': "${t.text}" needs ${round(w)} px from x = ${round(x0)}, the canvas is ${round(width)} px wide`);
    }
    return out;
  };

  const eventTypes = (tool) => [tool.event_type ?? []].flat();
  const isA = (m, t) => { for (let c = m.constructor; c && c.__name__; c = Object.getPrototypeOf(c)) if (c.__name__ === t) return true; return false; };

  F.plots = (doc) => [...doc.all_models].filter((m) => isA(m, "Plot"));

  // What the page does with a one-finger drag or a wheel over each plot: the tools active by default.
  F.gestures = (plot) => {
    const tb = plot.toolbar, out = [];
    for (const [attr, kind] of [["active_drag", "pan"], ["active_scroll", "scroll"]]) {
      const active = tb[attr];
      const tools = tb.tools.filter((t) => eventTypes(t).includes(kind));
      if (active === "auto" ? tools.length : active != null)
        out.push(`${attr} is ${active === "auto" ? "auto (" + tools[0].type + ")" : active.type}`);
    }
    return out;
  };

  F.measure = () => {
    owners = null;
    const vw = document.documentElement.clientWidth;
    const views = window.Bokeh && Bokeh.index ? [...Bokeh.index.all_views()] : [];
    const figures = [...document.querySelectorAll("[data-attnbook-figure]")].map((fig, index) => {
      const col = F.column(fig);
      const left = Math.max(col.left, 0), right = Math.min(col.right, vw);
      const els = F.elements(fig);
      const beyond = new Map(), scrolls = [];
      for (const e of els) {
        const r = drawn(e);
        if (!r) continue;
        // what the reader can see of it: a box inside the figure that scrolls or clips holds its own content
        let [l, rr] = [r.left, r.right];
        for (let a = up(e); a && a !== fig; a = up(a))
          if (getComputedStyle(a).overflowX !== "visible") {
            const b = a.getBoundingClientRect();
            [l, rr] = [Math.max(l, b.left), Math.min(rr, b.right)];
          }
        if (["auto", "scroll"].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + SLACK)
          scrolls.push(`${owner(e)} scrolls sideways (${e.scrollWidth} px of content in ${e.clientWidth} px)`);
        if (rr <= l) continue;
        const out = Math.max(left - l, rr - right);
        if (out > SLACK) {
          const who = owner(e).split(" > ")[0];
          beyond.set(who, Math.max(beyond.get(who) ?? 0, out));
        }
      }
      const cut = [], titles = [];
      const docs = new Set(views.filter((v) => fig.contains(v.el) && v.model.document).map((v) => v.model.document));
      const plots = [];
      for (const doc of docs) for (const m of F.plots(doc)) {
        const v = views.find((x) => x.model === m);
        const r = v && v.el ? drawn(v.el) : null;
        const frame = v && v.frame ? v.frame.bbox : null;
        const saves = m.toolbar.tools.filter((t) => isA(t, "SaveTool"));
        if (r && frame) titles.push(...F.titles(m, v, frame));
        plots.push({
          name: m.name ?? "", shown: r !== null,
          // centre of the data frame, in page coordinates (a swipe starts there)
          centre: r && frame ? [r.left + frame.x0 + frame.width / 2 + window.scrollX, r.top + frame.y0 + frame.height / 2 + window.scrollY] : null,
          save: saves.map((t) => t.filename), gestures: F.gestures(m),
        });
      }
      const rect = fig.getBoundingClientRect();
      return {
        index, label: fig.getAttribute("aria-label") ?? "", column: [round(col.left), round(col.right)],
        box: [round(rect.left), round(rect.right)], scroll: [fig.scrollWidth, fig.clientWidth],
        beyond: [...beyond].sort((a, b) => b[1] - a[1]).map(([who, px]) => `${who} by ${round(px)} px`),
        clipped: [...F.clipped(els, col, cut), ...titles], cut, scrolls, plots,
      };
    });
    // Display maths and tables outside figures: each wider than the column must scroll inside its own box.
    const wide = [];
    for (const e of document.querySelectorAll('mjx-container[display="true"], .bd-article table')) {
      if (e.closest("[data-attnbook-figure]")) continue;
      const col = F.column(e);
      let box = e;
      for (let x = e; x && !x.matches?.(".bd-article, [data-fit-column], body"); x = up(x))
        if (["auto", "scroll"].includes(getComputedStyle(x).overflowX)) { box = x; break; }
      const r = box.getBoundingClientRect();
      if (r.width && (r.right > Math.min(col.right, vw) + SLACK || r.left < Math.max(col.left, 0) - SLACK))
        wide.push(`${e.tagName.toLowerCase()} "${e.textContent.trim().slice(0, 40)}" reaches ${round(r.left)}..${round(r.right)} px, the column is ${round(col.left)}..${round(col.right)}`);
    }
    const root = document.documentElement;
    return {viewport: [vw, root.clientHeight], scroll: [root.scrollWidth, root.clientWidth], figures, wide};
  };
})();
""".replace("__SLACK__", str(SLACK_PX))


def measure(page) -> dict:
    """Everything :data:`FIT_JS` measures on the page as it is now (see the module docstring)."""
    page.evaluate(FIT_JS)
    return page.evaluate("() => __attnbookFit.measure()")


def expected_filename(plot_name: str) -> str:
    """The file name a plot's PNG export must have (without ``.png``)."""
    return f"{SAVE_PREFIX}{plot_name}"


def problems(report: dict) -> list[str]:
    """What does not fit, one readable line each (empty when everything fits)."""
    out = []
    sw, cw = report["scroll"]
    if sw > cw + SLACK_PX:
        out.append(f"the page scrolls sideways: scrollWidth {sw} > clientWidth {cw}")
    out += [f"{w} (it must scroll inside its own box)" for w in report["wide"]]
    for fig in report["figures"]:
        where = f"figure {fig['index']} ({fig['label']})"
        out += [f"{where}: {b} beyond the column {fig['column']}" for b in fig["beyond"][:6]]
        if fig["scroll"][0] > fig["scroll"][1] + SLACK_PX:
            out.append(
                f"{where}: scrolls sideways ({fig['scroll'][0]} px of content in {fig['scroll'][1]} px)"
            )
        out += [f"{where}: clipped text: {c}" for c in fig["clipped"]]
        if report["viewport"][0] >= PHONE_WIDTH:  # on a laptop nothing in a figure needs scrolling sideways
            out += [f"{where}: {c}" for c in fig["scrolls"]]
    return out


def notes(report: dict) -> list[str]:
    """What the column cannot hold and the reader can still reach: options of a full-width select longer than the
    column (the list the select opens shows them whole); on a phone, dense plots and wide tables that scroll
    sideways inside their own box."""
    phone = report["viewport"][0] < PHONE_WIDTH
    return [
        f"figure {fig['index']}: {c}"
        for fig in report["figures"]
        for c in fig["cut"] + (fig["scrolls"] if phone else [])
    ]


def gesture_problems(report: dict) -> list[str]:
    """Plots that keep a one-finger drag or the wheel for themselves (the page should scroll)."""
    return [
        f"figure {fig['index']}: plot '{p['name']}': {g} (a swipe over it would not scroll the page)"
        for fig in report["figures"]
        for p in fig["plots"]
        for g in p["gestures"]
    ]


def export_problems(report: dict) -> list[str]:
    """Plots without a PNG export named after them."""
    out = []
    for fig in report["figures"]:
        for p in fig["plots"]:
            want = expected_filename(p["name"])
            if p["save"] != [want]:
                out.append(
                    f"figure {fig['index']}: plot '{p['name']}' saves as {p['save']}, expected [{want!r}]"
                )
    return out


def touch_blockers(page, report: dict) -> list[str]:
    """For every plot drawn on the page: does an element under the centre of its frame refuse a vertical pan?"""
    out = []
    for fig in report["figures"]:
        for p in fig["plots"]:
            if not p["centre"]:
                continue
            x, y = p["centre"]
            page.evaluate("([x, y]) => window.scrollTo(0, Math.max(0, y - innerHeight / 2))", [x, y])
            sx, sy = page.evaluate("() => [scrollX, scrollY]")
            why = page.evaluate("([x, y]) => __attnbookFit.touch(x, y)", [x - sx, y - sy])
            if why:
                out.append(f"figure {fig['index']}: plot '{p['name']}': {why}")
    return out


def swipe_scrolls(page, cdp, centre: tuple[float, float], distance: int = 200) -> float:
    """Swipe one finger up from ``centre`` (page coordinates) and return how far the page scrolled (px)."""
    x, y = centre
    page.evaluate("(y) => window.scrollTo(0, Math.max(0, y - innerHeight / 2))", y)
    page.wait_for_timeout(50)
    y0 = page.evaluate("() => scrollY")
    vx, vy = x - page.evaluate("() => scrollX"), y - y0
    steps = 10
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": vx, "y": vy}]})
    for k in range(1, steps + 1):
        point = {"x": vx, "y": vy - distance * k / steps}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_timeout(150)
    return page.evaluate("() => scrollY") - y0


SAVE_BUTTON_JS = """(name) => {
  const plot = [...Bokeh.index.all_views()].find((v) => v.model.name === name && v.model.toolbar);
  plot.el.scrollIntoView({block: "center"});
  const f = plot.frame.bbox, r = plot.el.getBoundingClientRect();
  const button = [...Bokeh.index.all_views()].find((v) => v.model.tool && v.model.tool.type === "SaveTool"
      && plot.model.toolbar.tools.includes(v.model.tool));
  return {over: [r.left + f.x0 + f.width / 2, r.top + f.y0 + f.height / 2], button: button ? button.el.getBoundingClientRect().toJSON() : null};
}"""


def save_png(page, plot_name: str, *, touch: bool = False, timeout_ms: float = 10_000):
    """Export one plot as a reader would: point at (or tap) the plot so its toolbar shows, press Save; return the
    Playwright download."""
    where = page.evaluate(SAVE_BUTTON_JS, plot_name)
    press = page.touchscreen.tap if touch else page.mouse.click
    if touch:
        page.touchscreen.tap(*where["over"])
    else:
        page.mouse.move(*where["over"])
    page.wait_for_timeout(200)
    where = page.evaluate(SAVE_BUTTON_JS, plot_name)
    b = where["button"]
    if b is None or b["width"] <= 0:
        raise AssertionError(f"plot '{plot_name}' shows no Save button after the pointer reached it")
    with page.expect_download(timeout=timeout_ms) as download:
        press(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    return download.value


def back_to_top_overlaps(page) -> list[str]:
    """Scroll to each figure from below (the theme shows "Back to top" while scrolling up) and report any figure the
    button then covers."""
    out = []
    n = page.evaluate("document.querySelectorAll('[data-attnbook-figure]').length")
    for i in range(n):
        hit = page.evaluate(
            """async (i) => {
                const fig = document.querySelectorAll('[data-attnbook-figure]')[i];
                const top = fig.getBoundingClientRect().top + scrollY;
                window.scrollTo(0, top + 300);
                await new Promise((r) => setTimeout(r, 50));
                window.scrollTo(0, top);
                await new Promise((r) => setTimeout(r, 100));
                const b = document.getElementById('pst-back-to-top');
                if (!b) return null;
                const s = getComputedStyle(b), br = b.getBoundingClientRect(), fr = fig.getBoundingClientRect();
                if (s.display === 'none' || s.visibility === 'hidden' || !br.width) return null;
                const meets = br.left < fr.right && br.right > fr.left && br.top < fr.bottom && br.bottom > fr.top;
                return meets ? `"Back to top" (${Math.round(br.left)},${Math.round(br.top)} ${Math.round(br.width)}x${Math.round(br.height)}) covers figure ${i}` : null;
            }""",
            i,
        )
        if hit:
            out.append(hit)
    return out


# --- harness ------------------------------------------------------------------------------------------
_FIGURE = re.compile(r'<div class="attnbook-figure"[^>]*data-attnbook-figure')


def _figure_blocks(html: str) -> list[tuple[int, int]]:
    """Spans of the figure wrappers in ``html``: from the wrapper's opening tag to its closing ``</div>``."""
    spans = []
    for m in _FIGURE.finditer(html):
        depth, i = 0, m.start()
        for t in re.finditer(r"<(/?)div\b[^>]*>|<script\b.*?</script>", html[m.start() :], re.S):
            if t.group(0).startswith("<script"):
                continue
            depth += -1 if t.group(1) else 1
            if depth == 0:
                spans.append((i, m.start() + t.end()))
                break
    return spans


def splice(book_page: Path, figure_page: Path, out: Path) -> int:
    """Write ``out``: ``book_page`` with its figures replaced, in order, by those of ``figure_page``."""
    book, figs = book_page.read_text("utf-8"), figure_page.read_text("utf-8")
    old, new = _figure_blocks(book), _figure_blocks(figs)
    if len(old) != len(new):
        raise SystemExit(f"{book_page} has {len(old)} figures, {figure_page} has {len(new)}")
    for (a, b), (c, d) in zip(reversed(old), reversed(new), strict=True):
        book = book[:a] + figs[c:d] + book[b:]
    out.write_text(book, "utf-8")
    return len(new)


def in_column(figure_page: Path, width: int, out: Path, theme: str = "light") -> Path:
    """``figure_page`` (from ``scripts/run_chapter.py --html``) with its body in a column ``width`` px wide, in the
    book's light or dark ``theme`` (``html[data-theme]``, which the figures follow, and the page's colours)."""
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {THEMES}, got {theme!r}")
    html = figure_page.read_text("utf-8")
    head, sep, body = html.rpartition("</head><body>")
    if not sep:
        raise SystemExit(f"{figure_page} is not a page written by scripts/run_chapter.py")
    style = (
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<script>document.documentElement.dataset.theme = {theme!r};</script>"
        f"<style>body {{ margin: 0 16px; font-family: sans-serif; }}\n{PAGE_COLORS}\n{CSS.read_text('utf-8')}\n"
        f"{DARK_CSS.read_text('utf-8')}</style>"
    )
    out.write_text(
        f"{head}{style}</head><body><div data-fit-column style='width: {width}px'>"
        + body.replace("</body>", "</div></body>"),
        "utf-8",
    )
    return out


def main(argv=None) -> int:
    import argparse

    from _bokeh import BROWSER_ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    col = sub.add_parser(
        "column", help="check a figure page in columns as wide as the theme's at each viewport"
    )
    col.add_argument("page", type=Path)
    col.add_argument("--shots", type=Path, help="write a screenshot per width into this folder")
    col.add_argument("--theme", choices=THEMES, default="light", help="the book's theme (default light)")
    col.add_argument(
        "--widths", type=lambda t: [int(w) for w in t.split(",")], help="other column widths, e.g. 624,480"
    )
    sp = sub.add_parser("splice", help="a built chapter page with the figures of a figure page")
    sp.add_argument("book_page", type=Path)
    sp.add_argument("page", type=Path)
    sp.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "splice":
        print(f"{splice(args.book_page, args.page, args.out)} figure(s) spliced into {args.out}")
        return 0
    bad = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        columns = {f"{w} px": w for w in args.widths} if args.widths else COLUMNS
        for key, width in columns.items():
            out = args.page.with_name(f"{args.page.stem}-{width}-{args.theme}.html")
            wrapped = in_column(args.page, width, out, args.theme)
            phone = width + 32 < PHONE_WIDTH
            context = browser.new_context(
                viewport={"width": width + 32, "height": 900}, has_touch=phone, is_mobile=phone
            )
            page = context.new_page()
            page.goto(wrapped.resolve().as_uri())
            page.wait_for_function(
                "() => window.Bokeh && Bokeh.documents.length && Bokeh.documents.every(d => d.is_idle)"
            )
            page.wait_for_timeout(300)
            report = measure(page)
            found = problems(report) + gesture_problems(report) + export_problems(report)
            if phone:
                found += touch_blockers(page, report)
            print(
                f"column {width} px ({key}, {args.theme}): {len(report['figures'])} figure(s), "
                f"{len(found)} problem(s)"
            )
            for f in found:
                print(f"  {f}")
            for f in notes(report):
                print(f"  note: {f}")
            if args.shots:
                args.shots.mkdir(parents=True, exist_ok=True)
                page.evaluate("() => window.scrollTo(0, 0)")
                shot = args.shots / f"{args.page.stem}-{width}-{args.theme}.png"
                page.screenshot(path=str(shot), full_page=True)
            bad += bool(found)
            context.close()
        browser.close()
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
