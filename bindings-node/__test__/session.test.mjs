// The Session from JavaScript against the simulator over real TCP: the model, every event
// kind, and every command with its effect on the PBX.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { connect, Simulator } from '../index.js'
import { fastOffice, is, office, ringing, sleep, stateOf, talking, until, Watch } from './helpers.mjs'

test('connect resolves with the model complete: devices, status, device and call lookups', async (t) => {
  const { session } = await office(t)
  const snap = session.snapshot()
  assert.equal(snap.devices.length, 10)
  assert.deepEqual(snap.calls, [])
  const d100 = snap.devices.find((d) => d.id === '100')
  assert.deepEqual(d100, {
    id: '100',
    interface: 'PJSIP/100',
    state: 'idle',
    presence: null,
    doNotDisturb: false,
    forwardTo: null,
    forwardBusy: null,
    forwardNoAnswer: null,
  })
  assert.deepEqual(session.device('100'), d100)
  assert.equal(session.device('999'), null)
  assert.equal(session.call('no-such-call'), null)
  assert.deepEqual(session.status(), { state: 'up' })
})

test('a call: call, device and event listeners see its events in the PBX order, camelCase', async (t) => {
  const { sim, session } = await office(t)
  const all = new Watch(session, 'event')
  const calls = new Watch(session, 'call')
  const devices = new Watch(session, 'device')
  const it = session.events()
  const call = await talking(sim, all, '101', '100')
  assert.ok(sim.hangupExt('101'))
  await all.until('cleared', (e) => e.event === 'call_cleared' && e.call === call)
  const kinds = all.kinds(call)
  assert.deepEqual(kinds.slice(0, 3), ['originated 101', 'delivered 100', 'established 100'])
  // Both connections clear (the PBX decides which first), then the call.
  assert.deepEqual(kinds.slice(3, 5).sort(), ['connection_cleared 100', 'connection_cleared 101'])
  assert.deepEqual(kinds.slice(5), ['call_cleared'])
  // The category listeners got their share of the same sequence, in the same order.
  assert.deepEqual(
    calls.seen,
    all.seen.filter((e) => e.call !== undefined),
  )
  assert.deepEqual(
    devices.seen,
    all.seen.filter((e) => e.event === 'device_state'),
  )
  const states100 = devices.seen.filter((e) => e.device === '100').map((e) => e.state)
  assert.deepEqual(states100, ['ringing', 'in_use', 'idle'])
  const delivered = all.seen.find((e) => is(e, 'delivered', '100'))
  assert.equal(delivered.callingDevice, '101')
  assert.equal(delivered.clickToDial, false)
  assert.deepEqual(delivered.caller, { number: '101', name: 'Phone 101' })
  assert.match(delivered.channel, /^PJSIP\/100-/)
  assert.equal(delivered.state, 'alerting')
  const cleared = all.seen.find((e) => e.event === 'call_cleared')
  assert.deepEqual(Object.keys(cleared).sort(), ['answered', 'call', 'cause', 'event', 'mergedInto'])
  assert.equal(cleared.answered, true)
  assert.equal(cleared.mergedInto, null)
  // The async iterator, subscribed before the call, saw exactly what the emitter saw.
  const fromIterator = []
  for await (const ev of it) {
    fromIterator.push(ev)
    if (fromIterator.length === all.seen.length) break
  }
  assert.deepEqual(fromIterator, all.seen)
})

test('makeCall: the id is known at once, the user phone rings first, then the destination', async (t) => {
  const { session } = await office(t)
  const w = new Watch(session)
  const call = await session.makeCall('100', '101')
  assert.equal(typeof call, 'string')
  const first = await w.until('100 rings', (e) => e.call === call && is(e, 'delivered', '100'))
  assert.equal(first.clickToDial, true)
  await w.until('101 answers', (e) => e.call === call && is(e, 'established', '101'))
  assert.equal(stateOf(session, call, '101'), 'connected')
  assert.deepEqual(w.kinds(call), ['delivered 100', 'originated 100', 'delivered 101', 'established 101'])
})

test('dial gives the outcome words of the core: answered, busy, no-answer, failed', async (t) => {
  const { sim, session } = await office(t)
  const answered = await session.dial('100', '101')
  const seen = []
  for await (const ev of answered) seen.push(`${ev.event} ${ev.device ?? ''}`.trim())
  assert.equal(await answered.outcome, 'answered')
  assert.deepEqual(seen, ['delivered 100', 'originated 100', 'delivered 101', 'established 101'])

  sim.placeCall('103', '102')
  await until('102 in a call', () => session.device('102')?.state !== 'idle')
  const busy = await session.dial('104', '102')
  assert.equal(await busy.outcome, 'busy')

  const noAnswer = await session.dial('105', '108')
  assert.equal(await noAnswer.outcome, 'no-answer')

  const failed = await session.dial('106', '999')
  assert.equal(await failed.outcome, 'failed')
})

