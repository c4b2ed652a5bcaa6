// Head ablation: each toggle switches one head off; together they pick one combination of the precomputed
// tables (one axis per head): the mean losses, the loss at each probe position and the last layer's attention.
// Python twin: attnbook.viz.heads.AblationPayload.view (the browser tests compare the two).
import {describe, escapeHtml, field, fmt, get, lowerTriangle, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, cells, bar_source, pos_source, subtitle, description}, obj) => {
  const losses = pick(payload, "losses", widgets)  // (2,): repeated tokens, first occurrences
  setColumns(bar_source, {current: Array.from(losses), text_current: Array.from(losses, (x) => fmt(x, 2))})
  setColumns(pos_source, {current: Float32Array.from(pick(payload, "position_loss", widgets))})
  const maps = pick(payload, "attention", widgets)  // (H, T, T)
  const [H, T] = maps.shape, columns = {}
  for (let k = 0; k < H; k++) columns[`w${k}`] = lowerTriangle(maps, T, k * T * T)
  setColumns(cells, columns)
  const heads = field(payload, "heads")
  const off = field(payload, "controls").map((c, b) => (get(widgets, get(c, "widget")).active ? heads[b] : null))
    .filter((h) => h !== null)
  subtitle.text = off.length ? `ablated: ${off.join(", ")}` : "intact model"
  describe(description, escapeHtml((off.length ? `Ablated: ${off.join(", ")}` : "Intact model") +
    `. Loss on the repeated tokens ${fmt(losses[0], 2)} nats, on their first occurrences ${fmt(losses[1], 2)} nats.`))
}
