// Similarity between positions: the chosen scheme's (T, T) cosine matrix, every row against distance in grey,
// the reference position's row in colour and outlined, and how far the rows are from one curve.
// Python twin: attnbook.viz.position.SimilarityPayload.view.
import {describe, fmtExp, pick, setColumns, view} from "./lib.mjs"

export default ({payload, widgets, cells, rows, chosen, marker, curve, readout, description}) => {
  const m = widgets.position.value
  const value = Float32Array.from(pick(payload, "similarity", widgets))
  const T = Math.round(Math.sqrt(value.length))
  setColumns(cells, {value})
  // Plain arrays, one per row (a list of typed arrays would read back from the page as opaque records).
  setColumns(rows, {ys: Array.from({length: T}, (_, r) => Array.from(view(value, r * T, T)))})
  setColumns(chosen, {d: Float32Array.from({length: T}, (_, j) => j - m), value: value.slice(m * T, (m + 1) * T)})
  setColumns(marker, {y: [-m]})
  curve.title.text = `cos(position ${m}, position n) against n − ${m}`
  const spread = pick(payload, "spread", widgets)[0]
  readout.text = `<b>${widgets.scheme.value}</b>: at the same distance, the similarities of different rows ` +
    `differ by at most <b>${fmtExp(spread, 2)}</b>` + (spread < 1e-6 ? " — a function of the distance alone."
      : " — they depend on where the pair sits, not just on the distance.")
  describe(description, readout.text)
}
