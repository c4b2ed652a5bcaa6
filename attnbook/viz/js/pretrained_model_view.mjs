// Model view (as in BertViz): every layer x head of the chosen sentence as one tiled image, a frame on the
// chosen head, its enlarged heatmap and its statistics. Weights arrive as uint8 levels (w = level / levels)
// tiled by NumPy (attnbook.viz.pretrained.model_view_grid), statistics and ranks as computed at build time;
// this callback only picks and formats them.
export default ({sentence, layer, head, grid, image_source, thumbs_source, frame_source, detail, stats_div,
                 tokens, grids, stats, ranks, stat_labels, levels}, obj) => {
  const s = Number(sentence.value)
  const toks = tokens[s]
  const T = toks.length
  const l = layer.value - 1
  const h = head.value - 1
  const S = stats[s]  // (7, L, H)
  const L = S.shape[1]
  const H = S.shape[2]
  const P = T + 1  // thumbnail pitch in pixels (= data units)
  const G = grids[s]  // (L P - 1, H P - 1) uint8
  const width = G.shape[1]
  const esc = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

  // the tiled image and one frame per thumbnail (for hover and tap), only when the sentence changed
  if (image_source.data.image[0] !== G) {
    image_source.data = {image: [G], x: [0], y: [0], dw: [width], dh: [G.shape[0]]}
    const x = [], y = [], size = [], lay = [], hd = []
    for (let li = 0; li < L; li++) {
      for (let hi = 0; hi < H; hi++) {
        x.push(hi * P + T / 2); y.push(-(li * P + T / 2)); size.push(T + 0.4); lay.push(li + 1); hd.push(hi + 1)
      }
    }
    thumbs_source.data = {x, y, size, layer: lay, head: hd}
    grid.plot.x_range.setv({start: -1, end: width + 1})
    grid.plot.y_range.setv({start: -G.shape[0] - 1, end: 1})
    const xt = Array.from({length: H}, (_, k) => k * P + T / 2)
    const yt = Array.from({length: L}, (_, k) => -(k * P + T / 2))
    grid.xaxis.ticker.ticks = xt
    grid.xaxis.major_label_overrides = new Map(xt.map((t, k) => [t, String(k + 1)]))
    grid.yaxis.ticker.ticks = yt
    grid.yaxis.major_label_overrides = new Map(yt.map((t, k) => [t, String(k + 1)]))
  }
  frame_source.data = {x: [h * P + T / 2], y: [-(l * P + T / 2)], size: [T + 0.8]}

  // enlarged heatmap: cell (i, j) at x = j, y = -i, as attention_heatmap lays it out
  const n = T * T
  const x = new Float32Array(n), y = new Float32Array(n), weight = new Float32Array(n)
  const q_token = new Array(n), k_token = new Array(n)
  for (let i = 0; i < T; i++) {
    const row = (l * P + i) * width + h * P
    for (let j = 0; j < T; j++) {
      const c = i * T + j
      x[c] = j; y[c] = -i; weight[c] = G[row + j] / levels; q_token[c] = toks[i]; k_token[c] = toks[j]
    }
  }
  detail.source.data = {x, y, weight, score: new Float32Array(n).fill(NaN), q_token, k_token}
  if (detail.xaxis.ticker.ticks.length !== T || detail.xaxis.major_label_overrides.get(T - 1) !== toks[T - 1] ||
      obj === sentence) {
    const idx = Array.from({length: T}, (_, i) => i)
    detail.xaxis.ticker.ticks = idx
    detail.xaxis.major_label_overrides = new Map(idx.map((j) => [j, toks[j]]))
    detail.yaxis.ticker.ticks = idx.map((i) => -i)
    detail.yaxis.major_label_overrides = new Map(idx.map((i) => [-i, toks[i]]))
    detail.plot.x_range.setv({start: -0.5, end: T - 0.5})
    detail.plot.y_range.setv({start: -T + 0.5, end: 0.5})
  }
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
  const row0 = (l * P) * width + h * P
  for (let j = 1; j < T; j++) if (G[row0 + j] > G[row0 + best]) best = j
  html += `<p style="margin-top:6px">Rows are queries, columns keys; each row sums to 1. ` +
          `The first query, ${esc(toks[0])}, attends most to ${esc(toks[best])} (${(G[row0 + best] / levels).toFixed(2)}).` +
          ` Shaded rows: this head is among the 3 strongest for that statistic.</p>`
  stats_div.text = html
}
