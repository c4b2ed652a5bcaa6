// Head patterns: colour the layer x head map by the chosen statistic for the chosen sentence (or the mean
// over all), frame its top heads, and tabulate the top heads of every statistic. All values were computed
// by NumPy at build time (attnbook.pretrained.patterns); this callback only picks and formats them.
export default ({sentence, pattern, cells, top_source, mapper, plot, table, stats, tops, keys, labels, highs}, obj) => {
  const s = sentence.value === "mean" ? stats.length - 1 : Number(sentence.value)
  const p = Math.max(0, keys.indexOf(pattern.value))
  const S = stats[s]  // (7, L, H)
  const L = S.shape[1], H = S.shape[2]
  const n = L * H
  const value = new Float32Array(n)
  const text = new Array(n), text_color = new Array(n)
  for (let c = 0; c < n; c++) {
    value[c] = S[p * n + c]
    text[c] = value[c].toFixed(2)
    text_color[c] = value[c] > 0.6 * highs[p] ? "white" : "#222222"
  }
  cells.data = {...cells.data, value, text, text_color}
  mapper.high = highs[p]

  const Tp = tops[s]  // (7, k, 3): layer, head, value
  const k = Tp.shape[1]
  const at = (q, r, f) => Tp[(q * k + r) * 3 + f]
  top_source.data = {
    x: Array.from({length: k}, (_, r) => at(p, r, 1)),
    y: Array.from({length: k}, (_, r) => -at(p, r, 0)),
    rank: Array.from({length: k}, (_, r) => r + 1),
  }
  const what = s === stats.length - 1 ? "mean over all sentences" : "this sentence"
  plot.title.text = `${labels[p]}: value of every head (${what}); red frames: the ${k} strongest`

  // table of every statistic's top heads (text glyphs: cheaper to update than a Div)
  const out = {x: [], y: [], text: [], color: [], style: [], align: []}
  const put = (xx, yy, t, st = "normal") => {
    out.x.push(xx); out.y.push(yy); out.text.push(t); out.color.push("#222222"); out.style.push(st); out.align.push("left")
  }
  const rowY = (r) => -14 - 22 * r
  const colX = (r) => 250 + 163 * r
  put(6, rowY(0), `statistic (${what})`, "bold")
  for (let r = 0; r < k; r++) put(colX(r), rowY(0), `#${r + 1}`, "bold")
  keys.forEach((_, q) => {
    const st = q === p ? "bold" : "normal"
    put(6, rowY(q + 1), labels[q], st)
    for (let r = 0; r < k; r++) put(colX(r), rowY(q + 1), `layer ${at(q, r, 0) + 1}, head ${at(q, r, 1) + 1}: ${at(q, r, 2).toFixed(3)}`, st)
  })
  table.text.data = out
  table.bands.data = {x: [370], y: [rowY(p + 1)], w: [740], h: [22], color: ["#fde0dd"]}
}
