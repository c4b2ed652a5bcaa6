// Multi-head figure: lay out one (T, T) heatmap per head for the chosen head count and weights, the mean over
// heads, and concat -> W_O -> out. Every number was computed by NumPy; this callback places and colours cells.
// Python twin: attnbook.viz.multihead.MultiheadPayload.view (the browser tests compare the two).
import {cell, controlIndex, describe, field, fmt, pick, setColumns} from "./lib.mjs"

const SEPARATOR = "#555555"  // the thin line between two heads' columns in the concatenation (when D > 1)
const KEYS = 12  // pixels above a panel's cells for its key labels; its title sits above them

export default ({payload, widgets, cells, titles, axis_labels, mean, concat, out, lines, caption, description}) => {
  const tokens = field(payload, "tokens"), mask = field(payload, "mask"), colors = field(payload, "colors")
  const T = tokens.length, C = field(payload, "d_model")
  const H = Number(widgets.heads.value), D = C / H
  const w = pick(payload, "weights", widgets), ent = pick(payload, "entropy", widgets)  // (Hmax, T, T), (Hmax,)

  // the grid of panels, in screen pixels (data units = pixels); the payload placed each head's panel
  const px = pick(payload, "panel_x", widgets), py = pick(payload, "panel_y", widgets)
  const size = pick(payload, "panel_size", widgets)[0] / T
  const n = H * T * T
  const x = new Float32Array(n), y = new Float32Array(n), sizes = new Float32Array(n)
  const color = new Float32Array(n), weight = new Float32Array(n)
  const q_token = new Array(n), k_token = new Array(n), head = new Array(n)
  let c = 0
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        x[c] = px[h] + (j + 0.5) * size
        y[c] = py[h] - (i + 0.5) * size
        sizes[c] = size
        weight[c] = w[(h * T + i) * T + j]
        color[c] = mask[cell(i, j, T)] ? weight[c] : NaN
        q_token[c] = tokens[i]
        k_token[c] = tokens[j]
        head[c] = String(h + 1)
        c++
      }
    }
  }
  setColumns(cells, {x, y, size: sizes, color, weight, q_token, k_token, head})
  // each panel's query characters left of its rows, key characters over its columns, in a font that fits a cell
  const fontSize = `${Math.min(9, Math.max(5, Math.floor(0.9 * size)))}px`
  const ax = {x: [], y: [], text: [], align: [], baseline: []}
  const put = (...v) => Object.values(ax).forEach((col, k) => col.push(v[k]))
  for (let h = 0; h < H; h++) {
    tokens.forEach((t, i) => put(px[h] - 2, py[h] - (i + 0.5) * size, t, "right", "middle"))
    tokens.forEach((t, j) => put(px[h] + (j + 0.5) * size, py[h] + 1, t, "center", "bottom"))
  }
  setColumns(axis_labels, {...ax, size: ax.x.map(() => fontSize)})
  setColumns(titles, {
    x: Array.from(px.slice(0, H)),
    y: Array.from(py.slice(0, H), (v) => v + KEYS),
    text: Array.from(ent.slice(0, H), (e, h) => `head ${h + 1}: entropy ${fmt(e, 2)}`),
    color: colors.slice(0, H),
  })

  const mw = pick(payload, "mean", widgets)
  setColumns(mean, {
    weight: Float32Array.from(mw),
    color: Float32Array.from(mw, (v, k) => (mask[k] ? v : NaN)),
  })

  // concat | out: each panel coloured by its own largest |value|
  for (const [part, source] of [["concat", concat], ["out", out]]) {
    const value = pick(payload, part, widgets)
    const top = value.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
    const color = Float32Array.from(value, (v) => (top > 0 ? v / top : 0))
    setColumns(source, {value: Float32Array.from(value), color})
  }
  // a coloured bar over each head's D columns, and a dark line between heads
  const x0 = [], y0 = [], x1 = [], y1 = [], lcolor = [], width = []
  const segment = (a, b, e, f, col, wd) => {
    x0.push(a); y0.push(b); x1.push(e); y1.push(f); lcolor.push(col); width.push(wd)
  }
  for (let h = 0; h < H; h++) {
    segment(h * D - 0.45, 0.65, (h + 1) * D - 0.55, 0.65, colors[h], 3)
    // one column per head (D = 1): the bars alone tell the heads apart
    if (h > 0 && D > 1) segment(h * D - 0.5, 0.5, h * D - 0.5, -T + 0.5, SEPARATOR, 1)
  }
  setColumns(lines, {x0, y0, x1, y1, color: lcolor, width})

  const mode = field(payload, "modes")[controlIndex(payload, widgets, "mode")]
  caption.text = `<b>${mode}</b>: H = ${H} head${H === 1 ? "" : "s"} of D = C / H = ${C} / ${H} = ${D} ` +
    `column${D === 1 ? "" : "s"}. Each panel is one head's (T, T) = (${T}, ${T}) attention (grey: hidden by the ` +
    `causal mask); its title gives the mean entropy of its rows in nats (lower is sharper).`
  describe(description, caption.text + " Mean row entropy per head, in nats: " +
    Array.from(ent.slice(0, H), (e) => fmt(e, 2)).join(", ") + ".")
}
