// Play button: while the toggle is on, advance the slider one step every interval_ms, wrapping around.
export default ({toggle, slider, interval_ms}, obj) => {
  if (toggle.active) {
    toggle.label = "⏸ Pause"
    const tick = () => {
      slider.value = slider.value >= slider.end ? slider.start : slider.value + slider.step
    }
    tick()
    window.__attnbook_timers = window.__attnbook_timers || new Map()
    window.__attnbook_timers.set(toggle.id, setInterval(tick, interval_ms))
  } else {
    toggle.label = "▶ Play"
    const timers = window.__attnbook_timers
    if (timers && timers.has(toggle.id)) {
      clearInterval(timers.get(toggle.id))
      timers.delete(toggle.id)
    }
  }
}
