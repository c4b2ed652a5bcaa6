// Model view: tapping a thumbnail moves the layer and head sliders to it (their change redraws the figure).
export default ({layer, head, thumbs_source}, obj, data) => {
  const g = data != null ? data.geometries : null
  if (g == null) return
  const d = thumbs_source.data
  for (let r = 0; r < d.x.length; r++) {
    if (Math.abs(g.x - d.x[r]) <= d.size[r] / 2 && Math.abs(g.y - d.y[r]) <= d.size[r] / 2) {
      if (layer.value !== d.layer[r]) layer.value = d.layer[r]
      if (head.value !== d.head[r]) head.value = d.head[r]
      return
    }
  }
}
