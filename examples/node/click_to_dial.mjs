#!/usr/bin/env node
// Click-to-dial: ring your own phone, and when you answer, call a number. Prints the
// call's progress and, last, the outcome as one word: `answered`, `busy`, `no-answer` or
// `failed` (the same words as the Rust example and `ctilink dial`).
//
//   node examples/node/click_to_dial.mjs ami://admin:secret@pbx:5038 100 0301234567
//   node examples/node/click_to_dial.mjs        # no PBX: in-process simulator
//
// In your own project, import from 'ctilink' instead of the path below.
import { connect, Simulator } from '../../bindings-node/index.js'

/**
 * Places the call and follows its events until the outcome is known or `limitMs` passed
 * (then the outcome is the failure seen so far, else `failed`).
 * @param {string} url
 * @param {string} from
 * @param {string} to
 * @param {number} limitMs
 */
async function run(url, from, to, limitMs) {
  const session = await connect(url)
  try {
    // dial() listens before it dials, so no event of the call is missed, and decides the
    // outcome with the core's DialProgress.
    const dial = await session.dial(from, to, { timeoutMs: limitMs })
    console.log(`call ${dial.call}: your phone ${from} rings; answer it to call ${to}`)
    for await (const ev of dial) {
      console.log(`  ${ev.event} ${'device' in ev ? ev.device : ''}`)
    }
    const outcome = await dial.outcome
    console.log(outcome)
    return outcome
  } finally {
    await session.close()
  }
}

const args = process.argv.slice(2)
try {
  if (args.length === 3) {
    const [url, from, to] = args
    await run(url, from, to, 120_000)
  } else if (args.length === 0) {
    const sim = await Simulator.start({
      extensions: ['100', '101', '102', '103', '104'],
      ringDelayMs: 500,
      answerDelayMs: 1000,
    })
    await run(sim.url, '100', '101', 10_000)
    await sim.shutdown()
  } else {
    console.error('usage: click_to_dial.mjs [URL FROM TO]')
    process.exitCode = 2
  }
} catch (err) {
  const e = /** @type {Error & { code?: string }} */ (err)
  console.error(`error: ${e.message}${e.code ? ` (${e.code})` : ''}`)
  process.exitCode = 1
}
