// Chapter 8's "type it twice": the reader's text through the trained induction model and the same model at
// initialisation, both computed in the page by runtime/gpt.mjs (chapter 10's forward pass, with a key/value cache
// each). Python twin for the opening text: attnbook.viz.induction_text.InductionTextPayload.view.
//
// Typing runs both models (the cache recomputes only the positions after the first changed character); the model
// toggle, layer and head redraw from the caches. The readout gives the chosen head's weight on the character after
// an earlier occurrence in both models, so the toggle only changes the picture. window.__attnbookLive[<figure name>]
// records what is shown and each update's timing, for the tests.
import {attentionColumns, describe, escapeHtml, field, fmt, setColumns, shownChar, textNotice} from "./lib.mjs"
import {attention, encodeText, loadModel, newCache, run} from "./runtime/gpt.mjs"

const MODELS = ["trained", "random"], LABELS = ["Trained", "Random (at initialisation)"]
const TARGET = "#31a354", OTHER = "#3182bd", LINE_MIN = 0.05

// For each query i whose character occurred before: the keys right after its earlier occurrences (j + 1 for
// j < i - 1). Twin of attnbook.analysis.copy_targets.
const copyTargets = (w) => {
  const out = []
  for (let i = 0; i < w.length; i++) {
    const keys = []
    for (let j = 0; j < i - 1; j++) if (w[j] === w[i]) keys.push(j + 1)
    if (keys.length) out.push([i, keys])
  }
  return out
}

// Mean over the scored queries of the weight on their targets (A: (T, T)). Twin of attnbook.analysis.copy_weight.
const copyWeight = (A, T, targets) => {
  let total = 0
  for (const [i, keys] of targets) for (const j of keys) total += A[i * T + j]
  return total / targets.length
}

// Twin of attnbook.viz.induction_text.score_text.
const scoreText = (w, n, layer, head) => (n === 0
  ? "No character has occurred before: type a few letters, then the same letters again."
  : `Weight of layer ${layer}, head ${head} on the character after an earlier occurrence (outlined), on average ` +
    `over ${n} character${n === 1 ? "" : "s"} seen before: <b>${fmt(w[0], 2)}</b> trained, <b>${fmt(w[1], 2)}</b> ` +
    "at initialisation.")

let S = null

const init = (payload) => {
  const obj = (m) => (m instanceof Map ? Object.fromEntries(m) : m)
  const config = obj(field(payload, "config")), weights = obj(field(payload, "weights"))
  const models = MODELS.map((k) => loadModel(config, obj(weights[k])))
  const name = payload.name.replace(/-payload$/, "")
  window.__attnbookLive = window.__attnbookLive || {}
  const log = (window.__attnbookLive[name] = {text: null, updates: 0, latency: []})
  return {models, caches: models.map((m) => newCache(m)), chars: field(payload, "chars"), config, enc: null, log}
}

const show = ({widgets, sources, texts, plots}) => {
  const {models, caches, enc, config} = S, T = caches[0].T, win = [...enc.window]
  const m = widgets.model.active, layer = Number(widgets.layer.value) - 1, head = Number(widgets.head.value) - 1
  texts.notice.text = textNotice(enc, config.block_size)
  const idx = Float64Array.from({length: T}, (_, t) => t)
  setColumns(sources.chars, {x: idx, y: idx.map((t) => -t), char: win.map(shownChar)})
  const targets = copyTargets(win), hit = new Set()
  for (const [i, keys] of targets) for (const j of keys) hit.add(i * T + j)
  const maps = models.map((model, k) => attention(model, caches[k], layer, head))  // (T, T) each
  const att = attentionColumns(maps[m], T, LINE_MIN, (i, j) => (hit.has(i * T + j) ? TARGET : OTHER))
  setColumns(sources.cells, att.cells)
  setColumns(sources.links, att.links)
  setColumns(sources.targets, {x: Float64Array.from(targets.flatMap(([, keys]) => keys)),
    y: Float64Array.from(targets.flatMap(([i, keys]) => keys.map(() => -i)))})
  const w = targets.length ? maps.map((A) => copyWeight(A, T, targets)) : [NaN, NaN]
  const score = scoreText(w, targets.length, layer + 1, head + 1)
  texts.score.text = score
  describe(texts.description, escapeHtml(`${LABELS[m]} model. `) + score)
  // Ranges grow in steps (8, 16, 32 positions), so they seldom change while you type.
  const n = Math.min(config.block_size, 2 ** Math.ceil(Math.log2(Math.max(T, 8))))
  for (const [r, a, b] of [[plots.attention.x_range, -1.6, n - 0.5], [plots.attention.y_range, -(n - 0.5), 1.6],
    [plots.lines.x_range, -0.5, n - 0.5]]) {
    r.start = a
    r.end = b
  }
  S.log.view = {text: enc.text, model: MODELS[m], layer: layer + 1, head: head + 1, weights: w}
}

const update = (args) => {
  const t0 = performance.now()
  S.enc = encodeText(args.widgets.text.value_input ?? "", S.chars, S.config.block_size)
  const computed = S.models.map((model, k) => run(model, S.caches[k], S.enc.ids))
  const ran = performance.now()
  show(args)
  S.log.latency.push({chars: S.enc.ids.length, computed: computed[0], model_ms: ran - t0,
    show_ms: performance.now() - ran})
  S.log.text = S.enc.text
  S.log.updates += 1
}

export default ({payload, widgets, sources, texts, plots}, obj) => {
  const args = {widgets, sources, texts, plots}
  if (S === null) {
    S = init(payload)
    S.lastValue = widgets.text.value
  }
  if (obj === widgets.text && widgets.text.value !== S.lastValue) {
    S.lastValue = widgets.text.value  // Enter, blur, or set from outside: what the box reads from now on
    if (widgets.text.value !== widgets.text.value_input) {
      widgets.text.value_input = widgets.text.value  // which calls back again
      return
    }
  }
  if (S.enc === null || obj === widgets.text || obj?.event_name === "document_ready") return update(args)
  show(args)
}
