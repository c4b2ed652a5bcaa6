// ALiBi: the chosen head's causal bias matrix, its slope highlighted, and the last query's weights when every
// content score is equal (softmax of the bias row, computed by NumPy).
export default ({slider, cells, bars, weights, grid, look, readout, shown, slopes, last, half, T}) => {
  const h = slider.value - 1
  const n = T * T
  const value = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const b = shown[h * n + i]
    value[i] = b === -Infinity ? NaN : b  // masked (future) keys are drawn grey
  }
  cells.data = {...cells.data, value}
  const color = Array.from(slopes, (_, k) => (k === h ? "#08519c" : "#c6dbef"))
  bars.data = {...bars.data, color}
  const w = new Float32Array(T)
  for (let j = 0; j < T; j++) w[j] = last[h * T + j]
  weights.data = {...weights.data, w}
  const m = slopes[h]
  grid.title.text = `Head ${h + 1}: bias −${m.toPrecision(3)} · (i − j)`
  look.title.text = `Head ${h + 1}: last query's weights if every content score were equal`
  readout.text = `Head <b>${h + 1}</b> of ${slopes.length}: slope m = 2^${Math.log2(m).toFixed(0)} = ` +
    `<b>${m.toPrecision(3)}</b>; a key ${T - 1} positions back loses ${(m * (T - 1)).toFixed(2)} from its score. ` +
    `With equal content scores, half the weight falls on the last <b>${half[h]}</b> of ${T} positions.`
}
