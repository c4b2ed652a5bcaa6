// Head importance: the select picks a model, the buttons plot values or ranks; the bars show the loss change of
// each removed head, largest first, labelled by head.
// Python twin: attnbook.viz.heads.ImportancePayload.view (the browser tests compare the two).
import {controlIndex, describe, escapeHtml, field, fmt, pick, setColumns, view} from "./lib.mjs"

export default ({payload, widgets, sc_source, bar_source, bar_axis, sc_axes, caption, description}, obj) => {
  setColumns(sc_source, {
    x: Float32Array.from(pick(payload, "x", widgets)),
    y: Float32Array.from(pick(payload, "y", widgets)),
  })
  const heads = field(payload, "heads"), colors = field(payload, "colors"), y = field(payload, "y")
  const n = heads.length, k = controlIndex(payload, widgets, "model")
  const values = view(y, 2 * k * n, n)  // model k, scale 0: the loss changes themselves
  const order = pick(payload, "order", widgets)
  setColumns(bar_source, {
    delta: Float32Array.from(order, (h) => values[h]),
    label: Array.from(order, (h) => heads[h]),
    color: Array.from(order, (h) => colors[h]),
  })
  bar_axis.major_label_overrides = new Map(Array.from(order, (h, i) => [i, heads[h]]))
  sc_axes[0].axis_label = pick(payload, "x_label", widgets)
  sc_axes[1].axis_label = pick(payload, "y_label", widgets)
  caption.text = pick(payload, "captions", widgets)
  describe(description, caption.text + escapeHtml(` Largest loss change when one head is removed: ` +
    `${heads[order[0]]}, ${fmt(values[order[0]], 3)}.`))
}
