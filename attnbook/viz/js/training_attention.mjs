// Attention of one sentence under random (initial) or trained parameters, for the chosen layer and head.
// The weights, row entropies and arg-max keys were computed by NumPy; this only picks one (T, T) slice.
export default ({toggle, layer_w, head_w, source, readout, weights, entropy, top, labels, uniform}) => {
  const s = toggle.active ? 1 : 0
  const l = Number(layer_w.value) - 1
  const h = Number(head_w.value) - 1
  const L = weights.shape[1]
  const H = weights.shape[2]
  const T = weights.shape[3]
  const start = ((s * L + l) * H + h) * T * T
  source.data = {...source.data, weight: weights.slice(start, start + T * T)}
  toggle.label = s ? "Trained weights" : "Random weights"
  const state = s ? "after training" : "at initialisation"
  const e0 = entropy[(0 * L + l) * H + h]
  const e1 = entropy[(1 * L + l) * H + h]
  const last = top[((s * L + l) * H + h) * T + (T - 1)]
  readout.text = `<b>Layer ${l + 1}, head ${h + 1}, ${state}.</b> Mean entropy of a row in this head: <b>${e0.toFixed(2)}</b> nats at initialisation, ` +
    `<b>${e1.toFixed(2)}</b> after training (uniform over the visible keys: ${uniform.toFixed(2)}).<br>` +
    `Showing ${state}: the last character “${labels[T - 1]}” attends most to position ${last + 1} ` +
    `(“${labels[last]}”).`
}
