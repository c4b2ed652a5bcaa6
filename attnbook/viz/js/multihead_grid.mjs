// Multi-head figure: lay out one (T, T) heatmap per head for the chosen head count and weights, the mean over
// heads, and concat -> W_O -> out. Every number was computed by NumPy; this callback places and colours cells.
export default ({select, mode_group, grid_cells, grid_titles, mean_source, proj_source, proj_lines, caption,
                 counts, modes, mode_index, tokens, mask, weights, means, concats, outs, entropies, colors,
                 grid_shapes, T, C, width, title_px, gap_px, grid}) => {
  const ci = counts.indexOf(Number(select.value))
  const H = counts[ci], D = C / H
  const mi = mode_group == null ? mode_index : mode_group.active
  const w = weights[mi][ci]  // (H, T, T)
  const ent = entropies[mi][ci]  // (H,)

  // the grid of panels, in screen pixels (data units = pixels), centred in the plot's fixed size: resizing
  // the plot would re-lay out the page, the slowest thing this callback could do
  const [ncols, nrows, panel] = grid_shapes[ci]
  const TITLE = title_px, GAP = gap_px
  const cell = panel / T
  const left = (width - (ncols * panel + (ncols - 1) * GAP)) / 2
  const top = Math.floor((grid.height - Math.ceil(nrows * (panel + TITLE) + (nrows - 1) * GAP)) / 2)
  const n = H * T * T
  const x = new Float32Array(n), y = new Float32Array(n), size = new Float32Array(n)
  const color = new Float32Array(n), weight = new Float32Array(n)
  const q_token = new Array(n), k_token = new Array(n), head = new Array(n)
  const tx = [], ty = [], text = [], tcolor = []
  let c = 0
  for (let h = 0; h < H; h++) {
    const px = left + (h % ncols) * (panel + GAP)
    const py = -(top + Math.floor(h / ncols) * (panel + TITLE + GAP) + TITLE)
    tx.push(px); ty.push(py + 2); tcolor.push(colors[h])
    text.push(`head ${h + 1}: entropy ${ent[h].toFixed(2)}`)
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        x[c] = px + (j + 0.5) * cell
        y[c] = py - (i + 0.5) * cell
        size[c] = cell
        weight[c] = w[h * T * T + i * T + j]
        color[c] = mask[i * T + j] ? weight[c] : NaN
        q_token[c] = tokens[i]; k_token[c] = tokens[j]; head[c] = String(h + 1)
        c++
      }
    }
  }
  grid_cells.data = {x, y, size, color, weight, q_token, k_token, head}
  grid_titles.data = {x: tx, y: ty, text, color: tcolor}

  const mw = means[mi][ci]
  const mcolor = new Float32Array(T * T)
  for (let k = 0; k < T * T; k++) mcolor[k] = mask[k] ? mw[k] : NaN
  mean_source.data = {...mean_source.data, weight: mw, color: mcolor}

  // concat | out: each panel coloured by its own largest |value|
  const cat = concats[mi][ci], out = outs[mi][ci]
  let mc = 0, mo = 0
  for (let k = 0; k < T * C; k++) { mc = Math.max(mc, Math.abs(cat[k])); mo = Math.max(mo, Math.abs(out[k])) }
  const value = new Float32Array(2 * T * C), pcolor = new Float32Array(2 * T * C)
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < C; j++) {
      const a = i * 2 * C + j, b = a + C
      value[a] = cat[i * C + j]; pcolor[a] = mc > 0 ? value[a] / mc : 0
      value[b] = out[i * C + j]; pcolor[b] = mo > 0 ? value[b] / mo : 0
    }
  }
  proj_source.data = {...proj_source.data, value, color: pcolor}
  // a coloured bar over each head's D columns, and a dark line between heads
  const x0 = [], y0 = [], x1 = [], y1 = [], lcolor = []
  for (let h = 0; h < H; h++) {
    x0.push(h * D - 0.45); x1.push((h + 1) * D - 0.55); y0.push(0.65); y1.push(0.65); lcolor.push(colors[h])
    if (h > 0) { x0.push(h * D - 0.5); x1.push(h * D - 0.5); y0.push(0.5); y1.push(-T + 0.5); lcolor.push("#333333") }
  }
  proj_lines.data = {x0, y0, x1, y1, color: lcolor}

  caption.text = `<b>${modes[mi]}</b>: H = ${H} head${H === 1 ? "" : "s"} of D = C / H = ${C} / ${H} = ${D} ` +
    `column${D === 1 ? "" : "s"}. Each panel is one head's (T, T) = (${T}, ${T}) attention (grey: hidden by the ` +
    `causal mask); its title gives the mean entropy of its rows in nats (lower is sharper).`
}
