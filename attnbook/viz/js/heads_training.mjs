// Induction heads forming: the slider picks a training snapshot (attention maps precomputed by NumPy and
// shipped as causal lower triangles, the heatmaps' cell order), the select picks which per-head score is
// drawn; the markers follow the slider.
export default ({slider, select, sources, score_source, score_marker, score_plot, loss_marker, loss_cursor,
                 score_cursor, loss_plot, steps, tri, T, curves, score_keys, score_titles, entropy_max, loss_at,
                 colors}, obj) => {
  const s = slider.value
  const LH = sources.length
  const S = steps.length
  const n = T * (T + 1) / 2
  const flat = new Float32Array(tri.buffer, tri.byteOffset, tri.length)  // plain view: NDArray's subarray keeps its shape
  const q = score_keys.indexOf(select.value)
  if (obj !== select) {
    // attention maps of snapshot s, copied into each weight column in place (no new data dict to diff)
    for (let k = 0; k < LH; k++) {
      sources[k].data.weight.set(flat.subarray((s * LH + k) * n, (s * LH + k + 1) * n))
      sources[k].change.emit()
    }
  }
  if (obj !== slider) {
    // per-head curves of the selected score
    const data = {step: steps}
    for (let k = 0; k < LH; k++) {
      const col = new Float32Array(S)
      for (let t = 0; t < S; t++) col[t] = curves[(q * S + t) * LH + k]
      data[`h${k}`] = col
    }
    score_source.data = data
    score_plot.y_range.end = select.value === "entropy" ? entropy_max * 1.02 : 1.02
  }
  const ys = []
  for (let k = 0; k < LH; k++) ys.push(curves[(q * S + s) * LH + k])
  score_marker.data = {x: Array(LH).fill(steps[s]), y: ys, color: colors}
  loss_marker.data = {x: [steps[s]], y: [loss_at[s]]}
  loss_cursor.location = steps[s]
  score_cursor.location = steps[s]
  // text goes into titles, not a Div: a Div change re-lays-out the whole (large) figure
  slider.title = `Training step ${steps[s]} (snapshot ${s + 1} of ${S})`
  loss_plot.title.text = `Validation loss at step ${steps[s]}: ${loss_at[s].toFixed(3)} nats`
  score_plot.title.text = `${score_titles[q]} at step ${steps[s]}`
}
