// Head view pointer: hovering a token box focuses its lines (left = as a query, right = as a key) until the
// pointer leaves the tokens; tapping a token pins that focus (tap it again to release it); tapping a colour
// square picks that head. The focus select holds the state, so its change redraws the figure.
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
  window.__attnbook_focus = window.__attnbook_focus || new Map()
  if (!window.__attnbook_focus.has(focus.id)) window.__attnbook_focus.set(focus.id, {hovered: null, pinned: null})
  const st = window.__attnbook_focus.get(focus.id)
  if (hovering) {
    if (st.pinned !== null && st.pinned === focus.value) return  // a pinned focus ignores hovering
    if (key !== null) {
      st.hovered = key
      if (focus.value !== key) focus.value = key
    } else if (st.hovered !== null && st.hovered === focus.value) {
      st.hovered = null
      focus.value = "all"
    }
    return
  }
  if (key !== null) {
    if (st.pinned === key && focus.value === key) { st.pinned = null; st.hovered = key; return }  // release
    st.pinned = key
    if (focus.value !== key) focus.value = key
    return
  }
  const lg = legend_source.data
  for (let r = 0; r < lg.x.length; r++) {
    if (Math.abs(x - lg.x[r]) <= 0.12 && Math.abs(y - lg.y[r]) <= 0.3) { head.value = lg.value[r]; return }
  }
}
