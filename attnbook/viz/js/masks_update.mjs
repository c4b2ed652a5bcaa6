// Masks figure: show the mask and the attention of the state the widgets select, and the cost of every mask.
// Python twin: attnbook.viz.masks.view (the browser tests compare the two).
import {cell, describe, escapeHtml, field, fmt, get, pick, setColumns} from "./lib.mjs"

const KEYS = {none: "none", causal: "causal", local: "local", "global-local": "global", padding: "padding"}

export default ({payload, widgets, cells, rows, axes, caption, cost, description}, obj) => {
  const {type, window: win, global: glob, length} = widgets
  // A slider the current type does not use switches to the type it belongs to, so it always has an effect.
  let kind = type.value
  if (obj === win && kind !== "local" && kind !== "global-local") kind = "local"
  else if (obj === glob) kind = "global-local"
  else if (obj === length) kind = "padding"
  if (kind !== type.value) {
    type.value = kind  // the select's own change runs this callback again, with the new type
    return
  }
  const key = KEYS[kind]
  const codes = pick(payload, `codes_${key}`, widgets), weights = pick(payload, `weights_${key}`, widgets)
  const scores = pick(payload, `scores_${key}`, widgets), sums = pick(payload, `row_sums_${key}`, widgets)
  const lab = key === "global" ? pick(payload, "labels_global", widgets)
    : key === "padding" ? pick(payload, "labels_padding", widgets) : field(payload, "tokens")
  const T = lab.length, n = T * T

  const q_token = new Array(n), k_token = new Array(n), allowed = new Array(n), score = new Array(n)
  const weight = new Float32Array(n), mask_color = new Float32Array(n), weight_color = new Float32Array(n)
  const counts = new Array(T).fill(0)
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const c = cell(i, j, T), code = codes[c]
      q_token[c] = lab[i]
      k_token[c] = lab[j]
      weight[c] = weights[c]
      mask_color[c] = code === 0 ? NaN : code
      weight_color[c] = code === 0 ? NaN : weights[c]
      allowed[c] = code === 0 ? "hidden (score −∞)" : code === 2 ? "may attend (global token)" : "may attend"
      score[c] = code === 0 ? "−∞" : fmt(scores[c], 3)
      if (code !== 0) counts[i] += 1
    }
  }
  setColumns(cells, {q_token, k_token, allowed, score, weight, mask_color, weight_color})
  setColumns(rows, {
    n_keys: counts.map((k) => `${k} key${k === 1 ? "" : "s"}`),
    row_sum: Array.from(sums, (s) => `Σ ${fmt(s, 2)}`),
    color: counts.map((k) => (k === 0 ? "#b2182b" : "#333333")),
  })

  // Token labels change only with padding (<pad>) and global tokens (★): rebuild the axes only then.
  if (lab.some((t, j) => get(axes[0].major_label_overrides, j) !== t)) {
    for (const [a, sign] of [[0, 1], [1, -1], [2, 1], [3, -1]])
      axes[a].major_label_overrides = new Map(lab.map((t, j) => [sign * j + 0, t]))
  }

  const w = win.value, g = glob.value, L = length.value
  const captions = field(payload, "captions")
  const fill = (text) => text.replaceAll("{w}", w).replaceAll("{g}", g).replaceAll("{L}", L)
    .replaceAll("{band}", 2 * w + 1)
  const allowedCount = (codesOf) => codesOf.reduce((s, c) => s + (c !== 0 ? 1 : 0), 0)
  const emptyRows = (codesOf) => {
    let e = 0
    for (let i = 0; i < T; i++) if (codesOf.subarray(i * T, (i + 1) * T).every((c) => c === 0)) e += 1
    return e
  }
  caption.text = fill(get(captions, kind)) + (emptyRows(codes) === T ? get(captions, "empty") : "")

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
    const c = pick(payload, `codes_${KEYS[k]}`, widgets), used = allowedCount(c)
    html += (k === kind ? `<tr class="attnbook-current" style="font-weight:bold">` : "<tr>") + td(k, "left") + td(settings[k], "left") + td(used, "right") +
      td(pct(used), "right") + td(n - used, "right") + td(emptyRows(c), "right") + "</tr>"
  }
  html += "</table>"
  const c = allowedCount(codes)
  let best = -1
  for (let k = 0; k < n; k++) if (codes[k] !== 0 && (best < 0 || weights[k] > weights[best])) best = k
  describe(description, escapeHtml(`The ${kind} mask` + (settings[kind] ? ` (${settings[kind]})` : "") +
    `: ${c} of ${n} query-key pairs may attend (${fmt(100 * c / n, 0)}%); ${emptyRows(codes)} of ${T} rows see ` +
    "no key. " + (best < 0 ? "Every weight is zero." : `Largest weight ${fmt(weights[best], 2)}, ` +
      `from query “${lab[Math.floor(best / T)]}” to key “${lab[best % T]}”.`)))
  cost.text = `<b>Cost of this mask:</b> a dense kernel computes all ${n} scores and uses ${c} (${pct(c)}); ` +
    `a kernel that skips hidden pairs (like Longformer's banded one) would compute only ${c}.` + html
}
