// Chapter 11's figure: a small attention model trained in the page. The model, its backward pass and AdamW are
// runtime/train.mjs, the tasks runtime/tasks.mjs; this callback runs the training loop and draws it. Python side:
// attnbook.viz.trainer (its payload's view is what the page shows before training: step 0, no curves).
//
// One callback serves every event, so the run lives once, in this module:
//   - document ready, Reset, or a change of task, layers, heads, width, positions or seed: a new model from the seed
//     (a structural change), step 0, curves cleared, and a notice saying what changed;
//   - the learning rate applies from the next step (the run goes on);
//   - Train / Pause (a toggle) runs the loop: steps in chunks of about CHUNK_MS, then the page gets the thread back
//     (setTimeout), so a click never waits for more than one chunk; the views are redrawn every DRAW_MS;
//   - One step: exactly one step (pausing the loop first), then a redraw;
//   - "Chapter 8's induction" sets the settings widgets to the payload's preset (attnbook.viz.trainer's
//     INDUCTION_SETTINGS) and starts a new model once (the widgets' own change events then find nothing changed).
// Training is deterministic: batches come from a generator seeded by the seed, held-out loss is measured every
// eval_every steps on a fixed held-out set, so the same seed gives the same curve whatever the timing.
// window.__attnbookLive[<figure name>] exposes the run for the tests: step, the curves, the held-out log with the
// training time at each point (seconds while playing), steps per second, and every head's previous-token and
// induction (prefix-matching) scores on the held-out set at each point (runtime/tasks.mjs headScores).
import {describe, escapeHtml, field, plain, setColumns, textRows} from "./lib.mjs"
import {adamwStep, clipGradNorm, evaluate, forward, headGradNorms, initParams, lossAndGrads, newAdamW, newModel,
  splitmix32} from "./runtime/train.mjs"
import {headScores, heldOut, makeTask, TASK_WINDOWS, trainBatch} from "./runtime/tasks.mjs"

const CHUNK_MS = 12, DRAW_MS = 100, MAX_SLOTS = 8, SLOT_HEADS = 4
const SHOWN = {"\n": "⏎", " ": "␣"}
const RIGHT = "#238b45", WRONG = "#cb181d", MUTED = "#969696"
const STRUCTURAL = {task: "task", layers: "layers", heads: "heads", width: "width", pos: "positions", seed: "seed"}

const fixed = (x, digits) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits))
// The readouts, drawn on a canvas (a Div's new text would re-lay out the whole figure, ~0.3 s under load); twin of
// attnbook.viz.trainer.status_cells.
// Two rows that fit a phone's column (the panel is narrow enough never to shrink, so its text never overlaps):
// step, steps/s, train loss; held-out loss, held-out accuracy.
const STATUS_AT = [[4, -12], [90, -12], [200, -12], [4, -32], [150, -32]]
const statusCells = (step, rate, train, held, acc) => [`step ${step}`, `${fixed(rate, 1)} steps/s`,
  `train loss ${fixed(train, 3)}`, `held-out loss ${fixed(held, 3)}`,
  `held-out accuracy ${fixed(acc === null ? null : 100 * acc, 1)}%`]

// The notice, a Div under the readouts whose text wraps to the column: the first `bold` characters bold. It changes
// only on a click (a Div's new text re-lays out the figure, which the training loop never waits for).
// NOTICE_START is attnbook.viz.trainer.NOTICE_START.
const NOTICE_START = "A new model, not trained yet: press Train or One step."
const setNotice = (div, text, bold = 0) => {
  const html = bold > 0 ? `<b>${escapeHtml(text.slice(0, bold))}</b>${escapeHtml(text.slice(bold))}` : escapeHtml(text)
  if (div.text !== html) div.text = html
  S.log.notice = text
}

// The gradient bars' tick labels, bar l * H + h for head h of layer l; twin of attnbook.viz.trainer.grad_labels.
const gradLabels = (L, H) => Array.from({length: L * H}, (_, k) => `L${Math.floor(k / H) + 1}H${(k % H) + 1}`)

let S = null  // {name, settings, text, args, run, playing, timer, log}

const settingsOf = (w) => ({task: w.task.value, n_layer: +w.layers.value, n_head: +w.heads.value,
  d_model: +w.width.value, pos: w.pos.value, seed: w.seed.value | 0, lr: +w.lr.value})

