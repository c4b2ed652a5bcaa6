// Length extrapolation: the select picks an evaluation length; the marker moves along the loss curves and
// the right panel shows each scheme's mean loss at every position of windows of that length.
export default ({select, marker, pos_source, caption, schemes, lengths, loss, pos_loss, train_len}, obj) => {
  const Te = Number(select.value)
  const m = lengths.indexOf(Te)
  const S = schemes.length
  const M = lengths.length
  const P = pos_loss[m]  // (S, Te)
  const data = {position: Float32Array.from({length: Te}, (_, i) => i)}
  schemes.forEach((s, k) => { data[s] = P.slice(k * Te, (k + 1) * Te) })
  pos_source.data = data
  const ys = schemes.map((_, k) => loss[k * M + m])
  marker.data = {...marker.data, x: Array(S).fill(Te), y: ys}
  const parts = schemes.map((s, k) => `${s} ${ys[k].toFixed(3)} (at ${train_len}: ${loss[k * M].toFixed(3)})`)
  caption.text = `<b>Windows of ${Te} tokens</b> (${Te / train_len}× the training length). Mean loss in nats: ` +
                 parts.join(", ") + "."
}
