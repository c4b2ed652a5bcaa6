// One sentence, every position scheme: the chosen head's attention, its change from no position, and how far
// apart the rows of a repeated word are. Python twin: attnbook.viz.position.SchemesPayload.view.
import {describe, field, fmt, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, cells, plot, readout, description}) => {
  const h = widgets.head.value
  setColumns(cells, {
    weight: Float32Array.from(pick(payload, "weights", widgets)),
    change: Float32Array.from(pick(payload, "change", widgets)),
  })
  plot.title.text = `Attention weights, head ${h}`
  const label = field(payload, "twin_label"), t = pick(payload, "twin_diff", widgets)[0]
  readout.text = `<b>${widgets.scheme.value}</b>, head ${h}` + (label === "" ? "." :
    `: the rows of ${label} differ by at most <b>${fmt(t, 3)}</b>` +
    (t < 1e-6 ? " — identical, since nothing tells the two apart." : "."))
  describe(description, readout.text)
}
