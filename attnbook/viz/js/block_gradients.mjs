// Gradient norms per block at initialisation: one line per placement for the chosen init, norm and depth
// (measured by the NumPy model's backward pass).
export default ({init_w, norm_w, depth_w, readout, source, plot, grads, inits, norms, blocks, depths, off,
                 block_labels, norm_labels, init_labels, activation}) => {
  const get = (o, k) => (o instanceof Map ? o.get(k) : o[k])
  const i = inits.indexOf(init_w.value)
  const n = norms.indexOf(norm_w.value)
  const d = depth_w.value
  const k = depths.indexOf(d)
  const S = grads.shape[3]
  const data = {layer: Float32Array.from({length: d}, (_, l) => l + 1)}
  const parts = []
  blocks.forEach((b, bi) => {
    const start = ((i * norms.length + n) * blocks.length + bi) * S + off[k]
    const g = new Float32Array(d)
    for (let l = 0; l < d; l++) g[l] = grads[start + l]
    data[b] = g
    parts.push(`${get(block_labels, b)}: block 1 <b>${g[0].toPrecision(3)}</b>, block ${d} ` +
               `<b>${g[d - 1].toPrecision(3)}</b>`)
  })
  source.data = data
  plot.x_range.end = d + 0.3
  readout.text = `${get(init_labels, init_w.value)}; ${get(norm_labels, norm_w.value)}; ${activation}; ` +
    `${d} blocks.<br>${parts.join(" · ")}`
}