test('dial gives up after its time limit with the failure seen so far, else failed', async (t) => {
  const { session } = await office(t)
  const d = await session.dial('100', '108', { timeoutMs: 300 })
  const started = Date.now()
  assert.equal(await d.outcome, 'failed')
  assert.ok(Date.now() - started < 1400, 'decided at the limit, before Dial() gave up')
})

test('answer makes a ringing phone answer', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const call = await ringing(sim, w, '101', '108')
  await session.answer(call, '108')
  await w.until('108 answers', (e) => e.call === call && is(e, 'established', '108'))
  assert.equal(stateOf(session, call, '108'), 'connected')
})

test('hold and retrieve', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const call = await talking(sim, w, '101', '100')
  await session.hold(call, '100')
  const held = await w.until('held', (e) => e.call === call && is(e, 'held', '100'))
  assert.equal(held.state, 'held')
  assert.equal(stateOf(session, call, '100'), 'held')
  await session.retrieve(call, '100')
  await w.until('retrieved', (e) => e.call === call && is(e, 'retrieved', '100'))
  assert.equal(stateOf(session, call, '100'), 'connected')
})

test('singleStepTransfer sends the other party on; the call keeps its id', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const call = await talking(sim, w, '101', '100')
  await session.singleStepTransfer(call, '100', '102')
  const tr = await w.until('transferred', (e) => e.event === 'transferred')
  assert.equal(tr.kind, 'blind')
  assert.equal(tr.transferring.device, '100')
  assert.equal(tr.secondaryCall, null)
  const est = await w.until('102 answers', (e) => is(e, 'established', '102'))
  assert.equal(est.call, call)
  assert.equal(stateOf(session, call, '101'), 'connected')
  assert.equal(stateOf(session, call, '100'), undefined)
})

test('consultationCall then transferCall joins the other parties', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const call = await talking(sim, w, '101', '100')
  const consult = await session.consultationCall(call, '100', '102')
  assert.notEqual(consult, call)
  await w.until('100 holds', (e) => e.call === call && is(e, 'held', '100'))
  await w.until('102 answers', (e) => e.call === consult && is(e, 'established', '102'))
  await session.transferCall(call, consult)
  const tr = await w.until('transferred', (e) => e.event === 'transferred')
  assert.equal(tr.kind, 'attended')
  await w.until('consultation merged', (e) => e.event === 'call_cleared')
  const calls = session.snapshot().calls
  assert.equal(calls.length, 1, JSON.stringify(calls))
  const devices = calls[0].connections.map((k) => k.device).sort()
  assert.deepEqual(devices, ['101', '102'])
})

test('deflect sends a ringing call elsewhere', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const call = await ringing(sim, w, '101', '108')
  await session.deflect(call, '108', '102')
  const dv = await w.until('diverted to 102', (e) => is(e, 'diverted', '102'))
  assert.equal(dv.call, call)
  assert.equal(dv.reason, 'deflect')
  assert.deepEqual(dv.from.device, '108')
  await w.until('102 answers', (e) => e.call === call && is(e, 'established', '102'))
  assert.equal(stateOf(session, call, '108'), undefined)
})

test('pickup by call id and by ringing device', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const call = await ringing(sim, w, '101', '108')
  await session.pickup('103', call)
  const dv = await w.until('picked up', (e) => is(e, 'diverted', '103'))
  assert.equal(dv.reason, 'pickup')
  await w.until('103 talks', (e) => is(e, 'established', '103'))
  assert.equal(stateOf(session, call, '103'), 'connected')
  assert.equal(stateOf(session, call, '108'), undefined)
  await ringing(sim, w, '104', '109')
  await session.pickup('105', '109')
  await w.until('105 talks', (e) => is(e, 'established', '105'))
})

test('sendDtmf plays the digits to the other party', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const call = await talking(sim, w, '101', '100')
  await session.sendDtmf(call, '100', '12#*')
  const peer = session.call(call).connections.find((k) => k.device === '101').channel
  const played = sim
    .dtmfReceived()
    .filter((d) => d.channel === peer)
    .map((d) => d.digits)
    .join('')
  assert.equal(played, '12#*')
})

