// ctilink-web: a browser client of `ctilink gateway` over WebSocket (docs/wire-protocol.md).
// No dependencies beyond the global `WebSocket` (browsers; Node >= 22, or Node 20 with
// --experimental-websocket). Events, the model and errors use the vocabulary of the Node
// binding (bindings-node/index.d.ts): camelCase keys, the core's words as values, and
// errors with a stable `code` such as `ERR_NOT_ALLOWED`. Types: index.d.ts.

/** The `code` of every error, as the Node binding names them. */
export const errorCodes = Object.freeze([
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

/** An error of ctilink: an `Error` with a stable `code` (see `errorCodes`). */
export class CtilinkError extends Error {
  constructor(code, message) {
    super(message)
    this.name = 'CtilinkError'
    this.code = code
  }
}

/**
 * A wire error (`{code, message}`, the core's `Error` variants in snake_case) as the Node
 * binding raises it. A code this version does not know becomes `ERR_PROTOCOL` with
 * `code: message`, as in the Rust client.
 */
function wireError(err) {
  const code = err && typeof err.code === 'string' ? err.code : 'protocol'
  const message = err && typeof err.message === 'string' ? err.message : String(code)
  const known = 'ERR_' + code.toUpperCase()
  if (errorCodes.includes(known)) return new CtilinkError(known, message)
  return new CtilinkError('ERR_PROTOCOL', `${code}: ${message}`)
}

/** Which category each event kind is also emitted as (besides 'event'), as in Node. */
const CATEGORY = {
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
}

/** Events an iterator holds before it drops them and reports `lagged`. */
const ITERATOR_QUEUE = 4096

const BACKOFF_MIN_MS = 250
const BACKOFF_MAX_MS = 10000
/** A connection that lasted this long resets the backoff. */
const STABLE_MS = 10000

/** `calling_device` to `callingDevice`, through objects and arrays; values stay. */
function camel(v) {
  if (Array.isArray(v)) return v.map(camel)
  if (v === null || typeof v !== 'object') return v
  const out = {}
  for (const k of Object.keys(v)) out[k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())] = camel(v[k])
  return out
}

const clone = (v) => JSON.parse(JSON.stringify(v))

// ---------------------------------------------------------------------------------------
// The model: a port of the Rust `Mirror` (core/src/model/mirror.rs).

const CAN_BECOME = {
  null: ['initiated', 'alerting', 'connected', 'queued', 'failed'],
  initiated: ['alerting', 'connected', 'failed', 'null'],
  alerting: ['connected', 'failed', 'null'],
  connected: ['held', 'failed', 'null'],
  held: ['connected', 'null'],
  queued: ['alerting', 'connected', 'failed', 'null'],
  failed: ['null'],
}
const canBecome = (from, to) => (CAN_BECOME[from] || []).includes(to)

const FORWARD_FIELD = { immediate: 'forwardTo', busy: 'forwardBusy', no_answer: 'forwardNoAnswer' }

const party = () => ({ number: '', name: '' })

function newCall(id) {
  return {
    id,
    callingDevice: null,
    caller: party(),
    called: party(),
    connections: [],
    answered: false,
    diverted: null,
    clickToDial: false,
  }
}

function newDevice(id) {
  return {
    id,
    interface: null,
    state: 'unknown',
    presence: null,
    doNotDisturb: false,
    forwardTo: null,
    forwardBusy: null,
    forwardNoAnswer: null,
  }
}

/** Sets a connection's state, adding it if new; a queue's connection (no channel) stays last. */
function setConn(call, device, channel, state) {
  const k = call.connections.find((c) => c.device === device && c.channel === channel)
  if (k) {
    k.state = state
    return
  }
  const conn = { device, channel, state }
  const q = call.connections.findIndex((c) => c.channel === '')
  if (q >= 0 && channel !== '') call.connections.splice(q, 0, conn)
  else call.connections.push(conn)
}

class Mirror {
  constructor() {
    this.devices = new Map()
    this.calls = new Map()
  }

  replace(snap) {
    this.devices = new Map(snap.devices.map((d) => [d.id, d]))
    this.calls = new Map(snap.calls.map((c) => [c.id, c]))
  }

  snapshot() {
    const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    return {
      devices: clone([...this.devices.values()].sort(byId)),
      calls: clone([...this.calls.values()].sort(byId)),
    }
  }

  call(id) {
    let c = this.calls.get(id)
    if (!c) this.calls.set(id, (c = newCall(id)))
    return c
  }

  device(id) {
    let d = this.devices.get(id)
    if (!d) this.devices.set(id, (d = newDevice(id)))
    return d
  }

  apply(ev) {
    switch (ev.event) {
      case 'originated': {
        const c = this.call(ev.call)
        c.callingDevice = ev.device
        c.caller = clone(ev.caller)
        c.called = clone(ev.called)
        c.clickToDial = false
        setConn(c, ev.device, ev.channel, ev.state)
        break
      }
      case 'delivered': {
        const fresh = !this.calls.has(ev.call)
        const c = this.call(ev.call)
        if (ev.clickToDial) c.clickToDial = true
        else if (fresh || (c.callingDevice === null && ev.callingDevice != null)) {
          c.callingDevice = ev.callingDevice ?? null
          c.caller = clone(ev.caller)
          c.called = { number: ev.called.number, name: '' }
        }
        setConn(c, ev.device, ev.channel, ev.state)
        break
      }
      case 'established': {
        const c = this.call(ev.call)
        c.answered = true
        setConn(c, ev.device, ev.channel, ev.state)
        break
      }
      case 'held':
      case 'retrieved':
      case 'conferenced':
      case 'failed':
        setConn(this.call(ev.call), ev.device, ev.channel, ev.state)
        break
      case 'queued':
        setConn(this.call(ev.call), ev.device, '', ev.state)
        break
      case 'diverted':
        this.call(ev.call).diverted = { from: clone(ev.from), reason: ev.reason }
        break
      case 'transferred':
        this.transferred(ev)
        break
      case 'connection_cleared': {
        const c = this.calls.get(ev.call)
        if (!c) break
        c.connections = c.connections.filter((k) => !(k.device === ev.device && k.channel === ev.channel))
        if (c.callingDevice === ev.device && !c.connections.some((k) => k.device === ev.device)) {
          c.callingDevice = null
          c.caller = party()
          c.called = party()
        }
        break
      }
      case 'call_cleared':
        this.calls.delete(ev.call)
        break
      case 'device_state':
        this.device(ev.device).state = ev.state
        break
      case 'device_removed':
        this.devices.delete(ev.device)
        break
      case 'presence':
        this.device(ev.device).presence = ev.presence
        break
      case 'do_not_disturb':
        this.device(ev.device).doNotDisturb = ev.enabled
        break
      case 'forwarding': {
        const field = FORWARD_FIELD[ev.kind]
        if (field) this.device(ev.device)[field] = ev.to ?? null
        break
      }
      default:
      // link events, resynced, user events and kinds this version does not know
    }
  }

  transferred(ev) {
    const moved = []
    for (const t of ev.targets || []) {
      let from = ev.secondaryCall && ev.secondaryCall !== ev.call ? ev.secondaryCall : null
      if (!from) {
        for (const c of this.calls.values()) {
          if (c.id !== ev.call && c.connections.some((k) => k.device === t.device && k.channel === t.channel)) {
            from = c.id
            break
          }
        }
      }
      const src = from && this.calls.get(from)
      if (!src) continue
      const i = src.connections.findIndex((k) => k.device === t.device && k.channel === t.channel)
      if (i >= 0) moved.push(...src.connections.splice(i, 1))
    }
    const c = this.call(ev.call)
    c.callingDevice = ev.transferred.device
    c.caller = clone(ev.caller)
    if (ev.kind === 'blind' && ev.targets && ev.targets[0]) c.called = { number: ev.targets[0].device, name: '' }
    for (const k of moved) {
      if (k.state === 'connected') c.answered = true
      setConn(c, k.device, k.channel, k.state)
    }
  }

  /**
   * The events that bring a follower of this model to `fresh`, ending with `resynced`;
   * the model then holds `fresh` (as `Mirror::resync`).
   */
  resync(fresh) {
    const out = []
    const newCalls = new Map(fresh.calls.map((c) => [c.id, c]))
    const callsEnded = []
    const callsFound = []
    const devicesChanged = []
    const cleared = (call, k) => ({
      event: 'connection_cleared',
      call,
      device: k.device,
      channel: k.channel,
      state: 'null',
      previous: k.state,
      cause: null,
      releasedBy: null,
    })
    for (const id of [...this.calls.keys()].sort()) {
      const old = this.calls.get(id)
      const now = newCalls.get(id)
      if (!now) {
        for (const k of old.connections) out.push(cleared(id, k))
        out.push({ event: 'call_cleared', call: id, cause: null, answered: old.answered, mergedInto: null })
        callsEnded.push(id)
        continue
      }
      for (const k of old.connections) {
        if (!now.connections.some((n) => n.device === k.device && n.channel === k.channel)) out.push(cleared(id, k))
      }
      for (const n of now.connections) {
        const was = old.connections.find((k) => k.device === n.device && k.channel === n.channel)
        const wasState = was ? was.state : 'null'
        if (wasState !== n.state) connectionEvents(now, n, wasState, out)
      }
    }
    for (const now of fresh.calls) {
      if (this.calls.has(now.id)) continue
      callsFound.push(now.id)
      const conns = [...now.connections].sort(
        (a, b) => (a.device === now.callingDevice ? 0 : 1) - (b.device === now.callingDevice ? 0 : 1),
      )
      for (const k of conns) connectionEvents(now, k, 'null', out)
    }
    for (const d of fresh.devices) {
      const before = out.length
      deviceEvents(this.devices.get(d.id), d, out)
      if (out.length > before) devicesChanged.push(d.id)
    }
    const kept = new Set(fresh.devices.map((d) => d.id))
    for (const id of [...this.devices.keys()].filter((d) => !kept.has(d)).sort()) {
      out.push({ event: 'device_removed', device: id })
      devicesChanged.push(id)
    }
    out.push({ event: 'resynced', callsEnded, callsFound, devicesChanged })
    this.replace(fresh)
    return out
  }
}

function connectionEvents(call, k, was, out) {
  const base = { call: call.id, device: k.device, channel: k.channel }
  const connected = () => {
    if (call.callingDevice === k.device) {
      out.push({ event: 'originated', ...base, state: 'connected', caller: call.caller, called: call.called })
    } else {
      out.push({
        event: 'established',
        ...base,
        state: 'connected',
        caller: call.caller,
        called: call.called,
        callingDevice: call.callingDevice,
        clickToDial: false,
      })
    }
  }
  if (k.state === 'alerting' && canBecome(was, 'alerting')) {
    out.push({
      event: 'delivered',
      ...base,
      state: 'alerting',
      caller: call.caller,
      called: call.called,
      callingDevice: call.callingDevice,
      clickToDial: call.clickToDial,
    })
  } else if (k.state === 'connected' && was === 'held') {
    out.push({ event: 'retrieved', ...base, state: 'connected' })
  } else if (k.state === 'connected' && canBecome(was, 'connected')) {
    connected()
  } else if (k.state === 'held' && was === 'connected') {
    out.push({ event: 'held', ...base, state: 'held' })
  } else if (k.state === 'held' && canBecome(was, 'connected')) {
    connected()
    out.push({ event: 'held', ...base, state: 'held' })
  } else if (k.state === 'queued' && was === 'null') {
    out.push({ event: 'queued', call: call.id, device: k.device, queue: k.device, state: 'queued', caller: call.caller, position: null })
  } else if (k.state === 'failed' && canBecome(was, 'failed')) {
    out.push({ event: 'failed', ...base, state: 'failed', reason: 'other', cause: null })
  }
}

function deviceEvents(old, now, out) {
  const previous = old ? old.state : 'unknown'
  if (previous !== now.state) out.push({ event: 'device_state', device: now.id, state: now.state, previous })
  if ((old ? old.presence !== now.presence : now.presence !== null) && now.presence !== null) {
    out.push({ event: 'presence', device: now.id, presence: now.presence, subtype: '', message: '' })
  }
  if (old ? old.doNotDisturb !== now.doNotDisturb : now.doNotDisturb) {
    out.push({ event: 'do_not_disturb', device: now.id, enabled: now.doNotDisturb })
  }
  for (const kind of ['immediate', 'busy', 'no_answer']) {
    const f = FORWARD_FIELD[kind]
    const before = old ? old[f] : null
    if (before !== now[f]) out.push({ event: 'forwarding', device: now.id, kind, to: now[f] })
  }
}

// ---------------------------------------------------------------------------------------
// The client.

/**
 * Connects to a gateway's WebSocket (`ws://host:port/ws`, `wss://`) with `token`. Resolves
 * with a `Client` once the gateway has welcomed it and its first snapshot is in the model;
 * rejects with `ERR_AUTH_FAILED` for a token the gateway does not know, `ERR_CONNECT` when
 * the gateway cannot be reached.
 */
export function connect(url, token, options = {}) {
  if (typeof url !== 'string' || typeof token !== 'string') {
    return Promise.reject(new TypeError('connect(url, token, options): url and token are strings'))
  }
  if (typeof WebSocket !== 'function') {
    return Promise.reject(new CtilinkError('ERR_CONNECT', 'no WebSocket in this environment'))
  }
  if (!/^wss?:\/\//i.test(url)) {
    return Promise.reject(new CtilinkError('ERR_INVALID_URL', `not a ws:// or wss:// URL: ${url}`))
  }
  const client = new Client(url, token, options)
  return client._first
}

export class Client {
  /** @internal use `connect`. */
  constructor(url, token, options) {
    this.url = url
    this._token = token
    this._name = options.client ?? 'ctilink-web'
    this._reconnect = options.reconnect ?? true
    this._pingMs = options.pingMs ?? 15000
    this._model = new Mirror()
    this._listeners = new Map()
    this._iterators = new Set()
    this._pending = new Map()
    this._nextId = 1
    this._ws = null
    this._ready = false
    this._closed = false
    this._everUp = false
    this._backoff = BACKOFF_MIN_MS
    this._timer = null
    this._pinger = null
    this._pingOut = false
    this._upSince = 0
    this._down = null
    this._closeDone = null
    /** The token's identity and device lists, from the gateway's `welcome`. */
    this.identity = null
    this.monitor = []
    this.control = []
    this._pbxLink = 'down'
    this._first = new Promise((resolve, reject) => {
      this._resolveFirst = resolve
      this._rejectFirst = reject
    })
    this._open()
  }

  // --- events -----------------------------------------------------------------------

  /** Listens for 'event' (every event), 'call', 'device', 'link', 'user', 'error', 'close'. */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set())
    this._listeners.get(name).add(fn)
    return this
  }

  off(name, fn) {
    const set = this._listeners.get(name)
    if (set) set.delete(fn)
    return this
  }

  once(name, fn) {
    const wrap = (...args) => {
      this.off(name, wrap)
      fn(...args)
    }
    return this.on(name, wrap)
  }

  _emit(name, ...args) {
    const set = this._listeners.get(name)
    if (!set) return
    for (const fn of [...set]) {
      try {
        fn(...args)
      } catch (err) {
        // A handler's error must not stop the others nor the connection.
        setTimeout(() => {
          throw err
        })
      }
    }
  }

  _deliver(ev) {
    this._emit('event', ev)
    const cat = CATEGORY[ev.event]
    if (cat) this._emit(cat, ev)
    for (const it of this._iterators) it.push(ev)
  }

  /** The events from now on (one consumer each); ends when the client is closed. */
  events() {
    const queue = []
    let waiting = null
    let missed = 0
    const it = {
      push: (ev) => {
        if (waiting) {
          const w = waiting
          waiting = null
          w({ value: ev, done: false })
        } else if (queue.length >= ITERATOR_QUEUE) {
          missed += queue.length
          queue.length = 0
          queue.push({ event: 'lagged', missed })
          missed = 0
          queue.push(ev)
        } else queue.push(ev)
      },
      end: () => {
        this._iterators.delete(it)
        if (waiting) {
          const w = waiting
          waiting = null
          w({ value: undefined, done: true })
        }
      },
    }
    if (!this._closed) this._iterators.add(it)
    return {
      next: () => {
        if (queue.length) return Promise.resolve({ value: queue.shift(), done: false })
        if (this._closed || !this._iterators.has(it)) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => (waiting = resolve))
      },
      return: () => {
        queue.length = 0
        it.end()
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]() {
        return this
      },
    }
  }

  [Symbol.asyncIterator]() {
    return this.events()
  }

  // --- the model ----------------------------------------------------------------------

  /** Devices and calls now, each sorted by id (a copy). */
  snapshot() {
    return this._model.snapshot()
  }

  device(id) {
    const d = this._model.devices.get(id)
    return d ? clone(d) : null
  }

  call(id) {
    const c = this._model.calls.get(id)
    return c ? clone(c) : null
  }

  /** The connection to the gateway, and the gateway's PBX link as it reported it. */
  status() {
    if (this._closed) return { state: 'closed' }
    if (!this._ready) return { state: 'down', reason: this._down ?? 'connecting' }
    return { state: 'up', pbx: this._pbxLink }
  }

  // --- the connection -----------------------------------------------------------------

  _open() {
    let ws
    try {
      ws = new WebSocket(this.url)
    } catch (err) {
      this._dropped(null, `cannot open ${this.url}: ${err && err.message}`)
      return
    }
    this._ws = ws
    // Binary messages are read as text too (the protocol allows them); a Blob could not be.
    ws.binaryType = 'arraybuffer'
    let bye = null
    let authError = null
    ws.addEventListener('open', () => {
      this._send({ type: 'hello', version: 1, token: this._token, client: this._name })
    })
    ws.addEventListener('message', (m) => {
      if (ws !== this._ws) return
      let msg
      try {
        msg = JSON.parse(typeof m.data === 'string' ? m.data : new TextDecoder().decode(m.data))
      } catch {
        return
      }
      if (!msg || typeof msg !== 'object') return
      switch (msg.type) {
        case 'welcome':
          if (msg.version !== 1) {
            authError = new CtilinkError('ERR_PROTOCOL', `the gateway speaks version ${msg.version}`)
            ws.close()
            return
          }
          this.identity = msg.identity
          this.monitor = msg.monitor || []
          this.control = msg.control || []
          this._pbxLink = msg.link === 'up' ? 'up' : 'down'
          this._welcomed = true
          break
        case 'snapshot':
          this._snapshot(msg)
          break
        case 'event':
          if (this._ready && msg.event) {
            const ev = camel(msg.event)
            if (ev.event === 'link_down') this._pbxLink = 'down'
            else if (ev.event === 'link_up') this._pbxLink = 'up'
            this._model.apply(ev)
            this._deliver(ev)
          }
          break
        case 'result': {
          const p = this._pending.get(msg.id)
          if (!p) break
          this._pending.delete(msg.id)
          if (msg.ok) p.resolve(msg.call ?? undefined)
          else p.reject(wireError(msg.error))
          break
        }
        case 'pong':
          this._pingOut = false
          break
        case 'error': {
          const e = wireError(msg)
          if (!this._ready) authError = e
          else this._emit('error', e)
          break
        }
        case 'bye':
          bye = typeof msg.reason === 'string' ? msg.reason : 'bye'
          break
        default:
        // a newer server's message: skipped
      }
    })
    const gone = (reason) => {
      if (ws !== this._ws) return
      this._dropped(authError, bye ?? reason)
    }
    ws.addEventListener('close', (c) => gone(c.reason || `connection closed (${c.code})`))
    // 'error' should be followed by 'close', but not every implementation sends it for a
    // connection that never opened (Node 20's): the first of the two counts.
    ws.addEventListener('error', (e) => {
      gone((e && e.message) || 'connection failed')
      try {
        ws.close()
      } catch {}
    })
  }

  _send(msg) {
    if (this._ws && this._ws.readyState === 1) this._ws.send(JSON.stringify(msg))
  }

  _snapshot(msg) {
    const snap = { devices: camel(msg.devices || []), calls: camel(msg.calls || []) }
    if (!this._ready) {
      if (!this._welcomed) return
      this._ready = true
      this._upSince = Date.now()
      this._down = null
      this._startPing()
      if (!this._everUp) {
        this._everUp = true
        this._model.replace(snap)
        this._resolveFirst(this)
        return
      }
      // Back after a drop: the link is up again and the fresh snapshot is applied as the
      // events that lead to it, ending with `resynced`.
      this._deliver({ event: 'link_up', reconnected: true })
    }
    // After a reconnect, after `lagged` (id 0), or asked for: resync to it.
    for (const ev of this._model.resync(snap)) this._deliver(ev)
  }

  _startPing() {
    clearInterval(this._pinger)
    this._pingOut = false
    if (!(this._pingMs > 0)) return
    this._pinger = setInterval(() => {
      if (this._pingOut) {
        // No pong for a whole interval: the connection is dead. Dropped now, not when the
        // close handshake of a dead connection times out.
        const ws = this._ws
        this._dropped(null, `no answer to a ping in ${this._pingMs} ms`)
        if (ws) ws.close()
        return
      }
      this._pingOut = true
      this._send({ type: 'ping', id: this._nextId++ })
    }, this._pingMs)
  }

  _dropped(authError, reason) {
    clearInterval(this._pinger)
    this._pinger = null
    this._ws = null
    const wasReady = this._ready
    this._ready = false
    this._welcomed = false
    this._down = reason
    const failed = this._closed ? 'ERR_CLOSED' : 'ERR_LINK_DOWN'
    for (const p of this._pending.values()) p.reject(new CtilinkError(failed, this._closed ? 'the client is closed' : reason))
    this._pending.clear()
    if (this._closed) {
      if (this._closeDone) this._closeDone()
      return
    }
    if (!this._everUp) {
      // The first connect fails at once: the caller decides what to do.
      this._closed = true
      this._rejectFirst(authError ?? new CtilinkError('ERR_CONNECT', `cannot connect to ${this.url}: ${reason}`))
      return
    }
    if (wasReady) this._deliver({ event: 'link_down', reason })
    if (authError && authError.code === 'ERR_AUTH_FAILED') {
      // The token was withdrawn: trying again will not help.
      this._emit('error', authError)
      this._finish()
      return
    }
    if (!this._reconnect) {
      this._finish()
      return
    }
    if (wasReady && Date.now() - this._upSince >= STABLE_MS) this._backoff = BACKOFF_MIN_MS
    const wait = this._backoff * (0.5 + Math.random() / 2)
    this._backoff = Math.min(this._backoff * 2, BACKOFF_MAX_MS)
    this._timer = setTimeout(() => {
      this._timer = null
      if (!this._closed) this._open()
    }, wait)
  }

  _finish() {
    this._closed = true
    for (const it of [...this._iterators]) it.end()
    this._emit('close')
  }

  /**
   * Closes the connection and stops reconnecting. Commands in flight and later fail
   * `ERR_CLOSED`; iterators end; 'close' is emitted.
   */
  close() {
    if (this._closed) return Promise.resolve()
    clearTimeout(this._timer)
    const ws = this._ws
    this._closed = true
    const done = new Promise((resolve) => {
      this._closeDone = resolve
    })
    for (const it of [...this._iterators]) it.end()
    if (ws && ws.readyState !== 3) {
      ws.close(1000)
    } else {
      this._dropped(null, 'closed')
    }
    return done.then(() => this._emit('close'))
  }

  // --- commands -----------------------------------------------------------------------

  _command(command) {
    if (this._closed) return Promise.reject(new CtilinkError('ERR_CLOSED', 'the client is closed'))
    if (!this._ready) {
      return Promise.reject(new CtilinkError('ERR_LINK_DOWN', `not connected to the gateway: ${this._down}`))
    }
    const id = this._nextId++
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject })
      this._send({ type: 'command', id, command })
    })
  }

  /** Click-to-dial: rings `from`, and when it answers, calls `to`. Resolves with the call's id. */
  makeCall(from, to, id) {
    const c = { command: 'make_call', from, to }
    if (id !== undefined) c.id = id
    return this._command(c)
  }
  answer(call, device) {
    return this._command({ command: 'answer', call, device }).then(() => {})
  }
  clearConnection(call, device) {
    return this._command({ command: 'clear_connection', call, device }).then(() => {})
  }
  clearCall(call) {
    return this._command({ command: 'clear_call', call }).then(() => {})
  }
  hold(call, device) {
    return this._command({ command: 'hold', call, device }).then(() => {})
  }
  retrieve(call, device) {
    return this._command({ command: 'retrieve', call, device }).then(() => {})
  }
  singleStepTransfer(call, device, to) {
    return this._command({ command: 'single_step_transfer', call, device, to }).then(() => {})
  }
  consultationCall(call, device, to) {
    return this._command({ command: 'consultation_call', call, device, to })
  }
  transferCall(held, active) {
    return this._command({ command: 'transfer_call', held, active }).then(() => {})
  }
  deflect(call, device, to) {
    return this._command({ command: 'deflect', call, device, to }).then(() => {})
  }
  pickup(device, target) {
    return this._command({ command: 'pickup', device, target }).then(() => {})
  }
  sendDtmf(call, device, digits) {
    return this._command({ command: 'send_dtmf', call, device, digits }).then(() => {})
  }
  setDoNotDisturb(device, on) {
    return this._command({ command: 'set_do_not_disturb', device, on }).then(() => {})
  }
  setForwarding(device, kind, to) {
    return this._command({ command: 'set_forwarding', device, kind, to: to ?? null }).then(() => {})
  }
}
