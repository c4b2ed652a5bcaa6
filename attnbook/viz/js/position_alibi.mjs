// ALiBi: the chosen head's causal bias (masked keys NaN, drawn grey), its slope bar highlighted, and the last
// query's weights when every content score is equal. Python twin: attnbook.viz.position.AlibiPayload.view.
import {describe, field, fmt, pick, setColumns} from "./lib.mjs"

const PICKED = "#08519c", OTHER = "#c6dbef"

export default ({payload, widgets, cells, bars, weights, grid, look, readout, description}) => {
  const h = widgets.head.value
  const w = Float32Array.from(pick(payload, "last", widgets))
  const T = w.length, H = field(payload, "slopes").length
  setColumns(cells, {value: Float32Array.from(pick(payload, "bias", widgets))})
  setColumns(bars, {color: Array.from({length: H}, (_, k) => (k === h - 1 ? PICKED : OTHER))})
  setColumns(weights, {w})
  const m = pick(payload, "slopes", widgets)[0]
  const e = Math.log2(m)
  grid.title.text = `Head ${h}: bias −${fmt(m, 4)} · (i − j)`
  look.title.text = `Head ${h}: last query's weights if every content score were equal`
  readout.text = `Head <b>${h}</b> of ${H}: slope m = 2^${fmt(e, Number.isInteger(e) ? 0 : 2)} = ` +
    `<b>${fmt(m, 4)}</b>; a key ${T - 1} positions back loses ${fmt(m * (T - 1), 2)} from its score. ` +
    `With equal content scores, half the weight falls on the last <b>${pick(payload, "half", widgets)[0]}</b> ` +
    `of ${T} positions.`
  describe(description, readout.text)
}
