// Masks figure: show the mask and the attention of the state the widgets select, and the cost of every mask.
// Masks, weights, scores and counts were computed by NumPy at build time; this callback only looks them up.
export default ({type_select, window_slider, global_slider, length_slider, cells, rows, axes, caption, cost,
                 index, codes, weights, scores, row_sums, row_counts, labels, counts, empty_rows, captions, T},
                obj) => {
  // A slider the current type does not use switches to the type it belongs to, so it always has an effect.
  let kind = type_select.value
  if (obj === window_slider && kind !== "local" && kind !== "global-local") kind = "local"
  else if (obj === global_slider) kind = "global-local"
  else if (obj === length_slider) kind = "padding"
  if (kind !== type_select.value) {
    type_select.value = kind  // the select's own change runs this callback again, with the new type
    return
  }
  const w = window_slider.value, g = global_slider.value, L = length_slider.value
  const keyOf = (k) => k === "local" ? `local:${w}` : k === "global-local" ? `global-local:${w}:${g}`
    : k === "padding" ? `padding:${L}` : k
  const s = index[keyOf(kind)]
  const n = T * T, off = s * n

  const q_token = new Array(n), k_token = new Array(n), allowed = new Array(n), score = new Array(n)
  const weight = new Float32Array(n), mask_color = new Float32Array(n), weight_color = new Float32Array(n)
  const lab = labels[s]
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const c = i * T + j
      const code = codes[off + c]
      q_token[c] = lab[i]
      k_token[c] = lab[j]
      weight[c] = weights[off + c]
      mask_color[c] = code === 0 ? NaN : code
      weight_color[c] = code === 0 ? NaN : weight[c]
      allowed[c] = code === 0 ? "hidden (score −∞)" : code === 2 ? "may attend (global token)" : "may attend"
      score[c] = code === 0 ? "−∞" : scores[off + c].toFixed(3)
    }
  }
  cells.data = {...cells.data, q_token, k_token, allowed, score, weight, mask_color, weight_color}

  const n_keys = new Array(T), row_sum = new Array(T), color = new Array(T)
  for (let i = 0; i < T; i++) {
    const k = row_counts[s * T + i]
    n_keys[i] = `${k} key${k === 1 ? "" : "s"}`
    row_sum[i] = `Σ ${row_sums[s * T + i].toFixed(2)}`
    color[i] = k === 0 ? "#b2182b" : "#333333"
  }
  rows.data = {...rows.data, n_keys, row_sum, color}

  // Token labels change only with padding (<pad>) and global tokens (★): rebuild the axes only then.
  const shown = axes[0].major_label_overrides
  const get = (m, k) => m instanceof Map ? m.get(k) : m[k]
  if (lab.some((t, j) => get(shown, j) !== t)) {
    for (const [a, sign] of [[0, 1], [1, -1], [2, 1], [3, -1]])
      axes[a].major_label_overrides = new Map(lab.map((t, j) => [sign * j + 0, t]))
  }

  const fill = (text) => text.replaceAll("{w}", w).replaceAll("{g}", g).replaceAll("{L}", L)
    .replaceAll("{band}", 2 * w + 1)
  caption.text = fill(captions[kind]) + (empty_rows[s] === T ? captions.empty : "")

  // The cost table: every type at the current slider values, the current one highlighted.
  const settings = {none: "", causal: "", local: `w = ${w}`, "global-local": `w = ${w}, ${g} global`,
                    padding: `length ${L}`}
  const pct = (x) => `${(100 * x / n).toFixed(0)}%`
  const th = (t, align) => `<th style="text-align:${align};padding:0 10px">${t}</th>`
  const td = (t, align) => `<td style="text-align:${align};padding:0 10px">${t}</td>`
  let html = `<table style="border-collapse:collapse;font-size:90%;margin-top:4px"><tr>` +
    th("mask", "left") + th("settings", "left") + th("scores used", "right") + th(`share of T² = ${n}`, "right") +
    th("computed but unused (dense)", "right") + th("rows that see nothing", "right") + "</tr>"
  for (const k of Object.keys(settings)) {
    const t = index[keyOf(k)]
    const style = k === kind ? "background:#deebf7;font-weight:bold" : ""
    html += `<tr style="${style}">` + td(k, "left") + td(settings[k], "left") + td(counts[t], "right") +
      td(pct(counts[t]), "right") + td(n - counts[t], "right") + td(empty_rows[t], "right") + "</tr>"
  }
  html += "</table>"
  const c = counts[s]
  cost.text = `<b>Cost of this mask:</b> a dense kernel computes all ${n} scores and uses ${c} (${pct(c)}); ` +
    `a kernel that skips hidden pairs (like Longformer's banded one) would compute only ${c}.` + html
}
