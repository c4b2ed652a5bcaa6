// The toy tasks of chapter 11, generated in the page from a seed: copy, reverse, sort, repeated random sequences
// (induction) and a small text. An ES module of pure functions with no import; random numbers come from the
// caller's generator `rand` (uniforms in [0, 1), e.g. runtime/train.mjs's splitmix32), so a seed fixes every batch.
//
// Every task is next-token prediction on sequences of T input tokens: x[t] is read, y[t] = the token at t + 1 is
// predicted, and y[t] = -1 where the answer cannot be known from what came before (those positions are left out
// of the loss and the accuracy).
//   copy, reverse, sort: n random symbols of "abcdefghij", then "|", then the same symbols copied, reversed or
//     sorted; only the answer after "|" is scored. T = 2n.
//   induction: chapter 8's repeated random sequences: segments of 3 to 5 distinct random letters of a..z, each
//     written three times, in a window that starts anywhere. Scored: the letters that repeat and whose previous
//     letter already occurred in the window with this one after it, so that an induction head (find the earlier
//     occurrence of the current letter, predict the letter that followed it) gets them right; the copy sits at a
//     different distance every time, so "look m positions back" does not work.
//   text: windows of T + 1 characters of the given text; every position is scored. The last tenth of the text
//     is held out.
// The held-out set is fixed by the seed; training sequences equal to a held-out one are drawn again (toy tasks).

export const TASK_NAMES = ["copy", "reverse", "sort", "induction", "text"]
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
    return {name, chars: LETTERS, T, draw: (rand) => {
      // segments of m = 3..5 distinct random letters, each written three times, from a random start
      const seq = [], scored = [], start = int(rand, 15)
      while (seq.length < start + T + 1) {
        const m = 3 + int(rand, 3), s = distinct(rand, LETTERS.length, m)
        for (let c = 0; c < 3; c++) s.forEach((id, o) => {
          seq.push(id)
          scored.push(c >= 1 && (o > 0 || c >= 2) ? m : 0)  // the letter m back, and the one before it, repeat
        })
      }
      const x = Int32Array.from(seq.slice(start, start + T)), y = Int32Array.from(seq.slice(start + 1, start + T + 1))
      for (let t = 0; t < T; t++) if (!(scored[start + t + 1] && t - scored[start + t + 1] >= 0)) y[t] = -1
      return {x, y}
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

// n sequences stacked into one batch {x, y: Int32Array(n T), B: n, T}.
const stack = (seqs, T) => {
  const x = new Int32Array(seqs.length * T), y = new Int32Array(seqs.length * T)
  seqs.forEach((s, i) => {
    x.set(s.x, i * T)
    y.set(s.y, i * T)
  })
  return {x, y, B: seqs.length, T}
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
