// The book's character GPT in plain JavaScript: the forward pass of attnbook.model with a key/value cache, plus
// the text rule, the sampler and a seeded random number generator. An ES module of pure functions: any callback
// (or, later, an in-page trainer) imports what it needs; attnbook.viz.core.js_callback inlines it into the page.
//
// Twin of attnbook/model.py (forward) and attnbook/sample.py (temperature, top-k, inverse-CDF sampling); the
// browser tests check both against NumPy. It supports every ModelConfig the book uses: positions none, learned,
// sinusoidal, rope, alibi; norms layernorm, rmsnorm, none; Pre-LN, Post-LN and Sandwich blocks; relu, gelu (tanh),
// swish, swiglu; attention-only blocks; causal, local and global_local masks; tied or separate output weights;
// with or without biases. No dropout: this is inference.
//
// Numbers: weights arrive as float32 and are widened once to float64; every activation is a float64 (a JS
// number), so the results are NumPy's float64 forward pass of the same float32 weights up to rounding (~1e-14
// measured), and its float32 pass to ~1e-6.
//
// Use:
//   const model = loadModel(config, weights)  // config: ModelConfig fields; weights: {name: flat array}
//   const cache = newCache(model)             // one sequence's keys, values and everything shown
//   run(model, cache, ids)                    // ids: token ids (at most block_size); returns positions computed
//   logitsAt(model, cache, cache.T - 1)       // then attention(model, cache, l, h), streamAt(model, cache, s, t)
// Because the model is causal, nothing at position i depends on later positions: `run` keeps the longest common
// prefix of the cached sequence and the new one and computes only the rest, layer by layer (typing one more
// character costs one position). Functions mutate only the cache passed to them; nothing is global.
//
// Layout of the arrays: row-major, as NumPy's. A weight "blocks.0.attn.w_qkv" of shape (C, 3C) is the flat array
// w with w[i * 3C + j] = W[i, j]. Shape letters: T positions, C d_model, H heads, D = C / H, V vocab, F d_ff.

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI)
const GELU_A = 0.044715

// A (n, m) row-major weight matrix as its transpose (m, n) in float64: row j holds the weights of output j, so an
// output is one contiguous dot product (see matmul).
const transposed = (a, n, m) => {
  const t = new Float64Array(n * m)
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) t[j * n + i] = a[i * m + j]
  return t
}

// ALiBi slopes of attnbook.positional.alibi_slopes: 2^(-8k/n) for the largest power of two n <= H, then the
// odd-indexed slopes of 2n for the remaining heads.
export const alibiSlopes = (H) => {
  const powerOfTwo = (n) => Array.from({length: n}, (_, k) => 2 ** (-8 * (k + 1) / n))
  const p = 2 ** Math.floor(Math.log2(H))
  const slopes = powerOfTwo(p)
  if (p !== H) slopes.push(...powerOfTwo(2 * p).filter((_, i) => i % 2 === 0).slice(0, H - p))
  return slopes
}

