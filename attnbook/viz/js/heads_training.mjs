// Induction heads forming: the slider picks a training snapshot (attention maps precomputed by NumPy and
// shipped as lower triangles), the select picks which per-head score is drawn; markers follow the slider.
export default ({slider, select, sources, score_source, score_marker, score_plot, loss_marker, loss_cursor,
                 score_cursor, caption, steps, tri, T, curves, score_keys, score_titles, entropy_max, loss_at,
                 labels, colors}, obj) => {
  const s = slider.value
  const LH = sources.length
  const S = steps.length
  const n = T * (T + 1) / 2
  // attention maps of snapshot s: unpack row i, keys 0..i; the masked upper triangle stays 0
  for (let k = 0; k < LH; k++) {
    const w = new Float32Array(T * T)
    const base = (s * LH + k) * n
    for (let i = 0; i < T; i++) {
      const r = base + i * (i + 1) / 2
      for (let j = 0; j <= i; j++) w[i * T + j] = tri[r + j]
    }
    sources[k].data = {...sources[k].data, weight: w}
  }
  // per-head curves of the selected score
  const q = score_keys.indexOf(select.value)
  const data = {step: steps}
  for (let k = 0; k < LH; k++) {
    const col = new Float32Array(S)
    for (let t = 0; t < S; t++) col[t] = curves[(q * S + t) * LH + k]
    data[`h${k}`] = col
  }
  score_source.data = data
  score_plot.title.text = score_titles[q]
  score_plot.y_range.end = select.value === "entropy" ? entropy_max * 1.02 : 1.02
  const ys = []
  for (let k = 0; k < LH; k++) ys.push(curves[(q * S + s) * LH + k])
  score_marker.data = {x: Array(LH).fill(steps[s]), y: ys, color: colors}
  loss_marker.data = {x: [steps[s]], y: [loss_at[s]]}
  loss_cursor.location = steps[s]
  score_cursor.location = steps[s]
  const parts = labels.map((l, k) => `<span style="color:${colors[k]}">■</span> ${l} ${ys[k].toFixed(2)}`)
  caption.text = `<b>Step ${steps[s]}</b> (snapshot ${s + 1} of ${S}): validation loss ${loss_at[s].toFixed(3)} nats. ` +
                 `${score_titles[q].toLowerCase()}: ${parts.join(", ")}`
}
