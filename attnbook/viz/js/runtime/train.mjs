// A small trainable GPT in plain JavaScript: forward pass, hand-written backward pass, gradient clipping and AdamW,
// in float32 (parameters, gradients, moments and activations are Float32Arrays; sums run in float64 and are
// rounded once when stored). An ES module of pure functions with no import: a callback inlines it into the page
// (attnbook.viz.core.js_callback), and the browser tests load it on its own.
//
// Twin of attnbook.model (forward, backward, loss with ignore_index) and attnbook.optim (clip_grad_norm, AdamW with
// nanoGPT's decay rule: matrices decay, biases and norm gains do not) for the configurations the page trains:
// Pre-LN blocks with LayerNorm (eps 1e-5) and biases, causal attention, an untied output head, positions "learned",
// "sinusoidal", "rope", "alibi" (attnbook.positional.alibi_bias: -slope_h (i - j) added to the scaled scores, the
// slopes of alibi_slopes) or "none", with or without a GeLU (tanh) MLP (attn_only). Parameter names, shapes and
// layout are attnbook.model's (flat row-major arrays, "blocks.0.attn.w_qkv" is (C, 3C) with q, k, v side by side
// and the heads side by side in each), so the same weights can be given to both; the browser tests check that
// gradients agree to 1e-4 (relative) and 50 AdamW steps to 1e-3 in loss.
//
// Random numbers: `splitmix32(seed)` is a 32-bit SplitMix generator (the state advances by 0x9e3779b9 and is
// mixed with two multiply-xorshift rounds, as in Java's SplittableRandom folded to 32 bits); it returns uniforms in
// [0, 1) with 32 random bits. Normals are Box-Muller pairs of it. Initialisation is GPT-2's, as
// attnbook.model.init_params: N(0, 0.02^2), the residual projections (attn.w_o, mlp.w_out) 0.02 / sqrt(branches),
// biases 0, gains 1, drawn parameter by parameter in param_shapes order. Same seed, same numbers, on any browser
// (only integer arithmetic, Math.log, Math.sqrt and Math.cos, which V8 and the others compute identically enough
// that the tests see equal curves).
//
// Shape letters: B batch, T positions, N = B T rows, C d_model, H heads, D = C / H, V vocab, F d_ff.

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI)
const GELU_A = 0.044715
const EPS_NORM = 1e-5

export const splitmix32 = (seed) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296
  }
}

