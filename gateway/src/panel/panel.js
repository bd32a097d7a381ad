// The operator panel: a lamp field, the calls and call control, on ctilink-web. Served by
// the gateway at /panel under a strict CSP: no inline code, no other site. Every update
// touches only the elements of the device or call an event names, so that 1,000 lamps
// stay fluid; text from the PBX goes in through textContent only.
import { connect } from '/panel/ctilink-web.js'

const TOKEN_KEY = 'ctilink-panel-token'
const $ = (id) => document.getElementById(id)

// Lamps as `ctilink demo` draws them.
const LAMP = {
  idle: ['idle', 'idle'],
  ringing: ['ringing', 'ringing'],
  ring_in_use: ['ringing', 'ringing'],
  in_use: ['in-use', 'in use'],
  busy: ['busy', 'busy'],
  on_hold: ['on-hold', 'on hold'],
  unavailable: ['unavailable', 'n/a'],
  unknown: ['unavailable', 'n/a'],
}
const lampOf = (d) => {
  const l = LAMP[d.state] || LAMP.unknown
  if (l[0] === 'idle' && d.doNotDisturb) return ['dnd', 'DND']
  return l
}

const READABLE = {
  ERR_NOT_ALLOWED: 'Not allowed for this token',
  ERR_PBX_REFUSED: 'The PBX refused',
  ERR_UNKNOWN_CALL: 'That call is gone',
  ERR_UNKNOWN_DEVICE: 'Unknown extension',
  ERR_BUSY: 'Busy',
  ERR_LINK_DOWN: 'Not connected',
  ERR_TIMEOUT: 'No answer from the PBX in time',
  ERR_UNSUPPORTED: 'Not supported by this PBX',
  ERR_INVALID_ARGUMENT: 'Invalid input',
}
const readable = (e) => `${READABLE[e && e.code] || 'Failed'}: ${(e && e.message) || e}`

// Measurement hook (bindings-web/bench/panel_latency.mjs): with ?stats in the URL, each
// event's arrival-to-next-frame time and the frame intervals are collected.
const stats = new URLSearchParams(location.search).has('stats')
  ? (window.__ctilinkPanelStats = { eventToFrame: [], frames: [], events: 0 })
  : null
if (stats) {
  let last = 0
  const loop = (t) => {
    if (last) stats.frames.push(t - last)
    last = t
    requestAnimationFrame(loop)
  }
  requestAnimationFrame(loop)
}

let client = null
let me = null // one's own extension: the selected controlled device
let canAll = false
// A gateway for several PBXs lists `berlin/*` for every device of one PBX.
const covers = (entry, dev) => entry === dev || (entry.endsWith('/*') && dev.startsWith(entry.slice(0, -1)))
const canControl = (dev) => canAll || (client && client.control.some((e) => covers(e, dev)))
const lamps = new Map() // device id -> element
const rows = new Map() // call id -> row element
const names = new Map() // device id -> name learned from calls
let filterText = ''

// --- messages -------------------------------------------------------------------------

let messageTimer = null
function say(text, ok = false) {
  const m = $('message')
  m.textContent = text
  m.classList.toggle('ok', ok)
  m.hidden = false
  clearTimeout(messageTimer)
  messageTimer = setTimeout(() => (m.hidden = true), 8000)
}

/** Runs a command, reporting a refusal in words. */
async function act(what, p) {
  try {
    const r = await p
    say(`${what}: done`, true)
    return r
  } catch (e) {
    say(`${what} — ${readable(e)}`)
    return undefined
  }
}

// --- lamps ----------------------------------------------------------------------------

function lampElement(id) {
  let el = lamps.get(id)
  if (el) return el
  el = document.createElement('li')
  el.className = 'lamp'
  el.dataset.device = id
  el.tabIndex = 0
  const i = document.createElement('span')
  i.className = 'id'
  i.textContent = id
  const n = document.createElement('span')
  n.className = 'name'
  const w = document.createElement('span')
  w.className = 'word'
  el.append(i, n, w)
  lamps.set(id, el)
  el.hidden = !matches(id)
  // Keep the field in id order when a device appears later (a resync).
  const after = [...lamps.keys()].filter((k) => k > id).sort()[0]
  $('lamps').insertBefore(el, after ? lamps.get(after) : null)
  $('count').textContent = `(${lamps.size})`
  return el
}

