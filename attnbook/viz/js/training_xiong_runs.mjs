// The warm-up runs at the chosen peak learning rate: each run's validation-loss curve and final value.
export default ({setting_w, sources, readout, settings, curves, labels, finals}) => {
  const s = settings.indexOf(setting_w.value)
  sources.forEach((src, j) => { src.data = {step: curves[s][j][0], val: curves[s][j][1]} })
  readout.text = `Final validation loss at ${settings[s]}: ` +
    labels.map((lab, j) => `${lab} <b>${finals[s][j]}</b>`).join(" · ")
}
