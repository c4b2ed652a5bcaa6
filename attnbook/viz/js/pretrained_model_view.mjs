// Model view (as in BertViz): every layer x head of the chosen sentence as one tiled image, a frame on the
// chosen head, its enlarged heatmap and its statistics. Weights arrive as uint8 levels (w = level / levels)
// tiled by NumPy (attnbook.viz.pretrained.model_view_grid), statistics and ranks as computed at build time;
// this callback only picks and formats them (the statistics as text glyphs: cheaper to update than a Div).
export default ({sentence, layer, head, grid, image_source, thumbs_source, frame_source, detail, stats_panel,
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

  // the tiled image and one frame per thumbnail (for hover and tap), only when the sentence changed
  const new_sentence = image_source.data.image[0] !== G
  if (new_sentence) {
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
  if (new_sentence || obj === sentence) {
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
  const out = {x: [], y: [], text: [], color: [], style: [], align: []}
  const put = (xx, yy, t, st = "normal", al = "left") => {
    out.x.push(xx); out.y.push(yy); out.text.push(t); out.color.push("#222222"); out.style.push(st); out.align.push(al)
  }
  const rowY = (r) => -14 - 21 * r
  put(6, rowY(0), `Layer ${l + 1}, head ${h + 1} on this sentence (T = ${T})`, "bold")
  put(6, rowY(1), "statistic", "bold"); put(222, rowY(1), "value", "bold", "right")
  put(294, rowY(1), `rank of ${L * H}`, "bold", "right")
  const bands = {x: [], y: [], w: [], h: [], color: []}
  stat_labels.forEach((name, k) => {
    const c = (k * L + l) * H + h
    const r = k + 2
    const st = R[c] <= 3 ? "bold" : "normal"
    put(6, rowY(r), name, st); put(222, rowY(r), S[c].toFixed(3), st, "right"); put(294, rowY(r), String(R[c]), st, "right")
    if (R[c] <= 3) { bands.x.push(150); bands.y.push(rowY(r)); bands.w.push(300); bands.h.push(21); bands.color.push("#fde0dd") }
  })
  let best = 0
  const row0 = (l * P) * width + h * P
  for (let j = 1; j < T; j++) if (G[row0 + j] > G[row0 + best]) best = j
  const r0 = stat_labels.length + 3
  put(6, rowY(r0), "Shaded: one of the 3 strongest heads for it.")
  put(6, rowY(r0 + 1), "Rows are queries, columns keys; rows sum to 1.")
  put(6, rowY(r0 + 2), `${toks[0]} (first query) looks most at ${toks[best]}: ${(G[row0 + best] / levels).toFixed(2)}`)
  stats_panel.text.data = out
  stats_panel.bands.data = bands
}
