// Experiment comparison: overlay the chosen curve of runs A and B. Every curve was recorded by the NumPy
// training loop; this only picks two of them.
export default ({select_a, select_b, select_m, src_a, src_b, keys, curves, metric_keys}) => {
  const ia = keys.indexOf(select_a.value)
  const ib = keys.indexOf(select_b.value)
  const m = metric_keys.indexOf(select_m.value)
  src_a.data = {x: curves[ia][m][0], y: curves[ia][m][1]}
  src_b.data = {x: curves[ib][m][0], y: curves[ib][m][1]}
}
