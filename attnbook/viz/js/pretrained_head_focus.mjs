// Head view pointer: hovering or tapping a token box focuses its lines (left = as a query, right = as a key);
// moving off the tokens drops a focus that hovering set; tapping a colour square picks that head.
export default ({focus, head, tokens_source, legend_source}, obj, data) => {
  const hovering = data != null && data.geometry != null
  const g = hovering ? data.geometry : (data != null ? data.geometries : null)
  if (g == null) return
  const {x, y} = g
  const d = tokens_source.data
  let key = null
  for (let r = 0; r < d.key.length; r++) {
    if (Math.abs(x - d.bx[r]) <= d.bw[r] / 2 && Math.abs(y - d.y[r]) <= 0.45) { key = d.key[r]; break }
  }
  if (!hovering && key === null) {
    const lg = legend_source.data
    for (let r = 0; r < lg.x.length; r++) {
      if (Math.abs(x - lg.x[r]) <= 0.12 && Math.abs(y - lg.y[r]) <= 0.3) { head.value = lg.value[r]; return }
    }
    return
  }
  window.__attnbook_hover = window.__attnbook_hover || new Map()
  const hov = window.__attnbook_hover
  if (key !== null) {
    if (focus.value !== key) focus.value = key
    if (hovering) hov.set(focus.id, key)
    else hov.delete(focus.id)
  } else if (hov.get(focus.id) === focus.value) {
    hov.delete(focus.id)
    focus.value = "all"
  }
}