// The model: config (ModelConfig fields) and weights ({name: flat array}, attnbook.model names and shapes).
export const loadModel = (config, weights) => {
  const cfg = {...config}
  const C = cfg.d_model, H = cfg.n_head, D = C / H, V = cfg.vocab_size, F = cfg.d_ff
  const get = (name) => {
    const a = weights[name]
    if (a === undefined) throw new Error(`weights has no "${name}" (does it match the config?)`)
    return a
  }
  const vec = (name) => Float64Array.from(get(name))
  const mat = (name, n, m) => transposed(get(name), n, m)  // stored as (m, n), see `transposed`
  const bias = (name) => (cfg.bias ? vec(name) : null)
  const hasNorm = cfg.norm !== "none"
  const norm = (name) => (hasNorm ? {w: vec(`${name}.w`), b: cfg.norm === "layernorm" ? bias(`${name}.b`) : null} : null)
  const sandwich = cfg.block === "sandwich", Fin = cfg.activation === "swiglu" ? 2 * F : F
  const blocks = []
  for (let l = 0; l < cfg.n_layer; l++) {
    const p = `blocks.${l}.`, mlp = !cfg.attn_only
    blocks.push({
      ln1: norm(`${p}ln1`), ln1_post: sandwich ? norm(`${p}ln1_post`) : null,
      w_qkv: mat(`${p}attn.w_qkv`, C, 3 * C), b_qkv: bias(`${p}attn.b_qkv`),
      w_o: mat(`${p}attn.w_o`, C, C), b_o: bias(`${p}attn.b_o`),
      ln2: mlp ? norm(`${p}ln2`) : null, ln2_post: mlp && sandwich ? norm(`${p}ln2_post`) : null,
      w_in: mlp ? mat(`${p}mlp.w_in`, C, Fin) : null, b_in: mlp ? bias(`${p}mlp.b_in`) : null,
      w_out: mlp ? mat(`${p}mlp.w_out`, F, C) : null, b_out: mlp ? bias(`${p}mlp.b_out`) : null,
    })
  }
  const wte = vec("wte")  // (V, C): row v embeds token v, and is also the unembedding's row when tied
  const finalNorm = hasNorm && cfg.block !== "post"
  // Sinusoidal and RoPE frequencies: base^(-2i/C) and base^(-2i/D), as attnbook.positional computes them.
  const invFreq = (n) => Array.from({length: n / 2}, (_, i) => 10000 ** (-(2 * i) / n))
  return {
    cfg, C, H, D, V, F, Fin, blocks, wte,
    head: cfg.tie_weights ? wte : mat("lm_head", C, V),  // (V, C): the unembedding, transposed
    wpe: cfg.pos === "learned" ? vec("wpe") : null,
    peFreq: cfg.pos === "sinusoidal" ? invFreq(C) : null,
    ropeFreq: cfg.pos === "rope" ? invFreq(D) : null,
    slopes: cfg.pos === "alibi" ? alibiSlopes(H) : null,
    ln_f: finalNorm ? norm("ln_f") : null,
    stages: 1 + cfg.n_layer + (finalNorm ? 1 : 0),  // residual stream read after: embedding, each block, ln_f
  }
}

// An empty cache for one sequence of up to block_size positions.
export const newCache = (model) => {
  const {cfg, C, H, V, Fin} = model, N = cfg.block_size
  const per = (n) => Array.from({length: cfg.n_layer}, () => new Float64Array(n))
  const rows = (n) => new Float64Array(N * n)
  return {
    T: 0,  // positions computed
    ids: new Int32Array(N),
    k: per(N * C), v: per(N * C),  // (N, C) per layer, heads side by side, keys after RoPE
    att: per(H * N * N),  // (H, N, N) per layer: att[(h * N + i) * N + j], row i filled when i < T
    stream: Array.from({length: model.stages}, () => rows(C)),  // (N, C) per stage
    logits: rows(V),  // (N, V)
    // Work space for a batch of new positions (rows): x the stream, z a sublayer's input, qkv, y, h, a, out.
    work: {x: rows(C), z: rows(C), qkv: rows(3 * C), y: rows(C), h: rows(Fin), a: rows(model.F), out: rows(C),
      s: new Float64Array(N)},
  }
}

// out[r] = x[r] W (+ b) for r < rows: x (rows, n), Wt the transposed weights (m, n), out (rows, m).
// Rows go four at a time against two weight rows (eight sums in registers: each number loaded serves four or
// two multiply-adds, two to three times faster in V8 than one dot product at a time). Every sum runs over i in
// order, so a position gets bit-identical numbers whether it is computed alone or in a batch.
const matmul = (x, rows, n, Wt, b, out, m) => {
  let r = 0
  for (; r + 4 <= rows; r += 4) {
    const x0 = r * n, x1 = x0 + n, x2 = x1 + n, x3 = x2 + n, o = r * m
    for (let j = 0; j < m; j += 2) {
      const w0 = j * n, two = j + 1 < m, w1 = two ? w0 + n : w0
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0
      for (let i = 0; i < n; i++) {
        const u = Wt[w0 + i], v = Wt[w1 + i], p0 = x[x0 + i], p1 = x[x1 + i], p2 = x[x2 + i], p3 = x[x3 + i]
        a0 += p0 * u; a1 += p1 * u; a2 += p2 * u; a3 += p3 * u
        c0 += p0 * v; c1 += p1 * v; c2 += p2 * v; c3 += p3 * v
      }
      const bj = b ? b[j] : 0
      out[o + j] = a0 + bj; out[o + m + j] = a1 + bj; out[o + 2 * m + j] = a2 + bj; out[o + 3 * m + j] = a3 + bj
      if (two) {
        const bk = b ? b[j + 1] : 0
        out[o + j + 1] = c0 + bk; out[o + m + j + 1] = c1 + bk; out[o + 2 * m + j + 1] = c2 + bk
        out[o + 3 * m + j + 1] = c3 + bk
      }
    }
  }
  for (; r < rows; r++) {
    const xo = r * n, o = r * m
    for (let j = 0; j < m; j++) {
      const wo = j * n
      let a = 0
      for (let i = 0; i < n; i++) a += x[xo + i] * Wt[wo + i]
      out[o + j] = a + (b ? b[j] : 0)
    }
  }
  return out
}

