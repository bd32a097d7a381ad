// The panel at 1,000 extensions under live traffic, in headless Chromium: event-to-frame
// latency (an event's arrival in the page to the next animation frame after the panel
// updated the DOM for it) and frame intervals, from the panel's ?stats hook
// (window.__ctilinkPanelStats). A measurement, not a test: it prints the figures.
//
//   node --experimental-websocket bench/panel_latency.mjs [seconds=30] [calls/s=4]
//
// 6.25 calls/s gives about 50 events/s at the page.
//
// The simulator's --traffic places random calls among 1000-1999 (each call is about a
// dozen events: device states, delivered, established, cleared...); the printed event
// rate is what the page received.
import { startSim, startGateway } from '../test/processes.mjs'
import { launch, shot } from '../test/browser.mjs'

const seconds = Number(process.argv[2] || 30)
const rate = Number(process.argv[3] || 4)
const TOKEN = 'bench-wallboard-token-0123456789'

const sim = await startSim({ extensions: '1000-1999', traffic: rate })
const gw = await startGateway(sim.url, {
  tokens: `
[[token]]
identity = "wallboard"
token = "${TOKEN}"
monitor = ["*"]
control = ["1000"]
`,
})
const chromium = await launch()
try {
  const page = await chromium.browser.newPage()
  await page.setViewport({ width: 1400, height: 900 })
  await page.goto(`http://127.0.0.1:${gw.port}/panel?stats`)
  const t0 = Date.now()
  await page.type('#token', TOKEN)
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => document.querySelectorAll('#lamps .lamp').length === 1000, { timeout: 30000 })
  const loginMs = Date.now() - t0
  // Discard the login's frames and events; then measure.
  await page.evaluate(() => {
    const s = window.__ctilinkPanelStats
    s.eventToFrame.length = 0
    s.frames.length = 0
    s.events = 0
  })
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const s = await page.evaluate(() => window.__ctilinkPanelStats)
  const pct = (xs, p) => {
    const v = [...xs].sort((a, b) => a - b)
    return v.length ? v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))] : NaN
  }
  const line = (name, xs) =>
    `${name}: n=${xs.length} p50=${pct(xs, 50).toFixed(1)} ms p95=${pct(xs, 95).toFixed(1)} ms p99=${pct(xs, 99).toFixed(1)} ms max=${Math.max(...xs).toFixed(1)} ms`
  console.log(`panel_latency: 1000 extensions, --traffic ${rate} calls/s, ${seconds} s, Chromium headless`)
  console.log(`login to 1000 lamps drawn: ${loginMs} ms`)
  console.log(`events received: ${s.events} (${(s.events / seconds).toFixed(1)}/s)`)
  console.log(line('event-to-frame', s.eventToFrame))
  console.log(line('frame interval', s.frames))
  console.log(`frames over 50 ms: ${s.frames.filter((f) => f > 50).length}`)
  // The field as it looked at the end (target/panel-shots/traffic-1000.png; docs/panel.md).
  await shot(page, 'traffic-1000')
} finally {
  await chromium.close()
  await gw.stop()
  await sim.stop()
}
