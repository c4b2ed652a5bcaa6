// The toy tasks of chapter 11, generated in the page from a seed: copy, reverse, sort, repeated random sequences
// (induction) and a small text. An ES module of pure functions with no import; random numbers come from the
// caller's generator `rand` (uniforms in [0, 1), e.g. runtime/train.mjs's splitmix32), so a seed fixes every batch.
//
// Every task is next-token prediction on sequences of T input tokens: x[t] is read, y[t] = the token at t + 1 is
// predicted, and y[t] = -1 where the answer cannot be known from what came before (those positions are left out
// of the loss and the accuracy).
//   copy, reverse, sort: n random symbols of "abcdefghij", then "|", then the same symbols copied, reversed or
//     sorted; only the answer after "|" is scored. T = 2n.
//   induction: chapter 8's repeated random letters (attnbook.experiments.induction.repeated_text): segments of 6 to
//     10 random letters of a..z (a letter may recur in a segment), each written three times, in a window that starts
//     anywhere; T = 32 (TASK_WINDOWS). Scored as chapter 8's WindowRoles.repeat: a target in a later copy of its
//     segment, not the first letter of the second copy, whose earlier occurrence (one segment length back) is in
//     the window, so that an induction head (find the earlier occurrence of the current letter, predict the letter
//     that followed it) gets it right; the copy sits at a different distance every time, so "look m positions
//     back" does not work. Each sequence also carries `source` (WindowRoles.source): the key an induction head
//     should attend from each query, -1 where there is none.
//   text: windows of T + 1 characters of the given text; every position is scored. The last tenth of the text
//     is held out.
// The held-out set is fixed by the seed; training sequences equal to a held-out one are drawn again (toy tasks).

export const TASK_NAMES = ["copy", "reverse", "sort", "induction", "text"]
// The window length T of each task in the page (attnbook.viz.trainer.BLOCK_SIZES): chapter 8's windows for induction.
export const TASK_WINDOWS = {copy: 16, reverse: 16, sort: 16, induction: 32, text: 16}
const SEGMENT = [6, 10], COPIES = 3  // chapter 8's InductionSetup: min_len, max_len, copies
const SYMBOLS = "abcdefghij", SEP = "|", LETTERS = "abcdefghijklmnopqrstuvwxyz"

