// Raw attention (head mean of one layer) beside attention rollout up to that layer (Abnar & Zuidema 2020),
// with or without the residual term. Both were computed by NumPy at build time; this callback only picks a
// layer of the chosen sentence and redraws the two heatmaps and the caption.
export default ({sentence, layer, residual, raw_plot, roll_plot, tokens, raw, rolled, summary}, obj) => {
  const s = Number(sentence.value)
  const toks = tokens[s]
  const T = toks.length
  const l = layer.value - 1
  const r = residual.active ? 1 : 0
  const n = T * T
  const x = new Float32Array(n), y = new Float32Array(n), q_token = new Array(n), k_token = new Array(n)
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) { const c = i * T + j; x[c] = j; y[c] = -i; q_token[c] = toks[i]; k_token[c] = toks[j] }
  }
  const idx = Array.from({length: T}, (_, i) => i)
  const draw = (hm, m, title) => {
    const weight = new Float32Array(n)  // layer l of the (L, T, T) array, copied (no typed-array views)
    for (let c = 0; c < n; c++) weight[c] = m[l * n + c]
    hm.source.data = {x, y, weight, score: new Float32Array(n).fill(NaN), q_token, k_token}
    hm.xaxis.ticker.ticks = idx
    hm.xaxis.major_label_overrides = new Map(idx.map((j) => [j, toks[j]]))
    hm.yaxis.ticker.ticks = idx.map((i) => -i)
    hm.yaxis.major_label_overrides = new Map(idx.map((i) => [-i, toks[i]]))
    hm.plot.x_range.setv({start: -0.5, end: T - 0.5})
    hm.plot.y_range.setv({start: -T + 0.5, end: 0.5})
    hm.plot.title.text = title
  }
  const Sm = summary[s]  // (3 kinds: raw, rollout without / with residual; L; 3: self, [CLS], [SEP])
  const L = Sm.shape[1]
  const nums = (kind) => [0, 1, 2].map((f) => Sm[(kind * L + l) * 3 + f].toFixed(2))
  const [a0, a1, a2] = nums(0)
  const [b0, b1, b2] = nums(1 + r)
  draw(raw_plot, raw[s], `Raw, layer ${l + 1} (head mean): ${a0} · ${a1} · ${a2}`)
  draw(roll_plot, rolled[r][s], `Rollout 1–${l + 1}${r ? "" : ", no residual"}: ${b0} · ${b1} · ${b2}`)
}
