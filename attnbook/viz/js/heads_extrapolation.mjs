// Length extrapolation: the select picks an evaluation length; the markers move along the loss curves and the
// right panel shows each scheme's mean loss at every position of windows of that length.
// Python twin: attnbook.viz.heads.ExtrapolationPayload.view (the browser tests compare the two).
import {cell, controlIndex, describe, escapeHtml, field, fmt, pick, setColumns, view} from "./lib.mjs"

export default ({payload, widgets, marker, pos_source, caption, description}, obj) => {
  const m = controlIndex(payload, widgets, "length")
  const lengths = field(payload, "lengths"), Te = lengths[m], M = lengths.length
  const schemes = field(payload, "schemes"), loss = field(payload, "loss")
  const pos = pick(payload, "position_loss", widgets)  // (R, lengths[-1]), NaN past Te
  const width = pos.shape[1]
  const data = {position: Float32Array.from({length: Te}, (_, i) => i)}
  schemes.forEach((s, k) => { data[s] = Float32Array.from(view(pos, k * width, Te)) })
  pos_source.data = data
  setColumns(marker, {x: Array(schemes.length).fill(Te), y: schemes.map((_, k) => loss[cell(k, m, M)])})
  caption.text = pick(payload, "captions", widgets)
  describe(description, caption.text + escapeHtml(` Mean loss on windows of ${Te} tokens: ` +
    schemes.map((sc, k) => `${sc} ${fmt(loss[cell(k, m, M)], 3)}`).join(", ") + "."))
}
