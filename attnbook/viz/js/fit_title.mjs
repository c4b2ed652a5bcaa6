// A plot's title on a narrow column: shrink its font until the text fits the plot's frame (down to min_px), and
// grow it back up to its designed size_px when the plot widens or the text gets shorter. Layout only: the text
// itself is the figure's own callback's to write.
export default ({plot, size_px, min_px}) => {
  const title = plot.title
  const room = plot.inner_width
  if (title == null || !title.text || !(room > 0)) return
  const ctx = (window.__attnbook_measure ??= document.createElement("canvas").getContext("2d"))
  ctx.font = `${title.text_font_style} ${size_px}px ${title.text_font}`
  const widest = Math.max(...String(title.text).split("\n").map((line) => ctx.measureText(line).width))
  const px = Math.max(min_px, Math.min(size_px, Math.floor((size_px * room) / widest)))
  if (title.text_font_size !== `${px}px`) title.text_font_size = `${px}px`
}