test('setDoNotDisturb: the event, the model and the PBX; callers then hear busy', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session, 'device')
  const calls = new Watch(session, 'call')
  await session.setDoNotDisturb('104', true)
  const on = await w.until('dnd on', (e) => e.event === 'do_not_disturb')
  assert.deepEqual(on, { event: 'do_not_disturb', device: '104', enabled: true })
  assert.equal(session.device('104').doNotDisturb, true)
  assert.deepEqual(sim.truth().dnd, ['104'])
  const call = await session.makeCall('100', '104')
  const failed = await calls.until('busy', (e) => e.call === call && e.event === 'failed')
  assert.equal(failed.reason, 'busy')
  await session.setDoNotDisturb('104', false)
  await w.until('dnd off', (e) => e.event === 'do_not_disturb' && e.enabled === false)
  assert.equal(session.device('104').doNotDisturb, false)
  assert.deepEqual(sim.truth().dnd, [])
})

test('setForwarding on and off: the event, the model, the PBX and the calls', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  await session.setForwarding('105', 'immediate', '106')
  const fw = await w.until('forwarding', (e) => e.event === 'forwarding')
  assert.deepEqual(fw, { event: 'forwarding', device: '105', kind: 'immediate', to: '106' })
  assert.equal(session.device('105').forwardTo, '106')
  assert.deepEqual(sim.truth().forwards, [{ ext: '105', kind: 'immediate', to: '106' }])
  sim.placeCall('100', '105')
  await w.until('106 rings instead', (e) => is(e, 'delivered', '106'))
  assert.ok(!w.seen.some((e) => is(e, 'delivered', '105')))
  await session.setForwarding('105', 'immediate', null)
  await w.until('off', (e) => e.event === 'forwarding' && e.to === null)
  assert.deepEqual(sim.truth().forwards, [])
  await session.setForwarding('107', 'no_answer', '100')
  const na = await w.until('no-answer forwarding', (e) => e.event === 'forwarding' && e.device === '107')
  assert.equal(na.kind, 'no_answer')
  assert.equal(session.device('107').forwardNoAnswer, '100')
})

test('clearConnection and clearCall end calls on the PBX', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const a = await talking(sim, w, '101', '100')
  await session.clearConnection(a, '100')
  const cc = await w.until('100 leaves', (e) => e.call === a && is(e, 'connection_cleared', '100'))
  assert.equal(cc.previous, 'connected')
  assert.equal(cc.releasedBy, '100', 'the PBX hung up 100 at our request: 100 released the call')
  await w.until('a cleared', (e) => e.call === a && e.event === 'call_cleared')
  const b = await talking(sim, w, '102', '103')
  await session.clearCall(b)
  const cleared = await w.until('b cleared', (e) => e.call === b && e.event === 'call_cleared')
  assert.equal(cleared.answered, true)
  await until('no channels', () => sim.activeChannels() === 0)
  assert.deepEqual(session.snapshot().calls, [])
})

test('user events pass through with their fields, in order', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session, 'user')
  sim.emitUserEvent('CrmPop', [
    ['Customer', '4711'],
    ['Note', 'VIP: call back'],
  ])
  const ev = await w.until('user event', (e) => e.event === 'user_event')
  assert.equal(ev.name, 'CrmPop')
  assert.equal(ev.call, null)
  assert.deepEqual(
    ev.fields.filter(([k]) => k === 'Customer' || k === 'Note'),
    [
      ['Customer', '4711'],
      ['Note', 'VIP: call back'],
    ],
  )
})

test('link events: the link drops, comes back and the model is resynced', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session, 'link')
  const before = sim.logins()
  sim.dropConnections()
  const down = await w.until('link down', (e) => e.event === 'link_down')
  assert.equal(typeof down.reason, 'string')
  const up = await w.until('link up', (e) => e.event === 'link_up', 10_000)
  assert.deepEqual(up, { event: 'link_up', reconnected: true })
  const rs = await w.until('resynced', (e) => e.event === 'resynced')
  assert.deepEqual(Object.keys(rs).sort(), ['callsEnded', 'callsFound', 'devicesChanged', 'event'])
  assert.deepEqual(
    w.seen.map((e) => e.event),
    ['link_down', 'link_up', 'resynced'],
  )
  assert.equal(sim.logins(), before + 1)
  assert.deepEqual(session.status(), { state: 'up' })
  // Commands work again.
  await session.setDoNotDisturb('100', true)
})

