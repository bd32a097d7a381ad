// Shared by the tests: a fast simulated office, and waiting for the events a test expects.
import { setTimeout as sleep } from 'node:timers/promises'
import { Simulator, connect } from '../index.js'

export { sleep }

/**
 * Phones 100-109 that ring briefly; 108 and 109 ring until Dial() gives up after 1.5 s
 * (nobody at the desk). The same office as the Rust tests' `live::fast_office`.
 */
export function fastOffice(extra = {}) {
  return {
    extensions: ['100', '101', '102', '103', '104', '105', '106', '107', '108', '109'],
    ringDelayMs: 50,
    answerDelayMs: 150,
    noAnswer: ['108', '109'],
    dialTimeoutMs: 1500,
    ...extra,
  }
}

/** A simulator and a session to it (every command enabled), closed after the test. */
export async function office(t, { sim: simOptions = {}, session: sessionOptions } = {}) {
  const sim = await Simulator.start(fastOffice(simOptions))
  const session = await connect(sim.sessionUrl, sessionOptions)
  t.after(async () => {
    await session.close()
    await sim.shutdown()
  })
  return { sim, session }
}

/** Resolves `null` after `ms`, without keeping the test process alive meanwhile. */
export function deadline(ms) {
  return sleep(ms, null, { ref: false })
}

/** Waits until `pred()` holds, polling; throws `what` after `ms`. */
export async function until(what, pred, ms = 5000) {
  const deadline = Date.now() + ms
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** A session's events, kept so that a failing test can show what it saw. */
export class Watch {
  constructor(session, name = 'event') {
    this.seen = []
    this.cursor = 0
    this.wake = null
    this.listener = (ev) => {
      this.seen.push(ev)
      if (this.wake) this.wake()
    }
    session.on(name, this.listener)
  }

  /**
   * The first event after the last match for which `pred` holds (at most `ms`).
   */
  async until(what, pred, ms = 5000) {
    const deadline = Date.now() + ms
    for (;;) {
      while (this.cursor < this.seen.length) {
        const ev = this.seen[this.cursor++]
        if (pred(ev)) return ev
      }
      const left = deadline - Date.now()
      if (left <= 0) {
        const kinds = this.seen.map((e) => `${e.event} ${e.device ?? ''}`.trim())
        throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(kinds)}`)
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => {
          clearTimeout(timer)
          this.wake = null
          resolve()
        }
      })
    }
  }

  /** Call events seen so far as `kind device`. */
  kinds(call) {
    return this.seen
      .filter((e) => e.call !== undefined && (call === undefined || e.call === call))
      .map((e) => (e.device !== undefined ? `${e.event} ${e.device}` : e.event))
  }
}

/** `ev` is `kind` at `device`. */
export function is(ev, kind, device) {
  return ev.event === kind && ev.device === device
}

/** A call from `from`, answered at `to`; its id. */
export async function talking(sim, w, from, to) {
  sim.placeCall(from, to)
  const ev = await w.until(`${to} answers`, (e) => is(e, 'established', to))
  return ev.call
}

/** A call from `from` ringing at `to` (a phone that does not answer by itself); its id. */
export async function ringing(sim, w, from, to) {
  sim.placeCall(from, to)
  const ev = await w.until(`${to} rings`, (e) => is(e, 'delivered', to))
  return ev.call
}

/** The connection state of `device` in `call`, from the session's model. */
export function stateOf(session, call, device) {
  return session.call(call)?.connections.find((k) => k.device === device)?.state
}

/** Rejects with the error `p` rejects with; fails if it resolves. */
export async function rejection(p) {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}