// A normal sampler (Box-Muller) over a uniform generator.
export const normals = (rand) => {
  let spare = null
  return () => {
    if (spare !== null) {
      const s = spare
      spare = null
      return s
    }
    const u = 1 - rand(), v = rand(), r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

// The model's configuration with the page's defaults; only these fields matter here.
export const trainConfig = (c) => {
  const cfg = {vocab_size: 11, block_size: 16, d_model: 32, n_layer: 2, n_head: 4, d_ff: 128, pos: "learned",
    attn_only: true, ...c}
  if (cfg.d_model % cfg.n_head) throw new Error(`n_head ${cfg.n_head} must divide d_model ${cfg.d_model}`)
  if (!["learned", "sinusoidal", "rope", "alibi", "none"].includes(cfg.pos)) throw new Error(`unknown pos "${cfg.pos}"`)
  if (cfg.pos === "rope" && (cfg.d_model / cfg.n_head) % 2) throw new Error("rope needs an even head dimension")
  return cfg
}

// ALiBi's slope of each head, attnbook.positional.alibi_slopes: 2^(-8k/n) for k = 1..n with n the largest power of
// two <= H, then every other slope of 2n heads.
export const alibiSlopes = (H) => {
  const pow = (n) => Array.from({length: n}, (_, k) => 2 ** ((-8 * (k + 1)) / n))
  const p = 2 ** Math.floor(Math.log2(H))
  return Float64Array.from([...pow(p), ...pow(2 * p).filter((_, i) => i % 2 === 0).slice(0, H - p)])
}

// [name, shape] pairs in attnbook.model.param_shapes order (norm "layernorm", block "pre", bias, untied head).
export const paramShapes = (config) => {
  const cfg = trainConfig(config), C = cfg.d_model, V = cfg.vocab_size, F = cfg.d_ff
  const out = [["wte", [V, C]]]
  if (cfg.pos === "learned") out.push(["wpe", [cfg.block_size, C]])
  for (let l = 0; l < cfg.n_layer; l++) {
    const p = `blocks.${l}.`
    out.push([`${p}ln1.w`, [C]], [`${p}ln1.b`, [C]], [`${p}attn.w_qkv`, [C, 3 * C]], [`${p}attn.b_qkv`, [3 * C]],
      [`${p}attn.w_o`, [C, C]], [`${p}attn.b_o`, [C]])
    if (!cfg.attn_only)
      out.push([`${p}ln2.w`, [C]], [`${p}ln2.b`, [C]], [`${p}mlp.w_in`, [C, F]], [`${p}mlp.b_in`, [F]],
        [`${p}mlp.w_out`, [F, C]], [`${p}mlp.b_out`, [C]])
  }
  out.push(["ln_f.w", [C]], ["ln_f.b", [C]], ["lm_head", [C, V]])
  return out
}

// Initial parameters {name: Float32Array}, GPT-2 style (see the top of this file).
export const initParams = (config, seed) => {
  const cfg = trainConfig(config), normal = normals(splitmix32(seed))
  const branches = cfg.n_layer * (cfg.attn_only ? 1 : 2), params = {}
  for (const [name, shape] of paramShapes(cfg)) {
    const leaf = name.split(".").pop(), n = shape.reduce((a, b) => a * b, 1), a = new Float32Array(n)
    if (leaf === "w") a.fill(1)
    else if (!(leaf === "b" || leaf.startsWith("b_"))) {
      const std = leaf === "w_o" || leaf === "w_out" ? 0.02 / Math.sqrt(branches) : 0.02
      for (let i = 0; i < n; i++) a[i] = normal() * std
    }
    params[name] = a
  }
  return params
}

// A model: config, parameters (copied into Float32Arrays), gradients, and work space made per batch shape.
export const newModel = (config, params) => {
  const cfg = trainConfig(config), shapes = paramShapes(cfg), p = {}, g = {}
  for (const [name, shape] of shapes) {
    const src = params[name], n = shape.reduce((a, b) => a * b, 1)
    if (src === undefined) throw new Error(`params has no "${name}" (does it match the config?)`)
    if (src.length !== n) throw new Error(`params["${name}"] has ${src.length} numbers, expected ${n}`)
    p[name] = Float32Array.from(src)
    g[name] = new Float32Array(n)
  }
  const C = cfg.d_model, H = cfg.n_head, D = C / H
  const invFreq = (n) => Float64Array.from({length: n / 2}, (_, i) => 10000 ** (-(2 * i) / n))
  return {cfg, C, H, D, V: cfg.vocab_size, F: cfg.d_ff, L: cfg.n_layer, shapes, params: p, grads: g,
    peFreq: cfg.pos === "sinusoidal" ? invFreq(C) : null, ropeFreq: cfg.pos === "rope" ? invFreq(D) : null,
    slopes: cfg.pos === "alibi" ? alibiSlopes(H) : null,
    work: new Map(), last: null}
}

// ---- dense kernels: float32 in and out, float64 sums ------------------------------------------------------
// out (n, m) = a (n, k) @ w (k, m) + b. Rows go two at a time so each weight loaded serves two multiply-adds.
const mm = (a, n, k, w, m, b, out, acc) => {
  let i = 0
  for (; i + 2 <= n; i += 2) {
    for (let j = 0; j < m; j++) acc[j] = acc[m + j] = b ? b[j] : 0
    const a0 = i * k, a1 = a0 + k
    for (let p = 0; p < k; p++) {
      const x0 = a[a0 + p], x1 = a[a1 + p], wp = p * m
      for (let j = 0; j < m; j++) {
        const u = w[wp + j]
        acc[j] += x0 * u
        acc[m + j] += x1 * u
      }
    }
    out.set(acc.subarray(0, 2 * m), i * m)
  }
  for (; i < n; i++) {
    for (let j = 0; j < m; j++) acc[j] = b ? b[j] : 0
    const ai = i * k
    for (let p = 0; p < k; p++) {
      const x = a[ai + p], wp = p * m
      for (let j = 0; j < m; j++) acc[j] += x * w[wp + j]
    }
    out.set(acc.subarray(0, m), i * m)
  }
  return out
}
// out (n, k) = d (n, m) @ w (k, m)^T  (the input gradient of a linear layer); two rows of d per weight row.
const mmT = (d, n, m, w, k, out) => {
  let i = 0
  for (; i + 2 <= n; i += 2) {
    const d0 = i * m, d1 = d0 + m
    for (let p = 0; p < k; p++) {
      const wp = p * m
      let s0 = 0, s1 = 0
      for (let j = 0; j < m; j++) {
        const u = w[wp + j]
        s0 += d[d0 + j] * u
        s1 += d[d1 + j] * u
      }
      out[i * k + p] = s0
      out[(i + 1) * k + p] = s1
    }
  }
  for (; i < n; i++) {
    const di = i * m
    for (let p = 0; p < k; p++) {
      const wp = p * m
      let s = 0
      for (let j = 0; j < m; j++) s += d[di + j] * w[wp + j]
      out[i * k + p] = s
    }
  }
  return out
}
// gw (k, m) = a (n, k)^T @ d (n, m), gb (m) = column sums of d  (the weight gradients of a linear layer); two rows
// of a and d at a time, so each running sum is read and written once per two rows.
const mmGrad = (a, n, k, d, m, gw, gb, acc) => {
  acc.fill(0, 0, k * m)
  let i = 0
  for (; i + 2 <= n; i += 2) {
    const a0 = i * k, a1 = a0 + k, d0 = i * m, d1 = d0 + m
    for (let p = 0; p < k; p++) {
      const x0 = a[a0 + p], x1 = a[a1 + p], o = p * m
      for (let j = 0; j < m; j++) acc[o + j] += x0 * d[d0 + j] + x1 * d[d1 + j]
    }
  }
  for (; i < n; i++) {
    const ai = i * k, di = i * m
    for (let p = 0; p < k; p++) {
      const x = a[ai + p], o = p * m
      for (let j = 0; j < m; j++) acc[o + j] += x * d[di + j]
    }
  }
  gw.set(acc.subarray(0, k * m))
  if (gb) {
    for (let j = 0; j < m; j++) acc[j] = 0
    for (let r = 0; r < n; r++) for (let j = 0; j < m; j++) acc[j] += d[r * m + j]
    gb.set(acc.subarray(0, m))
  }
}

// LayerNorm of n rows: out = xhat w + b; keeps xhat and rstd for the backward pass.
const lnForward = (x, n, C, w, b, out, xhat, rstd) => {
  for (let i = 0; i < n; i++) {
    const o = i * C
    let mean = 0
    for (let c = 0; c < C; c++) mean += x[o + c]
    mean /= C
    let ss = 0
    for (let c = 0; c < C; c++) ss += (x[o + c] - mean) ** 2
    const r = 1 / Math.sqrt(ss / C + EPS_NORM)
    rstd[i] = r
    for (let c = 0; c < C; c++) {
      const h = (x[o + c] - mean) * r
      xhat[o + c] = h
      out[o + c] = h * w[c] + b[c]
    }
  }
}
// dx += rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dout w; gw, gb the gain and bias gradients.
const lnBackward = (dout, n, C, w, xhat, rstd, dx, gw, gb, acc) => {
  acc.fill(0, 0, 2 * C)
  for (let i = 0; i < n; i++) {
    const o = i * C
    let m1 = 0, m2 = 0
    for (let c = 0; c < C; c++) {
      const d = dout[o + c], h = xhat[o + c], dh = d * w[c]
      acc[c] += d * h
      acc[C + c] += d
      m1 += dh
      m2 += dh * h
    }
    m1 /= C
    m2 /= C
    for (let c = 0; c < C; c++) dx[o + c] += rstd[i] * (dout[o + c] * w[c] - m1 - xhat[o + c] * m2)
  }
  for (let c = 0; c < C; c++) {
    gw[c] = acc[c]
    gb[c] = acc[C + c]
  }
}

// Rotate the interleaved pairs of every head of the q or k part (offset) of qkv rows by their positions; the
// inverse rotation (sign -1) is the backward pass.
const rope = (model, qkv, B, T, offset, sign) => {
  const {C, H, D, ropeFreq} = model
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * 3 * C + offset
      for (let i = 0; i < D / 2; i++) {
        const th = t * ropeFreq[i], cs = Math.cos(th), sn = sign * Math.sin(th)
        for (let h = 0; h < H; h++) {
          const a = o + h * D + 2 * i, x0 = qkv[a], x1 = qkv[a + 1]
          qkv[a] = x0 * cs - x1 * sn
          qkv[a + 1] = x0 * sn + x1 * cs
        }
      }
    }
}

// Activations of one batch shape, made once and reused by every pass of that shape (training, held-out, probe).
const workspace = (model, B, T) => {
  const key = `${B}x${T}`
  if (model.work.has(key)) return model.work.get(key)
  const {C, H, V, F, L} = model, N = B * T, f = (n) => new Float32Array(n)
  const layers = Array.from({length: L}, () => ({
    x: f(N * C), xhat1: f(N * C), rstd1: f(N), z1: f(N * C), qkv: f(N * 3 * C), att: f(B * H * T * T), y: f(N * C),
    x2: f(N * C), xhat2: f(N * C), rstd2: f(N), z2: f(N * C), h: f(N * F), a: f(N * F),
  }))
  const big = Math.max(3 * C * C, C * F, C * V, 2 * Math.max(3 * C, F, V), T * C, 2 * C)
  const w = {B, T, layers, x: f(N * C), xhatf: f(N * C), rstdf: f(N), xf: f(N * C), logits: f(N * V),
    dx: f(N * C), dz: f(N * C), dqkv: f(N * 3 * C), dy: f(N * C), dh: f(N * F), dlogits: f(N * V),
    tmp: f(N * Math.max(C, F)), acc: new Float64Array(big), row: new Float64Array(T)}
  model.work.set(key, w)
  return w
}

// The forward pass of ids (Int32Array B*T) into the workspace; returns it (logits (N, V), att per layer
// (B, H, T, T)).
export const forward = (model, ids, B, T) => {
  const {cfg, C, H, D, V, F, params: P} = model, N = B * T
  if (T > cfg.block_size) throw new Error(`T ${T} is longer than block_size ${cfg.block_size}`)
  if (ids.length !== N) throw new Error(`ids has ${ids.length} ids, expected B*T = ${N}`)
  const w = (model.last = workspace(model, B, T)), x = w.x, acc = w.acc, scale = 1 / Math.sqrt(D)
  for (let i = 0; i < N; i++) {
    const id = ids[i], t = i % T
    if (!(id >= 0 && id < V)) throw new Error(`token id ${id} is outside 0..${V - 1}`)
    for (let c = 0; c < C; c++) x[i * C + c] = P.wte[id * C + c]
    if (P.wpe) for (let c = 0; c < C; c++) x[i * C + c] += P.wpe[t * C + c]
    if (model.peFreq)
      for (let k = 0; k < C / 2; k++) {
        x[i * C + 2 * k] += Math.sin(t * model.peFreq[k])
        x[i * C + 2 * k + 1] += Math.cos(t * model.peFreq[k])
      }
  }
  for (let l = 0; l < model.L; l++) {
    const s = w.layers[l], p = `blocks.${l}.`
    s.x.set(x)
    lnForward(x, N, C, P[`${p}ln1.w`], P[`${p}ln1.b`], s.z1, s.xhat1, s.rstd1)
    mm(s.z1, N, C, P[`${p}attn.w_qkv`], 3 * C, P[`${p}attn.b_qkv`], s.qkv, acc)
    if (model.ropeFreq) {
      rope(model, s.qkv, B, T, 0, 1)
      rope(model, s.qkv, B, T, C, 1)
    }
    const q = s.qkv, att = s.att, y = s.y, row = w.row
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++) {
        const slope = model.slopes ? model.slopes[h] : 0  // ALiBi: a constant bias, so backward is unchanged
        for (let i = 0; i < T; i++) {
          const qi = (b * T + i) * 3 * C + h * D
          let max = -Infinity
          for (let j = 0; j <= i; j++) {
            const kj = (b * T + j) * 3 * C + C + h * D
            let dot = 0
            for (let d = 0; d < D; d++) dot += q[qi + d] * q[kj + d]
            row[j] = dot * scale - slope * (i - j)
            if (row[j] > max) max = row[j]
          }
          let sum = 0
          for (let j = 0; j <= i; j++) sum += (row[j] = Math.exp(row[j] - max))
          const ar = ((b * H + h) * T + i) * T, yo = (b * T + i) * C + h * D
          for (let d = 0; d < D; d++) acc[d] = 0
          for (let j = 0; j < T; j++) {
            const a = j <= i ? row[j] / sum : 0
            att[ar + j] = a
            if (a === 0) continue
            const vj = (b * T + j) * 3 * C + 2 * C + h * D
            for (let d = 0; d < D; d++) acc[d] += att[ar + j] * q[vj + d]
          }
          for (let d = 0; d < D; d++) y[yo + d] = acc[d]
        }
      }
    mm(y, N, C, P[`${p}attn.w_o`], C, P[`${p}attn.b_o`], w.tmp, acc)
    for (let i = 0; i < N * C; i++) x[i] += w.tmp[i]
    if (!cfg.attn_only) {
      s.x2.set(x)
      lnForward(x, N, C, P[`${p}ln2.w`], P[`${p}ln2.b`], s.z2, s.xhat2, s.rstd2)
      mm(s.z2, N, C, P[`${p}mlp.w_in`], F, P[`${p}mlp.b_in`], s.h, acc)
      for (let i = 0; i < N * F; i++) {
        const u = s.h[i]
        s.a[i] = 0.5 * u * (1 + Math.tanh(SQRT_2_OVER_PI * (u + GELU_A * u * u * u)))
      }
      mm(s.a, N, F, P[`${p}mlp.w_out`], C, P[`${p}mlp.b_out`], w.tmp, acc)
      for (let i = 0; i < N * C; i++) x[i] += w.tmp[i]
    }
  }
  lnForward(x, N, C, P["ln_f.w"], P["ln_f.b"], w.xf, w.xhatf, w.rstdf)
  mm(w.xf, N, C, P.lm_head, V, null, w.logits, acc)
  return w
}

