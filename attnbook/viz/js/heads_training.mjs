// Induction heads forming: the slider picks a training snapshot (every head's attention map, the markers and
// cursors on the curves), the select which per-head score the curves show.
// Python twin: attnbook.viz.heads.TrainingPayload.view (the browser tests compare the two).
import {controlIndex, describe, escapeHtml, field, fmt, lowerTriangle, pick, setColumns, view} from "./lib.mjs"

export default ({payload, widgets, cells, score_lines, score_marker, loss_marker, cursors, loss_plot,
                 score_plot, description}, obj) => {
  const steps = field(payload, "steps"), S = steps.length
  const scores = pick(payload, "scores", widgets)  // (S, n)
  const n = scores.shape[1]
  const s = controlIndex(payload, widgets, "step"), step = steps[s]
  if (obj !== widgets.score) {  // the maps depend on the snapshot only
    const maps = pick(payload, "attention", widgets)  // (n, T, T)
    const T = maps.shape[1], columns = {}
    for (let k = 0; k < n; k++) columns[`w${k}`] = lowerTriangle(maps, T, k * T * T)
    setColumns(cells, columns)
  }
  if (obj !== widgets.step) {  // the curves depend on the score only
    const columns = {}
    for (let k = 0; k < n; k++) columns[`h${k}`] = Float32Array.from({length: S}, (_, t) => scores[t * n + k])
    setColumns(score_lines, columns)
    score_plot.y_range.end = pick(payload, "score_top", widgets)[0]
  }
  const loss = pick(payload, "loss_at", widgets)[0]
  setColumns(score_marker, {x: Array(n).fill(step), y: Array.from(view(scores, s * n, n))})
  setColumns(loss_marker, {x: [step], y: [loss]})
  for (const cursor of cursors) cursor.location = step
  // text goes into titles, not a Div: a Div change re-lays-out the whole (large) figure
  widgets.step.title = `Training step ${step} (snapshot ${s + 1} of ${S})`
  loss_plot.title.text = `Validation loss at step ${step}: ${fmt(loss, 3)} nats`
  score_plot.title.text = `${pick(payload, "score_titles", widgets)} at step ${step}`
  const heads = field(payload, "heads")
  describe(description, escapeHtml(`Training step ${step} (snapshot ${s + 1} of ${S}): validation loss ` +
    `${fmt(loss, 3)} nats. ${pick(payload, "score_titles", widgets)}: ` +
    heads.map((h, k) => `${h} ${fmt(scores[s * n + k], 2)}`).join(", ") + "."))
}
