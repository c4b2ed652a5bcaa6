// Step-by-step attention: lay the panels of the chosen step side by side and fill them with the matrices the
// temperature, mask and head select; the heatmap below shows the weights of the same state.
// Python twin: attnbook.viz.steps.StepsPayload.view (the browser tests compare the two).
import {cellLabels, describe, escapeHtml, field, fmt, get, pick, setColumns} from "./lib.mjs"

const GAP = 1.5  // empty columns between two panels of one step

export default ({payload, widgets, cells, labels, attention, caption, description}) => {
  const {step, temperature, causal, head} = widgets
  const s = step.value - 1
  const tokens = field(payload, "tokens"), T = tokens.length
  const masked = pick(payload, "masked", widgets), weights = pick(payload, "weights", widgets)  // (T, T) each
  const out = {x: [], y: [], row: [], col: [], panel: [], value: [], color: [], text: [], score: [], weight: []}
  const lab = {x: [], y: [], text: [], align: []}
  const label = (x, y, text, align) => {
    lab.x.push(x); lab.y.push(y); lab.text.push(text); lab.align.push(align)
  }
  let x0 = 0
  field(payload, "panels")[s].forEach((panel, n) => {
    const cols = get(panel, "cols"), kind = get(panel, "kind"), pairs = get(panel, "pairs"), nc = cols.length
    const values = pick(payload, get(panel, "field"), widgets)  // (T, nc)
    // signed panels are coloured by value / their own max |value|, weights as they are, ids not at all
    let scale = 0
    for (const v of values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v))
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < nc; j++) {
        const v = values[i * nc + j]
        // a weight the mask hid is grey and reads "–": 0 because the key was masked, not because of the softmax
        const hidden = pairs && masked[i * T + j] === -Infinity
        out.x.push(x0 + j + 0.5); out.y.push(-(i + 0.5)); out.row.push(tokens[i]); out.col.push(cols[j])
        out.panel.push(n); out.value.push(v)
        if (kind === "ids") { out.color.push(0); out.text.push(String(Math.round(v))) }
        else if (kind === "onehot") { out.color.push(v); out.text.push(String(Math.round(v))) }
        else {
          const off = !Number.isFinite(v) || (kind === "weights" && hidden)
          out.color.push(off ? NaN : kind === "weights" ? v : scale > 0 ? v / scale : 0)
          out.text.push(kind === "weights" && hidden ? "–" : fmt(v, 2))
        }
        // on a query-key panel, hover reads the pair's score (as the softmax sees it) and weight
        out.score.push(pairs ? fmt(masked[i * T + j], 2) : "")
        out.weight.push(pairs ? (hidden ? "masked" : fmt(weights[i * T + j], 3)) : "")
      }
    }
    // step 1's narrow ids panel and the one-hot panel beside it: titles pushed apart (Python: _title_anchor)
    if (kind === "ids") label(x0 + nc, 1.1, get(panel, "title"), "right")
    else if (kind === "onehot") label(x0, 1.1, get(panel, "title"), "left")
    else label(x0 + nc / 2, 1.1, get(panel, "title"), "center")
    cols.forEach((c, j) => label(x0 + j + 0.5, 0.25, c, "center"))
    if (n === 0) tokens.forEach((t, i) => label(-0.15, -(i + 0.5), t, "right"))
    x0 += nc + GAP
  })
  const color = new Float32Array(out.color)
  setColumns(cells, {
    ...out,
    x: new Float32Array(out.x), y: new Float32Array(out.y), panel: new Int32Array(out.panel),
    value: new Float32Array(out.value), color,
    ...cellLabels(out.text, Array.from(color, (c) => Number.isFinite(c) && Math.abs(c) > 0.6)),
  })
  labels.data = {...lab, x: new Float32Array(lab.x), y: new Float32Array(lab.y)}
  const hiddenAt = (k) => masked[k] === -Infinity
  setColumns(attention, {
    weight: Float32Array.from(weights, (w, k) => (hiddenAt(k) ? NaN : w)), score: new Float32Array(masked),
    weight_text: Array.from(weights, (w, k) => (hiddenAt(k) ? "masked" : fmt(w, 3))),
    score_text: Array.from(masked, (v, k) => (hiddenAt(k) ? "−∞" : fmt(v, 3))),
  })
  const state = `τ = ${fmt(temperature.value, 2)}, ${causal.active ? "causal mask" : "no mask"}, head ${head.value}`
  caption.text = `<b>${field(payload, "titles")[s]}</b> <span class="attnbook-muted">(${state})</span><br>` +
    field(payload, "captions")[s]
  let best = 0
  for (let k = 1; k < weights.length; k++) if (weights[k] > weights[best]) best = k
  describe(description, `Step ${s + 1} of ${field(payload, "titles").length}: ` + caption.text + " " +
    escapeHtml(`Largest attention weight ${fmt(weights[best], 3)}, from query “${tokens[Math.floor(best / T)]}” ` +
      `to key “${tokens[best % T]}”.`))
}