function paintLamp(id) {
  const d = client.device(id)
  if (!d) {
    const el = lamps.get(id)
    if (el) {
      el.remove()
      lamps.delete(id)
    }
    return
  }
  const el = lampElement(id)
  const [cls, word] = lampOf(d)
  const fwd = d.forwardTo ? ` → ${d.forwardTo}` : ''
  el.className = `lamp ${cls}${id === me ? ' me' : ''}${cls === 'idle' && me && id !== me && canControl(me) ? ' callable' : ''}`
  el.children[1].textContent = names.get(id) || ''
  el.children[2].textContent = word + fwd
  el.title = `${id} ${names.get(id) || ''}: ${word}${fwd}`
}

function matches(id) {
  if (!filterText) return true
  return id.includes(filterText) || (names.get(id) || '').toLowerCase().includes(filterText)
}

function applyFilter() {
  for (const [id, el] of lamps) el.hidden = !matches(id)
}

function learnName(p) {
  if (p && p.number && p.name && lamps.has(p.number) && names.get(p.number) !== p.name) {
    names.set(p.number, p.name)
    paintLamp(p.number)
  }
}

// --- calls ----------------------------------------------------------------------------

const who = (p) => [p.number, p.name].filter(Boolean).join(' ') || '-'

function callState(c) {
  const has = (s) => c.connections.some((k) => k.state === s)
  if (has('held')) return 'on hold'
  if (has('alerting')) return 'ringing'
  // Answered with a party connected: talking (the other party may be outside the PBX's
  // phones, or the target of a blind transfer, and have no connection in the model).
  if (c.answered && has('connected')) return 'talking'
  if (has('failed')) return 'failed'
  return 'dialing'
}

/** The connection one may act for: one's own first, else any controlled one. */
function mine(c) {
  return (
    c.connections.find((k) => k.device === me && canControl(me)) ||
    c.connections.find((k) => k.channel && canControl(k.device))
  )
}

const started = new Map() // call id -> ms when first seen

function button(label, onClick) {
  const b = document.createElement('button')
  b.type = 'button'
  b.textContent = label
  b.addEventListener('click', onClick)
  return b
}

function paintCall(id) {
  const c = client.call(id)
  let tr = rows.get(id)
  if (!c) {
    if (tr) tr.remove()
    rows.delete(id)
    started.delete(id)
    paintIncoming()
    return
  }
  learnName(c.caller)
  learnName(c.called)
  if (!tr) {
    tr = document.createElement('tr')
    tr.dataset.call = id
    for (let i = 0; i < 5; i++) tr.append(document.createElement('td'))
    tr.cells[4].className = 'actions'
    tr.addEventListener('dragstart', (e) => {
      e.dataTransfer.setData('application/x-ctilink-call', id)
      e.dataTransfer.effectAllowed = 'move'
    })
    rows.set(id, tr)
    started.set(id, Date.now())
    $('calls').tBodies[0].append(tr)
  }
  const k = mine(c)
  tr.draggable = client.control.length > 0
  tr.classList.toggle('mine', !!k)
  tr.cells[0].textContent = who(c.caller)
  // A click-to-dial call names no called party until it reaches one: show who it rings.
  const others = c.connections.map((x) => x.device).filter((d) => d !== c.callingDevice)
  tr.cells[1].textContent = c.called.number || c.called.name ? who(c.called) : others.join(', ') || '-'
  tr.cells[2].textContent = callState(c)
  tr.cells[3].textContent = elapsed(id)
  const actions = []
  if (k && k.state === 'alerting' && !c.clickToDial) actions.push(button('Answer', () => act('Answer', client.answer(id, k.device))))
  if (k && k.state === 'connected') actions.push(button('Hold', () => act('Hold', client.hold(id, k.device))))
  if (k && k.state === 'held') actions.push(button('Retrieve', () => act('Retrieve', client.retrieve(id, k.device))))
  if (k) actions.push(button('Hang up', () => act('Hang up', client.clearConnection(id, k.device))))
  tr.cells[4].replaceChildren(...actions)
  paintIncoming()
}

