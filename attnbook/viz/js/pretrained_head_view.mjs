// Head view (as in BertViz): queries in the left column, keys in the right, one line per weight above the
// threshold with opacity = weight. The weights were computed by NumPy at build time and quantised to uint8
// (w = level / 255); this callback picks one layer (and head, or all heads) and lays the lines out.
export default ({sentence, layer, head, focus, tokens_source, lines_source, legend_source, caption, plot, tokens,
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
  const esc = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

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

  // caption: what is drawn, the focused token's strongest partners, the statistics of the layer's heads
  const where = all ? `layer ${l + 1}, all ${H} heads (one colour each)` : `layer ${l + 1}, head ${h + 1}`
  let html = `<b>${where[0].toUpperCase() + where.slice(1)}</b>: ${x0.length} lines with weight ≥ ${thr}.`
  if (side !== null) {
    const tok = esc(toks[fi])
    const pairs = []
    for (const hh of heads) {
      const row = []
      for (let j = 0; j < T; j++) row.push([side === "q" ? w(hh, fi, j) : w(hh, j, fi), j])
      row.sort((a, b) => b[0] - a[0])
      pairs.push([hh, row])
    }
    const dir = side === "q" ? "From" : "Into"
    const ends = side === "q" ? "go to" : "come from"
    if (all) {
      html += `<br>${dir} <b>${tok}</b> (${fi}), the strongest line of each head ${side === "q" ? "goes to" : "comes from"}: `
      html += pairs.map(([hh, r]) => `<span style="color:${colors[hh]}">■</span>${hh + 1}: ` +
                                     `${esc(toks[r[0][1]])} ${r[0][0].toFixed(2)}`).join(", ")
    } else {
      html += `<br>${dir} <b>${tok}</b> (${fi}), the strongest lines ${ends}: ` +
              pairs[0][1].slice(0, 3).map(([v, j]) => `${esc(toks[j])} (${j}) ${v.toFixed(2)}`).join(", ")
    }
  } else {
    html += "<br>Hover or tap a token (or pick it under Focus) to see only its lines."
  }
  const S = stats[s]  // (7, L, H)
  const L = S.shape[1]
  const st = (k, hh) => S[(k * L + l) * H + hh]
  let table = `<table style="border-collapse:collapse;font-size:85%;margin-top:6px"><tr><th>head</th>` +
              stat_short.map((n) => `<th style="padding:0 4px">${n}</th>`).join("") + "</tr>"
  for (let hh = 0; hh < H; hh++) {
    const bg = !all && hh === h ? "background:#fde0dd;font-weight:bold" : ""
    table += `<tr style="${bg}"><td><span style="color:${colors[hh]}">■</span> ${hh + 1}</td>` +
             stat_short.map((_, k) => `<td style="padding:0 4px;text-align:right">${st(k, hh).toFixed(2)}</td>`).join("") +
             "</tr>"
  }
  table += "</table>"
  caption.text = `${html}<br>Statistics of the heads of layer ${l + 1} on this sentence ` +
                 `(mean weight on the previous / next token, [CLS], [SEP], the same word, punctuation; ` +
                 `H = entropy in nats):${table}`
}
