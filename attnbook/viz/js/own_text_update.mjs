// Chapter 10's figure: the reader's text through the book's GPT, computed in the page by runtime/gpt.mjs.
// Python twin of what it shows for the payload's opening text: attnbook.viz.own_text.OwnTextPayload.view (the
// browser tests compare the two, and compare the page with NumPy's forward pass for any text).
//
// One callback serves every event, so the model and its key/value cache live once, in this module:
//   - typing (text.value_input) recomputes, debounced: a key that arrives when the page is idle is shown at once;
//     keys that arrive within a frame of the last update (the reader types faster than the page draws) are taken
//     together in the next task. The cache recomputes only the positions after the first changed character;
//   - the layer, head, temperature, top-k and position widgets redraw from the cache (no model run);
//   - a tap on the lines or on the end-to-end picture picks the position under it;
//   - the Generate button (or a new seed) samples a continuation with the seed: the same seed gives the same text.
// A key repaints only the plots on screen: the others are brought up to date when they scroll into view or the reader
// pauses (`draw`, `watch`); the screen-reader description follows when the reader pauses.
// window.__attnbookLive[<figure name>] records what is shown (text, layer, head, position: once every plot shows it),
// the generated text and each update's timing (performance.now() when the sources of the plots on screen were
// written, after the frame that paints them, and when every plot was), for the tests and the latency measurement.
import {attentionColumns, describe, escapeHtml, field, fmt, imageColumns, setColumns, shownChar, skipUnchangedStyleSheets,
  textNotice} from "./lib.mjs"
import {attention, encodeText, loadModel, logitsAt, logSoftmax, newCache, run, sampler, samplingProbs, streamAt}
  from "./runtime/gpt.mjs"

const PICKED = "#e6550d", OTHER = "#3182bd", HIT = "#31a354"
const N_TOP = 10, N_PREDICT = 5, LINE_MIN = 0.05, HEAT_LABELS = 32, HEAT_MIN = 8, HEAT_MARGIN = 0.05, X_PAD = 0.8
const FRAME_MS = 16, DESCRIBE_MS = 400, PAUSE_MS = 250

const shown = shownChar
const html = (s) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
const plainText = (s) => html(s.replaceAll("\n", "⏎"))
const image = imageColumns
const ranked = (p, n) => Array.from(p.keys()).sort((a, b) => p[b] - p[a] || a - b).slice(0, n)  // stable

let S = null  // {model, cache, chars, name, enc, pending, t0, log, stale, onScreen, ...}: made on the first call

const init = (payload) => {
  skipUnchangedStyleSheets()
  const obj = (m) => (m instanceof Map ? Object.fromEntries(m) : m)
  const config = obj(field(payload, "config")), chars = field(payload, "chars")
  const model = loadModel(config, obj(field(payload, "weights")))
  const name = payload.name.replace(/-payload$/, "")
  window.__attnbookLive = window.__attnbookLive || {}
  const log = (window.__attnbookLive[name] = {text: null, updates: 0, latency: [], sample: null, samples: 0})
  return {model, cache: newCache(model), chars, name, enc: null, pending: false, t0: null, log, lastValue: null,
    lastDone: -Infinity, channel: new MessageChannel(),
    stale: new Map(), onScreen: null, watching: false, shown: null}
}

// Positions the lines and the end-to-end picture span: 8, 16, 32, 64 (short texts stay readable, and characters
// stay where they are while you type). Python twin: attnbook.viz.own_text._span.
const span = (T) => Math.min(S.model.cfg.block_size, 2 ** Math.ceil(Math.log2(Math.max(T, 8))))
// Positions the heatmap spans: the text itself, so it keeps its size as you type (its cells are its width / T).
// Python twin: attnbook.viz.own_text._heat_span.
const heatSpan = (T) => Math.max(T, HEAT_MIN)

// Set a range only when it moves (a range that is set makes its plot repaint).
const setRange = (r, start, end) => {
  if (r.start !== start || r.end !== end) r.setv({start, end})
}

