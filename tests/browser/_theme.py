"""The reader's view of a figure, for the theme and accessibility tests: a harness page that switches
``html[data-theme]`` as the book's theme does, and in-page readings of what a figure looks like (colours and their
contrast, widget text, controls, their accessible names, the data it shows).

The readings are independent of ``attnbook/viz/js/theme.mjs``: colours are read from the models and from computed
CSS, resolved by the browser (a canvas normalises any CSS colour), and contrast is WCAG's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bokeh.resources import INLINE

REPO = Path(__file__).resolve().parents[2]

# The book theme's page colours (sphinx-book-theme's --pst-color-background, pydata's --pst-color-text-base) and its
# boot script: html[data-theme] from localStorage, light by default.
PAGE_CSS = """
html[data-theme="light"] body { background: #ffffff; color: #222832; }
html[data-theme="dark"] body { background: #121212; color: #ced6dd; }
body { font-family: sans-serif; }
"""
THEME_BOOT = 'document.documentElement.dataset.theme = localStorage.getItem("theme") || "light";'


def harness_page(figures: Sequence, path: Path, title: str = "attnbook figures") -> Path:
    """A page holding ``figures`` (outputs of :func:`attnbook.viz.show`), BokehJS inlined, themed like the book.

    Its ``<html data-theme>`` starts from ``localStorage["theme"]`` (light if unset), as in the book.
    """
    body = "\n".join(getattr(f, "html", f) for f in figures)
    dark_css = (REPO / "book" / "_static" / "attnbook-dark.css").read_text(encoding="utf-8")
    path = Path(path)
    path.write_text(
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<script>{THEME_BOOT}</script><style>{PAGE_CSS}\n{dark_css}</style>{INLINE.render_js()}</head>"
        f"<body><main><h1>{title}</h1>\n{body}\n</main></body></html>",
        encoding="utf-8",
    )
    return path


def set_theme(page, theme: str) -> None:
    """Switch the page's theme the way the theme's switcher does (the attribute, and the stored choice)."""
    page.evaluate(
        "(t) => { localStorage.setItem('theme', t); document.documentElement.dataset.theme = t; }", theme
    )
    page.wait_for_timeout(150)  # the observers run; Bokeh repaints on its next frame
    page.wait_for_function("() => !window.Bokeh || Bokeh.documents.every((d) => d.is_idle)")


LOOK_JS = r"""
(() => {
  if (window.__attnbookLook) return;
  const L = {};
  window.__attnbookLook = L;
  const ctx = document.createElement("canvas").getContext("2d");
  // Any colour (CSS string, Bokeh's {value}) as [r, g, b, a]; null when none or transparent.
  L.rgba = (c) => {
    if (c != null && typeof c === "object" && !Array.isArray(c) && "value" in c) c = c.value;
    if (c == null || typeof c !== "string") return null;
    ctx.fillStyle = "#000"; ctx.fillStyle = c;
    const s = ctx.fillStyle;
    if (s[0] === "#") return [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)).concat([1]);
    const [r, g, b, a = 1] = s.slice(s.indexOf("(") + 1, -1).split(",").map(Number);
    return a === 0 ? null : [r, g, b, a];
  };
  const lin = (x) => (x /= 255) <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  L.luminance = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  L.contrast = (a, b) => {
    const [x, y] = [L.luminance(a), L.luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const isA = (m, name) => {
    for (let c = m.constructor; c && c.__name__; c = Object.getPrototypeOf(c)) if (c.__name__ === name) return true;
    return false;
  };
  const parentOf = (el) => el.parentElement ?? (el.getRootNode() instanceof ShadowRoot ? el.getRootNode().host : null);
  // The colour an element's text is painted on: the first opaque background up the tree (shadow roots crossed).
  L.backdrop = (el) => {
    for (let e = el; e; e = parentOf(e)) {
      const c = L.rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] >= 0.99) return c;
    }
    return [255, 255, 255, 1];
  };
  function* deep(root) {
    for (const el of root.querySelectorAll("*")) {
      yield el;
      if (el.shadowRoot) yield* deep(el.shadowRoot);
    }
  }
  L.deep = deep;
  // The text an element shows, shadow roots included (their <style> sheets left out).
  L.text = (root) => {
    let out = "";
    const walk = (node) => {
      for (const n of node.childNodes) {
        if (n.nodeType === 3) out += n.textContent;
        else if (n.nodeType === 1 && n.tagName !== "STYLE" && n.tagName !== "SCRIPT") {
          if (n.shadowRoot) walk(n.shadowRoot);
          walk(n);
        }
      }
    };
    walk(root);
    return out.replace(/\s+/g, " ").trim();
  };
  const round = (x) => Math.round(x * 100) / 100;

  // Text on a figure's canvases: each plot's title, axis, legend and colour-bar text colours against the plot's
  // border colour (where they are drawn), and its grid against its frame.
  L.canvasText = (di) => {
    const out = [];
    for (const m of Bokeh.documents[di].all_models) {
      if (!isA(m, "Plot") || !m.visible) continue;
      const back = L.rgba(m.border_fill_color) ?? [255, 255, 255, 1];
      const frame = L.rgba(m.background_fill_color) ?? back;
      const add = (what, color, on = back) => {
        const c = L.rgba(color);
        if (c) out.push({plot: m.name ?? m.id, what, color: c, on, contrast: round(L.contrast(c, on))});
      };
      if (m.title && m.title.text && m.title.text.trim()) add("title", m.title.text_color);
      for (const a of [...m.left, ...m.right, ...m.above, ...m.below]) {
        if (!a.visible) continue;
        if (isA(a, "Axis")) {
          if (a.major_label_text_color && (a.major_label_overrides?.size || a.ticker)) add("axis labels", a.major_label_text_color);
          if (a.axis_label) add("axis title", a.axis_label_text_color);
        } else if (isA(a, "Legend")) {
          add("legend", a.label_text_color, L.rgba(a.background_fill_color) ?? back);
        } else if (isA(a, "ColorBar")) {
          add("colour bar labels", a.major_label_text_color, L.rgba(a.background_fill_color) ?? back);
        } else if (isA(a, "Title") && a.text && a.text.trim()) {
          add("subtitle", a.text_color);
        }
      }
      for (const a of m.center) {
        if (isA(a, "Legend")) add("legend", a.label_text_color, L.rgba(a.background_fill_color) ?? frame);
        if (isA(a, "Grid") && a.visible && a.grid_line_color) {
          const c = L.rgba(a.grid_line_color);
          if (c) out.push({plot: m.name ?? m.id, what: "grid", color: c, on: frame, contrast: round(L.contrast(c, frame))});
        }
      }
    }
    return out;
  };

  // The plots' backgrounds: border and frame colours, and the colour of the PNG a SaveTool would write (a corner).
  L.plots = (di) => {
    const out = [];
    for (const m of Bokeh.documents[di].all_models) {
      if (!isA(m, "Plot") || !m.visible) continue;
      const v = Bokeh.index.find_one(m);
      let png = null;
      if (v && v.bbox.width > 0) {
        const canvas = v.export("png", false).canvas;
        png = Array.from(canvas.getContext("2d").getImageData(1, 1, 1, 1).data);
      }
      out.push({doc: di, name: m.name ?? m.id, border: L.rgba(m.border_fill_color), frame: L.rgba(m.background_fill_color), png});
    }
    return out;
  };

  // A plot scrolled to the middle of the window, and the part of it on screen (viewport coordinates): clipped by
  // every scrolling ancestor; which of its own edges are shown.
  L.plotBox = (di, name) => {
    const v = Bokeh.index.find_one(Bokeh.documents[di].get_model_by_name(name));
    if (!v) return null;
    v.el.scrollIntoView({block: "center", inline: "nearest"});
    const r = v.el.getBoundingClientRect();
    if (r.width <= 0) return null;
    let [x0, y0, x1, y1] = [Math.max(0, r.left), Math.max(0, r.top), Math.min(innerWidth, r.right), Math.min(innerHeight, r.bottom)];
    for (let e = parentOf(v.el); e; e = parentOf(e)) {
      const cs = getComputedStyle(e);
      if (cs.overflowX === "visible" && cs.overflowY === "visible") continue;
      const c = e.getBoundingClientRect();
      [x0, y0, x1, y1] = [Math.max(x0, c.left), Math.max(y0, c.top), Math.min(x1, c.right), Math.min(y1, c.bottom)];
    }
    x0 = Math.ceil(x0); y0 = Math.ceil(y0); x1 = Math.floor(x1); y1 = Math.floor(y1);
    if (x1 - x0 <= 4 || y1 - y0 <= 4) return null;
    return {x: x0, y: y0, width: x1 - x0, height: y1 - y0, top: y0 <= Math.ceil(r.top), left: x0 <= Math.ceil(r.left),
            right: x1 >= Math.floor(r.right), bottom: y1 >= Math.floor(r.bottom)};
  };

  // Text of the figure's HTML widgets (selects, buttons, slider titles, Divs): colour against its backdrop.
  L.widgetText = (wrapper) => {
    const out = [];
    for (const el of deep(wrapper)) {
      if (el.closest && el.closest(".attnbook-description")) continue;
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      const isControl = ["SELECT", "BUTTON", "INPUT"].includes(el.tagName);
      if (!own && !isControl) continue;
      const cs = getComputedStyle(el);
      if (cs.visibility === "hidden" || cs.display === "none" || el.getClientRects().length === 0) continue;
      const color = L.rgba(cs.color), on = L.backdrop(el);
      if (!color) continue;
      const text = (el.tagName === "SELECT" ? el.selectedOptions[0]?.textContent : el.textContent) ?? "";
      out.push({tag: el.tagName, text: text.trim().slice(0, 40), color, on, contrast: round(L.contrast(color, on))});
    }
    return out;
  };

  // What the figure shows, colours aside: widget values, every source's data (not the payload), Div texts.
  L.state = (di) => {
    const plain = (v) => ArrayBuffer.isView(v) ? Array.from(v) : v instanceof Map ? Object.fromEntries(v) : v;
    const out = {};
    for (const m of Bokeh.documents[di].all_models) {
      const name = m.name ?? m.id;
      if (isA(m, "ColumnarDataSource") && !name.endsWith("-payload")) {
        const data = {};
        for (const [k, v] of Object.entries(m.data)) data[k] = Array.isArray(v) ? v.map(plain) : plain(v);
        out[`${name} data`] = JSON.stringify(data);
      } else if (isA(m, "Widget")) {
        for (const a of ["value", "active", "text", "label"]) if (a in m) out[`${name}.${a}`] = JSON.stringify(plain(m[a]));
      }
    }
    return out;
  };

  // Every control a reader can operate in the figure: its role, accessible name (as the browser would compute it
  // for these elements: aria-label, aria-labelledby, an associated <label>, text content, title) and focusability.
  L.controls = (wrapper, prefix = "c") => {
    const out = [];
    const nameOf = (el) => {
      const by = el.getAttribute("aria-labelledby");
      if (el.getAttribute("aria-label")) return el.getAttribute("aria-label");
      if (by) return by.split(/\s+/).map((id) => el.getRootNode().getElementById?.(id)?.textContent ?? "").join(" ");
      if (el.labels && el.labels.length) return [...el.labels].map((l) => l.textContent).join(" ");
      const text = el.tagName === "SELECT" ? "" : el.textContent;
      return (text || el.title || "").trim();
    };
    L.nameOf = nameOf;
    for (const el of deep(wrapper)) {
      const role = el.getAttribute("role");
      const control = ["SELECT", "BUTTON", "INPUT", "TEXTAREA"].includes(el.tagName) || role === "slider"
        || role === "button" || (el.getAttribute("tabindex") === "0" && el.title);
      if (!control || el.disabled || el.getClientRects().length === 0) continue;
      const id = `${prefix}-${out.length}`;
      el.setAttribute("data-attnbook-control", id);  // a handle for the test: Playwright's CSS pierces shadow roots
      out.push({id, tag: el.tagName, role: role ?? el.tagName.toLowerCase(), name: nameOf(el).trim(), tabindex: el.tabIndex});
    }
    return out;
  };

  // The focused element, inside shadow roots: its control id (L.controls) and whether it is inside `wrapper`.
  L.focused = (wrapper) => {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    if (!el || el === document.body) return null;
    let inside = false;
    for (let e = el; e; e = parentOf(e)) if (e === wrapper) { inside = true; break; }
    return {id: el.getAttribute("data-attnbook-control"), tag: el.tagName, inside};
  };
})();
"""


def install(page) -> None:
    page.evaluate(LOOK_JS)


def look(page, what: str, *args):
    """``__attnbookLook[what](*args)`` in the page (see LOOK_JS)."""
    install(page)
    return page.evaluate(f"(args) => __attnbookLook.{what}(...args)", list(args))


def wrapper_handles(page) -> list:
    """The figure wrappers of the page, in order (one per Bokeh document)."""
    return page.query_selector_all("[data-attnbook-figure]")


def on_screen(page, plot: dict) -> dict | None:
    """What the reader sees of a plot (a screenshot of its visible box): the number of colours inside it, and the
    lightest pixel on its own edges (a light seam around a dark plot; an edge cut by a scroller is not checked)."""
    import io

    from PIL import Image

    box = look(page, "plotBox", plot["doc"], plot["name"])
    if box is None:
        return None
    page.wait_for_timeout(50)
    x, y, w, h = (box[k] for k in ("x", "y", "width", "height"))
    shot = Image.open(io.BytesIO(page.screenshot(clip={"x": x, "y": y, "width": w, "height": h})))
    im = shot.convert("RGB")
    W, H = im.size
    colours = len(im.crop((2, 2, W - 2, H - 2)).getcolors(maxcolors=W * H) or []) if W > 4 and H > 4 else 0
    ring = [(0, 0)]
    ring += [(i, 0) for i in range(W)] if box.get("top", True) else []
    ring += [(0, j) for j in range(H)] if box.get("left", True) else []
    ring += [(i, H - 1) for i in range(W)] if box.get("bottom", True) else []
    ring += [(W - 1, j) for j in range(H)] if box.get("right", True) else []
    return {"colours": colours, "edge_max": max(sum(im.getpixel(xy)) / 3 for xy in ring)}
