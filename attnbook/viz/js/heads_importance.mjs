// Head importance: the select picks a model, the radio buttons plot values or ranks; the bars show the loss
// change of each removed head (largest first). Everything was computed by NumPy at build time.
export default ({select, axes, sc_source, bar_source, bar_axis, sc_xaxis, sc_yaxis, caption, labels, head_labels,
                 head_colors, values, ranks, order, rho, below, threshold, n}, obj) => {
  const k = Number(select.value)
  const useRanks = axes.active === 1
  const src = useRanks ? ranks : values
  const x = src.slice((k * 2) * n, (k * 2 + 1) * n)
  const y = src.slice((k * 2 + 1) * n, (k * 2 + 2) * n)
  sc_source.data = {x, y, label: head_labels, color: head_colors}
  sc_xaxis.axis_label = useRanks ? "rank of importance (1 = least)" : "importance  E|∂L/∂ξ|"
  sc_yaxis.axis_label = useRanks ? "rank of loss change (1 = least)" : "loss change when removed (nats)"
  const ord = order.slice(k * n, (k + 1) * n)
  const delta = new Float32Array(n)
  const lab = [], col = [], over = {}
  ord.forEach((h, i) => {
    delta[i] = values[(k * 2 + 1) * n + h]
    lab.push(head_labels[h]); col.push(head_colors[h]); over[i] = head_labels[h]
  })
  bar_source.data = {x: Float32Array.from({length: n}, (_, i) => i), delta, label: lab, color: col}
  bar_axis.major_label_overrides = over
  const r = Number.isFinite(rho[k]) ? rho[k].toFixed(3) : "undefined"
  caption.text = `<b>${labels[k]}</b>: Spearman rank correlation between importance and loss change ` +
                 `ρ = <b>${r}</b>; ${below[k]} of ${n} heads cost less than ${threshold} nats when removed alone.`
}