function elapsed(id) {
  const s = Math.floor((Date.now() - (started.get(id) || Date.now())) / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** A call ringing at one's own phone, in large: who calls, and Answer. */
function paintIncoming() {
  const box = $('incoming')
  const ringing = [...rows.keys()]
    .map((id) => client.call(id))
    .find((c) => c && !c.clickToDial && c.connections.some((k) => k.device === me && k.state === 'alerting'))
  if (!ringing) {
    if (!box.hidden) {
      box.hidden = true
      box.replaceChildren()
    }
    return
  }
  if (box.dataset.call === ringing.id && !box.hidden) return
  box.dataset.call = ringing.id
  const w = document.createElement('span')
  w.className = 'who'
  w.textContent = who(ringing.caller)
  const label = document.createElement('span')
  label.textContent = `Incoming call at ${me} from`
  const parts = [label, w]
  if (canControl(me)) parts.push(button('Answer', () => act('Answer', client.answer(ringing.id, me))))
  box.replaceChildren(...parts)
  box.hidden = false
}

async function transfer(callId, to) {
  const c = client.call(callId)
  if (!c) return say('Transfer — that call is gone')
  // The party that leaves: one's own connection, else any the token controls; else the
  // caller's, which the gateway refuses in words.
  const k = mine(c) || c.connections[0]
  if (!k) return say('Transfer — the call has no connection yet')
  await act(`Transfer to ${to}`, client.singleStepTransfer(callId, k.device, to))
}

// --- own phone ------------------------------------------------------------------------

function paintMe() {
  const d = me && client.device(me)
  const dnd = $('dnd')
  const usable = !!d && canControl(me)
  for (const id of ['dnd', 'number', 'dial-button', 'forward-to', 'forward-button']) $(id).disabled = !usable
  dnd.setAttribute('aria-pressed', String(!!d && d.doNotDisturb))
  dnd.textContent = d && d.doNotDisturb ? 'DND on' : 'DND off'
  $('forward-button').textContent = d && d.forwardTo ? `Stop forwarding (${d.forwardTo})` : 'Forward'
}

function setMe(id) {
  const old = me
  me = id
  if (old) paintLamp(old)
  for (const dev of lamps.keys()) paintLamp(dev)
  paintMe()
  for (const cid of rows.keys()) paintCall(cid)
}

// --- connection -----------------------------------------------------------------------

function onEvent(ev) {
  const t0 = stats ? performance.now() : 0
  if (ev.call) paintCall(ev.call)
  if (ev.secondaryCall) paintCall(ev.secondaryCall)
  if (ev.device && !ev.call) paintLamp(ev.device)
  if (ev.device === me) paintMe()
  if (ev.event === 'link_down' || ev.event === 'link_up' || ev.event === 'resynced') paintStatus()
  if (stats) {
    stats.events++
    requestAnimationFrame(() => stats.eventToFrame.push(performance.now() - t0))
  }
}

function paintStatus() {
  const s = client.status()
  const el = $('status')
  const up = s.state === 'up' && s.pbx !== 'down'
  el.textContent = s.state === 'up' ? `connected · PBX ${s.pbx}` : `reconnecting (${s.reason || s.state})`
  el.classList.toggle('down', !up)
}

function fillSelector() {
  const sel = $('me')
  const all = client.snapshot().devices.map((d) => d.id)
  const ids = canAll ? all : client.control.flatMap((e) => (e.endsWith('/*') ? all.filter((d) => covers(e, d)) : [e]))
  sel.replaceChildren(
    ...ids.map((id) => {
      const o = document.createElement('option')
      o.value = o.textContent = id
      return o
    }),
  )
  sel.disabled = ids.length < 2
  sel.parentElement.hidden = ids.length === 0
  return ids[0] || null
}

async function login(token) {
  const url = new URL('/ws', location.href)
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
  $('login-button').disabled = true
  try {
    client = await connect(url.href, token, { client: 'ctilink-panel' })
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY)
    const err = $('login-error')
    err.textContent =
      e && e.code === 'ERR_AUTH_FAILED'
        ? 'The gateway refused this token. Check it and try again.'
        : `Cannot connect to the gateway: ${(e && e.message) || e}`
    err.hidden = false
    $('login').hidden = false
    $('login-button').disabled = false
    $('token').focus()
    return
  }
  sessionStorage.setItem(TOKEN_KEY, token)
  $('login-button').disabled = false
  $('login').hidden = true
  $('login-error').hidden = true
  $('panel').hidden = false
  $('identity').textContent = client.identity
  canAll = client.control.includes('*')
  const snap = client.snapshot()
  const field = document.createDocumentFragment()
  for (const d of snap.devices) {
    const el = lampElement(d.id)
    field.append(el)
  }
  $('lamps').append(field)
  me = fillSelector()
  for (const d of snap.devices) paintLamp(d.id)
  for (const c of snap.calls) paintCall(c.id)
  paintMe()
  paintStatus()
  client.on('event', onEvent)
  client.on('close', () => {
    if (client) logout('The connection to the gateway was closed.')
  })
  $('number').focus()
}

function logout(why) {
  const c = client
  client = null
  sessionStorage.removeItem(TOKEN_KEY)
  if (c) c.close()
  lamps.clear()
  rows.clear()
  started.clear()
  $('lamps').replaceChildren()
  $('calls').tBodies[0].replaceChildren()
  $('incoming').hidden = true
  $('panel').hidden = true
  $('login').hidden = false
  const err = $('login-error')
  err.textContent = why || ''
  err.hidden = !why
  $('token').value = ''
  $('token').focus()
}

// --- wiring ---------------------------------------------------------------------------

$('login').addEventListener('submit', (e) => {
  e.preventDefault()
  const token = $('token').value.trim()
  $('token').value = ''
  if (token) login(token)
})
$('logout').addEventListener('click', () => logout())
$('me').addEventListener('change', (e) => setMe(e.target.value))
$('dial').addEventListener('submit', async (e) => {
  e.preventDefault()
  const to = $('number').value.trim()
  if (!to || !me) return
  if (await act(`Dial ${to}`, client.makeCall(me, to))) $('number').value = ''
})
$('dnd').addEventListener('click', () => {
  const d = client.device(me)
  if (d) act(d.doNotDisturb ? 'DND off' : 'DND on', client.setDoNotDisturb(me, !d.doNotDisturb))
})
$('forward').addEventListener('submit', (e) => {
  e.preventDefault()
  const d = client.device(me)
  if (!d) return
  if (d.forwardTo) return act('Stop forwarding', client.setForwarding(me, 'immediate', null))
  const to = $('forward-to').value.trim()
  if (!to) return say('Forward — type the number to forward to')
  act(`Forward to ${to}`, client.setForwarding(me, 'immediate', to))
})
let filterFrame = 0
$('filter').addEventListener('input', (e) => {
  filterText = e.target.value.trim().toLowerCase()
  cancelAnimationFrame(filterFrame)
  filterFrame = requestAnimationFrame(applyFilter)
})

const lampsEl = $('lamps')
const lampAt = (e) => e.target.closest && e.target.closest('.lamp')
lampsEl.addEventListener('click', (e) => {
  const el = lampAt(e)
  if (el && el.classList.contains('callable')) act(`Dial ${el.dataset.device}`, client.makeCall(me, el.dataset.device))
})
lampsEl.addEventListener('keydown', (e) => {
  const el = lampAt(e)
  if (e.key === 'Enter' && el && el.classList.contains('callable')) {
    act(`Dial ${el.dataset.device}`, client.makeCall(me, el.dataset.device))
  }
})
lampsEl.addEventListener('dragover', (e) => {
  const el = lampAt(e)
  if (el && e.dataTransfer.types.includes('application/x-ctilink-call')) {
    e.preventDefault()
    e.dataTransfer.dropEffect = 'move'
    el.classList.add('drop')
  }
})
lampsEl.addEventListener('dragleave', (e) => {
  const el = lampAt(e)
  if (el) el.classList.remove('drop')
})
lampsEl.addEventListener('drop', (e) => {
  const el = lampAt(e)
  if (!el) return
  e.preventDefault()
  el.classList.remove('drop')
  const call = e.dataTransfer.getData('application/x-ctilink-call')
  if (call) transfer(call, el.dataset.device)
})

// Keys: "d" or "+" focuses the number box, "/" the filter, Escape leaves a box.
document.addEventListener('keydown', (e) => {
  if (!client || e.ctrlKey || e.metaKey || e.altKey) return
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement
  if (e.key === 'Escape' && typing) return e.target.blur()
  if (typing) return
  if (e.key === '/' || e.key === 'f') {
    e.preventDefault()
    $('filter').focus()
  } else if (e.key === 'd' || /^[0-9*#+]$/.test(e.key)) {
    e.preventDefault()
    const n = $('number')
    n.focus()
    if (e.key !== 'd') n.value += e.key
  }
})

// Durations count up once a second: only the call rows, never the lamp field.
setInterval(() => {
  for (const [id, tr] of rows) tr.cells[3].textContent = elapsed(id)
}, 1000)

const saved = sessionStorage.getItem(TOKEN_KEY)
if (saved) login(saved)
else $('token').focus()