// LayerNorm or RMSNorm of each of `rows` rows of x (C wide) into out (may be x), gain p.w, LayerNorm bias p.b.
const normalize = (model, p, x, out, rows) => {
  const C = model.C, eps = model.cfg.norm_eps, layer = model.cfg.norm === "layernorm"
  for (let r = 0; r < rows; r++) {
    const o = r * C
    let mean = 0
    if (layer) {
      for (let c = 0; c < C; c++) mean += x[o + c]
      mean /= C
    }
    let ss = 0
    for (let c = 0; c < C; c++) ss += (x[o + c] - mean) * (x[o + c] - mean)
    const rstd = 1 / Math.sqrt(ss / C + eps)
    for (let c = 0; c < C; c++) out[o + c] = (x[o + c] - mean) * rstd * p.w[c] + (p.b ? p.b[c] : 0)
  }
  return out
}

// May query i attend to key j (j <= i)? The config's mask, causal in every case (attnbook.masks).
const allowed = (cfg, i, j) => {
  if (cfg.mask === "local") return i - j <= cfg.window
  if (cfg.mask === "global_local") return i - j <= cfg.window || j < cfg.n_global || i < cfg.n_global
  return true
}

// Rotate the interleaved pairs (2i, 2i+1) of each head of vec[offset .. offset + C) by position t (RoPE).
const rope = (model, vec, offset, t) => {
  const {H, D, ropeFreq} = model
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < D / 2; i++) {
      const a = offset + h * D + 2 * i, th = t * ropeFreq[i], cs = Math.cos(th), sn = Math.sin(th)
      const x0 = vec[a], x1 = vec[a + 1]
      vec[a] = x0 * cs - x1 * sn
      vec[a + 1] = x0 * sn + x1 * cs
    }
  }
}

// Causal multi-head self-attention of the new positions p .. p + rows - 1 (inputs z) into out; stores their
// keys, values and attention weights in the cache.
const attend = (model, cache, l, blk, z, out, p, rows) => {
  const {cfg, C, H, D} = model, N = cfg.block_size, w = cache.work
  const qkv = matmul(z, rows, C, blk.w_qkv, blk.b_qkv, w.qkv, 3 * C)  // (rows, 3C): q, k, v side by side
  const K = cache.k[l], Vv = cache.v[l], att = cache.att[l], s = w.s, y = w.y
  for (let r = 0; r < rows; r++) {
    if (model.ropeFreq) {
      rope(model, qkv, r * 3 * C, p + r)
      rope(model, qkv, r * 3 * C + C, p + r)
    }
    K.set(qkv.subarray(r * 3 * C + C, r * 3 * C + 2 * C), (p + r) * C)
    Vv.set(qkv.subarray(r * 3 * C + 2 * C, r * 3 * C + 3 * C), (p + r) * C)
  }
  const scale = 1 / Math.sqrt(D), masked = cfg.mask !== "causal"
  for (let r = 0; r < rows; r++) {
    const t = p + r, q = r * 3 * C
    for (let h = 0; h < H; h++) {
      const hd = h * D, slope = model.slopes ? model.slopes[h] : 0  // ALiBi: score - slope * distance
      let max = -Infinity
      for (let j = 0; j <= t; j++) {
        if (masked && !allowed(cfg, t, j)) {
          s[j] = -Infinity
          continue
        }
        let dot = 0
        const ko = j * C + hd
        for (let d = 0; d < D; d++) dot += qkv[q + hd + d] * K[ko + d]
        s[j] = slope ? dot * scale - slope * (t - j) : dot * scale
        if (s[j] > max) max = s[j]
      }
      let sum = 0
      for (let j = 0; j <= t; j++) {
        s[j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - max)
        sum += s[j]
      }
      const row = (h * N + t) * N, yo = r * C + hd
      for (let d = 0; d < D; d++) y[yo + d] = 0
      for (let j = 0; j <= t; j++) {
        const a = s[j] / sum, vo = j * C + hd
        att[row + j] = a
        if (a !== 0) for (let d = 0; d < D; d++) y[yo + d] += a * Vv[vo + d]
      }
    }
  }
  return matmul(y, rows, C, blk.w_o, blk.b_o, out, C)  // heads concatenated, then the output projection
}

