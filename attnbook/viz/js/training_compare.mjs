// Experiment comparison: runs A and B's curves of the chosen metric, recorded by the NumPy training loop.
// Both selects take the run keys, so run B's curve is the field picked with B's run on the "a" axis.
// Python twin: attnbook.viz.training.ComparisonPayload.view.
import {finiteXY, get, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, a_source, b_source}) => {
  const runB = {a: get(widgets, "b"), metric: get(widgets, "metric")}
  setColumns(a_source, finiteXY(pick(payload, "x", widgets), pick(payload, "y", widgets)))
  setColumns(b_source, finiteXY(pick(payload, "x", runB), pick(payload, "y", runB)))
}
