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
  const i = c.values.findIndex((x) => x === v || (typeof x === "number" && Number(v) === x))
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
  const scaled = x * 10 ** digits
  if (Number.isInteger(scaled * 2) && !Number.isInteger(scaled)) {  // an exact tie such as 0.125
    const down = Math.floor(scaled)
    const even = down % 2 === 0 ? down : down + 1
    return (even / 10 ** digits).toFixed(digits)
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

// A number with `digits` significant digits, trailing zeros kept, as toPrecision writes it but with Python's
// rules: fixed notation for exponents -4 .. digits - 1, else "1.23e-05"; ties to even in fixed notation.
// Python: f"{x:#.{digits}g}" without a trailing decimal point.
export const sig = (x, digits = 3) => {
  if (!Number.isFinite(x)) return fmt(x)
  if (x === 0) return fmt(0, digits - 1)
  const [mantissa, exponent] = x.toExponential(digits - 1).split("e")
  const e = Number(exponent)
  if (e >= -4 && e < digits) return fmt(x, digits - 1 - e)
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`
}

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
