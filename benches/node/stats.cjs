'use strict'
/** p50, p99 and mean of microsecond samples. */
function percentiles(us) {
  const s = [...us].sort((a, b) => a - b)
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))]
  return { p50Us: at(0.5), p99Us: at(0.99), meanUs: s.reduce((a, b) => a + b, 0) / s.length }
}
module.exports = { percentiles }
