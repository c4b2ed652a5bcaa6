// Sentence builder: the ids of the chosen sentence gather rows of the chosen embedding table E (V, C) and entries
// of its dot products E Eᵀ (V, V); the strip, both heatmaps, their axes and colour ranges are redrawn.
// Python twin: attnbook.viz.tokens.TokensPayload.view (the browser tests compare the two).
import {cellLabels, controlIndex, describe, escapeHtml, field, fmt, get, pick, setColumns} from "./lib.mjs"

const SLOTS = ["adjective", "noun", "verb", "object-noun"]

const twoDecimals = (v) => {
  const s = fmt(v, 2)
  return s === "-0.00" ? "0.00" : s
}

// The ids of the sentence the widgets select: the template with one id per slot select, or a preset.
const sentence = (payload, widgets) => {
  if (widgets.mode.active === 1 && widgets.preset.value !== "")
    return Array.from(get(pick(payload, "presets", widgets), "ids"))
  const ids = Array.from(field(payload, "template_ids"))
  const positions = field(payload, "slot_positions")
  SLOTS.forEach((s, k) => { ids[positions[k]] = pick(payload, `ids_${s.replace("-", "_")}`, widgets)[0] })
  return ids
}

// Cell (i, j) of a rows × cols heatmap at x = j, y = -i, with its value written dark or light.
const heatmap = (rows, cols, valueOf, limit, show) => {
  const n = rows * cols
  const x = new Float32Array(n), y = new Float32Array(n), value = new Float32Array(n)
  const texts = new Array(n), dark = new Array(n)
  for (let c = 0; c < n; c++) {
    const i = Math.floor(c / cols), j = c % cols
    x[c] = j; y[c] = -i; value[c] = valueOf(i, j)
    texts[c] = show ? twoDecimals(value[c]) : ""
    dark[c] = Math.abs(value[c]) > 0.6 * limit
  }
  return {x, y, value, ...cellLabels(texts, dark)}
}

