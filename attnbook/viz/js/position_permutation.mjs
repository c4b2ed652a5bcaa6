// Permutation figure: the shuffled sentence's attention, its difference from the original once un-shuffled,
// and the largest |difference|, for the word order and scheme the selects hold.
// Python twin: attnbook.viz.position.PermutationPayload.view (the browser tests compare the two).
import {describe, fmtExp, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, cells, plot, axes, readout, description}) => {
  const lab = pick(payload, "labels", widgets)
  const T = lab.length
  const q_token = [], k_token = []
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) { q_token.push(lab[i]); k_token.push(lab[j]) }
  setColumns(cells, {
    weight: Float32Array.from(pick(payload, "shuffled", widgets)),
    diff: Float32Array.from(pick(payload, "diff", widgets)),
    q_token, k_token,
  })
  const [x_axis, y_axis] = axes
  x_axis.major_label_overrides = new Map(lab.map((t, j) => [j, t]))
  y_axis.major_label_overrides = new Map(lab.map((t, i) => [-i, t]))
  plot.title.text = pick(payload, "titles", widgets)
  const m = pick(payload, "max_diff", widgets)[0]
  const verdict = m < 1e-6
    ? "the attention of the shuffled sentence is the original attention with its rows and columns shuffled"
    : "shuffling changed the attention itself, not just its order: the model can tell the positions apart"
  readout.text = `<b>${widgets.scheme.value}</b>, order “${lab.join(" ")}”: largest |difference| = ` +
    `<b>${fmtExp(m, 2)}</b>, ${verdict}.`
  describe(description, readout.text)
}
