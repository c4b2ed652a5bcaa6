// Signal across depth: for the chosen norm, placement, activation and depth, draw the block's wiring, the
// residual stream's statistics after every block, and the histograms of one block. NumPy measured everything;
// this callback picks the slices (and turns each histogram's range into bar edges).
export default ({norm_w, block_w, act_w, depth_w, layer_w, readout, stats_source, stats_plot, resid_source,
                 resid_plot, mlp_source, mlp_plot, diagram_sources, diagrams, row_of, depths, off_l, off_s, stats,
                 resid, resid_range, mlp, mlp_range, norm_labels, block_labels, act_labels}) => {
  const get = (o, k) => (o instanceof Map ? o.get(k) : o[k])
  const d = depth_w.value
  // The layer select offers the blocks of the chosen depth only.
  const options = Array.from({length: d}, (_, i) => String(i + 1))
  if (layer_w.options.length !== d) layer_w.options = options
  if (Number(layer_w.value) > d) {
    layer_w.value = String(d)  // triggers this callback again with a valid block
    return
  }
  const L = Number(layer_w.value)
  const key = `${norm_w.value}|${block_w.value}|${act_w.value}`
  const r = get(row_of, key)
  const k = depths.indexOf(d)

  const diagram = get(diagrams, key)
  for (const part of ["boxes", "wires", "adds", "labels"]) {
    get(diagram_sources, part).data = {...get(diagram, part)}
  }

  const n_s = stats.shape[1]
  const layer = new Float32Array(d + 1)
  const mean = new Float32Array(d + 1)
  const std = new Float32Array(d + 1)
  const max = new Float32Array(d + 1)
  for (let l = 0; l <= d; l++) {
    const at = ((r * n_s) + off_s[k] + l) * 3
    layer[l] = l
    mean[l] = stats[at]
    std[l] = stats[at + 1]
    max[l] = stats[at + 2]
  }
  stats_source.data = {layer, mean, std, max}
  stats_plot.x_range.end = d + 0.3

  const n_l = resid.shape[1]
  const bins = resid.shape[2]
  const slot = r * n_l + off_l[k] + L - 1
  const hist = (values, ranges, source, plot) => {
    const lo = ranges[slot * 2]
    const hi = ranges[slot * 2 + 1]
    const width = (hi - lo) / bins
    const left = new Float32Array(bins)
    const right = new Float32Array(bins)
    const top = new Float32Array(bins)
    for (let b = 0; b < bins; b++) {
      left[b] = lo + b * width
      right[b] = lo + (b + 1) * width
      top[b] = values[slot * bins + b]
    }
    source.data = {left, right, top}
    plot.x_range.start = lo - width
    plot.x_range.end = hi + width
  }
  hist(resid, resid_range, resid_source, resid_plot)
  hist(mlp, mlp_range, mlp_source, mlp_plot)
  resid_plot.title.text = `Residual stream after block ${L} of ${d}`
  mlp_plot.title.text = `${get(act_labels, act_w.value)} output in block ${L}'s MLP`

  const f = (x) => (Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toExponential(1))
  const same = norm_w.value === "none"
    ? " Without a norm the three placements are the same network, x + f(x): the numbers do not change."
    : ""
  readout.text = `<b>${get(block_labels, block_w.value)}, ${get(norm_labels, norm_w.value)}, ` +
    `${get(act_labels, act_w.value)}, ${d} blocks.</b> Std of the stream: ${f(std[0])} (embeddings) → ` +
    `<b>${f(std[d])}</b> after block ${d}; largest |value| ${f(max[d])}. After block ${L}: mean ${f(mean[L])}, ` +
    `std ${f(std[L])}.${same}`
}