// Redraw from the cache and the widgets (no model run). The numbers of every plot are computed at once (the cache
// changes with the next key); each plot's sources are written by its own part (see `draw`), so that a key repaints
// only the plots on screen. Returns the parts written now.
const show = ({widgets, sources, texts, mappers, plots}) => {
  const {model, cache, chars, enc} = S, T = cache.T, V = model.V, C = model.C, nS = model.stages
  const win = [...enc.window]
  const layer = Number(widgets.layer.value) - 1, head = Number(widgets.head.value) - 1
  const pos = Math.min(fitSlider(widgets.position, T), T - 1)
  const idx = Float64Array.from({length: T}, (_, t) => t)
  const labels = {x: idx, y: idx.map((t) => -t), char: win.map(shown)}
  const w = span(T), n = heatSpan(T), m = HEAT_MARGIN * n  // m: the band of the heatmap's labels, ~17 px whatever n
  texts.notice.text = textNotice(enc, model.cfg.block_size)

  // The attention of the chosen head: the heatmap (keys after the query are masked: NaN, drawn grey) and the lines
  // worth drawing.
  const att = attentionColumns(attention(model, cache, layer, head), T, LINE_MIN, (i) => (i === pos ? PICKED : OTHER))

  // The next character: raw probabilities over the whole vocabulary (live-next, not drawn: written at once), and the
  // top candidates with what the sampler draws from at this temperature and top-k.
  const probs = Array.from({length: T}, (_, t) => logSoftmax(logitsAt(model, cache, t)).map(Math.exp))
  const next = T ? probs[T - 1] : new Float64Array(V).fill(NaN)
  setColumns(sources.next, {char: [...chars], prob: next})
  const top = T ? ranked(next, N_TOP) : []
  const k = widgets.top_k.value === "all" ? null : Number(widgets.top_k.value)
  const sample = T ? samplingProbs(logitsAt(model, cache, T - 1), widgets.temperature.value, k) : []

  // The model end to end: the stream's size at every stage and position, the most likely next character.
  const rms = new Float64Array(nS * T)  // (S, T): row s is stage s, drawn at y = s
  for (let s = 0; s < nS; s++)
    for (let t = 0; t < T; t++) {
      const v = streamAt(model, cache, s, t)
      let ss = 0
      for (let c = 0; c < C; c++) ss += v[c] * v[c]
      rms[s * T + t] = Math.sqrt(ss / C)
    }
  const best = probs.map((p) => ranked(p, 1)[0])
  const picked = position(pos, probs, win)

  const now = draw({
    attention: () => {
      setColumns(sources.heat_chars, T <= HEAT_LABELS ? labels : {x: new Float64Array(0), y: new Float64Array(0), char: []})
      setColumns(sources.cells, att.cells)
      setRange(plots.attention.x_range, -0.5 - m, n - 0.5)
      setRange(plots.attention.y_range, -(n - 0.5), 0.5 + m)
    },
    lines: () => {
      setColumns(sources.chars, labels)
      setColumns(sources.links, att.links)
      setRange(plots.lines.x_range, -X_PAD, w - 1 + X_PAD)  // room for a wide character at either end
    },
    top: () => setColumns(sources.top, {x: Float64Array.from(top.keys()), char: top.map((v) => shown(chars[v])),
      prob: Float64Array.from(top, (v) => next[v]), sample: Float64Array.from(top, (v) => sample[v])}),
    model: () => {
      setColumns(sources.flow_chars, labels)
      setColumns(sources.flow, image(rms, nS, T, -0.5, -0.5))
      mappers.flow.high = Math.max(1, ...rms)
      setColumns(sources.argmax, {x: idx, char: best.map((v) => shown(chars[v])),
        prob: Float64Array.from(best, (v, t) => probs[t][v])})
      setColumns(sources.pick, {x: T ? Float64Array.of(pos) : new Float64Array(0)})
      setRange(plots.model.x_range, -X_PAD, w - 1 + X_PAD)
    },
    vector: () => {
      setColumns(sources.stream, picked.stream)
      mappers.stream.setv(picked.range)  // one change: the image and the colour bar repaint once
    },
    predict: () => {
      setColumns(sources.predict, picked.predict)
      texts.caption.text = picked.caption
    },
  }, plots, {text: enc.text, layer: layer + 1, head: head + 1, position: pos})
  describeWhenIdle(texts.description, escapeHtml(T ? `Text of ${T} character${T === 1 ? "" : "s"}; the most likely next character is ` +
    `\u201c${shown(chars[top[0]])}\u201d.` : "No text yet."))
  return now
}

// Write the parts of the plots on screen now and keep the others (the latest of each) for when their plot scrolls
// into view or the reader pauses (PAUSE_MS). What is drawn is recorded in S.log.view once every part is written.
// window.__attnbookDrawAll = true draws every plot on every key (the latency test measures both ways). Returns the
// parts written now.
const draw = (parts, plots, view) => {
  const onScreen = watch(plots), all = window.__attnbookDrawAll === true || onScreen === null
  const now = Object.keys(parts).filter((part) => all || onScreen.has(part))
  for (const [part, write] of Object.entries(parts)) S.stale.set(part, write)
  S.shown = view
  S.log.view = null  // not all shown yet
  clearTimeout(S.pausing)
  for (const part of now) catchUp(part)
  if (S.stale.size > 0) S.pausing = setTimeout(() => [...S.stale.keys()].forEach(catchUp), PAUSE_MS)
  return now
}

