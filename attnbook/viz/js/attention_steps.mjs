// Step-by-step attention: show the matrices of the chosen step for the chosen temperature, mask and head.
// Every number was computed by NumPy at build time; this callback only looks values up and colours them.
export default ({cells_source, labels_source, attention_source, caption, step_slider, temperature, causal,
                 head, geometry, labels, values, kinds, titles, captions, temperatures, n_cells_attention}) => {
  const s = step_slider.value - 1
  let ti = 0
  for (let i = 1; i < temperatures.length; i++) {
    if (Math.abs(temperatures[i] - temperature.value) < Math.abs(temperatures[ti] - temperature.value)) ti = i
  }
  const ci = causal.active ? 1 : 0
  const h = Number(head.value) - 1

  // values[k] has shape (n_temperature, 2, n_head, n_cells_k): pick one state of step k.
  const pick = (k, n) => {
    const arr = values[k]
    const n_head = arr.shape[2]
    const start = ((ti * 2 + ci) * n_head + h) * n
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) out[i] = arr[start + i]
    return out
  }
  const fmt = (x) => (x === -Infinity ? "−∞" : x.toFixed(2))

  const g = geometry[s]
  const n = g.x.length
  const v = pick(s, n)
  const kind = kinds[s]
  // colour: signed panels scaled by their own max |value|; weights as they are; ids uncoloured
  const scale = new Array(kind.length).fill(0)
  for (let i = 0; i < n; i++) {
    const p = g.panel[i]
    if (Number.isFinite(v[i])) scale[p] = Math.max(scale[p], Math.abs(v[i]))
  }
  const color = new Float32Array(n)
  const text = new Array(n)
  for (let i = 0; i < n; i++) {
    const p = g.panel[i]
    if (kind[p] === "ids") { color[i] = 0; text[i] = String(Math.round(v[i])); continue }
    text[i] = fmt(v[i])
    if (!Number.isFinite(v[i])) color[i] = NaN
    else if (kind[p] === "weights") color[i] = v[i]
    else color[i] = scale[p] > 0 ? v[i] / scale[p] : 0
  }
  // hover: the score (after scaling and mask) and the weight of each query-key cell, on the T×T steps
  const masked = pick(5, n_cells_attention)
  const weights = pick(6, n_cells_attention)
  const score = new Array(n).fill("")
  const weight = new Array(n).fill("")
  if (s >= 3 && s <= 7) {
    for (let i = 0; i < n_cells_attention; i++) { score[i] = fmt(masked[i]); weight[i] = weights[i].toFixed(3) }
  }
  cells_source.data = {x: g.x, y: g.y, row: g.row, col: g.col, panel: g.panel,
                       value: v, color, text, score, weight}
  labels_source.data = {...labels[s]}
  attention_source.data = {...attention_source.data, weight: weights, score: masked}
  const state = `τ = ${temperatures[ti].toFixed(2)}, ${ci ? "causal mask" : "no mask"}, head ${h + 1}`
  caption.text = `<b>${titles[s]}</b> <span style="color:#666">(${state})</span><br>${captions[s]}`
}