// The MLP act(z W_in + b_in) W_out + b_out of `rows` positions into out.
const mlp = (model, blk, z, out, rows, w) => {
  const {C, F, Fin, cfg} = model, act = cfg.activation
  const h = matmul(z, rows, C, blk.w_in, blk.b_in, w.h, Fin), a = w.a
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < F; f++) {
      const x = h[r * Fin + f]
      let y
      if (act === "relu") y = x > 0 ? x : 0
      else if (act === "gelu") y = 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_A * x * x * x)))
      else {
        const sig = 0.5 * (1 + Math.tanh(0.5 * x))  // the sigmoid, written so that it cannot overflow
        y = act === "swish" ? x * sig : x * sig * h[r * Fin + F + f]  // swiglu: swish(gate) times the linear half
      }
      a[r * F + f] = y
    }
  }
  return matmul(a, rows, F, blk.w_out, blk.b_out, out, C)
}

// One residual sublayer around f (attention or MLP) with the block's norm placement; x is updated in place.
//   pre: x + f(norm(x))   post: norm(x + f(x))   sandwich: x + norm_post(f(norm(x)))
const sublayer = (model, x, z, ln, lnPost, f, rows) => {
  const post = model.cfg.block === "post", n = rows * model.C
  const out = f(ln && !post ? normalize(model, ln, x, z, rows) : x)
  if (lnPost) normalize(model, lnPost, out, out, rows)
  for (let i = 0; i < n; i++) x[i] += out[i]
  if (ln && post) normalize(model, ln, x, x, rows)
}

// Compute positions p .. ids.length - 1 of `ids` (positions before p are in the cache), layer by layer.
const extend = (model, cache, ids, p) => {
  const {cfg, C, V} = model, rows = ids.length - p, w = cache.work, x = w.x
  if (rows <= 0) return
  for (let r = 0; r < rows; r++) {
    const t = p + r, id = ids[t], o = r * C
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new Error(`token id ${id} is outside 0..${V - 1}`)
    cache.ids[t] = id
    for (let c = 0; c < C; c++) x[o + c] = model.wte[id * C + c]
    if (model.wpe) for (let c = 0; c < C; c++) x[o + c] += model.wpe[t * C + c]
    if (model.peFreq)
      for (let i = 0; i < C / 2; i++) {
        x[o + 2 * i] += Math.sin(t * model.peFreq[i])
        x[o + 2 * i + 1] += Math.cos(t * model.peFreq[i])
      }
  }
  const keep = (s, a) => cache.stream[s].set(a.subarray(0, rows * C), p * C)
  keep(0, x)
  model.blocks.forEach((blk, l) => {
    sublayer(model, x, w.z, blk.ln1, blk.ln1_post, (z) => attend(model, cache, l, blk, z, w.out, p, rows), rows)
    if (!cfg.attn_only)
      sublayer(model, x, w.z, blk.ln2, blk.ln2_post, (z) => mlp(model, blk, z, w.out, rows, w), rows)
    keep(l + 1, x)
  })
  let xf = x
  if (model.ln_f) {
    xf = normalize(model, model.ln_f, x, w.z, rows)
    keep(model.stages - 1, xf)
  }
  matmul(xf, rows, C, model.head, null, cache.logits.subarray(p * V), V)
  cache.T = ids.length
}

// Append token `id` at position cache.T: the whole stack for that one position. Returns the cache.
export const step = (model, cache, id) => {
  if (cache.T >= model.cfg.block_size) throw new Error(`the cache is full (block_size ${model.cfg.block_size})`)
  extend(model, cache, [...cache.ids.subarray(0, cache.T), id], cache.T)
  return cache
}

// Bring the cache to the sequence `ids` (at most block_size ids): keep the longest common prefix of the cached
// sequence and `ids`, compute the rest. Returns how many positions were computed (0 when characters were only
// deleted at the end).
export const run = (model, cache, ids) => {
  if (ids.length > model.cfg.block_size) throw new Error(`ids has ${ids.length} tokens, more than block_size`)
  let p = 0
  while (p < cache.T && p < ids.length && cache.ids[p] === ids[p]) p++
  cache.T = p
  extend(model, cache, ids, p)
  return ids.length - p
}

// Attention weights of layer l, head h as a (T, T) row-major Float64Array (zeros above the diagonal).
export const attention = (model, cache, l, h) => {
  const N = model.cfg.block_size, T = cache.T, out = new Float64Array(T * T), att = cache.att[l]
  for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) out[i * T + j] = att[(h * N + i) * N + j]
  return out
}

