// Sampling: show the precomputed sample for the chosen prompt, temperature and top-k, and the distribution
// of the character after the prompt under the same setting (both computed by NumPy with one seed).
export default ({prompt_w, temp_w, k_w, bars, text, prompts, temperatures, k_labels, samples, probs,
                 chars}) => {
  const p = Number(prompt_w.value)
  let ti = 0
  for (let i = 1; i < temperatures.length; i++) {
    if (Math.abs(temperatures[i] - temp_w.value) < Math.abs(temperatures[ti] - temp_w.value)) ti = i
  }
  const ki = k_labels.indexOf(k_w.value)
  const nT = probs.shape[1]
  const nK = probs.shape[2]
  const V = probs.shape[3]
  const state = (p * nT + ti) * nK + ki
  const top = probs.slice(state * V, (state + 1) * V)
  bars.data = {x: bars.data.x, top}
  let best = 0
  for (let v = 1; v < V; v++) if (top[v] > top[best]) best = v
  const kept = top.reduce((n, q) => n + (q > 0 ? 1 : 0), 0)
  // Everything that changes is written into the fixed-size Div (a new plot title would re-lay the plot out).
  text.text = `<div style="margin-bottom:6px">τ = <b>${temperatures[ti].toFixed(2)}</b>, ` +
    `top-k = <b>${k_labels[ki]}</b>: ${kept} of ${V} characters possible next, the most likely ` +
    `“${chars[best]}” with p = ${top[best].toFixed(3)}.</div>` + '<div style="font-family:monospace;white-space:pre-wrap;font-size:13px;line-height:1.35">' +
    `<span style="color:#888">${prompts[p]}</span><b>${samples[state]}</b></div>`
}
