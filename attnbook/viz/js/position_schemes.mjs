// One sentence, every position scheme: the chosen head's attention and its mean weight per key-query distance.
export default ({scheme, head, readout, dist, source, weights, profile, schemes, scheme_labels, twin_diff,
                 twin_label}) => {
  const s = schemes.indexOf(scheme.value)
  const h = Number(head.value) - 1
  const H = weights.shape[1]
  const n = weights.shape[2] * weights.shape[3]
  const D = profile.shape[2]
  const w = new Float32Array(n)
  const start = (s * H + h) * n
  for (let i = 0; i < n; i++) w[i] = weights[start + i]
  source.data = {...source.data, weight: w}
  const p = new Float32Array(D)
  for (let i = 0; i < D; i++) p[i] = profile[(s * H + h) * D + i]
  dist.data = {...dist.data, w: p}
  const t = twin_diff[s * H + h]
  readout.text = `<b>${scheme_labels[s]}</b>, head ${h + 1}` + (twin_label === "" ? "." :
    `: the rows of ${twin_label} differ by at most <b>${t.toFixed(3)}</b>` +
    (t < 1e-6 ? " — identical, since nothing tells the two apart." : "."))
}
