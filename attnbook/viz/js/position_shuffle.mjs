// Shuffle button: move the word-order select to its next precomputed permutation (wrapping around).
export default ({select}) => {
  const values = select.options.map((o) => (Array.isArray(o) ? o[0] : o))
  const i = values.indexOf(select.value)
  select.value = values[(i + 1) % values.length]
}