// Mean cross-entropy of the logits in the workspace against targets (Int32Array B*T, -1 = not counted), its
// gradient into w.dlogits, and how many counted targets the argmax gets right.
const crossEntropy = (model, w, targets) => {
  const V = model.V, N = w.B * w.T, logits = w.logits, dl = w.dlogits
  let n = 0
  for (let i = 0; i < N; i++) if (targets[i] >= 0) n++
  let total = 0, correct = 0
  dl.fill(0)
  for (let i = 0; i < N; i++) {
    const y = targets[i]
    if (y < 0) continue
    if (y >= V) throw new Error(`target ${y} is outside 0..${V - 1}`)
    const o = i * V
    let max = -Infinity, arg = 0
    for (let v = 0; v < V; v++)
      if (logits[o + v] > max) {
        max = logits[o + v]
        arg = v
      }
    let sum = 0
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max)
    total += Math.log(sum) + max - logits[o + y]
    if (arg === y) correct++
    for (let v = 0; v < V; v++) dl[o + v] = Math.exp(logits[o + v] - max) / sum / n
    dl[o + y] -= 1 / n
  }
  return {loss: n ? total / n : 0, correct, count: n}
}

// Loss and accuracy of a batch without gradients.
export const evaluate = (model, ids, targets, B, T) => crossEntropy(model, forward(model, ids, B, T), targets)