// Write the part kept for `part`, if any; once none is left, every plot shows S.shown.
const catchUp = (part) => {
  const write = S.stale.get(part)
  if (!write) return
  S.stale.delete(part)
  write()
  if (S.stale.size > 0) return
  clearTimeout(S.pausing)
  S.log.view = S.shown
  const now = performance.now()
  for (let i = S.log.latency.length - 1; i >= 0 && S.log.latency[i].complete === null; i--)
    S.log.latency[i].complete = now  // with the keys a later update took over
}

// The parts whose plot is on screen, kept up to date by an IntersectionObserver; null until it has reported (then
// everything is drawn). A stale part is written when its plot scrolls into view: from the scroll event (which runs
// before the frame that shows the new scroll position is painted, so no frame shows it stale), else from the
// observer (a resize, a layout change).
const watch = (plots) => {
  if (S.watching) return S.onScreen
  S.watching = true
  const part = new Map()  // a plot's element -> its part
  const observer = new IntersectionObserver((seen) => {
    S.onScreen ??= new Set()
    for (const e of seen) {
      const k = part.get(e.target)
      if (!e.isIntersecting) S.onScreen.delete(k)
      else {
        S.onScreen.add(k)
        catchUp(k)
      }
    }
  })
  for (const [k, plot] of Object.entries(plots)) {
    const el = Bokeh.index.find_one(plot)?.el
    if (el) {
      part.set(el, k)
      observer.observe(el)
    }
  }
  const inView = (el) => {
    const r = el.getBoundingClientRect()
    return r.bottom > 0 && r.top < window.innerHeight && r.right > 0 && r.left < window.innerWidth
  }
  // capture: the scroll of the page and of a panel's own scroll box (scroll events do not bubble)
  document.addEventListener("scroll", () => {
    if (S.stale.size > 0) for (const [el, k] of part) if (S.stale.has(k) && inView(el)) catchUp(k)
  }, {capture: true, passive: true})
  return S.onScreen
}

// The description for screen readers (a live region) follows once the reader pauses: a live region rewritten on
// every key would be read out on every key, and each rewrite costs the page a layout.
const describeWhenIdle = (description, text) => {
  clearTimeout(S.describing)
  S.describing = setTimeout(() => describe(description, text), DESCRIBE_MS)
}

// The picked position: its residual stream at every stage, its top predictions, the caption (the title of the
// predictions: a plot's title redraws on the canvas, where a Div would re-render its DOM and the page's layout).
const position = (pos, probs, win) => {
  const {model, cache, chars} = S, T = cache.T, C = model.C, nS = model.stages
  if (T === 0)
    return {stream: image(new Float64Array(0), nS, 0, 0, 0), range: {low: -1, high: 1},
      predict: {x: new Float64Array(0), char: [], prob: new Float64Array(0), color: []},
      caption: "Position: nothing to show"}
  const value = new Float64Array(nS * C)
  for (let s = 0; s < nS; s++) value.set(streamAt(model, cache, s, pos), s * C)
  let m = 0
  for (const v of value) m = Math.max(m, Math.abs(v))
  const order = ranked(probs[pos], N_PREDICT), after = pos + 1 < T ? win[pos + 1] : null
  const p = (v) => fmt(probs[pos][v], 2), q = (c) => `“${shown(c)}”`
  const next = `Position ${pos} ${q(win[pos])}: next ${q(chars[order[0]])} ${p(order[0])}`
  return {
    stream: image(value, nS, C, -0.5, 0.5 - nS),
    range: {low: -(m || 1), high: m || 1},
    predict: {x: Float64Array.from(order.keys()), char: order.map((v) => shown(chars[v])),
      prob: Float64Array.from(order, (v) => probs[pos][v]), color: order.map((v) => (chars[v] === after ? HIT : OTHER))},
    caption: after === null ? `${next} (nothing typed yet)` : `${next}, typed ${q(after)} ${p(chars.indexOf(after))}`,
  }
}

// The position slider spans the text (a slider needs a range: one position at least); at its right end it stays
// there, following the last character as the text grows. Returns its value. Setting it calls this callback again:
// S.quiet makes that call return, this one goes on drawing.
const fitSlider = (slider, T) => {
  const end = Math.max(T - 1, 1)
  const value = slider.end !== end && slider.value >= slider.end ? end : Math.min(slider.value, end)
  if (slider.end === end && slider.value === value) return value
  S.quiet = true
  try {
    slider.setv({end, value})
  } finally {
    S.quiet = false
  }
  return value
}