// A new run from the widgets' settings: model and optimizer from the seed, the task's held-out set and probe.
const build = (w) => {
  const s = settingsOf(w), base = S.settings, T = TASK_WINDOWS[s.task]
  const task = makeTask(s.task, {T, text: S.text})
  const cfg = {vocab_size: task.chars.length, block_size: T, d_model: s.d_model, n_layer: s.n_layer,
    n_head: s.n_head, d_ff: 4 * s.d_model, pos: s.pos, attn_only: true}
  const model = newModel(cfg, initParams(cfg, s.seed))
  const held = heldOut(task, splitmix32(s.seed * 2 + 1), base.n_held)
  const probe = {x: held.x.subarray(0, T), y: held.y.subarray(0, T)}
  S.run = {s, task, cfg, model, opt: newAdamW(model, {beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01}),
    rand: splitmix32(s.seed * 2), held, probe, step: 0, train: {step: [], loss: []},
    heldLog: {step: [], loss: [], acc: [], seconds: [], prev: [], induction: [], prevBest: [], inductionBest: []},
    grads: new Float64Array(cfg.n_layer * cfg.n_head),
    trainSeconds: 0, rate: null, rateMark: null}
  for (const plot of S.args.plots) {  // the attention maps' axes: T keys, T queries (query 0 at the top)
    if (plot.x_range.end !== T - 0.5) plot.x_range.end = T - 0.5
    if (plot.y_range.start !== T - 0.5) plot.y_range.start = T - 0.5
  }
  // one gradient bar per head of this model: ticks, labels and range for L x H bars
  const {grad_axis: axis, grad_range: range} = S.args, labels = gradLabels(cfg.n_layer, cfg.n_head)
  if (S.gradLabels !== labels.join(" ")) {
    S.gradLabels = labels.join(" ")
    axis.ticker.ticks = labels.map((_, k) => k)
    axis.major_label_overrides = new Map(labels.map((t, k) => [k, t]))
    range.setv({start: -0.5, end: labels.length - 0.5})
  }
  measure()
}

const measure = () => {
  const r = S.run, e = evaluate(r.model, r.held.x, r.held.y, r.held.B, r.held.T)
  r.heldLog.step.push(r.step)
  r.heldLog.loss.push(e.loss)
  r.heldLog.acc.push(e.count ? e.correct / e.count : 0)
  r.heldLog.seconds.push(r.trainSeconds)
  // every head's scores on the held-out set (the attention of the pass just made); the curves show the best head
  // of layer 1 at previous-token and the best head of the last layer at induction
  const {n_layer: L, n_head: H} = r.cfg, sc = headScores(r.model.last.layers.map((l) => l.att), r.held, H)
  r.heldLog.prev.push(Array.from(sc.prev))
  r.heldLog.induction.push(sc.induction ? Array.from(sc.induction) : null)
  r.heldLog.prevBest.push(Math.max(...sc.prev.subarray(0, H)))
  r.heldLog.inductionBest.push(sc.induction ? Math.max(...sc.induction.subarray((L - 1) * H)) : NaN)
}

// One update: loss and gradients, each head's gradient norm (before clipping), clipping, AdamW.
const oneStep = () => {
  const r = S.run, B = S.settings.batch_size, b = trainBatch(r.task, r.rand, B, r.held)
  const out = lossAndGrads(r.model, b.x, b.y, B, r.task.T)
  r.grads = headGradNorms(r.model)
  clipGradNorm(r.model.grads, 1)
  adamwStep(r.model, r.opt, S.lr)
  r.step += 1
  r.train.step.push(r.step)
  r.train.loss.push(out.loss)
  if (r.step % S.settings.eval_every === 0) measure()
}

const label = (c) => SHOWN[c] ?? c