// Forward, loss and backward: fills model.grads; returns {loss, correct, count}.
export const lossAndGrads = (model, ids, targets, B, T) => {
  const w = forward(model, ids, B, T), out = crossEntropy(model, w, targets)
  backward(model, ids)
  return out
}

// The backward pass from w.dlogits, after `forward` of the same ids; writes every gradient in model.grads.
export const backward = (model, ids) => {
  const {cfg, C, H, D, V, F, params: P, grads: G} = model, w = model.last, B = w.B, T = w.T, N = B * T
  const acc = w.acc, dx = w.dx, dz = w.dz, scale = 1 / Math.sqrt(D)
  mmGrad(w.xf, N, C, w.dlogits, V, G.lm_head, null, acc)
  dz.fill(0)
  mmT(w.dlogits, N, V, P.lm_head, C, dz)
  dx.fill(0)
  lnBackward(dz, N, C, P["ln_f.w"], w.xhatf, w.rstdf, dx, G["ln_f.w"], G["ln_f.b"], acc)
  for (let l = model.L - 1; l >= 0; l--) {
    const s = w.layers[l], p = `blocks.${l}.`
    if (!cfg.attn_only) {
      mmGrad(s.a, N, F, dx, C, G[`${p}mlp.w_out`], G[`${p}mlp.b_out`], acc)
      const dh = w.dh
      mmT(dx, N, C, P[`${p}mlp.w_out`], F, dh)
      for (let i = 0; i < N * F; i++) {
        const u = s.h[i], t = Math.tanh(SQRT_2_OVER_PI * (u + GELU_A * u * u * u))
        dh[i] *= 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_A * u * u)
      }
      mmGrad(s.z2, N, C, dh, F, G[`${p}mlp.w_in`], G[`${p}mlp.b_in`], acc)
      mmT(dh, N, F, P[`${p}mlp.w_in`], C, dz)
      lnBackward(dz, N, C, P[`${p}ln2.w`], s.xhat2, s.rstd2, dx, G[`${p}ln2.w`], G[`${p}ln2.b`], acc)
    }
    // attention: dx is the gradient of the block's output, also of its residual input
    mmGrad(s.y, N, C, dx, C, G[`${p}attn.w_o`], G[`${p}attn.b_o`], acc)
    const dy = mmT(dx, N, C, P[`${p}attn.w_o`], C, w.dy)
    const q = s.qkv, att = s.att, dq = w.dqkv, row = w.row
    dq.fill(0)
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < T; i++) {
          const ar = ((b * H + h) * T + i) * T, yo = (b * T + i) * C + h * D, qi = (b * T + i) * 3 * C + h * D
          let dot = 0
          for (let j = 0; j <= i; j++) {
            const vj = (b * T + j) * 3 * C + 2 * C + h * D, a = att[ar + j]
            let da = 0
            for (let d = 0; d < D; d++) {
              da += dy[yo + d] * q[vj + d]
              dq[vj + d] += a * dy[yo + d]  // dv_j += a_ij dy_i
            }
            row[j] = da
            dot += a * da
          }
          for (let j = 0; j <= i; j++) {
            const ds = att[ar + j] * (row[j] - dot) * scale, kj = (b * T + j) * 3 * C + C + h * D
            if (ds === 0) continue
            for (let d = 0; d < D; d++) {
              dq[qi + d] += ds * q[kj + d]
              dq[kj + d] += ds * q[qi + d]
            }
          }
        }
    if (model.ropeFreq) {
      rope(model, dq, B, T, 0, -1)
      rope(model, dq, B, T, C, -1)
    }
    mmGrad(s.z1, N, C, dq, 3 * C, G[`${p}attn.w_qkv`], G[`${p}attn.b_qkv`], acc)
    mmT(dq, N, 3 * C, P[`${p}attn.w_qkv`], C, dz)
    lnBackward(dz, N, C, P[`${p}ln1.w`], s.xhat1, s.rstd1, dx, G[`${p}ln1.w`], G[`${p}ln1.b`], acc)
  }
  // embeddings: every row of wte gets the gradients of its tokens, every row of wpe of its position
  acc.fill(0, 0, V * C)
  for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) acc[ids[i] * C + c] += dx[i * C + c]
  G.wte.set(acc.subarray(0, V * C))
  if (G.wpe) {
    acc.fill(0, 0, T * C)
    for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) acc[(i % T) * C + c] += dx[i * C + c]
    G.wpe.fill(0)
    G.wpe.set(acc.subarray(0, T * C))
  }
  return G
}

