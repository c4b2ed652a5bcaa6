// Experiment comparison: runs A and B's curves of the chosen metric, recorded by the NumPy training loop.
// Both selects take the run keys, so run B's curve is the field picked with B's run on the "a" axis. The other
// seeds' curves (seed_x, seed_y: one row per seed) go to the thin lines' sources.
// Python twin: attnbook.viz.training.ComparisonPayload.view.
import {controlIndex, describe, escapeHtml, field, finiteXY, fmt, get, pick, setColumns, view} from "./lib.mjs"

export default ({payload, widgets, a_source, b_source, a_seeds, b_seeds, description}) => {
  const runB = {a: get(widgets, "b"), metric: get(widgets, "metric")}
  setColumns(a_source, finiteXY(pick(payload, "x", widgets), pick(payload, "y", widgets)))
  setColumns(b_source, finiteXY(pick(payload, "x", runB), pick(payload, "y", runB)))
  for (const [sources, state] of [[a_seeds, widgets], [b_seeds, runB]]) {
    const xs = pick(payload, "seed_x", state), ys = pick(payload, "seed_y", state)  // (S - 1, N)
    const n = xs.shape[1]
    sources.forEach((src, k) => setColumns(src, finiteXY(view(xs, k * n, n), view(ys, k * n, n))))
  }
  const runs = field(payload, "labels"), metric = get(widgets, "metric")
  const option = metric.options.find((o) => (Array.isArray(o) ? o[0] : o) === metric.value)
  const parts = [["A", "a", a_source], ["B", "b", b_source]].map(([who, w, src]) => {
    const {x, y} = src.data, n = y.length
    const last = n ? `last value ${fmt(y[n - 1], 3)} at step ${Math.round(x[n - 1])}` : "no finite value"
    return `run ${who}, ${runs[controlIndex(payload, widgets, w)]}: ${last}`
  })
  describe(description, escapeHtml(`${Array.isArray(option) ? option[1] : option}; ${parts.join("; ")}.`))
}
