// Head view (as in BertViz): queries in the left column, keys in the right, one line per weight above the
// threshold with opacity = weight (the weights arrive as 8-bit levels, w = level / 255). Draws one layer's head
// (or all its heads), the token boxes shaded by their weight to or from the focused token, and the table of the
// layer's heads. Python twin: attnbook.viz.pretrained.HeadViewPayload.view.
import {describe, escapeHtml, field, fmt, pick, setColumns, textRows} from "./lib.mjs"

export default ({payload, widgets, lines, tokens, legend, plot, table, table_text, table_bands, geometry, description}, obj) => {
  const {sentence, layer, head, focus} = widgets
  const T = pick(payload, "lengths", widgets)[0]
  const toks = pick(payload, "tokens", widgets).slice(0, T)
  // A new sentence has other tokens: offer them as focus choices and drop the old focus.
  const options = [["all", "none: every token"]]
  toks.forEach((t, i) => options.push([`q${i}`, `from ${t} (${i})`]))
  toks.forEach((t, i) => options.push([`k${i}`, `to ${t} (${i})`]))
  if (focus.options.length !== options.length || focus.options.some((o, k) => o[1] !== options[k][1]))
    focus.options = options
  const fv = focus.value
  if (fv !== "all" && (obj === sentence || Number(fv.slice(1)) >= T)) {
    focus.value = "all"  // its own change runs this callback again
    return
  }
  const side = fv === "all" ? null : fv[0], fi = fv === "all" ? -1 : Number(fv.slice(1))

  const W = pick(payload, "levels", widgets)  // (H, T_max, T_max) levels of this layer
  const [H, , n] = W.shape
  const w = (hh, i, j) => W[(hh * n + i) * n + j] / 255
  const every = head.value === "all"
  const h = every ? -1 : Number(head.value) - 1
  const heads = every ? Array.from({length: H}, (_, k) => k) : [h]
  const thr = every ? field(payload, "all_heads_threshold") : field(payload, "threshold")
  const colors = field(payload, "colors")

  const y0 = [], y1 = [], color = [], alpha = [], width = []
  for (const hh of heads) {
    for (let i = 0; i < T; i++) {
      if (side === "q" && i !== fi) continue
      for (let j = 0; j < T; j++) {
        if (side === "k" && j !== fi) continue
        const v = w(hh, i, j)
        if (v < thr || v === 0) continue
        y0.push(-i); y1.push(-j); color.push(colors[hh]); alpha.push(Math.min(1, v)); width.push(every ? 2 : 2.5)
      }
    }
  }
  lines.data = {y0, y1, color, alpha, width}

  // token boxes: the focused token is marked; the other column is shaded by its weight to or from it
  const mean = (i, j) => { let a = 0; for (const hh of heads) a += w(hh, i, j); return a / heads.length }
  const box = {bx: [], y: [], tx: [], text: [], align: [], key: [], fill: [], alpha: [], bw: []}
  const g = geometry
  for (const [c, bx, tx, align] of [["q", g.left_box, g.left_text, "right"], ["k", g.right_box, g.right_text, "left"]]) {
    for (let i = 0; i < T; i++) {
      let a = 0
      if (side === c && i === fi) a = 0.35
      else if (side === "q" && c === "k") a = mean(fi, i)
      else if (side === "k" && c === "q") a = mean(i, fi)
      const values = [bx, -i, tx, toks[i], align, c + i, every ? "#555555" : colors[h], a, g.box_w]
      Object.values(box).forEach((col, k) => col.push(values[k]))
    }
  }
  tokens.data = box
  plot.y_range.setv({start: -T + 0.4, end: 1.5})  // the rows fill the plot's height
  setColumns(legend, {alpha: Array.from({length: H}, (_, k) => (every || k === h ? 1 : 0.2))})
  const shown = field(payload, "threshold_text")[every ? 1 : 0]
  plot.title.text = `Layer ${layer.value}, ${every ? `all ${H} heads` : `head ${h + 1}`}: ` +
                    `${y0.length} lines with weight ≥ ${shown}`

  // table: the statistics of every head of the layer; with a focus, each head's strongest partner of it
  const S = pick(payload, "stats", widgets)  // (H, S)
  const short = field(payload, "short"), nS = short.length
  const cols = geometry.table_columns
  const {columns, put} = textRows()
  const rowY = (r) => -10 - 18 * r
  put(4, rowY(0), "head", "bold")
  short.forEach((t, k) => put(cols[k], rowY(0), t, "bold", "right"))
  if (side !== null) put(264, rowY(0), side === "q" ? "→ key" : "← query", "bold")
  for (let hh = 0; hh < H; hh++) {
    const r = hh + 1, st = hh === h ? "bold" : "normal"
    put(4, rowY(r), "■", "normal", "left", colors[hh])
    put(16, rowY(r), String(hh + 1), st)
    for (let k = 0; k < nS; k++) put(cols[k], rowY(r), fmt(S[hh * nS + k], 2), st, "right")
    if (side !== null) {
      let best = 0, bv = -1
      for (let j = 0; j < T; j++) {
        const v = side === "q" ? w(hh, fi, j) : w(hh, j, fi)
        if (v > bv) { bv = v; best = j }
      }
      put(264, rowY(r), `${toks[best]} ${fmt(bv, 2)}`, st)
    }
  }
  table_text.data = columns
  table_bands.data = every ? {x: [], y: [], w: [], h: [], color: []}
                           : {x: [172], y: [rowY(h + 1)], w: [345], h: [18], color: ["#fde0dd"]}
  table.title.text = `Heads of layer ${layer.value}` + (side === null ? " on this sentence"
    : `; focus: ${toks[fi]} (${fi}) as a ${side === "q" ? "query" : "key"}`)
  const strongest = toks.map((t, i) => {
    let b = 0
    for (let j = 1; j < T; j++) if (mean(i, j) > mean(i, b)) b = j
    return `${t} → ${toks[b]} ${fmt(mean(i, b), 2)}`
  })
  describe(description, escapeHtml(`${plot.title.text}. Sentence “${toks.join(" ")}”. Strongest key of each ` +
    `query${every ? " (mean over heads)" : ""}: ${strongest.join(", ")}.`))
}
