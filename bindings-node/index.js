'use strict'
// The public API of the npm package `ctilink`: the native Session (./native.js, built
// from src/ by napi-rs) shaped for Node: an EventEmitter, async iterators, Promises and
// errors with a stable `code`. Types: index.d.ts. Guide: docs/node.md.

const { EventEmitter } = require('node:events')
const native = require('./native.js')

/** Events per pull of an async iterator: one native call and one JSON.parse each. */
const ITERATOR_BATCH = 256

/** Events of a dial kept for its iterator before the oldest are dropped. */
const DIAL_BUFFER = 1024

/** Which EventEmitter event each core event kind is emitted as (besides 'event'). */
const CATEGORY = Object.freeze({
  originated: 'call',
  delivered: 'call',
  established: 'call',
  held: 'call',
  retrieved: 'call',
  diverted: 'call',
  transferred: 'call',
  conferenced: 'call',
  queued: 'call',
  failed: 'call',
  connection_cleared: 'call',
  call_cleared: 'call',
  device_state: 'device',
  device_removed: 'device',
  presence: 'device',
  do_not_disturb: 'device',
  forwarding: 'device',
  user_event: 'user',
  resynced: 'link',
  link_up: 'link',
  link_down: 'link',
  lagged: 'link',
})

/** EventEmitter events that carry PBX events; a listener on any of them starts delivery. */
const EVENT_NAMES = new Set(['call', 'device', 'link', 'user', 'event'])

/** The `code` of every error the core can raise, stable across releases. */
const errorCodes = Object.freeze([
  'ERR_INVALID_URL',
  'ERR_INVALID_ARGUMENT',
  'ERR_CONNECT',
  'ERR_TLS',
  'ERR_AUTH_FAILED',
  'ERR_LINK_DOWN',
  'ERR_TIMEOUT',
  'ERR_PBX_REFUSED',
  'ERR_PROTOCOL',
  'ERR_BUSY',
  'ERR_CLOSED',
  'ERR_UNKNOWN_DEVICE',
  'ERR_UNKNOWN_CALL',
  'ERR_NOT_ALLOWED',
  'ERR_UNSUPPORTED',
])

/** napi's codes for an argument of the wrong JavaScript type. */
const NAPI_TYPE_CODES = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'BigintExpected',
])

/** An error of ctilink: an `Error` with a stable `code` (see `errorCodes`). */
class CtilinkError extends Error {
  constructor(code, message) {
    super(message)
    this.name = 'CtilinkError'
    this.code = code
  }
}

/**
 * The native layer writes `ERR_X: message` (napi has no other room for a code); this
 * makes the Error users catch, created here so that its stack shows their code.
 */
function convertError(err) {
  if (err instanceof CtilinkError || !(err instanceof Error)) return err
  const m = /^(ERR_[A-Z_]+): ([\s\S]*)$/.exec(err.message)
  if (m) return new CtilinkError(m[1], m[2])
  if (NAPI_TYPE_CODES.has(err.code)) {
    const e = new TypeError(err.message)
    e.code = 'ERR_INVALID_ARG_TYPE'
    return e
  }
  return err
}

/** Runs a native call that returns a promise; errors become CtilinkErrors. */
async function settle(f) {
  try {
    return await f()
  } catch (err) {
    throw convertError(err)
  }
}

/** Runs a synchronous native call; errors become CtilinkErrors. */
function sync(f) {
  try {
    return f()
  } catch (err) {
    throw convertError(err)
  }
}

/** Reports a handler's error as uncaught, after the current batch is delivered. */
function rethrow(err) {
  process.nextTick(() => {
    throw err
  })
}

function parse(text) {
  return text === null || text === undefined ? null : JSON.parse(text)
}

/**
 * Connects to a PBX: `ami://user:secret@host[:port]` (`amis://` for TLS), with the
 * session's URL parameters (`?control=pjsip&astdb=1`...) or `options`. Resolves once
 * logged in and once `snapshot()` holds the PBX's devices and calls.
 */
async function connect(url, options) {
  const n = await settle(() => native.connect(url, options ?? undefined))
  return new Session(n)
}

/**
 * A connection to a PBX with its call model. Emits every PBX event as `'event'` and by
 * category as `'call'`, `'device'`, `'link'` or `'user'`, in the PBX's order, and
 * `'close'` once closed.
 */
class Session extends EventEmitter {
  #native
  #listening = false
  #closing = false
  #closed = null

  /** @internal Use `connect()`. */
  constructor(nativeSession) {
    super()
    if (!(nativeSession instanceof native.NativeSession)) {
      throw new TypeError('use connect(url, options) to create a Session')
    }
    this.#native = nativeSession
    // Delivery starts with the first listener and stops with the last, so that a
    // session nobody listens to neither costs a task nor keeps Node running.
    this.on('newListener', (name) => {
      if (EVENT_NAMES.has(name) && !this.#listening && !this.#closing) {
        this.#native.listen((batch) => this.#dispatch(batch))
        this.#listening = true
      }
    })
    this.on('removeListener', (name) => {
      if (EVENT_NAMES.has(name) && this.#listening && !this.#hasEventListeners()) {
        this.#native.unlisten()
        this.#listening = false
      }
    })
  }

