// Model view (as in BertViz): the thumbnails of every layer x head for the chosen sentence, a frame on the
// chosen head, its enlarged heatmap and its statistics. Weights arrive as uint8 levels (w = level / levels),
// statistics and ranks as computed by NumPy at build time; this callback only picks and formats them.
export default ({sentence, layer, head, thumbs_source, frame_source, detail, stats_div, tokens, thumbs, stats,
                 ranks, stat_labels, cell, levels}, obj) => {
  const s = Number(sentence.value)
  const toks = tokens[s]
  const T = toks.length
  const l = layer.value - 1
  const h = head.value - 1
  const S = stats[s]  // (7, L, H)
  const L = S.shape[1]
  const H = S.shape[2]
  const esc = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

  if (thumbs_source.data.image !== thumbs[s]) thumbs_source.data = {...thumbs_source.data, image: thumbs[s]}
  frame_source.data = {x: [h * cell + 0.5], y: [-l * cell - 0.5]}

  // enlarged heatmap: cell (i, j) at x = j, y = -i, as attention_heatmap lays it out
  const img = thumbs[s][l * H + h]  // (T, T) uint8, row = query
  const n = T * T
  const x = new Float32Array(n), y = new Float32Array(n), weight = new Float32Array(n)
  const q_token = new Array(n), k_token = new Array(n)
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const c = i * T + j
      x[c] = j; y[c] = -i; weight[c] = img[c] / levels; q_token[c] = toks[i]; k_token[c] = toks[j]
    }
  }
  detail.source.data = {x, y, weight, score: new Float32Array(n).fill(NaN), q_token, k_token}
  const idx = Array.from({length: T}, (_, i) => i)
  detail.xaxis.ticker.ticks = idx
  detail.xaxis.major_label_overrides = new Map(idx.map((j) => [j, toks[j]]))
  detail.yaxis.ticker.ticks = idx.map((i) => -i)
  detail.yaxis.major_label_overrides = new Map(idx.map((i) => [-i, toks[i]]))
  detail.plot.x_range.setv({start: -0.5, end: T - 0.5})
  detail.plot.y_range.setv({start: -T + 0.5, end: 0.5})
  detail.plot.title.text = `Layer ${l + 1}, head ${h + 1}`

  // statistics of this head on this sentence and their rank among all L x H heads
  const R = ranks[s]
  let html = `<b>Layer ${l + 1}, head ${h + 1}</b> on this sentence (T = ${T}):` +
             `<table style="border-collapse:collapse;margin-top:4px"><tr><th style="text-align:left">statistic</th>` +
             `<th style="padding:0 6px">value</th><th>rank of ${L * H}</th></tr>`
  stat_labels.forEach((name, k) => {
    const c = (k * L + l) * H + h
    const top = R[c] <= 3 ? "background:#fde0dd;font-weight:bold" : ""
    html += `<tr style="${top}"><td>${esc(name)}</td><td style="padding:0 6px;text-align:right">${S[c].toFixed(3)}</td>` +
            `<td style="text-align:right">${R[c]}</td></tr>`
  })
  html += "</table>"
  let best = 0
  for (let j = 1; j < T; j++) if (img[j] > img[best]) best = j
  html += `<p style="margin-top:6px">Rows are queries, columns keys; each row sums to 1. ` +
          `The first query, ${esc(toks[0])}, attends most to ${esc(toks[best])} (${(img[best] / levels).toFixed(2)}).` +
          ` Shaded rows: this head is among the 3 strongest for that statistic.</p>`
  stats_div.text = html
}