// Logits at position t (length V, a view into the cache).
export const logitsAt = (model, cache, t) => cache.logits.subarray(t * model.V, (t + 1) * model.V)

// The residual stream at position t after stage s (length C, a view into the cache).
export const streamAt = (model, cache, s, t) => cache.stream[s].subarray(t * model.C, (t + 1) * model.C)

// log-softmax of a vector of logits (a new Float64Array).
export const logSoftmax = (logits) => {
  let max = -Infinity
  for (const z of logits) if (z > max) max = z
  let sum = 0
  for (const z of logits) sum += Math.exp(z - max)
  const lse = max + Math.log(sum)
  return Float64Array.from(logits, (z) => z - lse)
}

// Sampling probabilities of attnbook.sample._probs: temperature 0 is the arg-max (the first on ties); top-k keeps
// the logits >= the k-th largest (ties kept); then softmax(logits / temperature). topK null = all.
export const samplingProbs = (logits, temperature, topK) => {
  const V = logits.length, out = new Float64Array(V)
  if (temperature === 0) {
    let best = 0
    for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v
    out[best] = 1
    return out
  }
  let kth = -Infinity
  if (topK != null) kth = Float64Array.from(logits).sort()[V - topK]
  let max = -Infinity
  for (let v = 0; v < V; v++) if (logits[v] >= kth && logits[v] / temperature > max) max = logits[v] / temperature
  let sum = 0
  for (let v = 0; v < V; v++) {
    out[v] = logits[v] >= kth ? Math.exp(logits[v] / temperature - max) : 0
    sum += out[v]
  }
  for (let v = 0; v < V; v++) out[v] /= sum
  return out
}

// mulberry32: a 32-bit seeded generator of uniform numbers in [0, 1) (each call advances it).
export const mulberry32 = (seed) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Inverse-CDF sampling as attnbook.sample.generate: the first index whose cumulative probability exceeds u * total.
export const sampleIndex = (probs, u) => {
  let total = 0
  for (const p of probs) total += p
  const target = u * total
  let cdf = 0, n = 0
  for (const p of probs) {
    cdf += p
    if (cdf <= target) n++
    else break
  }
  return Math.min(n, probs.length - 1)
}

// Sample a continuation of the sequence in `cache`, one token per call of the iterator's next(): the next id is
// drawn from the cache's last logits, then appended (when the cache is full, the window slides and the last
// block_size tokens are recomputed, as attnbook.sample crops its context). The cache advances as it goes.
export const sampler = function* (model, cache, {temperature = 1, topK = null, seed = 0} = {}) {
  if (cache.T === 0) throw new Error("sampling needs at least one token to continue")
  const rand = mulberry32(seed), B = model.cfg.block_size
  let ids = Array.from(cache.ids.subarray(0, cache.T))
  for (;;) {
    const id = sampleIndex(samplingProbs(logitsAt(model, cache, cache.T - 1), temperature, topK), rand())
    ids.push(id)
    if (ids.length > B) ids = ids.slice(1)
    yield id
    if (cache.T < B) step(model, cache, id)
    else run(model, cache, ids)
  }
}

// The next n ids of `sampler` (same options), as an array.
export const generate = (model, cache, n, options = {}) => {
  const it = sampler(model, cache, options)
  return Array.from({length: n}, () => it.next().value)
}

// The text rule of attnbook.experiments.own_text.encode_text: keep characters in the vocabulary, fold ASCII
// capitals whose lower case is in it, skip the rest; the model reads the last blockSize kept characters.
export const encodeText = (text, chars, blockSize) => {
  const stoi = new Map([...chars].map((c, i) => [c, i]))
  const kept = [], folded = [], skipped = []
  for (const ch of text) {  // code points, as Python iterates a str
    if (stoi.has(ch)) kept.push(ch)
    else if (ch >= "A" && ch <= "Z" && stoi.has(ch.toLowerCase())) {
      kept.push(ch.toLowerCase())
      folded.push(ch)
    } else skipped.push(ch)
  }
  const nCut = Math.max(0, kept.length - blockSize)
  const window = kept.slice(nCut)
  const once = (a) => [...new Set(a)].join("")
  return {text, window: window.join(""), ids: window.map((c) => stoi.get(c)), folded: once(folded),
    skipped: once(skipped), nSkipped: skipped.length, nCut}
}
