// Head ablation: the toggles form a bit pattern (bit l*H+h set = head ablated) that picks one row of the
// precomputed tables: mean losses, the loss at each probe position and the last layer's attention.
export default ({toggles, row_of, bar_source, pos_source, sources, bars, repeat_loss, fresh_loss,
                 position_loss, tri, T, labels}, obj) => {
  let code = 0
  toggles.forEach((t, b) => { if (t.active) code |= (1 << b) })
  const k = row_of[code]
  bar_source.data = {...bar_source.data, current: [repeat_loss[k], fresh_loss[k]],
                     text_current: [repeat_loss[k].toFixed(2), fresh_loss[k].toFixed(2)]}
  pos_source.data = {...pos_source.data, current: position_loss.slice(k * T, (k + 1) * T)}
  // last layer's attention under this mask: causal triangles copied into the weight columns in place
  const n = T * (T + 1) / 2
  const flat = new Float32Array(tri.buffer, tri.byteOffset, tri.length)  // plain view: NDArray's subarray keeps its shape
  const H = sources.length
  for (let h = 0; h < H; h++) {
    sources[h].data.weight.set(flat.subarray((k * H + h) * n, (k * H + h + 1) * n))
    sources[h].change.emit()
  }
  const off = labels.filter((_, b) => code & (1 << b))
  bars.title.text = off.length ? `Ablated ${off.join(", ")}: mean loss on held-out windows`
                               : "Intact model: mean loss on held-out windows"
}
