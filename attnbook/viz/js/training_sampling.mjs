// Sampling: the precomputed sample for the chosen prompt, temperature and top-k, and the distribution of the
// character after the prompt under the same setting (both computed by NumPy with one seed).
// Python twin: attnbook.viz.training.SamplingPayload.view.
import {describe, escapeHtml, field, fmt, get, pick, setColumns} from "./lib.mjs"

export default ({payload, widgets, bars, text, description}) => {
  const probs = pick(payload, "probs", widgets), V = probs.length
  setColumns(bars, {top: Float32Array.from(probs)})
  let best = 0, kept = 0
  for (let v = 0; v < V; v++) {
    if (probs[v] > probs[best]) best = v
    if (probs[v] > 0) kept += 1
  }
  // Everything that changes is written into the fixed-size Div (a new plot title would re-lay the plot out).
  text.text = `<div style="margin-bottom:6px">τ = <b>${fmt(get(widgets, "temperature").value)}</b>, ` +
    `top-k = <b>${get(widgets, "topk").value}</b>: ${kept} of ${V} characters possible next, the most likely ` +
    `“${escapeHtml(field(payload, "chars")[best])}” with p = ${fmt(probs[best], 3)}.</div>` +
    '<div style="font-family:monospace;white-space:pre-wrap;font-size:13px;line-height:1.35">' +
    `<span class="attnbook-muted">${escapeHtml(pick(payload, "prompts", widgets))}</span>` +
    `<b>${escapeHtml(pick(payload, "samples", widgets))}</b></div>`
  describe(description, text.text)
}
