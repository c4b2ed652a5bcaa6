// Experiment comparison: runs A and B's curves of the chosen metric, recorded by the NumPy training loop.
// Both selects take the run keys, so run B's curve is the field picked with B's run on the "a" axis.
// Python twin: attnbook.viz.training.ComparisonPayload.view.
import {controlIndex, describe, escapeHtml, field, finiteXY, fmt, get, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, a_source, b_source, description}) => {
  const runB = {a: get(widgets, "b"), metric: get(widgets, "metric")}
  setColumns(a_source, finiteXY(pick(payload, "x", widgets), pick(payload, "y", widgets)))
  setColumns(b_source, finiteXY(pick(payload, "x", runB), pick(payload, "y", runB)))
  const runs = field(payload, "labels"), metric = get(widgets, "metric")
  const option = metric.options.find((o) => (Array.isArray(o) ? o[0] : o) === metric.value)
  const parts = [["A", "a", a_source], ["B", "b", b_source]].map(([who, w, src]) => {
    const {x, y} = src.data, n = y.length
    const last = n ? `last value ${fmt(y[n - 1], 3)} at step ${Math.round(x[n - 1])}` : "no finite value"
    return `run ${who}, ${runs[controlIndex(payload, widgets, w)]}: ${last}`
  })
  describe(description, escapeHtml(`${Array.isArray(option) ? option[1] : option}; ${parts.join("; ")}.`))
}
