// Helpers every callback shares. A callback imports what it uses with `import {...} from "./lib.mjs"`;
// attnbook.viz.core.js_callback inlines this file in its place, so the page makes no request for it.
// The payload encoding is documented in attnbook/viz/figure.py: one-row source "<name>-payload", a field's
// leading axes indexed by the values of the controls listed for it in `axes`.

// Read a Map or a plain object by key (Bokeh turns some dicts into Maps).
export const get = (m, k) => (m instanceof Map ? m.get(k) : m[k])

// A payload field by name (the source has one row).
export const field = (payload, key) => {
  const col = payload.data[key]
  if (col === undefined) throw new Error(`payload has no field "${key}"`)
  return col[0]
}

// The value a control's widget holds now (widgets: {suffix: model}).
const widgetValue = (widgets, control) => {
  const w = get(widgets, control.widget)
  if (w === undefined) throw new Error(`no widget given for control "${control.widget}"`)
  return w[control.attr]
}

// Position of the current value of one control's widget among the control's values.
export const controlIndex = (payload, widgets, name) => {
  const control = field(payload, "controls").find((c) => get(c, "widget") === name)
  if (control === undefined) throw new Error(`payload has no control "${name}"`)
  const c = {widget: get(control, "widget"), values: get(control, "values"), attr: get(control, "attr")}
  const v = widgetValue(widgets, c)
  // A slider moved by the keyboard steps in floating point (1.2500000000000002 for 1.25): numbers match to 1e-9
  // relative. Python twin: attnbook.viz.figure.axis_index.
  const i = c.values.findIndex((x) => x === v || (typeof x === "number" &&
    Math.abs(Number(v) - x) <= 1e-9 * Math.max(1, Math.abs(x))))
  if (i < 0) throw new Error(`widget "${c.widget}" holds ${v}, not one of the control's values`)
  return i
}

// A plain typed-array view of `length` elements of `array` from `start` (no copy). Not `subarray`: on
// Bokeh's NDArray classes it goes through a constructor with another signature and views the wrong bytes.
const TYPED = [Float32Array, Float64Array, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
               Int32Array, Uint32Array]
export const view = (array, start, length) => {
  const Base = TYPED.find((T) => array instanceof T)
  if (Base === undefined) throw new Error("view needs a typed array")
  return new Base(array.buffer, array.byteOffset + start * array.BYTES_PER_ELEMENT, length)
}

// The slice of a payload field that the widgets select: a typed subarray (or a nested list's element).
export const pick = (payload, key, widgets) => {
  const names = get(field(payload, "axes"), key) ?? []
  let value = field(payload, key)
  if (names.length === 0) return value
  const idx = names.map((n) => controlIndex(payload, widgets, n))
  if (ArrayBuffer.isView(value)) {
    const shape = value.shape
    let offset = 0
    for (let a = 0; a < idx.length; a++) offset = offset * shape[a] + idx[a]
    let size = 1
    for (let a = idx.length; a < shape.length; a++) size *= shape[a]
    const out = view(value, offset * size, size)
    out.shape = shape.slice(idx.length)
    return out
  }
  for (const i of idx) value = value[i]
  return value
}

// Row-major index of cell (i, j) in a matrix with n columns.
export const cell = (i, j, n) => i * n + j

// A number as Python's f"{x:.{digits}f}" writes it (ties to even, as Python; toFixed rounds them up);
// "−∞" / "∞" for infinities, "" for NaN.
export const fmt = (x, digits = 2) => {
  if (Number.isNaN(x)) return ""
  if (x === Infinity) return "∞"
  if (x === -Infinity) return "−∞"
  if (Math.abs(x) >= 1e21) return BigInt(x).toString() + (digits > 0 ? "." + "0".repeat(digits) : "")  // toFixed goes exponential
  // toFixed rounds exactly, except that it breaks an exact tie upwards; Python breaks it to even. The exact
  // decimal expansion (toFixed with many digits) tells a real tie (…5000…) from a near one (…4999…).
  const exact = Math.abs(x).toFixed(Math.min(100, digits + 60))
  const [whole, frac] = exact.split(".")
  if (/^50*$/.test(frac.slice(digits))) {
    let n = BigInt(whole + frac.slice(0, digits))
    if (n % 2n === 1n) n += 1n
    const t = n.toString().padStart(digits + 1, "0")
    const body = digits > 0 ? `${t.slice(0, -digits)}.${t.slice(-digits)}` : t
    return x < 0 ? `-${body}` : body  // Python keeps the sign even when the result is zero: "-0"
  }
  return Number(x).toFixed(digits)
}

