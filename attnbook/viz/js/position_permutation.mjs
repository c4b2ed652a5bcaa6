// Permutation figure: show the shuffled sentence's attention and its difference from the original, for the
// chosen word order and position scheme. NumPy computed both matrices; this only picks them and relabels axes.
export default ({perm, scheme, readout, left_source, right_source, left_x, left_y, left_plot, shuffled, diff,
                 max_diff, labels, schemes, scheme_labels}) => {
  const p = Number(perm.value)
  const s = schemes.indexOf(scheme.value)
  const lab = labels[p]
  const T = lab.length
  const n = T * T
  const start = (p * schemes.length + s) * n
  const w = new Float32Array(n)
  const d = new Float32Array(n)
  const q_token = new Array(n)
  const k_token = new Array(n)
  for (let i = 0; i < n; i++) {
    w[i] = shuffled[start + i]
    d[i] = diff[start + i]
    q_token[i] = lab[Math.floor(i / T)]
    k_token[i] = lab[i % T]
  }
  left_source.data = {...left_source.data, weight: w, q_token, k_token}
  right_source.data = {...right_source.data, weight: d}
  left_x.major_label_overrides = new Map(lab.map((t, j) => [j, t]))
  left_y.major_label_overrides = new Map(lab.map((t, i) => [-i, t]))
  left_plot.title.text = p === 0 ? "Attention of the sentence (original order)" : "Attention of the shuffled sentence"
  const m = max_diff[p * schemes.length + s]
  const verdict = m < 1e-6
    ? "the attention of the shuffled sentence is the original attention with its rows and columns shuffled"
    : "shuffling changed the attention itself, not just its order: the model can tell the positions apart"
  readout.text = `<b>${scheme_labels[s]}</b>, order “${lab.join(" ")}”: largest |difference| = ` +
    `<b>${m.toExponential(2)}</b>, ${verdict}.`
}
