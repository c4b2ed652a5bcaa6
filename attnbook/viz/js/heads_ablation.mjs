// Head ablation: each toggle switches one head off; together they pick one combination of the precomputed
// tables (one axis per head): the mean losses, the loss at each probe position and the last layer's attention.
// With several seeds a select picks the model first (the tables, and the letters of its probe window); the grey
// "intact" bars and line are that seed's model with every head kept.
// Python twin: attnbook.viz.heads.AblationPayload.view (the browser tests compare the two).
import {describe, escapeHtml, field, fmt, get, lowerTriangle, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, cells, bar_source, pos_source, pos_axis, map_axes, subtitle, description}, obj) => {
  const seeds = field(payload, "seeds"), several = seeds.length > 1
  const tokens = several ? pick(payload, "tokens", widgets) : field(payload, "tokens")[0]
  const losses = pick(payload, "losses", widgets)  // (2,): repeated tokens, first occurrences
  // the chosen seed's intact model (grey): the same widgets with every head kept (Python twin: _intact_state)
  const intact = new Map(field(payload, "controls").map((c) => get(c, "widget"))
    .map((w) => [w, w === "seed" ? get(widgets, w) : {active: false}]))
  const kept = pick(payload, "losses", intact)
  setColumns(bar_source, {
    current: Array.from(losses), text_current: Array.from(losses, (x) => fmt(x, 2)),
    intact: Array.from(kept), text_intact: Array.from(kept, (x) => fmt(x, 2)),
  })
  setColumns(pos_source, {
    current: Float32Array.from(pick(payload, "position_loss", widgets)),
    intact: Float32Array.from(pick(payload, "position_loss", intact)),
  })
  pos_axis.major_label_overrides = new Map(tokens.map((t, j) => [j, t]))
  const maps = pick(payload, "attention", widgets)  // (H, T, T)
  const [H, T] = maps.shape, columns = {query: [], key: []}
  for (let k = 0; k < H; k++) columns[`w${k}`] = lowerTriangle(maps, T, k * T * T)
  for (let i = 0; i < T; i++) {
    for (let j = 0; j <= i; j++) {  // the causal cells in numpy.tril_indices order
      columns.query.push(`${tokens[i]} (position ${i})`)
      columns.key.push(`${tokens[j]} (position ${j})`)
    }
  }
  setColumns(cells, columns)
  for (let a = 0; a < map_axes.length; a += 2) {
    map_axes[a].major_label_overrides = new Map(tokens.map((t, j) => [j, t]))
    map_axes[a + 1].major_label_overrides = new Map(tokens.map((t, i) => [-i + 0, t]))
  }
  const heads = field(payload, "heads")
  const toggles = field(payload, "controls").filter((c) => get(c, "widget") !== "seed")
  const off = toggles.map((c, b) => (get(widgets, get(c, "widget")).active ? heads[b] : null))
    .filter((h) => h !== null)
  subtitle.text = off.length ? `ablated: ${off.join(", ")}` : "intact model"
  const seed = several ? `${get(widgets, "seed").value}. ` : ""
  describe(description, escapeHtml(seed + (off.length ? `Ablated: ${off.join(", ")}` : "Intact model") +
    `. Loss on the repeated tokens ${fmt(losses[0], 2)} nats, on their first occurrences ${fmt(losses[1], 2)} nats.`))
}
