// Experiment comparison: overlay the chosen curve of runs A and B, and highlight both in the table of final
// losses. Every curve and number was recorded by the NumPy training loop; this only picks them.
export default ({select_a, select_b, select_m, src_a, src_b, plot, legend, table, keys, labels, curves,
                 metric_keys, metric_labels, rows, a_color, b_color}) => {
  const ia = keys.indexOf(select_a.value)
  const ib = keys.indexOf(select_b.value)
  const m = metric_keys.indexOf(select_m.value)
  src_a.data = {x: curves[ia][m][0], y: curves[ia][m][1]}
  src_b.data = {x: curves[ib][m][0], y: curves[ib][m][1]}
  plot.title.text = metric_labels[m]
  legend.items[0].label = {value: `A: ${labels[ia]}`}
  legend.items[1].label = {value: `B: ${labels[ib]}`}
  const head = ["run", "final train loss", "final val loss", "best val loss", ""]
  let html = '<table style="border-collapse:collapse;font-size:13px;width:100%">'
  html += "<tr>" + head.map((h, j) => `<th style="text-align:${j ? "right" : "left"};padding:2px 8px;` +
    `border-bottom:1px solid #999">${h}</th>`).join("") + "</tr>"
  rows.forEach((r, i) => {
    const tags = []
    if (i === ia) tags.push(`<b style="color:${a_color}">A</b>`)
    if (i === ib) tags.push(`<b style="color:${b_color}">B</b>`)
    const bg = i === ia || i === ib ? "background:#f3f3f3;" : ""
    const cells = r.map((c, j) => `<td style="text-align:${j ? "right" : "left"};padding:2px 8px;${bg}">` +
      (j === 0 && tags.length ? `${tags.join(" ")} ${c}` : c) + "</td>")
    html += `<tr>${cells.join("")}</tr>`
  })
  table.text = html + "</table>"
}
