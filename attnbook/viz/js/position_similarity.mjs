// Similarity between positions: the (T, T) cosine matrix of the chosen scheme, every row against distance in
// grey, and the reference position's row in colour. All values were computed by NumPy.
export default ({scheme, slider, cells, all_rows, chosen, marker, curve, readout, sims, max_spread, labels,
                 T}) => {
  const s = Number(scheme.value)
  const m = slider.value
  const n = T * T
  const value = new Float32Array(n)
  for (let i = 0; i < n; i++) value[i] = sims[s * n + i]
  cells.data = {...cells.data, value}
  const ys = []
  for (let r = 0; r < T; r++) ys.push(value.subarray(r * T, (r + 1) * T))
  all_rows.data = {...all_rows.data, ys}
  const d = new Float32Array(T)
  for (let j = 0; j < T; j++) d[j] = j - m
  chosen.data = {d, value: value.slice(m * T, (m + 1) * T)}
  marker.data = {x: [(T - 1) / 2], y: [m]}
  curve.title.text = `cos(position ${m}, position n) against n − ${m}`
  const spread = max_spread[s]
  readout.text = `<b>${labels[s]}</b>: at the same distance, the similarities of different rows differ by ` +
    `at most <b>${spread.toExponential(2)}</b>` +
    (spread < 1e-6 ? " — a function of the distance alone." : " — they depend on where the pair sits, not just on the distance.")
}
