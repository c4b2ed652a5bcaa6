// Sinusoidal table: outline the chosen dimension in the matrix and draw its wave across positions.
export default ({slider, wave, band, line, readout, pe, wavelength, T}) => {
  const c = slider.value
  const value = new Float32Array(T)
  for (let t = 0; t < T; t++) value[t] = pe[c * T + t]
  wave.data = {...wave.data, value}
  band.data = {x: [c], y: [(T - 1) / 2]}
  const fn = c % 2 === 0 ? "sin" : "cos"
  const i = Math.floor(c / 2)
  line.title.text = `dimension c = ${c}: ${fn}(t / 10000^(${2 * i}/${wavelength.length}))`
  const lam = wavelength[c]
  readout.text = `Dimension <b>${c}</b> is a ${fn === "sin" ? "sine" : "cosine"} of pair i = ${i} with ` +
    `wavelength 2π·10000^(2i/C) = <b>${lam < 1000 ? lam.toFixed(2) : lam.toExponential(2)}</b> positions` +
    (lam > T ? ` — longer than the ${T} positions shown, so it barely moves here.` : ".")
}