// Colour of value x on a palette spread evenly over [low, high] (Bokeh's LinearColorMapper rule).
export const colorOf = (x, palette, low, high, nanColor = "#d9d9d9") => {
  if (Number.isNaN(x)) return nanColor
  const n = palette.length
  const k = Math.floor(((x - low) / (high - low)) * n)
  return palette[Math.min(n - 1, Math.max(0, k))]
}

// Set several columns of a source at once (one change event, one redraw).
export const setColumns = (source, columns) => {
  source.data = {...source.data, ...columns}
}

// A number as Python's f"{x:.{digits}e}" writes it: "1.23e-05" (two exponent digits at least, exact ties to
// even as Python; toExponential rounds them up); non-finite numbers as fmt writes them.
export const fmtExp = (x, digits = 2) => {
  if (!Number.isFinite(x)) return fmt(x, digits)
  let [mant, exp] = x.toExponential(digits).split("e")
  const [exact, exactExp] = x.toExponential(Math.min(100, digits + 30)).split("e")
  const [whole, frac] = exact.split(".")
  const kept = frac.slice(0, digits)
  if (/^50*$/.test(frac.slice(digits)) && Number((whole + kept).slice(-1)) % 2 === 0) {
    mant = digits > 0 ? `${whole}.${kept}` : whole  // an exact tie such as 1.125: keep the even digit
    exp = exactExp
  }
  const e = Number(exp)
  return `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`
}

// The two text columns of kit.cell_values: each cell's text goes to `label_light` (white ink) when its cell is
// dark, else to `label` (dark ink). Python twin: attnbook.viz.kit.cell_value_columns.
export const cellLabels = (texts, dark) => ({
  label: texts.map((t, i) => (dark[i] ? "" : t)),
  label_light: texts.map((t, i) => (dark[i] ? t : "")),
})

// A number as Python's f"{x:#.{digits}g}" writes it: `digits` significant digits, trailing zeros kept (and the
// point, "123."), exponent notation below 1e-4 and from 10**digits on (Python's rule; toPrecision's differs).
export const fmtSig = (x, digits = 3) => {
  if (!Number.isFinite(x)) return fmt(x)
  const e = x === 0 ? 0 : Number(x.toExponential(digits - 1).split("e")[1])  // the exponent after rounding
  const s = e < -4 || e >= digits ? fmtExp(x, digits - 1) : fmt(x, digits - 1 - e)
  return s.includes(".") ? s : s.replace(/^(-?\d+)/, "$1.")
}

// A Map or a plain object (Bokeh turns some dicts into Maps) as a plain object: a source's new data.
export const plain = (m) => (m instanceof Map ? Object.fromEntries(m) : {...m})

// fmtSig without a bare decimal point: Python's f"{x:#.{digits}g}" with "1.e-05" -> "1e-05" and "123." -> "123".
export const sig = (x, digits = 3) => fmtSig(x, digits).replace(".e", "e").replace(/\.$/, "")

// Text made safe to put in HTML, as Python's html.escape(text) does it.
export const escapeHtml = (text) => String(text).replaceAll("&", "&amp;").replaceAll("<", "&lt;")
  .replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#x27;")

// The points of a curve whose y is finite, as {x, y} float32 columns (a diverged run ends in NaN or inf; a
// curve shorter than its payload field is padded with NaN).
export const finiteXY = (x, y) => {
  const keep = []
  for (let i = 0; i < y.length; i++) if (Number.isFinite(y[i])) keep.push(i)
  return {x: Float32Array.from(keep, (i) => x[i]), y: Float32Array.from(keep, (i) => y[i])}
}

