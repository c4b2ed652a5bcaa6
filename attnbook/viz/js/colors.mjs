// Colours of a figure in dark mode. Every colour a figure draws is mapped from the colour it was built with, never
// stored over it: light mode is the figure exactly as Python built it. Used by js/theme.mjs (constant colours) and
// by the dark-mode transforms of attnbook.viz.core (colours that come from data columns).

// The page's dark palette: sphinx-book-theme's dark background (#121212), pydata-sphinx-theme's dark text, muted
// text, border and surface colours.
export const DARK = {
  background: "#121212",
  text: "#ced6dd",
  muted: "#9ca4af",
  border: "#48566b",
  surface: "#29313d",
  hover: "#323b49",
  active: "#2b4c6f",
  warn: "#f28b82",
}

// A CSS colour, or Bokeh's forms of one ({value}, [r, g, b, a], uint32 RGBA), as [r, g, b, a] (0-255, alpha 0-1);
// null when it is not a colour. Named colours are resolved by a canvas, as the browser resolves them.
export const rgba = (c) => {
  if (c != null && typeof c === "object" && !Array.isArray(c) && "value" in c) c = c.value
  if (c == null) return null
  if (typeof c === "number") return [(c >>> 24) & 255, (c >>> 16) & 255, (c >>> 8) & 255, (c & 255) / 255]
  if (Array.isArray(c)) return [c[0], c[1], c[2], c.length > 3 ? c[3] : 1]
  if (typeof c !== "string") return null
  const ctx = (globalThis.__attnbookColorContext ??= document.createElement("canvas").getContext("2d"))
  ctx.fillStyle = "#010203"
  ctx.fillStyle = c
  const s = ctx.fillStyle
  if (s === "#010203" && c.trim().toLowerCase() !== "#010203") return null
  if (s[0] === "#") return [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)).concat([1])
  const [r, g, b, a = 1] = s.slice(s.indexOf("(") + 1, -1).split(",").map(Number)
  return [r, g, b, a]
}

// [r, g, b, a] as CSS: "#rrggbb" when opaque.
export const css = ([r, g, b, a]) => {
  const [R, G, B] = [r, g, b].map((x) => Math.round(Math.min(255, Math.max(0, x))))
  return a >= 1 ? "#" + [R, G, B].map((x) => x.toString(16).padStart(2, "0")).join("")
    : `rgba(${R}, ${G}, ${B}, ${a})`
}

// WCAG relative luminance and contrast ratio.
export const luminance = ([r, g, b]) => {
  const lin = (x) => (x /= 255) <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}
export const contrast = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p)
  return (x + 0.05) / (y + 0.05)
}

const toHsl = ([r, g, b]) => {
  ;[r, g, b] = [r / 255, g / 255, b / 255]
  const max = Math.max(r, g, b), min = Math.min(r, g, b), l = (max + min) / 2, d = max - min
  if (d === 0) return [0, 0, l]
  const s = d / (1 - Math.abs(2 * l - 1))
  const h = max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4
  return [h * 60, s, l]
}
const fromHsl = ([h, s, l], a) => {
  const c = (1 - Math.abs(2 * l - 1)) * s, x = c * (1 - Math.abs(((h / 60) % 2) - 1)), m = l - c / 2
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c]
    : h < 300 ? [x, 0, c] : [c, 0, x]
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255, a]
}

const BG = rgba(DARK.background), FG = rgba(DARK.text)
const BG_L = toHsl(BG)[2]

// Ink (text, lines, markers) drawn on the dark background: lightness mirrored (black -> white, a light grey that
// meant "in the background" becomes a dark grey), hue kept, then lightened until it reads at `min` contrast.
export const ink = (c, min = 4.5) => {
  const x = rgba(c)
  if (x === null) return c
  const [h, s, l] = toHsl(x)
  let L = 1 - l, out = fromHsl([h, s, L], x[3])
  while (contrast(out, BG) < min && L < 1) out = fromHsl([h, s, (L = Math.min(1, L + 0.02))], x[3])
  return css(out)
}

// A surface (a background, a band behind text, a grid line): white becomes the page background, a light shade a
// slightly lighter dark shade of the same hue.
export const surface = (c) => {
  const x = rgba(c)
  if (x === null) return c
  const [h, s, l] = toHsl(x)
  if (s < 0.1) {  // a grey: between the page background (white) and the text colour (black)
    const t = (1 - l) * 0.9
    return css([0, 1, 2].map((i) => BG[i] + t * (FG[i] - BG[i])).concat([x[3]]))
  }
  return css(fromHsl([h, s, BG_L + (1 - l) * (1 - BG_L)], x[3]))
}

const light = (c) => {
  const x = rgba(c)
  return x !== null && toHsl(x)[2] > 0.85
}

// One colour in dark mode by its role (attnbook.viz.core decides each colour's role):
//   text: ink at 4.5:1; line: ink at 3:1; surface: as above; fill: a data colour, kept unless it is a light
//   surface colour (white markers, pale bars); edge: the outline of a filled shape, a surface when light
//   (white lines between cells), else ink at 3:1.
export const darkColor = (role, c) => {
  switch (role) {
    case "text": return ink(c, 4.5)
    case "line": return ink(c, 3)
    case "surface": return surface(c)
    case "fill": return light(c) ? surface(c) : c
    case "edge": return light(c) ? surface(c) : ink(c, 3)
    default: return c
  }
}