// Read the text box, bring the cache to its window (only the changed positions are computed) and redraw.
const update = (args) => {
  const text = args.widgets.text.value_input ?? ""
  S.enc = encodeText(text, S.chars, S.model.cfg.block_size)
  const t0 = S.t0 ?? performance.now(), begin = performance.now()
  const computed = run(S.model, S.cache, S.enc.ids)
  const ran = performance.now()
  const frame = {}
  requestAnimationFrame(() => (frame.start = performance.now()))  // before Bokeh's repaint (asked for in show)
  // start: the first key not yet shown; model_ms: the forward pass; done: the sources of the plots on screen written
  // (`drawn`: their parts); painted: after the frame that paints them; render_ms: that frame's own work (not the wait
  // for it); complete: every plot's sources written (later, if some were off screen).
  const entry = {chars: S.enc.ids.length, computed, start: t0, model_ms: ran - begin, show_ms: null, done: null,
    update_ms: null, painted: null, paint_ms: null, render_ms: null, complete: null, drawn: null}
  S.log.latency.push(entry)
  const drawn = show(args)
  const done = performance.now()
  Object.assign(entry, {show_ms: done - ran, done, update_ms: done - t0, drawn})
  S.t0 = null
  S.lastDone = done
  S.log.text = text
  S.log.updates += 1
  // Bokeh asks for its repaint once its sources have taken the data (a few promises later), for the same frame as
  // this; a message posted from this frame runs after the whole frame, Bokeh's painting included.
  afterFrame(() => {
    entry.painted = performance.now()
    entry.paint_ms = entry.painted - entry.start
    entry.render_ms = entry.painted - frame.start
  })
}

// Run f in a task after the next frame has been painted.
const afterFrame = (f) => requestAnimationFrame(() => {
  const c = new MessageChannel()
  c.port1.onmessage = () => f()
  c.port2.postMessage(null)
})

// Sample a continuation of the current window with the seed, temperature and top-k. It is drawn in slices of about
// a frame's work, the text shown as it grows, so a long sample never freezes the page; a new request (another
// click, another seed) replaces one still running.
const sample = ({widgets, texts}) => {
  const {model, chars} = S
  const e = encodeText(widgets.text.value_input ?? "", chars, model.cfg.block_size)
  if (e.ids.length === 0) {
    texts.sample.text = "Type at least one character of the vocabulary first: the model continues a text."
    return
  }
  const cache = newCache(model)
  run(model, cache, e.ids)
  const k = widgets.top_k.value === "all" ? null : Number(widgets.top_k.value)
  const seed = Math.floor(Number(widgets.seed.value)) >>> 0, temperature = Number(widgets.temperature.value)
  const it = sampler(model, cache, {temperature, topK: k, seed}), job = {}
  let out = ""
  const settings = `(seed ${seed}, temperature ${temperature}, top-k ${k ?? "all"})`
  const slice = () => {
    if (S.job !== job) return  // replaced by a newer request
    const t0 = performance.now()
    do out += chars[it.next().value]
    while (out.length < S.n && performance.now() - t0 < FRAME_MS)
    const done = out.length >= S.n
    texts.sample.text = `<span style="opacity:0.72">${plainText(e.window)}</span><b>${html(out).replaceAll("\n", "⏎<br>")}` +
      `</b>${done ? "" : "…"} <span style="opacity:0.72">${settings}</span>`
    if (!done) setTimeout(slice, 0)
    else {
      S.log.sample = {window: e.window, text: out, seed, temperature, top_k: k}
      S.log.samples += 1
    }
  }
  S.job = job
  slice()
}

export default ({payload, widgets, sources, texts, mappers, plots}, obj) => {
  const args = {widgets, sources, texts, mappers, plots}
  if (S?.quiet) return  // the slider, set by fitSlider while drawing
  if (S === null) {
    S = init(payload)
    S.n = field(payload, "n_generate")
    S.channel.port1.onmessage = () => {
      S.pending = false
      update(S.args)
    }
  }
  const event = obj?.event_name
  if (event === "tap") {
    const x = Math.round(obj.x), T = S.cache.T
    if (T > 0 && x >= 0) widgets.position.value = Math.min(x, T - 1)
    return
  }
  if (event === "button_click" || obj === widgets.seed) return sample(args)  // a new seed: a new sample
  if (obj === widgets.text) {
    if (widgets.text.value !== S.lastValue) {
      S.lastValue = widgets.text.value
      if (widgets.text.value !== widgets.text.value_input) {
        widgets.text.value_input = widgets.text.value  // set from outside (Enter does not differ): one path
        return
      }
    }
    const now = performance.now()
    S.t0 = S.t0 ?? now  // the first key not yet shown
    S.args = args
    if (S.pending) return
    if (now - S.lastDone > FRAME_MS) return update(args)  // idle: show this key at once
    S.pending = true  // catching up: keys that arrive meanwhile are taken together, in the next task
    S.channel.port2.postMessage(null)
    return
  }
  if (S.enc === null || event === "document_ready") {
    S.lastValue = widgets.text.value
    return update(args)
  }
  show(args)
}
