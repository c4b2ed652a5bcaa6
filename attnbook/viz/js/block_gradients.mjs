// Gradient norms per block at initialisation: one line per placement for the chosen init, norm and depth
// (measured by the NumPy model's backward pass).
// Python twin: attnbook.viz.block.GradientPayload.view (the browser tests compare the two).
import {describe, field, fmtSig, get, pick} from "./lib.mjs"

export default ({payload, widgets, readout, source, plot, description}) => {
  const d = widgets.depth.value
  const grads = pick(payload, "grads", widgets)  // (B, Lmax), padded past the depth
  const blocks = field(payload, "blocks"), labels = field(payload, "labels")
  const label = (key, value) => get(get(labels, key), value)
  const Lmax = grads.length / blocks.length
  const data = {layer: Float32Array.from({length: d}, (_, l) => l + 1)}
  const parts = blocks.map((b, i) => {
    const g = Float32Array.from(grads.slice(i * Lmax, i * Lmax + d))
    data[b] = g
    return `${label("block", b)}: block 1 <b>${fmtSig(g[0], 3)}</b>, block ${d} <b>${fmtSig(g[d - 1], 3)}</b>`
  })
  source.data = data
  plot.x_range.end = d + 0.3
  readout.text = `${label("init", widgets.init.value)}; ${label("norm", widgets.norm.value)}; ` +
    `${field(payload, "activation")}; ${d} blocks.<br>${parts.join(" · ")}`
  describe(description, readout.text)
}
