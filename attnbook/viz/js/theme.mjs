// Every figure follows the page's theme and is usable with a keyboard and a screen reader. Attached by
// attnbook.viz.core.show to each figure's document, run once when the page has rendered it.
//
// Theme: the book's theme (pydata-sphinx-theme) keeps the resolved theme in html[data-theme] ("light" / "dark";
// "auto" is resolved there too); JupyterLab says it in body[data-jp-theme-light]; a page with neither is light.
// A MutationObserver follows it live. Dark mode sets the colour properties the Python side listed (`targets`:
// [model, attribute, role], see core._theme_targets) from the colours the figure was built with, through
// js/colors.mjs; colours that come from data columns get a dark-mode transform (`transforms[role]`) instead, so no
// data changes. Widgets read their colours from CSS custom properties set on the figure's root element (the
// stylesheet core.WIDGET_CSS maps Bokeh's own variables to them). Light mode restores every original value.
//
// Accessibility: Bokeh has no ARIA API. After render this names what it leaves unnamed: spinner buttons, slider handles (the
// slider's title) and toolbar buttons (their tooltip, as buttons). The figure's own name and text description are
// on its wrapper (core.show).
import {DARK, darkColor} from "./colors.mjs"

const CSS_VARS = {
  "--attnbook-fg": DARK.text,
  "--attnbook-muted": DARK.muted,
  "--attnbook-warn": DARK.warn,
  "--attnbook-input-bg": DARK.surface,
  "--attnbook-border": DARK.border,
  "--attnbook-hover": DARK.hover,
  "--attnbook-active": DARK.active,
  "--attnbook-current-bg": DARK.active,
  "--attnbook-caret": `url('data:image/svg+xml;utf8,<svg version="1.1" viewBox="0 0 25 20" ` +
    `xmlns="http://www.w3.org/2000/svg"><path d="M 0,0 25,0 12.5,20 Z" fill="%23ced6dd" /></svg>')`,
}

// The theme the page shows now.
export const pageTheme = () => {
  const t = document.documentElement.dataset.theme
  if (t === "dark" || t === "light") return t
  if (t === "auto") return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"
  return document.body?.dataset?.jpThemeLight === "false" ? "dark" : "light"
}

const isA = (m, name) => {
  for (let c = m.constructor; c && c.__name__; c = Object.getPrototypeOf(c)) if (c.__name__ === name) return true
  return false
}

// Every element under `root`, shadow roots included.
function* deep(root) {
  for (const el of root.querySelectorAll("*")) {
    yield el
    if (el.shadowRoot) yield* deep(el.shadowRoot)
  }
}

const viewOf = (m) => Bokeh.index.find_one(m)

// Names for what Bokeh leaves unnamed. In dark mode each plot's canvas is clipped by 2 px (its border area):
// BokehJS leaves half-covered light pixels along a canvas's top and left edge, invisible on white, a light seam on
// dark. Returns false while a view is not rendered yet.
const label = (doc, theme) => {
  let ready = true
  for (const m of doc.all_models) {
    if (isA(m, "AbstractSlider")) {
      const v = viewOf(m)
      const handles = v?.shadow_el ? [...v.shadow_el.querySelectorAll("[role=slider]")] : []
      if (handles.length === 0) ready = false
      const title = m.title || m.name || "slider"
      handles.forEach((h, i) => h.setAttribute("aria-label",
        handles.length > 1 ? `${title} (${i === 0 ? "start" : "end"})` : title))
    } else if (isA(m, "Spinner")) {
      const v = viewOf(m)
      if (v?.shadow_el === undefined) { ready = false; continue }
      const buttons = [...v.shadow_el.querySelectorAll(".bk-spin-btn-up, .bk-spin-btn-down")]
      const title = m.title || m.name || "number"
      for (const b of buttons)
        b.setAttribute("aria-label", `${b.matches(".bk-spin-btn-up") ? "Increase" : "Decrease"} ${title}`)
    } else if (isA(m, "Plot")) {
      const v = viewOf(m)
      if (v === undefined) { ready = false; continue }
      for (const canvas of (v.shadow_el ?? v.el).querySelectorAll(".bk-Canvas"))
        canvas.style.clipPath = theme === "dark" ? "inset(2px)" : ""
      for (const el of deep(v.shadow_el ?? v.el)) {
        if (el.getAttribute("tabindex") === "0" && el.title && !el.hasAttribute("role")) {
          el.setAttribute("role", "button")  // a toolbar button: a focusable div with a tooltip
          el.setAttribute("aria-label", el.title)
        }
      }
    }
  }
  return ready
}

export default ({layout, targets, transforms}) => {
  globalThis.__attnbookDarkColor ??= darkColor  // what the dark-mode transforms of data columns call
  const doc = layout.document
  const originals = new Map()
  for (const [model, attr] of targets) originals.set(`${model.id} ${attr}`, model[attr])
  let shown = null

  const dark = (role, value) => {
    if (value == null) return value
    if (typeof value === "object" && !Array.isArray(value)) {
      if ("field" in value) return value.transform != null ? value : {field: value.field, transform: transforms[role]}
      if ("value" in value) return value.value == null ? value : {value: darkColor(role, value.value)}
      if ("expr" in value) return value
    }
    return darkColor(role, value)
  }

  const apply = (theme) => {
    if (theme === shown) return
    const built = shown === null && theme === "light"  // the figure as built: nothing to set
    shown = theme
    const changes = new Map()
    for (const [model, attr, role] of built ? [] : targets) {
      const orig = originals.get(`${model.id} ${attr}`)
      if (!changes.has(model)) changes.set(model, {})
      changes.get(model)[attr] = theme === "dark" ? dark(role, orig) : orig
    }
    for (const [model, attrs] of changes) model.setv(attrs)
    const el = viewOf(layout)?.el
    if (el) {
      for (const [k, v] of Object.entries(CSS_VARS)) {
        if (theme === "dark") el.style.setProperty(k, v)
        else el.style.removeProperty(k)
      }
      el.style.color = theme === "dark" ? DARK.text : ""
      el.style.backgroundColor = theme === "dark" ? DARK.background : ""
      el.dataset.attnbookTheme = theme
    }
    label(doc, theme)
  }

  apply(pageTheme())
  const follow = new MutationObserver(() => apply(pageTheme()))
  follow.observe(document.documentElement, {attributes: true, attributeFilter: ["data-theme"]})
  if (document.body) follow.observe(document.body, {attributes: true, attributeFilter: ["data-jp-theme-light"]})

  // Views render after this callback starts; name them once they exist (a few frames at most).
  let tries = 0
  const name = () => { if (!label(doc, shown) && ++tries < 60) requestAnimationFrame(name) }
  name()
}
