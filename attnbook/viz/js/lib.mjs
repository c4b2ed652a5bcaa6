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

// The causal cells (j <= i) of the T x T row-major matrix that starts at element `start` of `array`, row by
// row: numpy.tril_indices(T) order, the order in which a heatmap drawing only the causal cells lists them.
export const lowerTriangle = (array, T, start = 0) => {
  const out = new Float32Array(T * (T + 1) / 2)
  let c = 0
  for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) out[c++] = array[start + cell(i, j, T)]
  return out
}
