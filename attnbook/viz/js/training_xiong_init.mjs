// Gradient norms per block at initialisation for the chosen initialisation, one line per placement
// (measured by the NumPy model's backward pass).
export default ({init_w, source, readout, norms, inits, init_labels, blocks, block_labels}) => {
  const i = inits.indexOf(init_w.value)
  const nB = norms.shape[1]
  const nL = norms.shape[2]
  const data = {layer: Float32Array.from({length: nL}, (_, l) => l + 1)}
  const parts = []
  for (let b = 0; b < nB; b++) {
    const start = (i * nB + b) * nL
    const g = norms.slice(start, start + nL)
    data[blocks[b]] = g
    parts.push(`${block_labels[b]}: block 1 <b>${g[0].toPrecision(3)}</b>, block ${nL} ` +
               `<b>${g[nL - 1].toPrecision(3)}</b> (last / first = ${(g[nL - 1] / g[0]).toFixed(2)})`)
  }
  source.data = data
  readout.text = `${init_labels[i]}.<br>${parts.join(" · ")}`
}