export default ({payload, widgets, plots, sources, mappers, axes, strip_boxes, strip_lines, description}, obj) => {
  const {mode, preset} = widgets
  // The mode and the preset select move together: the select reads "none" (value "") exactly when the structured
  // sentence is shown. A widget that breaks this moves the other, whose change runs this callback again.
  const none = preset.value === ""
  if (SLOTS.some((s) => get(widgets, s) === obj) && mode.active !== 0) { mode.active = 0; return }
  if (obj === preset && none && mode.active !== 0) { mode.active = 0; return }
  if (obj === preset && !none && mode.active !== 1) { mode.active = 1; return }
  if (mode.active === 0 && !none) { preset.value = ""; return }
  if (mode.active === 1 && none) { preset.value = preset.options[1][0]; return }  // the first preset
  SLOTS.forEach((s) => { get(widgets, s).disabled = mode.active === 1 })  // greyed out while a preset is shown

  const ids = sentence(payload, widgets), T = ids.length
  const words = field(payload, "words"), tokens = ids.map((i) => words[i])
  const E = pick(payload, "embeddings", widgets), S = pick(payload, "similarities", widgets)
  const [V, C] = E.shape
  const limits = [pick(payload, "emb_limits", widgets)[0], pick(payload, "sim_limits", widgets)[0]]

  const emb = heatmap(T, C, (i, j) => E[ids[i] * C + j], limits[0], true)
  const pos = Array.from(emb.x, (_, c) => Math.floor(c / C))
  setColumns(sources[0], {...emb, token: pos.map((i) => tokens[i]), id: pos.map((i) => ids[i]), pos,
                          dim: Array.from(emb.x, (j) => `c${j}`)})
  const sim = heatmap(T, T, (i, j) => S[ids[i] * V + ids[j]], limits[1], T <= field(payload, "max_labelled_t"))
  const ii = Array.from(sim.x, (_, c) => Math.floor(c / T)), jj = Array.from(sim.x)
  setColumns(sources[1], {...sim, token_i: ii.map((i) => tokens[i]), token_j: jj.map((j) => tokens[j]),
                          i: ii, j: jj})

  // T changes with the sentence: numeric axes with one tick per token (repeated tokens stay distinct rows)
  const rows = tokens.map((_, i) => -i), cols = tokens.map((_, i) => i)
  const [embPlot, simPlot] = plots
  const label = (axis, ticks) => {
    axis.ticker.ticks = ticks
    axis.major_label_overrides = new Map(ticks.map((t, i) => [t, tokens[i]]))
  }
  label(axes[0], rows)  // X: tokens down
  label(axes[1], rows)  // X Xᵀ: tokens down and across
  label(axes[2], cols)
  embPlot.y_range.setv({start: -T + 0.5, end: 0.5})
  simPlot.x_range.setv({start: -0.5, end: T - 0.5})
  simPlot.y_range.setv({start: -T + 0.5, end: 0.5})
  mappers.forEach((m, k) => m.setv({low: -limits[k], high: limits[k]}))
  embPlot.title.text = `X = E[ids]:  (T, C) = (${T}, ${C})`
  simPlot.title.text = `Dot products X Xᵀ:  (T, T) = (${T}, ${T})`

  // the strip: every token in a box over its id (boxes of a repeated id share a tint), wrapped onto a new row
  // when the sentence is long; a line above, the shapes of the lookup and the repeats below
  const g = field(payload, "strip")
  const [width, char, pad, gap, rowPitch, top] = ["width", "char", "pad", "gap", "row", "top"].map((k) => get(g, k))
  const tints = get(g, "tints")
  const seen = new Map()
  ids.forEach((id, i) => seen.set(id, [...(seen.get(id) || []), i]))
  const repeats = [...seen].filter(([, p]) => p.length > 1)
  const tint = new Map(repeats.map(([id], k) => [id, tints[k % tints.length]]))
  const box = {x: [], y: [], y_token: [], y_id: [], w: [], token: [], id_text: [], fill: []}
  let left = 4, y = -top
  tokens.forEach((tok, i) => {
    const idText = `id ${ids[i]}`
    const w = Math.max(tok.length, idText.length) * char + pad
    if (left + w > width - 4 && left > 4) { left = 4; y -= rowPitch }
    box.x.push(left + w / 2); box.y.push(y); box.y_token.push(y + 8); box.y_id.push(y - 8); box.w.push(w)
    box.token.push(tok); box.id_text.push(idText); box.fill.push(tint.get(ids[i]) || "#ffffff")
    left += w + gap
  })
  strip_boxes.data = box
  const source = mode.active === 0 ? "Structured sentence" : `Preset ${controlIndex(payload, widgets, "preset")}`
  const table = field(payload, "tables")[controlIndex(payload, widgets, "table")]
  const below = y - rowPitch / 2 - 4
  strip_lines.data = {
    x: [4, 4, 4],
    y: [-10, below - 6, below - 24],
    color: ["#555555", "#222222", "#222222"],
    text: [
      `${source} · table: ${table} · T = ${T} tokens, V = ${V}, C = ${C}`,
      `one-hot (T, V) = (${T}, ${V}) · E (V, C) = (${V}, ${C}) → X (T, C) = (${T}, ${C})`,
      repeats.length
        ? "same id, same row of E: " + repeats.map(([id, p]) => `${words[id]} (positions ${p.join(", ")})`).join(", ")
        : "no token repeats",
    ],
  }
  let best = null  // the largest dot product between two positions i < j (the first, on a tie)
  for (let i = 0; i < T; i++) {
    for (let j = i + 1; j < T; j++) {
      const v = S[ids[i] * V + ids[j]]
      if (best === null || v > best[0]) best = [v, i, j]
    }
  }
  describe(description, escapeHtml(`Sentence “${tokens.join(" ")}” (ids ${ids.join(", ")}). ` +
    strip_lines.data.text.join(". ") + "." + (best === null ? "" : ` Largest dot product between two positions: ` +
      `${twoDecimals(best[0])}, “${tokens[best[1]]}” (${best[1]}) with “${tokens[best[2]]}” (${best[2]}).`)))
}
