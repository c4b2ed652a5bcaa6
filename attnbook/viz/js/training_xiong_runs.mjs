// The warm-up runs at the chosen peak learning rate: each run's validation-loss curve and final value.
export default ({setting_w, sources, plot, readout, settings, curves, labels, finals}) => {
  const s = settings.indexOf(setting_w.value)
  sources.forEach((src, j) => { src.data = {step: curves[s][j][0], val: curves[s][j][1]} })
  plot.title.text = `Validation loss during training, peak learning rate ${settings[s]}`
  readout.text = `Final validation loss at ${settings[s]}: ` +
    labels.map((lab, j) => `${lab} <b>${finals[s][j]}</b>`).join(" · ")
}