// Redraw `parts` of the figure: "numbers" (readouts, curves), "heads0" and "heads1" (the attention maps of layer 1 and
// of layer 2), "probe" (gradient bars, the probe's guesses, the description). A button redraws everything; the loop
// redraws one part at a time (PARTS in turn), so that no single task of drawing and repainting is long.
const ALL = ["numbers", "heads0", "heads1", "probe"], PARTS = ["numbers", "heads0", "numbers", "heads1", "numbers", "probe"]
const draw = (parts = ALL) => {
  const {sources, att, plots, texts, widgets} = S.args, r = S.run, T = r.task.T, {n_layer: L, n_head: H} = r.cfg
  const last = (a) => (a.length ? a[a.length - 1] : null)
  const acc = last(r.heldLog.acc)
  if (parts.includes("numbers")) {
    const status = textRows()
    statusCells(r.step, r.rate, last(r.train.loss), last(r.heldLog.loss), acc)
      .forEach((t, i) => status.put(STATUS_AT[i][0], STATUS_AT[i][1], t, i === 0 ? "bold" : "normal"))
    setColumns(sources.status, status.columns)
    setColumns(sources.train, {step: r.train.step.slice(), loss: r.train.loss.slice()})
    setColumns(sources.held, {step: r.heldLog.step.slice(), loss: r.heldLog.loss.slice(), acc: r.heldLog.acc.slice(),
      prev: r.heldLog.prevBest.slice(), induction: r.heldLog.inductionBest.slice()})
  }
  const w = forward(r.model, r.probe.x, 1, T)  // the probe, one sequence: cheap
  // attention of every head on the probe; slot l * 4 + h
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const l = Math.floor(slot / SLOT_HEADS), h = slot % SLOT_HEADS, used = l < L && h < H
    if (plots[slot].visible !== used) plots[slot].visible = used
    if (!used || !parts.includes(`heads${l}`)) continue
    const img = w.layers[l].att.slice(h * T * T, (h + 1) * T * T)
    setColumns(att[slot], {image: [Object.assign(img, {shape: [T, T], dimension: 2})], x: [-0.5], y: [-0.5],
      dw: [T], dh: [T]})
  }
  if (parts.includes("probe")) {
    const x = [], norm = []
    for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
      x.push(l * H + h)
      norm.push(r.grads[l * H + h])
    }
    setColumns(sources.grad, {x, norm})
    // the probe: input, target and the model's guess at every position
    const {columns, put} = textRows(), chars = r.task.chars, V = r.cfg.vocab_size, X0 = 70, DX = T > 16 ? 15 : 30
    put(4, -44, "input", "bold")
    put(4, -64, "target", "bold")
    put(4, -84, "guess", "bold")
    let right = 0, scored = 0
    for (let t = 0; t < T; t++) {
      const o = t * V, logits = w.logits
      let arg = 0
      for (let v = 1; v < V; v++) if (logits[o + v] > logits[o + arg]) arg = v
      const y = r.probe.y[t], cx = X0 + t * DX
      put(cx, -44, label(chars[r.probe.x[t]]), "normal", "center")
      put(cx, -64, y >= 0 ? label(chars[y]) : "·", "normal", "center", MUTED)
      const ok = y >= 0 && arg === y
      if (y >= 0) {
        scored++
        if (ok) right++
      }
      put(cx, -84, label(chars[arg]), y >= 0 ? "bold" : "normal", "center", y < 0 ? MUTED : ok ? RIGHT : WRONG)
    }
    setColumns(sources.probe, columns)
    const ind = last(r.heldLog.inductionBest)
    describe(texts.description, `Step ${r.step} of a ${L}-layer, ${H}-head model on the ${r.s.task} task; ` +
      `held-out accuracy ${fixed(acc === null ? null : 100 * acc, 1)}%; probe ${right} of ${scored} right; ` +
      `best previous-token score in layer 1 ${fixed(last(r.heldLog.prevBest), 2)}` +
      (Number.isFinite(ind) ? `, best induction score in layer ${L} ${fixed(ind, 2)}.` : "."))
  }
  const playLabel = S.playing ? "Pause" : "▶ Train"
  if (widgets.play.label !== playLabel) widgets.play.label = playLabel
  S.lastDraw = performance.now()
  Object.assign(S.log, {step: r.step, train: r.train, held: r.heldLog, rate: r.rate, settings: r.s,
    draws: S.log.draws + 1})
}

// The loop: a chunk of steps, then (every drawEvery ms) a redraw, then the thread goes back to the page. The time
// between chunks is the page's: drawing, the browser repainting the canvases, the reader's clicks. Redraws are spaced
// so that the page (redraw and repaint) takes about a quarter of the time at most.
const loop = () => {
  const start = performance.now()
  if (S.queued !== null) S.pageMs = 0.8 * S.pageMs + 0.2 * (start - S.queued)  // the page's share since the last chunk
  S.timer = null
  if (!S.playing) return
  const r = S.run
  do oneStep()
  while (performance.now() - start < CHUNK_MS)
  const now = performance.now()
  S.log.stepMs += now - start  // time in training steps, against the wall time while playing (trainSeconds)
  r.trainSeconds += (now - (S.resumed ?? start)) / 1000
  S.resumed = now
  if (r.rateMark === null) r.rateMark = {t: start, step: r.step}
  else if (now - r.rateMark.t > 1000) {
    r.rate = ((r.step - r.rateMark.step) * 1000) / (now - r.rateMark.t)
    r.rateMark = {t: now, step: r.step}
  }
  if (now - (S.lastDraw ?? 0) > Math.max(DRAW_MS, 4 * S.pageMs)) {
    S.part = ((S.part ?? -1) + 1) % PARTS.length
    draw([PARTS[S.part]])
    S.log.drawMs += performance.now() - now
  }
  S.queued = performance.now()
  S.timer = setTimeout(loop, 0)
}