test('a PBX restarted with other phones: the ones gone are device_removed, then resynced', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  const devices = new Watch(session, 'device')
  // Renumbered: 105-109 stay, 110-114 are new, 100-104 are gone.
  const phones = Array.from({ length: 10 }, (_, i) => String(105 + i))
  sim.restart(phones)
  const rs = await w.until('resynced', (e) => e.event === 'resynced', 10_000)
  const removed = w.seen.filter((e) => e.event === 'device_removed')
  assert.deepEqual(removed[0], { event: 'device_removed', device: '100' })
  assert.deepEqual(
    removed.map((e) => e.device),
    ['100', '101', '102', '103', '104'],
  )
  for (const e of removed) assert.ok(rs.devicesChanged.includes(e.device), JSON.stringify(rs))
  // A device event: the 'device' listeners get it too.
  assert.deepEqual(
    devices.seen.filter((e) => e.event === 'device_removed'),
    removed,
  )
  assert.deepEqual(
    session
      .snapshot()
      .devices.map((d) => d.id)
      .sort(),
    phones,
  )
  assert.equal(session.device('100'), null)
  assert.throws(() => sim.restart([]), { code: 'ERR_INVALID_ARGUMENT' })
})

test('a consumer that falls behind gets lagged and continues with the newest', async (t) => {
  const { sim, session } = await office(t, { session: { eventQueue: 16 } })
  const it = session.events()
  // Another consumer tells when the whole burst has reached the session.
  const w = new Watch(session, 'user')
  sim.emitBurst(500)
  await w.until('the last of the burst', (e) => e.fields.some(([k, v]) => k === 'Seq' && v === '500'))
  // Meanwhile nobody read the iterator: its queue of 16 overflowed.
  const first = await it.next()
  assert.equal(first.value.event, 'lagged')
  assert.ok(first.value.missed > 0, JSON.stringify(first.value))
  // Then the newest events, ending with the burst's last.
  const rest = []
  for await (const ev of it) {
    rest.push(ev)
    if (ev.event === 'user_event' && ev.fields.some(([k, v]) => k === 'Seq' && v === '500')) break
  }
  assert.ok(rest.length <= 16, `at most the queue's worth: ${rest.length}`)
  assert.equal(first.value.missed + rest.length, 500)
})

test('an emitter whose handler is slow gets lagged too, and the session goes on', async (t) => {
  const { sim, session } = await office(t, { session: { eventQueue: 32 } })
  const w = new Watch(session)
  let blocked = false
  session.on('user', () => {
    if (!blocked) {
      blocked = true
      const end = Date.now() + 300
      while (Date.now() < end) {
        // Hold the JS thread while the burst arrives.
      }
    }
  })
  sim.emitBurst(2000)
  const lagged = await w.until('lagged', (e) => e.event === 'lagged')
  assert.ok(lagged.missed > 0)
  await w.until('the last of the burst', (e) => e.event === 'user_event' && e.fields.some(([k, v]) => k === 'Seq' && v === '2000'))
  const users = w.seen.filter((e) => e.event === 'user_event').length
  const missed = w.seen.filter((e) => e.event === 'lagged').reduce((n, e) => n + e.missed, 0)
  assert.equal(users + missed, 2000)
})

test('monitor: only the monitored devices and their calls', async (t) => {
  const sim = await Simulator.start(fastOffice())
  const session = await connect(sim.sessionUrl, { monitor: ['100'] })
  t.after(async () => {
    await session.close()
    await sim.shutdown()
  })
  assert.deepEqual(
    session.snapshot().devices.map((d) => d.id),
    ['100'],
  )
  const w = new Watch(session)
  sim.placeCall('102', '103')
  sim.placeCall('101', '100')
  await w.until('100 answers', (e) => is(e, 'established', '100'))
  await sleep(200)
  const devices = new Set(w.seen.filter((e) => e.device !== undefined).map((e) => e.device))
  assert.ok(!devices.has('102') && !devices.has('103'), JSON.stringify([...devices]))
})

test('options override the URL: control none makes phone control unsupported', async (t) => {
  const sim = await Simulator.start(fastOffice())
  const session = await connect(sim.sessionUrl, { control: 'none', astdb: false, timeoutMs: 2000 })
  t.after(async () => {
    await session.close()
    await sim.shutdown()
  })
  const w = new Watch(session)
  const call = await talking(sim, w, '101', '100')
  await assert.rejects(session.hold(call, '100'), { code: 'ERR_UNSUPPORTED' })
  await assert.rejects(session.setDoNotDisturb('100', true), { code: 'ERR_UNSUPPORTED' })
})
