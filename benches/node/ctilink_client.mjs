// One measurement with ctilink's Node binding. Usage:
//   node ctilink_client.mjs URL events|iterate N     events/s to a JS handler
//   node ctilink_client.mjs URL roundtrip N          sendDtmf round trips (one PlayDTMF each)
//   node ctilink_client.mjs URL roundtrip-dnd N      setDoNotDisturb round trips (two actions)
// Prints `ready` once connected (and, for events, listening), reads `go` from stdin, and
// prints one JSON result line.
import { createInterface } from 'node:readline'
import { connect } from '../../bindings-node/index.js'
import { percentiles } from './stats.mjs'

const [url, mode, nArg] = process.argv.slice(2)
const n = Number(nArg)
/** Events per burst: under the link's AMI queue (4096), see README.md. */
const BURST = Number(process.env.BURST ?? 4000)
const session = await connect(url)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const go = async () => {
  console.log('ready')
  await lines.next()
}

if (mode === 'events' || mode === 'iterate') {
  // `n` events in bursts of BURST: the driver has the simulator send the next burst when
  // this one is in. Only the time from a burst's first event to its last is counted.
  const bursts = Math.ceil(n / BURST)
  let count = 0
  let missed = 0
  let inBurst = 0
  let first = 0n
  let busyNs = 0n
  let burstDone = null
  const take = (ev) => {
    if (ev.event === 'user_event' && ev.name === 'Burst') {
      if (inBurst === 0) first = process.hrtime.bigint()
      count++
      inBurst++
    } else if (ev.event === 'lagged') {
      missed += ev.missed
      inBurst += ev.missed
    } else {
      return
    }
    if (inBurst >= BURST) {
      busyNs += process.hrtime.bigint() - first
      inBurst = 0
      burstDone()
    }
  }
  if (mode === 'events') {
    session.on('event', take)
  } else {
    ;(async () => {
      for await (const ev of session.events()) take(ev)
    })()
  }
  await go()
  for (let i = 0; i < bursts; i++) {
    const done = new Promise((resolve) => (burstDone = resolve))
    console.log('burst')
    await done
  }
  const seconds = Number(busyNs) / 1e9
  console.log(JSON.stringify({ mode, events: count, missed, seconds, perSecond: count / seconds }))
} else if (mode === 'roundtrip' || mode === 'roundtrip-dnd') {
  const call = session.snapshot().calls.find((c) => c.connections.some((k) => k.device === '100'))
  if (mode === 'roundtrip' && !call) throw new Error('no call at 100: send `call` to the simulator first')
  const once1 = mode === 'roundtrip' ? (i) => session.sendDtmf(call.id, '100', '1') : (i) => session.setDoNotDisturb('100', i % 2 === 0)
  await go()
  for (let i = 0; i < 200; i++) await once1(i) // warm-up
  const times = []
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    await once1(i)
    times.push(Number(process.hrtime.bigint() - t0) / 1e3)
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  console.log(JSON.stringify({ mode, n, perSecond: n / seconds, ...percentiles(times) }))
} else {
  throw new Error(`unknown mode ${mode}`)
}
await session.close()
lines.return?.()
process.stdin.destroy()
