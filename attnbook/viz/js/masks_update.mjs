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

  const xs = new Map(lab.map((t, j) => [j, t]))
  const ys = new Map(lab.map((t, i) => [-i, t]))
  axes[0].major_label_overrides = xs
  axes[1].major_label_overrides = ys
  axes[2].major_label_overrides = new Map(xs)
  axes[3].major_label_overrides = new Map(ys)

  const fill = (text) => text.replaceAll("{w}", w).replaceAll("{g}", g).replaceAll("{L}", L)
    .replaceAll("{band}", 2 * w + 1)
  caption.text = fill(captions[kind]) + (empty_rows[s] === T ? captions.empty : "")

  // The cost table: every type at the current slider values, the current one highlighted.
  const settings = {none: "", causal: "", local: `w = ${w}`, "global-local": `w = ${w}, ${g} global`,
                    padding: `length ${L}`}
  const pct = (x) => `${(100 * x / n).toFixed(0)}%`
  let html = `<table class="attnbook-cost" style="border-collapse:collapse;font-size:90%">` +
    `<tr><th style="text-align:left;padding:0 8px">mask</th><th style="text-align:left;padding:0 8px">settings</th>` +
    `<th style="padding:0 8px">scores used</th><th style="padding:0 8px">share of the T² = ${n} a dense kernel computes</th>` +
    `<th style="padding:0 8px">wasted by a dense kernel</th><th style="padding:0 8px">rows that see nothing</th></tr>`
  for (const k of Object.keys(settings)) {
    const t = index[keyOf(k)]
    const style = k === kind ? "background:#deebf7;font-weight:bold" : ""
    html += `<tr style="${style}"><td style="padding:0 8px">${k}</td><td style="padding:0 8px">${settings[k]}</td>` +
      `<td style="text-align:right;padding:0 8px">${counts[t]}</td><td style="text-align:right;padding:0 8px">${pct(counts[t])}</td>` +
      `<td style="text-align:right;padding:0 8px">${n - counts[t]}</td><td style="text-align:right;padding:0 8px">${empty_rows[t]}</td></tr>`
  }
  html += "</table>"
  const c = counts[s]
  cost.text = `<b>Cost of this mask:</b> a dense kernel computes all ${n} scores and uses ${c} (${pct(c)}); ` +
    `a kernel that skips hidden pairs (like Longformer's banded one) would compute only ${c}.` + html
}