// ---- optimisation ------------------------------------------------------------------------------------------
// The global L2 norm of the gradients, and attnbook.optim.clip_grad_norm: scale by max / (norm + 1e-6) if below 1.
export const clipGradNorm = (grads, maxNorm) => {
  let ss = 0
  for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) ss += g[i] * g[i]
  const norm = Math.sqrt(ss), coef = maxNorm / (norm + 1e-6)
  if (maxNorm > 0 && Number.isFinite(norm) && coef < 1)
    for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) g[i] *= coef
  return norm
}

// AdamW state over a model's parameters (attnbook.optim.AdamW: decoupled decay of the matrices only).
export const newAdamW = (model, {beta1 = 0.9, beta2 = 0.99, eps = 1e-8, weightDecay = 0.01} = {}) => {
  const m = {}, v = {}, decays = {}
  for (const [name, shape] of model.shapes) {
    m[name] = new Float32Array(model.params[name].length)
    v[name] = new Float32Array(model.params[name].length)
    decays[name] = shape.length >= 2
  }
  return {beta1, beta2, eps, weightDecay, t: 0, m, v, decays}
}

// One AdamW update of model.params from model.grads at learning rate lr (in place).
export const adamwStep = (model, opt, lr) => {
  opt.t += 1
  const {beta1: b1, beta2: b2, eps, weightDecay: wd} = opt
  const stepSize = lr / (1 - b1 ** opt.t), invSqrtBc2 = 1 / Math.sqrt(1 - b2 ** opt.t), shrink = 1 - lr * wd
  for (const [name] of model.shapes) {
    const p = model.params[name], g = model.grads[name], m = opt.m[name], v = opt.v[name], decay = opt.decays[name]
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]
      m[i] = b1 * m[i] + (1 - b1) * gi
      v[i] = b2 * v[i] + (1 - b2) * gi * gi
      const upd = (m[i] / (Math.sqrt(v[i]) * invSqrtBc2 + eps)) * stepSize
      if (decay && wd) p[i] *= shrink
      p[i] -= upd
    }
  }
}

