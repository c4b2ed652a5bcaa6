// Sinusoidal table: outline the chosen dimension in the table, draw its wave across positions, say its wavelength.
// Python twin: attnbook.viz.position.SinusoidalPayload.view.
import {describe, field, fmt, fmtExp, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, wave, band, line, readout, description}) => {
  const c = widgets.dim.value
  const value = Float32Array.from(pick(payload, "waves", widgets))
  const T = value.length, C = field(payload, "wavelength").length, base = field(payload, "base")
  setColumns(wave, {value})
  setColumns(band, {x: [c], y: [-(T - 1) / 2]})
  const fn = c % 2 === 0 ? "sin" : "cos"
  const i = Math.floor(c / 2)
  line.title.text = `dimension c = ${c}: ${fn}(t / ${base}^(${2 * i}/${C}))`
  const lam = pick(payload, "wavelength", widgets)[0]
  readout.text = `Dimension <b>${c}</b> is a ${fn === "sin" ? "sine" : "cosine"} of pair i = ${i} with ` +
    `wavelength 2π·${base}^(2i/C) = <b>${lam < 1000 ? fmt(lam, 2) : fmtExp(lam, 2)}</b> positions` +
    (lam > T ? ` — longer than the ${T} positions shown, so it barely moves here.` : ".")
  describe(description, readout.text)
}
