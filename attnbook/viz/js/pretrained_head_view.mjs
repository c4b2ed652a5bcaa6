// Head view (as in BertViz): queries in the left column, keys in the right, one line per weight above the
// threshold with opacity = weight. The weights were computed by NumPy at build time and quantised to uint8
// (w = level / 255); the head statistics too. This callback picks one layer (and head, or all heads), lays
// the lines out and fills the table of the layer's heads (text glyphs: cheaper to update than a Div).
export default ({sentence, layer, head, focus, tokens_source, lines_source, legend_source, plot, table, tokens,
                 weights, stats, stat_short, colors, geometry, threshold, all_heads_threshold}, obj) => {
  const s = Number(sentence.value)
  const toks = tokens[s]
  const T = toks.length
  const W = weights[s]  // (L, H, T, T) uint8
  const H = W.shape[1]
  const l = Number(layer.value) - 1
  const all = head.value === "all"
  const h = all ? -1 : Number(head.value) - 1
  const g = geometry

  // A new sentence has other tokens: offer them as focus choices and drop the old focus.
  if (obj === sentence) {
    const opts = [["all", "none: every token"]]
    toks.forEach((t, i) => opts.push([`q${i}`, `from ${t} (${i})`]))
    toks.forEach((t, i) => opts.push([`k${i}`, `to ${t} (${i})`]))
    focus.options = opts
    if (focus.value !== "all") focus.value = "all"
  }
  let side = focus.value === "all" ? null : focus.value[0]
  let fi = side === null ? -1 : Number(focus.value.slice(1))
  if (!(fi < T)) { side = null; fi = -1 }

  const w = (hh, i, j) => W[((l * H + hh) * T + i) * T + j] / 255
  const heads = all ? Array.from({length: H}, (_, k) => k) : [h]
  const thr = all ? all_heads_threshold : threshold

  // lines
  const x0 = [], y0 = [], x1 = [], y1 = [], color = [], alpha = [], width = []
  for (const hh of heads) {
    for (let i = 0; i < T; i++) {
      if (side === "q" && i !== fi) continue
      for (let j = 0; j < T; j++) {
        if (side === "k" && j !== fi) continue
        const v = w(hh, i, j)
        if (v < thr || v === 0) continue
        x0.push(g.x0); y0.push(-i); x1.push(g.x1); y1.push(-j)
        color.push(colors[hh]); alpha.push(Math.min(1, v)); width.push(all ? 2 : 2.5)
      }
    }
  }
  lines_source.data = {x0, y0, x1, y1, color, alpha, width}

  // token boxes: the focused token is marked; the other column is shaded by its weight to or from it
  const shade = all ? "#555555" : colors[h]
  const mean = (i, j) => { let a = 0; for (const hh of heads) a += w(hh, i, j); return a / heads.length }
  const bx = [], y = [], tx = [], text = [], align = [], key = [], fill = [], balpha = [], bw = []
  for (const [c, boxX, textX, al] of [["q", g.left_box, g.left_text, "right"], ["k", g.right_box, g.right_text, "left"]]) {
    for (let i = 0; i < T; i++) {
      bx.push(boxX); y.push(-i); tx.push(textX); text.push(toks[i]); align.push(al); key.push(c + i)
      bw.push(g.box_w); fill.push(shade)
      let a = 0
      if (side === c && i === fi) a = 0.35
      else if (side === "q" && c === "k") a = mean(fi, i)
      else if (side === "k" && c === "q") a = mean(i, fi)
      balpha.push(a)
    }
  }
  plot.y_range.setv({start: -T + 0.4, end: 1.5})  // the rows fill the plot's height
  tokens_source.data = {bx, y, tx, text, align, key, fill, alpha: balpha, bw}
  legend_source.data = {...legend_source.data,
                        alpha: Array.from({length: H}, (_, k) => (all || k === h ? 1 : 0.2))}
  plot.title.text = (all ? `Layer ${l + 1}, all ${H} heads` : `Layer ${l + 1}, head ${h + 1}`) +
                    `: ${x0.length} lines with weight ≥ ${thr}`

  // table: the statistics of every head of the layer; with a focus, each head's strongest partner of it
  const S = stats[s]  // (7, L, H)
  const L = S.shape[1]
  const cols = [60, 92, 124, 156, 190, 226, 256]
  const out = {x: [], y: [], text: [], color: [], style: [], align: []}
  const put = (x, yy, t, c = "#222222", st = "normal", al = "right") => {
    out.x.push(x); out.y.push(yy); out.text.push(t); out.color.push(c); out.style.push(st); out.align.push(al)
  }
  const rowY = (r) => -10 - 18 * r
  put(4, rowY(0), "head", "#222222", "bold", "left")
  stat_short.forEach((n, k) => put(cols[k], rowY(0), n, "#222222", "bold"))
  if (side !== null) put(264, rowY(0), side === "q" ? "→ key" : "← query", "#222222", "bold", "left")
  for (let hh = 0; hh < H; hh++) {
    const r = hh + 1
    const st = !all && hh === h ? "bold" : "normal"
    put(4, rowY(r), "■", colors[hh], "normal", "left")
    put(16, rowY(r), String(hh + 1), "#222222", st, "left")
    stat_short.forEach((_, k) => put(cols[k], rowY(r), S[(k * L + l) * H + hh].toFixed(2), "#222222", st))
    if (side !== null) {
      let best = 0, bv = -1
      for (let j = 0; j < T; j++) {
        const v = side === "q" ? w(hh, fi, j) : w(hh, j, fi)
        if (v > bv) { bv = v; best = j }
      }
      put(264, rowY(r), `${toks[best]} ${bv.toFixed(2)}`, "#222222", st, "left")
    }
  }
  table.text.data = out
  table.bands.data = all ? {x: [], y: [], w: [], h: [], color: []}
                         : {x: [172], y: [rowY(h + 1)], w: [345], h: [18], color: ["#fde0dd"]}
  table.plot.title.text = side === null
    ? `Heads of layer ${l + 1} on this sentence`
    : `Heads of layer ${l + 1}; focus: ${toks[fi]} (${fi}) as a ${side === "q" ? "query" : "key"}`
}
