// Sentence builder: turn the chosen sentence into token ids, gather their rows of the chosen embedding table
// E (V, C) and of its similarity table E Eᵀ (V, V), and redraw the strip and both heatmaps. The tables
// were computed by NumPy at build time; this callback only looks rows up by id.
export default ({mode, table, adjective, noun, verb, object_noun, preset, emb_source, emb_plot,
                 emb_yaxis, emb_mapper, sim_source, sim_plot, sim_xaxis, sim_yaxis, sim_mapper, words,
                 labels, embeddings, similarities, emb_limits, sim_limits, preset_ids, template_ids, slot_positions,
                 slot_options, slot_option_ids, max_labelled_t, strip_boxes, strip_lines, strip_width}, obj) => {
  const selects = [adjective, noun, verb, object_noun]
  // A sentence widget of the other mode was moved: switch the mode, whose change runs this callback again.
  if (selects.includes(obj) && mode.active !== 0) { mode.active = 0; return }
  if (obj === preset && mode.active !== 1) { mode.active = 1; return }

  let ids
  if (mode.active === 0) {
    ids = Array.from(template_ids)
    selects.forEach((s, k) => { ids[slot_positions[k]] = slot_option_ids[k][slot_options[k].indexOf(s.value)] })
  } else {
    ids = Array.from(preset_ids[Number(preset.value)])
  }
  const T = ids.length
  const tokens = ids.map((i) => words[i])
  const t = Math.max(0, labels.indexOf(table.value))
  const E = embeddings[t]
  const S = similarities[t]
  const V = E.shape[0]
  const C = E.shape[1]
  const fmt = (v) => { const s = v.toFixed(2); return s === "-0.00" ? "0.00" : s }
  // each value is written in one of two text columns: dark on light cells, white on the dark ends
  const put = (cols, v, limit, show) => {
    const text = show ? fmt(v) : ""
    const light = Math.abs(v) > 0.6 * limit
    cols.label.push(light ? "" : text); cols.label_light.push(light ? text : "")
  }

  // (T, C): row i of X is row ids[i] of E
  const n = T * C
  const emb = {x: new Float32Array(n), y: new Float32Array(n), value: new Float32Array(n), label: [], label_light: [],
               token: [], id: [], pos: [], dim: []}
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < C; j++) {
      const k = i * C + j
      const v = E[ids[i] * C + j]
      emb.x[k] = j; emb.y[k] = -i; emb.value[k] = v
      put(emb, v, emb_limits[t], true)
      emb.token.push(tokens[i]); emb.id.push(ids[i]); emb.pos.push(i); emb.dim.push(`c${j}`)
    }
  }
  // (T, T): cell (i, j) is entry (ids[i], ids[j]) of E Eᵀ
  const m = T * T
  const sim = {x: new Float32Array(m), y: new Float32Array(m), value: new Float32Array(m), label: [], label_light: [],
               token_i: [], token_j: [], i: [], j: []}
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const k = i * T + j
      const v = S[ids[i] * V + ids[j]]
      sim.x[k] = j; sim.y[k] = -i; sim.value[k] = v
      put(sim, v, sim_limits[t], T <= max_labelled_t)
      sim.token_i.push(tokens[i]); sim.token_j.push(tokens[j]); sim.i.push(i); sim.j.push(j)
    }
  }
  emb_source.data = emb
  sim_source.data = sim

  // T changes with the sentence: numeric axes with one tick per token (repeated tokens stay distinct rows)
  const rows = tokens.map((_, i) => -i)
  const cols = tokens.map((_, i) => i)
  emb_yaxis.ticker.ticks = rows
  emb_yaxis.major_label_overrides = new Map(rows.map((r, i) => [r, tokens[i]]))
  sim_yaxis.ticker.ticks = rows
  sim_yaxis.major_label_overrides = new Map(rows.map((r, i) => [r, tokens[i]]))
  sim_xaxis.ticker.ticks = cols
  sim_xaxis.major_label_overrides = new Map(cols.map((c, i) => [c, tokens[i]]))
  emb_plot.y_range.setv({start: -T + 0.5, end: 0.5})
  sim_plot.x_range.setv({start: -0.5, end: T - 0.5})
  sim_plot.y_range.setv({start: -T + 0.5, end: 0.5})
  emb_mapper.setv({low: -emb_limits[t], high: emb_limits[t]})
  sim_mapper.setv({low: -sim_limits[t], high: sim_limits[t]})
  emb_plot.title.text = `X = E[ids]:  (T, C) = (${T}, ${C})`
  sim_plot.title.text = `Dot products X Xᵀ:  (T, T) = (${T}, ${T})`

  // the strip: every token in a box over its id (boxes of a repeated id share a tint), wrapped onto a second
  // row when the sentence is long; a line above, the shapes of the lookup and the repeats below
  const seen = new Map()
  ids.forEach((id, i) => seen.set(id, [...(seen.get(id) || []), i]))
  const repeats = [...seen].filter(([, pos]) => pos.length > 1)
  const tints = ["#fde0c5", "#d5e8d4", "#dae8fc", "#e1d5e7"]
  const tint = new Map(repeats.map(([id], k) => [id, tints[k % tints.length]]))
  const CHAR = 7.3, PAD = 12, GAP = 6, ROW = 44, TOP = 42
  const box = {x: [], y: [], y_token: [], y_id: [], w: [], token: [], id_text: [], fill: []}
  let left = 4, y = -TOP
  tokens.forEach((tok, i) => {
    const idt = `id ${ids[i]}`
    const w = Math.max(tok.length, idt.length) * CHAR + PAD
    if (left + w > strip_width - 4 && left > 4) { left = 4; y -= ROW }
    box.x.push(left + w / 2); box.y.push(y); box.y_token.push(y + 8); box.y_id.push(y - 8); box.w.push(w)
    box.token.push(tok); box.id_text.push(idt); box.fill.push(tint.get(ids[i]) || "#ffffff")
    left += w + GAP
  })
  strip_boxes.data = box
  const source = mode.active === 0 ? "Structured sentence" : `Preset ${Number(preset.value) + 1}`
  const below = y - ROW / 2 - 4
  strip_lines.data = {
    x: [4, 4, 4],
    y: [-10, below - 6, below - 24],
    color: ["#555555", "#222222", "#222222"],
    text: [
      `${source} · table: ${labels[t]} · T = ${T} tokens, V = ${V}, C = ${C}`,
      `one-hot (T, V) = (${T}, ${V}) · E (V, C) = (${V}, ${C}) → X (T, C) = (${T}, ${C})`,
      repeats.length
        ? "same id, same row of E: " + repeats.map(([id, pos]) => `${words[id]} (positions ${pos.join(", ")})`).join(", ")
        : "no token repeats",
    ],
  }
}
