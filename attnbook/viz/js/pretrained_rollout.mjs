// Raw attention (head mean of one layer) beside attention rollout up to that layer (Abnar & Zuidema 2020), with
// or without the residual term; the titles quote the mean weight of a query on itself, on [CLS] and on [SEP].
// Python twin: attnbook.viz.pretrained.RolloutPayload.view.
import {corner, describe, escapeHtml, fmt, pick, tokenGrid} from "./lib.mjs"

export default ({payload, widgets, plots, cells, axes, description}) => {
  const {layer, residual} = widgets
  const T = pick(payload, "lengths", widgets)[0]
  const toks = pick(payload, "tokens", widgets).slice(0, T)
  const shares = (f) => Array.from(pick(payload, f, widgets), (x) => fmt(x, 2)).join(" · ")
  const titles = [
    `Raw, layer ${layer.value} (head mean): ${shares("raw_shares")}`,
    `Rollout 1–${layer.value}${residual.active ? "" : ", no residual"}: ${shares("rollout_shares")}`,
  ]
  ;["raw", "rollout"].forEach((f, k) => {
    tokenGrid(cells[k], plots[k], axes[k], toks, {weight: corner(pick(payload, f, widgets), T)})
    plots[k].title.text = titles[k]
  })
  describe(description, escapeHtml(`Sentence “${toks.join(" ")}”. ${titles.join(". ")}.`))
}
