// Gradient norms per block at initialisation for the chosen initialisation, one line per placement (measured
// by the NumPy model's backward pass). Python twin: attnbook.viz.training.XiongPayload.view.
import {describe, escapeHtml, field, fmt, pick, setColumns, sig} from "./lib.mjs"

export default ({payload, widgets, source, readout, other, description}) => {
  const norms = pick(payload, "norms", widgets), [nB, nL] = norms.shape
  const blocks = field(payload, "blocks"), labels = field(payload, "block_labels")
  const columns = {}, parts = []
  for (let b = 0; b < nB; b++) {
    const g = Float32Array.from(norms.slice(b * nL, (b + 1) * nL))
    columns[blocks[b]] = g
    parts.push(`${labels[b]}: block 1 <b>${sig(g[0])}</b>, block ${nL} <b>${sig(g[nL - 1])}</b> ` +
               `(last / first = ${fmt(g[nL - 1] / g[0])})`)
  }
  setColumns(source, columns)
  readout.text = `${escapeHtml(pick(payload, "init_labels", widgets))}.<br>${parts.join(" · ")}`
  describe(description, readout.text + " " + other.text)
}
