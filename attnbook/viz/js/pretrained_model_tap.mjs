// Model view: tapping a thumbnail moves the layer and head sliders to it (their change redraws the figure).
export default ({layer, head, cell, n_layer, n_head}, obj, data) => {
  const g = data != null ? data.geometries : null
  if (g == null) return
  const h = Math.floor(g.x / cell)
  const l = Math.floor(-g.y / cell)
  if (h < 0 || h >= n_head || l < 0 || l >= n_layer) return
  if (g.x - h * cell > 1 || -g.y - l * cell > 1) return  // the gap between two thumbnails
  if (layer.value !== l + 1) layer.value = l + 1
  if (head.value !== h + 1) head.value = h + 1
}
