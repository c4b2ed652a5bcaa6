// Split of d_model into heads: each column of Q moves from (T, C) to (T, H, D) (reshape) to (H, T, D)
// (transpose, drawn as a stack of H sheets). Only positions are interpolated here; Q itself comes from NumPy.
// Python twin: attnbook.viz.multihead.SplitPayload.view (the browser tests compare the two).
import {describe, field, fmt, setColumns} from "./lib.mjs"

const GAP = 0.6, DX = 0.5, DY = 0.5  // gap between column groups; offset of each sheet in the stack
const STACK = 2  // the stack rises at most this many rows: sheets sit closer when there are many
const sheetDy = (H) => (H <= 1 ? DY : Math.min(DY, STACK / (H - 1)))
const ease = (s) => s * s * (3 - 2 * s)

export default ({payload, widgets, cells, heads, caption, description}) => {
  const tokens = field(payload, "tokens"), q = field(payload, "q"), colors = field(payload, "colors")
  const inks = field(payload, "inks")
  const frames = field(payload, "frames")
  const H = Number(widgets.heads.value), step = widgets.progress.value
  const T = tokens.length, C = q.shape[1], D = C / H
  const dy = sheetDy(H)
  const t = step / frames
  const a = ease(Math.min(1, 2 * t))  // reshape phase: the column groups move apart
  const b = ease(Math.max(0, 2 * t - 1))  // transpose phase: the groups slide into a stack
  const n = T * C
  const x = new Float32Array(n), y = new Float32Array(n), value = new Float32Array(n)
  const color = new Array(n), token = new Array(n), column = new Array(n), head = new Array(n)
  const label = new Array(n), ink = new Array(n)
  let c = 0
  for (let h = H - 1; h >= 0; h--) {  // back sheets first, so head 1 ends on top of the stack
    for (let i = 0; i < T; i++) {
      for (let d = 0; d < D; d++) {
        const j = h * D + d
        const x0 = j, x1 = j + h * GAP, x2 = d + h * DX
        x[c] = b > 0 ? x1 + (x2 - x1) * b : x0 + (x1 - x0) * a
        y[c] = -i + h * dy * b
        color[c] = colors[h]
        token[c] = tokens[i]
        column[c] = `c${j} → head ${h + 1}, d${d}`
        head[c] = String(h + 1)
        value[c] = q[i * C + j]
        // each value written in its cell; once the sheets stack, on the front sheet only (head 1)
        // (one decimal, "0.0" rather than "-0.0": the minus sign would only say the rounding went up)
        label[c] = b === 0 || h === 0 ? fmt(value[c], 1).replace(/^-(0\.0)$/, "$1") : ""
        ink[c] = inks[h]
        c++
      }
    }
  }
  setColumns(cells, {x, y, color, token, column, head, value, label, ink})

  const hx = [], hy = [], text = [], hcolor = []
  for (let h = 0; h < H; h++) {
    const x0 = h * D + (D - 1) / 2, x1 = x0 + h * GAP, x2 = (D - 1) / 2 + h * DX
    hx.push(b > 0 ? x1 + (x2 - x1) * b : x0 + (x1 - x0) * a)
    // In the stack the labels would overlap: keep the back sheet's on top and the front sheet's below it.
    const front = b >= 0.5 && h === 0 && H > 1
    hy.push(front ? -T - 0.85 : 0.55 + h * dy * b)
    text.push(b < 0.5 || front || h === H - 1 ? `h${h + 1}` : "")
    hcolor.push(colors[h])
  }
  setColumns(heads, {x: hx, y: hy, text, color: hcolor})

  const shape = (...s) => `(${s.join(", ")})`
  let html
  if (t === 0) {
    html = `<b>Q</b>, shape (T, C) = ${shape(T, C)}. Its ${C} columns are coloured by the head they go to: ` +
      `head h takes D = C / H = ${C} / ${H} = ${D} consecutive columns.`
  } else if (t <= 0.5) {
    html = `<b>Reshape</b> (T, C) → (T, H, D) = ${shape(T, H, D)}: the same numbers in the same order, the ` +
      `last axis read as ${H} group${H === 1 ? "" : "s"} of ${D}. Nothing is copied or computed.`
  } else {
    html = `<b>Transpose</b> (T, H, D) → (H, T, D) = ${shape(H, T, D)}: heads become the leading axis, like a ` +
      `batch: ${H} separate (T, D) = ${shape(T, D)} matri${H === 1 ? "x" : "ces"}, each doing its own attention.`
  }
  html += " Each cell shows its value of Q (hover for three decimals)."
  if (H === 1) html += " With a single head there is nothing to split: D = C and the picture does not move."
  caption.text = html + `<br><span class="attnbook-muted">step ${step} of ${frames}</span>`
  describe(description, caption.text)
}
