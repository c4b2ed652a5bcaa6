// One sentence, every position scheme: the chosen head's attention and how it differs from no position.
// Both matrices were computed by NumPy; this only picks them.
export default ({scheme, head, readout, heat, source, change_source, weights, change, schemes, scheme_labels,
                 twin_diff, twin_label}) => {
  const s = schemes.indexOf(scheme.value)
  const h = Number(head.value) - 1
  const H = weights.shape[1]
  const n = weights.shape[2] * weights.shape[3]
  const start = (s * H + h) * n
  const w = new Float32Array(n)
  const d = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    w[i] = weights[start + i]
    d[i] = change[start + i]
  }
  source.data = {...source.data, weight: w}
  change_source.data = {...change_source.data, weight: d}
  heat.title.text = `Attention weights, head ${h + 1}`
  const t = twin_diff[s * H + h]
  readout.text = `<b>${scheme_labels[s]}</b>, head ${h + 1}` + (twin_label === "" ? "." :
    `: the rows of ${twin_label} differ by at most <b>${t.toFixed(3)}</b>` +
    (t < 1e-6 ? " — identical, since nothing tells the two apart." : "."))
}
