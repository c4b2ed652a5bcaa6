// Chapter 11's training run without the page: the loop of js/trainer_update.mjs (model and batches from the seed,
// the held-out set from 2 seed + 1, clipping at 1, AdamW, held-out loss, accuracy and head scores every eval_every
// steps) for given settings, so that Node (attnbook.viz.trainer.trainer_run, which the chapter quotes) and the
// browser tests run what the page runs. An ES module with no import: the runtimes are passed in (`tr` is
// runtime/train.mjs, `tk` runtime/tasks.mjs).
//
// o: {task, n_layer, n_head, d_model, pos, lr, seed, steps, batch_size, n_held, eval_every, text}. Returns the held-out
// log {step, loss, acc, prev, induction}: prev and induction are (L, H) row-major per evaluation (induction null for
// tasks without a source).

export const trainRun = (tr, tk, o) => {
  const T = tk.TASK_WINDOWS[o.task], task = tk.makeTask(o.task, {T, text: o.text ?? ""})
  const cfg = {vocab_size: task.chars.length, block_size: T, d_model: o.d_model, n_layer: o.n_layer,
    n_head: o.n_head, d_ff: 4 * o.d_model, pos: o.pos, attn_only: true}
  const model = tr.newModel(cfg, tr.initParams(cfg, o.seed))
  const opt = tr.newAdamW(model, {beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01})
  const held = tk.heldOut(task, tr.splitmix32(o.seed * 2 + 1), o.n_held), rand = tr.splitmix32(o.seed * 2)
  const log = {step: [], loss: [], acc: [], prev: [], induction: []}
  const measure = (step) => {
    const e = tr.evaluate(model, held.x, held.y, held.B, T)
    const s = tk.headScores(model.last.layers.map((l) => l.att), held, o.n_head)
    log.step.push(step)
    log.loss.push(e.loss)
    log.acc.push(e.count ? e.correct / e.count : 0)
    log.prev.push(Array.from(s.prev))
    log.induction.push(s.induction ? Array.from(s.induction) : null)
  }
  measure(0)
  for (let step = 1; step <= o.steps; step++) {
    const b = tk.trainBatch(task, rand, o.batch_size, held)
    tr.lossAndGrads(model, b.x, b.y, o.batch_size, T)
    tr.clipGradNorm(model.grads, 1)
    tr.adamwStep(model, opt, o.lr)
    if (step % o.eval_every === 0) measure(step)
  }
  return log
}