const setPlaying = (on) => {
  S.playing = on
  if (on) {
    S.resumed = performance.now()
    S.queued = null
    S.run.rateMark = null
    if (S.timer === null) S.timer = setTimeout(loop, 0)
  } else if (S.timer !== null) {
    clearTimeout(S.timer)
    S.timer = null
  }
}

export default ({payload, widgets, sources, att, plots, grad_axis, grad_range, texts}, obj) => {
  const name = payload.name.replace(/-payload$/, "")
  if (S === null) {
    window.__attnbookLive = window.__attnbookLive || {}
    S = {name, settings: plain(field(payload, "settings")), text: field(payload, "text"), run: null,
      playing: false, timer: null, lastDraw: null, resumed: null, queued: null, pageMs: 0,
      log: (window.__attnbookLive[name] = {draws: 0, resets: 0, stepMs: 0, drawMs: 0})}
  }
  if (S.presetting) return
  S.args = {widgets, sources, att, plots, grad_axis, grad_range, texts}
  S.lr = +widgets.lr.value
  if (S.lrNoticed === undefined) S.lrNoticed = S.lr
  if (obj?.event_name === "button_click") obj = obj.origin  // the button clicked
  if (obj === widgets.preset) {
    // S.presetting: a change event these assignments fire at once is ignored (the click builds the run below)
    const p = S.settings.preset, set = (k, v) => { if (widgets[k].value !== v) widgets[k].value = v }
    S.presetting = true
    set("task", p.task)
    set("layers", String(p.n_layer))
    set("heads", String(p.n_head))
    set("width", String(p.d_model))
    set("pos", p.pos)
    set("lr", p.lr)
    set("seed", p.seed)
    S.presetting = false
    S.lr = S.lrNoticed = +widgets.lr.value
  }
  // a structural widget whose value the run already has (set by the preset, whose click built the run) changes nothing
  const same = (a, b) => Object.keys(a).every((k) => k === "lr" || a[k] === b[k])
  let changed = Object.keys(STRUCTURAL).find((k) => obj === widgets[k])
  if (changed && S.run && same(settingsOf(widgets), S.run.s)) changed = undefined
  if (S.run === null || changed || obj === widgets.reset || obj === widgets.preset) {
    const was = S.run ? S.run.step : 0
    build(widgets)
    S.log.resets += 1
    const r = S.run
    if (S.log.resets === 1) setNotice(texts.notice, NOTICE_START)
    else {
      const what = obj === widgets.preset ? "Chapter 8's induction" : changed ? `New ${STRUCTURAL[changed]}` : "Reset"
      const head = `${what}: a new model`
      setNotice(texts.notice, `${head} (${r.cfg.n_layer} layer${r.cfg.n_layer > 1 ? "s" : ""} × ${r.cfg.n_head} ` +
        `head${r.cfg.n_head > 1 ? "s" : ""}, width ${r.cfg.d_model}, ${r.s.pos} positions, ${r.s.task} task, seed ` +
        `${r.s.seed}), training restarted from step 0` + (was > 0 ? ` (the old run stopped at step ${was}).` : "."),
      head.length)
    }
  } else if (obj === widgets.lr && S.lr !== S.lrNoticed) {
    setNotice(texts.notice, `Learning rate ${widgets.lr.value} from step ${S.run.step + 1} on (the run goes on).`)
    S.lrNoticed = S.lr
  } else if (S.log.resets === 1 && S.run.step === 0 && (obj === widgets.step || obj === widgets.play)) {
    setNotice(texts.notice, "")  // the run starts: the "not trained yet" notice goes
  }
  if (obj === widgets.step) {
    if (S.playing) widgets.play.active = false  // its own callback stops the loop
    setPlaying(false)
    oneStep()
  } else if (obj === widgets.play) {
    setPlaying(widgets.play.active)
  }
  draw()
}
