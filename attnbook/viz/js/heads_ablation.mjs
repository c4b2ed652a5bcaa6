// Head ablation: the toggles form a bit pattern (bit l*H+h set = head ablated) that picks one row of the
// precomputed tables: mean losses, the loss at each probe position and the last layer's attention.
export default ({toggles, row_of, bar_source, pos_source, sources, caption, repeat_loss, fresh_loss,
                 position_loss, tri, T, labels}, obj) => {
  let code = 0
  toggles.forEach((t, b) => { if (t.active) code |= (1 << b) })
  const k = row_of[code]
  bar_source.data = {...bar_source.data, current: [repeat_loss[k], fresh_loss[k]]}
  pos_source.data = {...pos_source.data, current: position_loss.slice(k * T, (k + 1) * T)}
  const n = T * (T + 1) / 2
  const H = sources.length
  for (let h = 0; h < H; h++) {
    const w = new Float32Array(T * T)
    const base = (k * H + h) * n
    for (let i = 0; i < T; i++) {
      const r = base + i * (i + 1) / 2
      for (let j = 0; j <= i; j++) w[i * T + j] = tri[r + j]
    }
    sources[h].data = {...sources[h].data, weight: w}
  }
  const off = labels.filter((_, b) => code & (1 << b))
  const what = off.length ? `Ablated: <b>${off.join(", ")}</b>.` : "<b>Intact model</b> (no head ablated)."
  caption.text = `${what} Loss on repeated tokens ${repeat_loss[k].toFixed(3)} nats ` +
                 `(intact ${repeat_loss[0].toFixed(3)}); on first occurrences ${fresh_loss[k].toFixed(3)} ` +
                 `(intact ${fresh_loss[0].toFixed(3)}).`
}
