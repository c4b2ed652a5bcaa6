// Head patterns: colour the layer x head map by the chosen statistic for the chosen sentence (or the mean over
// all), frame its top heads, and tabulate the top heads of every statistic. The values were computed by NumPy
// (attnbook.pretrained.patterns); this callback picks and formats them.
// Python twin: attnbook.viz.pretrained.PatternsPayload.view.
import {describe, escapeHtml, field, fmt, get, panelText, pick, setColumns, textRows} from "./lib.mjs"

export default ({payload, widgets, cells, top, mapper, plot, table_text, table_bands, statistic_labels, description}) => {
  const {sentence, pattern} = widgets
  const values = pick(payload, "values", widgets)  // (L, H)
  const labels = field(payload, "labels")
  const q = labels.indexOf(pattern.value)
  const high = field(payload, "highs")[q]
  const n = values.length
  const value = new Float32Array(n), text = new Array(n), text_color = new Array(n)
  for (let c = 0; c < n; c++) {
    value[c] = values[c]
    text[c] = fmt(values[c], 2)
    text_color[c] = values[c] > 0.6 * high ? "white" : "#222222"
  }
  setColumns(cells, {value, text, text_color})
  mapper.high = high

  const layers = pick(payload, "top_layer", widgets), heads = pick(payload, "top_head", widgets)  // (S, k)
  const tops = pick(payload, "top_value", widgets)
  const k = layers.shape[1]
  top.data = {
    x: Array.from({length: k}, (_, r) => heads[q * k + r]),
    y: Array.from({length: k}, (_, r) => -layers[q * k + r]),
    rank: Array.from({length: k}, (_, r) => r + 1),
  }
  const sentences = field(payload, "controls")[0]
  const isMean = sentence.value === get(sentences, "values").at(-1)
  const what = isMean ? "mean over all sentences" : "this sentence"
  plot.title.text = `${get(statistic_labels, labels[q])}: value of every head (${what}); red frames: the ${k} strongest`

  // table of every statistic's top heads (text glyphs: cheaper to update than a Div)
  const {columns, put} = textRows()
  const rowY = (r) => -14 - 22 * r
  const colX = (r) => 250 + 163 * r
  put(6, rowY(0), `statistic (${what})`, "bold")
  for (let r = 0; r < k; r++) put(colX(r), rowY(0), `#${r + 1}`, "bold")
  labels.forEach((key, s) => {
    const st = s === q ? "bold" : "normal"
    put(6, rowY(s + 1), get(statistic_labels, key), st)
    for (let r = 0; r < k; r++) {
      const c = s * k + r
      put(colX(r), rowY(s + 1), `layer ${layers[c] + 1}, head ${heads[c] + 1}: ${fmt(tops[c], 3)}`, st)
    }
  })
  table_text.data = columns
  table_bands.data = {x: [370], y: [rowY(q + 1)], w: [740], h: [22], color: ["#fde0dd"]}
  describe(description, escapeHtml(`${plot.title.text}. ${panelText(columns)}`))
}