  #hasEventListeners() {
    for (const name of EVENT_NAMES) if (this.listenerCount(name) > 0) return true
    return false
  }

  /** A batch of events from the native task (a JSON array), in order. */
  #dispatch(batch) {
    if (this.#closing) return
    for (const ev of JSON.parse(batch)) {
      // Once close() is called no handler sees another event, even from this batch.
      if (this.#closing) return
      this.#emitGuarded(CATEGORY[ev.event] ?? 'other', ev)
      this.#emitGuarded('event', ev)
    }
  }

  /**
   * A handler that throws must not keep the event from the other handlers, nor stop the
   * events after it, nor reach the native task: each handler is called on its own, and
   * an error becomes an uncaught exception, as it would from any emitter.
   */
  #emitGuarded(name, ev) {
    const n = this.listenerCount(name)
    if (n === 0) return
    if (n === 1) {
      try {
        this.emit(name, ev)
      } catch (err) {
        rethrow(err)
      }
      return
    }
    for (const listener of this.rawListeners(name)) {
      try {
        listener.call(this, ev)
      } catch (err) {
        rethrow(err)
      }
    }
  }

  /**
   * The events from now on as an async iterator, with its own bounded queue: one that
   * falls behind gets a `lagged` event and continues with the newest. Ends when the
   * session is closed; `break` ends it early.
   */
  events() {
    const stream = sync(() => this.#native.events()) // subscribed now, not at the first next()
    return this.#iterate(stream)
  }

  async *#iterate(stream) {
    try {
      for (;;) {
        const batch = await stream.nextBatch(ITERATOR_BATCH)
        if (batch === null || this.#closing) return
        for (const ev of JSON.parse(batch)) {
          if (this.#closing) return
          yield ev
        }
      }
    } finally {
      stream.close()
    }
  }

  /** Devices and calls now. */
  snapshot() {
    return JSON.parse(sync(() => this.#native.snapshot()))
  }

  /** One device, or null. */
  device(id) {
    return parse(sync(() => this.#native.device(id)))
  }

  /** One open call, or null. */
  call(id) {
    return parse(sync(() => this.#native.call(id)))
  }

  /** Whether the link is up, down (reconnecting) or closed. */
  status() {
    const s = sync(() => this.#native.status())
    return s.reason == null ? { state: s.state } : { state: s.state, reason: s.reason }
  }

  /**
   * Click-to-dial followed to its outcome. Resolves once the PBX accepted the call, with
   * its id, its events (an async iterator) and `outcome`: `answered`, `busy`,
   * `no-answer` or `failed`.
   */
  async dial(from, to, options) {
    const timeoutMs = options?.timeoutMs
    const d = await settle(() => this.#native.dial(from, to, timeoutMs ?? undefined))
    return new Dial(d)
  }

  makeCall(from, to) {
    return settle(() => this.#native.makeCall(from, to))
  }

  answer(call, device) {
    return settle(() => this.#native.answer(call, device))
  }

  clearConnection(call, device) {
    return settle(() => this.#native.clearConnection(call, device))
  }

  clearCall(call) {
    return settle(() => this.#native.clearCall(call))
  }

  hold(call, device) {
    return settle(() => this.#native.hold(call, device))
  }

  retrieve(call, device) {
    return settle(() => this.#native.retrieve(call, device))
  }

  singleStepTransfer(call, device, to) {
    return settle(() => this.#native.singleStepTransfer(call, device, to))
  }

  consultationCall(call, device, to) {
    return settle(() => this.#native.consultationCall(call, device, to))
  }

  transferCall(held, active) {
    return settle(() => this.#native.transferCall(held, active))
  }

  deflect(call, device, to) {
    return settle(() => this.#native.deflect(call, device, to))
  }

  pickup(device, callOrDevice) {
    return settle(() => this.#native.pickup(device, callOrDevice))
  }

  sendDtmf(call, device, digits) {
    return settle(() => this.#native.sendDtmf(call, device, digits))
  }

  setDoNotDisturb(device, on) {
    return settle(() => this.#native.setDoNotDisturb(device, on))
  }

  setForwarding(device, kind, to) {
    return settle(() => this.#native.setForwarding(device, kind, to ?? null))
  }

  /**
   * Logs off. From the call on, no handler sees another event and iterators end; once it
   * resolves, the session no longer keeps Node running. `'close'` is emitted once.
   */
  close() {
    if (this.#closed === null) {
      this.#closing = true
      this.#listening = false
      this.#closed = settle(() => this.#native.close()).then(() => {
        this.emit('close')
      })
    }
    return this.#closed
  }

  /** `await using session = await connect(...)` closes it at the end of the block. */
  [Symbol.asyncDispose ?? Symbol.for('Symbol.asyncDispose')]() {
    return this.close()
  }
}

/**
 * A click-to-dial being followed: `call` is its id, `outcome` resolves to `answered`,
 * `busy`, `no-answer` or `failed`, and iterating gives the call's events up to the one
 * that decided it.
 */
class Dial {
  #native
  #events = []
  #waiting = null
  #done = false

  /** @internal Use `session.dial()`. */
  constructor(nativeDial) {
    this.#native = nativeDial
    this.call = nativeDial.call
    this.outcome = this.#follow()
    // The outcome is read even if nobody iterates; a rejection is the iterator's too.
    this.outcome.catch(() => {})
  }

  async #follow() {
    try {
      for (;;) {
        const step = await this.#native.next()
        if (step === null) return 'failed' // not reached: the outcome step comes first
        const { event, outcome } = JSON.parse(step)
        if (event) this.#push(event)
        if (outcome) return outcome
      }
    } finally {
      this.#done = true
      this.#wake()
    }
  }

  #push(ev) {
    if (this.#events.length >= DIAL_BUFFER) this.#events.shift()
    this.#events.push(ev)
    this.#wake()
  }

  #wake() {
    const w = this.#waiting
    this.#waiting = null
    if (w) w()
  }

  /** Stops following the call; `outcome` resolves with what was seen so far. */
  cancel() {
    this.#native.cancel()
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      if (this.#events.length > 0) {
        yield this.#events.shift()
      } else if (this.#done) {
        return
      } else {
        await new Promise((resolve) => {
          this.#waiting = resolve
        })
      }
    }
  }
}

/**
 * The PBX simulator, in-process: an AMI server on 127.0.0.1 with phones that ring and
 * answer, for trying and testing without a PBX.
 */
class Simulator {
  #native

  /** Starts a simulator; `options` shape its phones and timings. */
  static async start(options) {
    return new Simulator(await settle(() => native.startSimulator(options ?? undefined)))
  }

  /** @internal Use `Simulator.start()`. */
  constructor(nativeSimulator) {
    if (!(nativeSimulator instanceof native.NativeSimulator)) {
      throw new TypeError('use Simulator.start(options) to start a simulator')
    }
    this.#native = nativeSimulator
  }

  /** `ami://admin:secret@127.0.0.1:PORT`. */
  get url() {
    return this.#native.url
  }

  /** `url` with `?control=pjsip&astdb=1`, so that every command works against it. */
  get sessionUrl() {
    return this.#native.sessionUrl
  }

  get port() {
    return this.#native.port
  }

  placeCall(from, to) {
    sync(() => this.#native.placeCall(from, to))
  }

  answerExt(ext) {
    return this.#native.answerExt(ext)
  }

  hangupExt(ext) {
    return this.#native.hangupExt(ext)
  }

  hangupAll() {
    this.#native.hangupAll()
  }

  setRegistered(ext, registered) {
    return this.#native.setRegistered(ext, registered)
  }

  setActionAllowed(action, allowed) {
    this.#native.setActionAllowed(action, allowed)
  }

  setActionKnown(action, known) {
    this.#native.setActionKnown(action, known)
  }

  setSecret(secret) {
    this.#native.setSecret(secret)
  }

  emitUserEvent(name, fields) {
    const pairs = fields === undefined ? undefined : Array.isArray(fields) ? fields : Object.entries(fields)
    sync(() => this.#native.emitUserEvent(name, pairs))
  }

  emitBurst(n) {
    this.#native.emitBurst(n)
  }

  startTraffic(options) {
    this.#native.startTraffic(options)
  }

  stopTraffic() {
    return this.#native.stopTraffic()
  }

  restart(extensions) {
    sync(() => this.#native.restart(extensions))
  }

  dropConnections() {
    this.#native.dropConnections()
  }

  stall(ms) {
    this.#native.stall(ms)
  }

  truth() {
    return this.#native.truth()
  }

  dtmfReceived() {
    return this.#native.dtmfReceived()
  }

  connections() {
    return this.#native.connections()
  }

  logins() {
    return this.#native.logins()
  }

  failedLogins() {
    return this.#native.failedLogins()
  }

  actionsReceived() {
    return this.#native.actionsReceived()
  }

  activeChannels() {
    return this.#native.activeChannels()
  }

  /** Closes every connection and stops listening. */
  shutdown() {
    return settle(() => this.#native.shutdown())
  }

  [Symbol.asyncDispose ?? Symbol.for('Symbol.asyncDispose')]() {
    return this.shutdown()
  }
}

module.exports = { connect, Session, Dial, Simulator, CtilinkError, errorCodes }
