// Signal across depth: for the chosen norm, placement, activation and depth, draw the block's wiring, the
// residual stream's statistics after every block, and the histograms of one block. NumPy measured everything;
// this callback picks the slices (and turns each histogram's range into bar edges).
// Python twin: attnbook.viz.block.SignalPayload.view (the browser tests compare the two).
import {describe, field, fmt, fmtExp, get, pick, plain, setColumns} from "./lib.mjs"

// A statistic in the readout: 3 decimals, or 2 significant digits in exponent form below 0.01.
const num = (x) => (Math.abs(x) >= 0.01 || x === 0 ? fmt(x, 3) : fmtExp(x, 1))

export default ({payload, widgets, readout, sources, plots, description}) => {
  const {norm, depth, layer} = widgets
  const d = depth.value
  // The block select offers the blocks of the chosen depth only.
  if (layer.options.length !== d) layer.options = Array.from({length: d}, (_, i) => String(i + 1))
  if (Number(layer.value) > d) {
    layer.value = String(d)  // runs this callback again, with a block the model has
    return
  }
  const L = Number(layer.value)

  const diagram = pick(payload, "diagrams", widgets)
  for (const part of ["boxes", "wires", "adds", "labels"]) {
    sources[`diagram-${part}`].data = plain(get(diagram, part))
  }

  const stats = {}
  for (const key of ["mean", "std", "max"]) {
    stats[key] = Float32Array.from(pick(payload, key, widgets).slice(0, d + 1))
  }
  setColumns(sources.stats, {layer: Float32Array.from({length: d + 1}, (_, l) => l), ...stats})
  plots.stats.x_range.end = d + 0.3

  const labels = field(payload, "labels")
  const label = (key) => get(get(labels, key), widgets[key].value)
  const titles = {
    resid: `Residual stream after block ${L} of ${d}`,
    mlp: `${label("activation")} output in block ${L}'s MLP`,
  }
  for (const part of ["resid", "mlp"]) {
    const top = pick(payload, `${part}_hist`, widgets), [lo, hi] = pick(payload, `${part}_range`, widgets)
    const bins = top.length, width = (hi - lo) / bins
    setColumns(sources[part], {
      left: Float32Array.from({length: bins}, (_, b) => lo + b * width),
      right: Float32Array.from({length: bins}, (_, b) => lo + (b + 1) * width),
      top: Float32Array.from(top),
    })
    plots[part].x_range.setv({start: lo - width, end: hi + width})
    plots[part].title.text = titles[part]
  }

  const {mean, std, max} = stats
  const same = norm.value === "none"
    ? " Without a norm the three placements are the same network, x + f(x): the numbers do not change."
    : ""
  readout.text = `<b>${label("block")}, ${label("norm")}, ${label("activation")}, ${d} blocks.</b> Std of the ` +
    `stream: ${num(std[0])} (embeddings) → <b>${num(std[d])}</b> after block ${d}; largest |value| ` +
    `${num(max[d])}. After block ${L}: mean ${num(mean[L])}, std ${num(std[L])}.${same}`
  describe(description, readout.text)
}
