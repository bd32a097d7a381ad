#!/usr/bin/env node
// Incoming-call pop-up: when a call rings at a phone, show who calls (number and name), as
// a CRM opens the caller's record. One line per ringing call. With a URL it runs until
// Ctrl-C.
//
//   node examples/node/incoming_call.mjs ami://admin:secret@pbx:5038
//   node examples/node/incoming_call.mjs        # no PBX: in-process simulator
//
// In your own project, import from 'ctilink' instead of the path below.
import { connect, Simulator } from '../../bindings-node/index.js'

/**
 * Shows a pop-up per call ringing at a phone until `count` were shown, `limitMs` passed
 * or Ctrl-C.
 * @param {string} url
 * @param {number} count
 * @param {number} limitMs
 */
async function run(url, count, limitMs) {
  const session = await connect(url)
  let shown = 0
  await new Promise((resolve) => {
    const timer = Number.isFinite(limitMs) ? setTimeout(resolve, limitMs) : undefined
    process.once('SIGINT', resolve)
    // Listening starts with the first listener; events come in the PBX's order.
    session.on('call', (ev) => {
      // The user's own phone ringing for a click-to-dial is not an incoming call.
      if (ev.event !== 'delivered' || ev.clickToDial) return
      const number = ev.caller.number || 'unknown number'
      console.log(`pop-up at ${ev.device}: call from ${number} ${ev.caller.name}`)
      shown += 1
      if (shown >= count) {
        clearTimeout(timer)
        resolve(undefined)
      }
    })
    console.log('waiting for calls...')
  })
  await session.close()
  return shown
}

try {
  const url = process.argv[2]
  if (url !== undefined) {
    await run(url, Infinity, Infinity)
  } else {
    const sim = await Simulator.start({ extensions: ['100', '101', '102', '103', '104'], answerDelayMs: 500 })
    const calls = (async () => {
      for (const [from, to] of [['101', '100'], ['103', '102']]) {
        await new Promise((r) => setTimeout(r, 500))
        sim.placeCall(from, to)
      }
    })()
    await run(sim.url, 2, 10_000)
    await calls
    sim.hangupAll()
    await sim.shutdown()
  }
} catch (err) {
  const e = /** @type {Error & { code?: string }} */ (err)
  console.error(`error: ${e.message}${e.code ? ` (${e.code})` : ''}`)
  process.exitCode = 1
}