// A typed array that carries its shape (and dimension), as Bokeh's image glyph and `pick` read them.
export const shaped = (array, shape) => {
  array.shape = shape
  array.dimension = shape.length
  return array
}

// The top-left (T, T) corner of the last two axes of a square matrix (a field padded to the longest sentence),
// row-major, each value passed through f, as float32.
export const corner = (matrix, T, f = (v) => v) => {
  const n = matrix.shape[matrix.shape.length - 1]
  const out = new Float32Array(T * T)
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) out[i * T + j] = f(matrix[i * n + j])
  return out
}

// Redraw a token grid (kit.token_grid) for tokens that may change in number: one cell per (query i, key j) at
// x = j, y = -i, plus `columns` (T*T values each, row-major); token labels on both axes; ranges fitted to T.
export const tokenGrid = (source, plot, axes, tokens, columns) => {
  const T = tokens.length, n = T * T
  const x = new Float32Array(n), y = new Float32Array(n), q_token = new Array(n), k_token = new Array(n)
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const c = cell(i, j, T)
      x[c] = j; y[c] = -i; q_token[c] = tokens[i]; k_token[c] = tokens[j]
    }
  }
  source.data = {x, y, q_token, k_token, ...columns}
  const idx = tokens.map((_, i) => i)
  const [xaxis, yaxis] = axes
  xaxis.ticker.ticks = idx
  xaxis.major_label_overrides = new Map(idx.map((j) => [j, tokens[j]]))
  yaxis.ticker.ticks = idx.map((i) => -i + 0)
  yaxis.major_label_overrides = new Map(idx.map((i) => [-i + 0, tokens[i]]))
  plot.x_range.setv({start: -0.5, end: T - 0.5})
  plot.y_range.setv({start: -T + 0.5, end: 0.5})
}

// Rows of a text panel (kit.text_panel): put(x, y, text, style, align, color) appends one; `columns` is the
// data to give its text source.
export const textRows = () => {
  const columns = {x: [], y: [], text: [], color: [], style: [], align: []}
  const put = (x, y, text, style = "normal", align = "left", color = "#222222") => {
    columns.x.push(x); columns.y.push(y); columns.text.push(text)
    columns.style.push(style); columns.align.push(align); columns.color.push(color)
  }
  return {columns, put}
}

// The causal cells (j <= i) of the T x T row-major matrix that starts at element `start` of `array`, row by
// row: numpy.tril_indices(T) order, the order in which a heatmap drawing only the causal cells lists them.
export const lowerTriangle = (array, T, start = 0) => {
  const out = new Float32Array(T * (T + 1) / 2)
  let c = 0
  for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) out[c++] = array[start + cell(i, j, T)]
  return out
}

// Write a figure's text description (kit.description): what the figure shows (the Div's second tag, plain text),
// then `state`, HTML whose line breaks become spaces and other tags are dropped (a readout's text, or text passed
// through escapeHtml). Python twin:
// attnbook.viz.kit.described.
export const describe = (description, state = "") => {
  const what = escapeHtml(description.tags[1] ?? "")
  const text = String(state).replace(/<br\s*\/?>/g, " ").replace(/<[^>]*>/g, "")
  description.text = [what, text].filter((t) => t !== "").join(" ")
}

// The text of a text panel (kit.text_panel) as one line: its rows (entries at one y) in order, cells joined by a
// space, rows by "; ". Python twin: attnbook.viz.kit.panel_text.
export const panelText = (columns) => {
  const rows = []
  columns.text.forEach((t, k) => {
    if (k > 0 && columns.y[k] === columns.y[k - 1]) rows[rows.length - 1] += " " + t
    else rows.push(String(t))
  })
  return rows.join("; ")
}

// --- Typed text run by the in-page model (chapters 8 and 10) -------------------------------------------------

// How a character is drawn as a label: a new line and a space would print as nothing. Python twin:
// attnbook.viz.kit.shown_char.
export const shownChar = (c) => (c === "\n" ? "⏎" : c === " " ? "␣" : c)