const int = (rand, n) => Math.floor(rand() * n)
// k distinct random indices in 0..n-1 (a partial Fisher-Yates shuffle)
const distinct = (rand, n, k) => {
  const a = Array.from({length: n}, (_, i) => i)
  for (let i = 0; i < k; i++) {
    const j = i + int(rand, n - i)
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a.slice(0, k)
}

// The answer of each sequence-to-sequence task, from its n symbols.
const toy = {
  copy: (s) => s,
  reverse: (s) => [...s].reverse(),
  sort: (s) => [...s].sort((a, b) => a - b),
}

// A task: {name, chars (the vocabulary, token id = index), T, draw(rand) -> {x, y} (Int32Array T each)}.
export const makeTask = (name, {T = 16, text = ""} = {}) => {
  if (!TASK_NAMES.includes(name)) throw new Error(`task must be one of ${TASK_NAMES.join(", ")}, got "${name}"`)
  if (!(Number.isInteger(T) && T >= 4 && T % 2 === 0)) throw new Error(`T must be an even integer >= 4, got ${T}`)
  const pair = (seq, first) => {
    const x = Int32Array.from(seq.slice(0, T)), y = Int32Array.from(seq.slice(1, T + 1))
    for (let t = 0; t < first; t++) y[t] = -1
    return {x, y}
  }
  if (name in toy) {
    const n = T / 2, chars = SYMBOLS + SEP, sep = SYMBOLS.length
    return {name, chars, T, draw: (rand) => {
      const s = Array.from({length: n}, () => int(rand, SYMBOLS.length))
      return pair([...s, sep, ...toy[name](s)], n)  // x[n] = "|" predicts the first answer symbol
    }}
  }
  if (name === "induction") {
    if (T < COPIES * SEGMENT[0]) throw new Error(`the induction task needs T >= ${COPIES * SEGMENT[0]}, got ${T}`)
    return {name, chars: LETTERS, T, draw: (rand) => {
      // segments of m random letters, each written COPIES times; for every stream position its segment's length,
      // which copy it is in and its offset in the copy
      const seq = [], len = [], copy = [], offset = [], start = int(rand, 2 * SEGMENT[1])
      while (seq.length < start + T + 1) {
        const m = SEGMENT[0] + int(rand, SEGMENT[1] - SEGMENT[0] + 1)
        const s = Array.from({length: m}, () => int(rand, LETTERS.length))
        for (let c = 0; c < COPIES; c++) s.forEach((id, o) => {
          seq.push(id)
          len.push(m)
          copy.push(c)
          offset.push(o)
        })
      }
      const x = Int32Array.from(seq.slice(start, start + T)), y = Int32Array.from(seq.slice(start + 1, start + T + 1))
      const source = new Int32Array(T)
      for (let t = 0; t < T; t++) {
        const p = start + t, j = p + 1
        source[t] = copy[p] >= 1 && t - len[p] >= 0 ? t - len[p] + 1 : -1
        if (!(copy[j] >= 1 && (offset[j] >= 1 || copy[j] >= 2) && t - len[j] >= 0)) y[t] = -1
      }
      return {x, y, source}
    }}
  }
  const chars = [...new Set(text)].sort().join("")
  if (text.length < 10 * (T + 1)) throw new Error(`text must have at least ${10 * (T + 1)} characters`)
  const ids = Array.from(text, (c) => chars.indexOf(c)), cut = Math.floor(text.length * 0.9)
  const window = (rand, lo, hi) => {
    const start = lo + int(rand, hi - lo - T)
    return pair(ids.slice(start, start + T + 1), 0)
  }
  return {name, chars, T, draw: (rand) => window(rand, 0, cut), drawHeldOut: (rand) => window(rand, cut, ids.length)}
}

// n sequences stacked into one batch {x, y: Int32Array(n T), B: n, T}, and source (n T) if the task has it.
const stack = (seqs, T) => {
  const x = new Int32Array(seqs.length * T), y = new Int32Array(seqs.length * T)
  const source = seqs[0].source ? new Int32Array(seqs.length * T) : null
  seqs.forEach((s, i) => {
    x.set(s.x, i * T)
    y.set(s.y, i * T)
    if (source) source.set(s.source, i * T)
  })
  return {x, y, source, B: seqs.length, T}
}

// The held-out batch (n sequences, drawn with `rand`) and a set of their keys to keep out of training.
export const heldOut = (task, rand, n) => {
  const draw = task.drawHeldOut || task.draw, seqs = [], keys = new Set()
  while (seqs.length < n) {
    const s = draw(rand), key = s.x.join(",")
    if (task.drawHeldOut || !keys.has(key)) {
      seqs.push(s)
      keys.add(key)
    }
  }
  return {...stack(seqs, task.T), keys: task.drawHeldOut ? new Set() : keys}
}

// A training batch of B sequences that are not in the held-out set.
export const trainBatch = (task, rand, B, held) => {
  const seqs = []
  while (seqs.length < B) {
    const s = task.draw(rand)
    if (!held.keys.has(s.x.join(","))) seqs.push(s)
  }
  return stack(seqs, task.T)
}

// Every head's previous-token score and prefix-matching (induction) score on a batch, from the attention of each
// layer (att[l] (B, H, T, T) row-major, as runtime/train.mjs's workspace): attnbook.analysis.previous_token_score
// (the mean weight from each query i >= 1 to key i - 1) and prefix_matching_score (the mean weight from each query
// with source >= 0 to its source key; null without a source). Returns {prev, induction}, each (L, H) row-major.
export const headScores = (att, batch, H) => {
  const {B, T, source} = batch, L = att.length, prev = new Float64Array(L * H)
  const induction = source ? new Float64Array(L * H) : null
  let n = 0
  if (source) for (let i = 0; i < B * T; i++) if (source[i] >= 0) n++
  for (let l = 0; l < L; l++)
    for (let h = 0; h < H; h++) {
      let p = 0, q = 0
      for (let b = 0; b < B; b++) {
        const o = (b * H + h) * T * T
        for (let i = 1; i < T; i++) p += att[l][o + i * T + i - 1]
        if (source) for (let i = 0; i < T; i++) if (source[b * T + i] >= 0) q += att[l][o + i * T + source[b * T + i]]
      }
      prev[l * H + h] = p / (B * (T - 1))
      if (source) induction[l * H + h] = n ? q / n : 0
    }
  return {prev, induction}
}
