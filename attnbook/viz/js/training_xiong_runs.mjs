// The warm-up runs at the chosen peak learning rate: each run's validation-loss curve and final value.
// Python twin: attnbook.viz.training.XiongPayload.view.
import {describe, escapeHtml, field, finiteXY, get, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, sources, readout, other, description}) => {
  const step = pick(payload, "step", widgets), val = pick(payload, "val", widgets), N = step.shape[1]
  sources.forEach((src, j) => {
    const c = finiteXY(step.slice(j * N, (j + 1) * N), val.slice(j * N, (j + 1) * N))
    setColumns(src, {step: c.x, val: c.y})
  })
  const finals = pick(payload, "finals", widgets)
  readout.text = `Final validation loss at ${escapeHtml(get(widgets, "setting").value)}: ` +
    field(payload, "run_labels").map((lab, j) => `${escapeHtml(lab)} <b>${finals[j]}</b>`).join(" · ")
  describe(description, other.text + " " + readout.text)
}