// One training step: forward, loss, backward, clipping, AdamW. Returns {loss, correct, count, gradNorm}.
export const trainStep = (model, opt, ids, targets, B, T, {lr = 3e-3, gradClip = 1} = {}) => {
  const out = lossAndGrads(model, ids, targets, B, T)
  if (!Number.isFinite(out.loss)) return {...out, gradNorm: NaN}
  const gradNorm = gradClip > 0 ? clipGradNorm(model.grads, gradClip) : clipGradNorm(model.grads, 0)
  adamwStep(model, opt, lr)
  return {...out, gradNorm}
}

// The L2 norm of each head's share of the gradients (its q, k, v columns of attn.w_qkv and attn.b_qkv and its rows
// of attn.w_o), as (L, H) row-major.
export const headGradNorms = (model) => {
  const {C, H, D, L, grads: G} = model, out = new Float64Array(L * H)
  for (let l = 0; l < L; l++) {
    const wq = G[`blocks.${l}.attn.w_qkv`], bq = G[`blocks.${l}.attn.b_qkv`], wo = G[`blocks.${l}.attn.w_o`]
    for (let h = 0; h < H; h++) {
      let ss = 0
      for (let part = 0; part < 3; part++) {
        const c0 = part * C + h * D
        for (let d = 0; d < D; d++) {
          ss += bq[c0 + d] ** 2
          for (let r = 0; r < C; r++) ss += wq[r * 3 * C + c0 + d] ** 2
        }
      }
      for (let r = h * D; r < (h + 1) * D; r++) for (let c = 0; c < C; c++) ss += wo[r * C + c] ** 2
      out[l * H + h] = Math.sqrt(ss)
    }
  }
  return out
}