// The columns of an image source (kit.image_source) showing a (h, w) row-major matrix with its lower-left corner at
// (x, y), one unit per cell (Bokeh's image glyph reads the array's shape); no image when it is empty. Python twin:
// attnbook.viz.kit.image_columns.
export const imageColumns = (flat, h, w, x, y) => (flat.length === 0 ? {image: [], x: [], y: [], dw: [], dh: []}
  : {image: [shaped(flat, [h, w])], x: [x], y: [y], dw: [w], dh: [h]})

// The friendly notice above a text box read by a model (encodeText's result e, runtime/gpt.mjs): empty text,
// characters folded or skipped, the window used. Python twin: attnbook.viz.kit.text_notice.
export const textNotice = (e, blockSize) => {
  // a character that occurs more than once is listed once, with its count (z ×2)
  const code = (chars, count = () => 1) => [...chars].map((c) => {
    const n = count(c)
    return `<code>${shownChar(c).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")}</code>` +
      (n > 1 ? ` ×${n}` : "")
  }).join(" ")
  const parts = []
  if (!e.text) parts.push("Type some text: the model needs at least one character to predict the next one (it has " +
    "no start-of-text token).")
  else if (!e.window) parts.push("None of these characters is in the model's vocabulary, so there is nothing to read.")
  if (e.folded) parts.push(`Capitals folded to lower case (the training text has none): ${code(e.folded)}.`)
  if (e.skipped) parts.push(`Skipped ${e.nSkipped} character${e.nSkipped === 1 ? "" : "s"} outside the vocabulary: ` +
    `${code(e.skipped, (c) => [...e.text].filter((ch) => ch === c).length)}.`)
  if (e.nCut) parts.push(`The text is longer than the model's window of ${blockSize} characters: it reads only the ` +
    `last ${blockSize}, the ones shown below.`)
  if (parts.length === 0) parts.push("Every character is in the model's vocabulary.")
  return parts.join("<br>")
}

// One head's attention over T characters (A: (T, T) row-major, zeros above the diagonal) as the columns of
// kit.attention_views: the heatmap's image (keys after the query masked: NaN, drawn grey) and the lines of weight
// >= lineMin, coloured by color(i, j) (query i, key j). Python twin: attnbook.viz.kit.attention_columns.
export const attentionColumns = (A, T, lineMin, color) => {
  const cells = new Float64Array(T * T).fill(NaN)
  const x0 = [], x1 = [], weight = [], colors = []
  for (let i = 0; i < T; i++)
    for (let j = 0; j <= i; j++) {
      const a = A[i * T + j]
      cells[i * T + j] = a
      if (a >= lineMin) {
        x0.push(j)
        x1.push(i)
        weight.push(a)
        colors.push(color(i, j))
      }
    }
  return {cells: imageColumns(cells, T, T, -0.5, 0.5 - T),
    links: {x0: Float64Array.from(x0), x1: Float64Array.from(x1), weight: Float64Array.from(weight), color: colors}}
}

// BokehJS rewrites the text of each renderer's position stylesheet (a <style> element) at every paint, changed or
// not, and every rewrite makes the browser recompute the plot's styles at the next read of a CSS value, which
// BokehJS does several times a paint (the colours of titles and axes): about thirty style recalculations for one
// keystroke in chapter 10, some 10% of its main-thread time. This makes a rewrite with the same text a no-op, for
// the whole page (once; nothing else changes: the stylesheet already holds that text). False when this BokehJS has no
// such stylesheet class (then nothing is changed).
export const skipUnchangedStyleSheets = () => {
  const proto = globalThis.Bokeh?.require?.("core/dom")?.InlineStyleSheet?.prototype
  if (proto === undefined || typeof proto._update !== "function") return false
  if (proto._update.attnbookSkipsUnchanged) return true
  const write = proto._update
  const skipping = function (css) {
    if (this.el?.textContent !== css) write.call(this, css)
  }
  skipping.attnbookSkipsUnchanged = true
  proto._update = skipping
  return true
}
