// Attention of one sentence under random (initial) or trained parameters, for the chosen layer and head; the
// toggle's label says what clicking it does. Python twin: attnbook.viz.training.AttentionPayload.view.
import {describe, escapeHtml, field, fmt, get, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, cells, readout, description}) => {
  const toggle = get(widgets, "trained"), shown = toggle.active
  setColumns(cells, {weight: Float32Array.from(pick(payload, "weights", widgets))})
  toggle.label = pick(payload, "toggle_labels", widgets)

  const [e0, e1] = pick(payload, "entropy", widgets)
  const labels = field(payload, "labels"), T = labels.length
  const last = pick(payload, "top", widgets)[0]
  const what = shown ? "after training" : "at initialisation"
  readout.text = `<b>Layer ${get(widgets, "layer").value}, head ${get(widgets, "head").value}, ${what}.</b> ` +
    `Mean entropy of a row in this head: <b>${fmt(e0)}</b> nats at initialisation, <b>${fmt(e1)}</b> after ` +
    `training (uniform over the visible keys: ${fmt(field(payload, "uniform"))}).<br>Showing ${what}: the last ` +
    `character “${escapeHtml(labels[T - 1])}” attends most to position ${last + 1} (“${escapeHtml(labels[last])}”).`
  describe(description, readout.text)
}
