// Model view (as in BertViz): every layer x head of the chosen sentence tiled into one image (8-bit levels,
// w = level / 255), a frame on the chosen head, its enlarged heatmap and its statistics with their ranks among
// all heads. Python twin: attnbook.viz.pretrained.ModelViewPayload.view.
import {corner, describe, escapeHtml, field, fmt, get, panelText, pick, shaped, textRows, tokenGrid, view} from "./lib.mjs"

export default ({payload, widgets, grid, grid_axes, image, thumbs, frame, detail, detail_cells, detail_axes,
                 stats_text, stats_bands, statistic_labels, description}, obj) => {
  const {layer, head} = widgets
  const T = pick(payload, "lengths", widgets)[0]
  const toks = pick(payload, "tokens", widgets).slice(0, T)
  const W = pick(payload, "levels", widgets)  // (L, H, T_max, T_max)
  const [L, H, n] = W.shape
  const l = layer.value - 1, h = head.value - 1
  const P = T + 1  // thumbnail pitch in pixels (= data units)
  const at = (li, hi, i, j) => W[((li * H + hi) * n + i) * n + j]

  // the tiled image and one frame per thumbnail (for hover and tap): only when the sentence is new
  if (obj !== layer && obj !== head) {
    const rows = L * P - 1, cols = H * P - 1
    const img = new Uint8Array(rows * cols)
    for (let li = 0; li < L; li++)
      for (let hi = 0; hi < H; hi++)
        for (let i = 0; i < T; i++)
          for (let j = 0; j < T; j++) img[(li * P + i) * cols + hi * P + j] = at(li, hi, i, j)
    image.data = {image: [shaped(img, [rows, cols])], x: [0], y: [0], dw: [cols], dh: [rows]}
    const x = [], y = [], size = [], lay = [], hd = []
    for (let li = 0; li < L; li++) {
      for (let hi = 0; hi < H; hi++) {
        x.push(hi * P + T / 2); y.push(-(li * P + T / 2)); size.push(T + 0.4); lay.push(li + 1); hd.push(hi + 1)
      }
    }
    thumbs.data = {x, y, size, layer: lay, head: hd}
    grid.x_range.setv({start: -1, end: cols + 1})
    grid.y_range.setv({start: -rows - 1, end: 1})
    const xt = Array.from({length: H}, (_, k) => k * P + T / 2)
    const yt = Array.from({length: L}, (_, k) => -(k * P + T / 2))
    grid_axes[0].ticker.ticks = xt
    grid_axes[0].major_label_overrides = new Map(xt.map((t, k) => [t, String(k + 1)]))
    grid_axes[1].ticker.ticks = yt
    grid_axes[1].major_label_overrides = new Map(yt.map((t, k) => [t, String(k + 1)]))
  }
  frame.data = {x: [h * P + T / 2], y: [-(l * P + T / 2)], size: [T + 0.8]}

  // the enlarged head: cell (i, j) at x = j, y = -i
  const M = shaped(view(W, (l * H + h) * n * n, n * n), [n, n])
  tokenGrid(detail_cells, detail, detail_axes, toks, {weight: corner(M, T, (v) => v / 255)})
  detail.title.text = `Layer ${l + 1}, head ${h + 1}`

  // statistics of this head on this sentence and their rank among all L x H heads
  const S = pick(payload, "stats", widgets), R = pick(payload, "ranks", widgets)  // (S,) each
  const labels = field(payload, "labels")
  const {columns, put} = textRows()
  const rowY = (r) => -14 - 21 * r
  put(6, rowY(0), `Layer ${l + 1}, head ${h + 1} on this sentence (T = ${T})`, "bold")
  put(6, rowY(1), "statistic", "bold"); put(222, rowY(1), "value", "bold", "right")
  put(294, rowY(1), `rank of ${L * H}`, "bold", "right")
  const bands = {x: [], y: [], w: [], h: [], color: []}
  labels.forEach((key, k) => {
    const r = k + 2, st = R[k] <= 3 ? "bold" : "normal"
    put(6, rowY(r), get(statistic_labels, key), st)
    put(222, rowY(r), fmt(S[k], 3), st, "right")
    put(294, rowY(r), String(R[k]), st, "right")
    if (R[k] <= 3) { bands.x.push(150); bands.y.push(rowY(r)); bands.w.push(300); bands.h.push(21); bands.color.push("#fde0dd") }
  })
  let best = 0
  for (let j = 1; j < T; j++) if (M[j] > M[best]) best = j
  const r0 = labels.length + 3
  put(6, rowY(r0), "Shaded: one of the 3 strongest heads for it.")
  put(6, rowY(r0 + 1), "Rows are queries, columns keys; rows sum to 1.")
  put(6, rowY(r0 + 2), `${toks[0]} (first query) looks most at ${toks[best]}: ${fmt(M[best] / 255, 2)}`)
  stats_text.data = columns
  stats_bands.data = bands
  describe(description, escapeHtml(panelText(columns)))
}
