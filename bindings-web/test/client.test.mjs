// ctilink-web against the real simulator and gateway: connect, the model, commands and
// their errors. Run: node --experimental-websocket --test test/*.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { connect, CtilinkError, errorCodes } from '../index.js'
import { startSim, startGateway, waitFor, sleep, TOKENS } from './processes.mjs'

let sim, gw

before(async () => {
  sim = await startSim()
  gw = await startGateway(sim.url)
})

after(async () => {
  await gw?.stop()
  await sim?.stop()
})

test('connect resolves after welcome and the first snapshot', async () => {
  const c = await connect(gw.url, TOKENS.desk100, { client: 'test-connect' })
  try {
    assert.equal(c.identity, 'desk-100')
    assert.deepEqual(c.monitor, ['100', '101'])
    assert.deepEqual(c.control, ['100'])
    assert.equal(c.status().state, 'up')
    const snap = c.snapshot()
    assert.deepEqual(
      snap.devices.map((d) => d.id),
      ['100', '101'],
      'only the devices the token monitors',
    )
    const d = c.device('100')
    assert.equal(d.interface, 'PJSIP/100')
    assert.equal(d.state, 'idle')
    assert.equal(d.doNotDisturb, false, 'camelCase keys as in the Node binding')
    assert.deepEqual(snap.calls, [])
    assert.equal(c.device('102'), null)
  } finally {
    await c.close()
  }
  assert.equal(c.status().state, 'closed')
})

test('a call: events in order, the model follows, clearCall ends it', async () => {
  const c = await connect(gw.url, TOKENS.desk100)
  const board = await connect(gw.url, TOKENS.board)
  try {
    const seen = []
    const it = c.events()
    const collecting = (async () => {
      for await (const ev of it) {
        seen.push(ev)
        if (ev.event === 'established' && ev.device === '101') return ev
      }
    })()
    const call = await c.makeCall('100', '101')
    assert.match(call, /^ctilink/)
    const est = await collecting
    assert.equal(est.call, call)
    assert.equal(est.callingDevice, '100')
    const kinds = seen.filter((e) => e.call === call).map((e) => `${e.event} ${e.device}`)
    assert.deepEqual(kinds, ['delivered 100', 'originated 100', 'delivered 101', 'established 101'])
    assert.equal(seen.find((e) => e.event === 'delivered').clickToDial, true)

    // The model: both connected, the devices in use (their state events may trail).
    const inModel = c.call(call)
    assert.equal(inModel.callingDevice, '100')
    assert.equal(inModel.answered, true)
    assert.deepEqual(
      inModel.connections.map((k) => `${k.device} ${k.state}`),
      ['100 connected', '101 connected'],
    )
    await sleep(100)
    assert.equal(c.device('101').state, 'in_use')

    // The board sees the same call (it monitors every device) in its own model.
    const boardHas = () => board.call(call)?.connections.length === 2
    if (!boardHas()) await waitFor(board, () => boardHas() || undefined, 5000, 'the board')

    // Hang up: connection_cleared twice, then call_cleared; the call leaves the model.
    const cleared = waitFor(c, (ev) => ev.event === 'call_cleared' && ev.call === call && ev)
    await c.clearCall(call)
    const ev = await cleared
    assert.equal(ev.answered, true)
    assert.equal(c.call(call), null)
    assert.deepEqual(c.snapshot().calls, [])
    await it.return()
  } finally {
    await c.close()
    await board.close()
  }
})

test('category listeners: device events as "device", call events as "call"', async () => {
  const c = await connect(gw.url, TOKENS.desk100)
  try {
    const devices = []
    const calls = []
    c.on('device', (e) => devices.push(e.event))
    c.on('call', (e) => calls.push(e.event))
    // Answers are not ordered with events: wait for events set up before the command.
    const established = waitFor(c, (ev) => ev.event === 'established' && ev.device === '101')
    const call = await c.makeCall('100', '101')
    await established
    const cleared = waitFor(c, (ev) => ev.event === 'call_cleared')
    await c.clearCall(call)
    await cleared
    assert.ok(devices.length >= 2 && devices.every((k) => k === 'device_state'), devices.join())
    assert.ok(calls.includes('delivered') && calls.includes('call_cleared'), calls.join())
  } finally {
    await c.close()
  }
})

test('hold, retrieve, DTMF and clearConnection on the caller\'s side', async () => {
  const c = await connect(gw.url, TOKENS.desk100)
  try {
    const established = waitFor(c, (ev) => ev.event === 'established' && ev.device === '101')
    const call = await c.makeCall('100', '101')
    await established
    const held = waitFor(c, (ev) => ev.event === 'held' && ev.device === '100' && ev)
    await c.hold(call, '100')
    assert.equal((await held).state, 'held')
    assert.equal(c.call(call).connections.find((k) => k.device === '100').state, 'held')
    const retrieved = waitFor(c, (ev) => ev.event === 'retrieved' && ev.device === '100')
    await c.retrieve(call, '100')
    await retrieved
    assert.equal(c.call(call).connections.find((k) => k.device === '100').state, 'connected')
    await c.sendDtmf(call, '100', '12#')
    const cleared = waitFor(c, (ev) => ev.event === 'call_cleared' && ev.call === call)
    await c.clearConnection(call, '100')
    await cleared
    assert.equal(c.call(call), null)
  } finally {
    await c.close()
  }
})

test('a refused command rejects with the Node binding\'s code', async () => {
  const c = await connect(gw.url, TOKENS.desk100)
  try {
    await assert.rejects(c.makeCall('102', '100'), (e) => {
      assert.ok(e instanceof CtilinkError)
      assert.ok(e instanceof Error)
      assert.equal(e.code, 'ERR_NOT_ALLOWED')
      assert.match(e.message, /102/)
      return true
    })
    await assert.rejects(c.setDoNotDisturb('101', true), { code: 'ERR_NOT_ALLOWED' })
    await assert.rejects(c.clearCall('no-such-call'), (e) => errorCodes.includes(e.code))
    await assert.rejects(c.sendDtmf('x', '100', 'not digits!'), (e) => errorCodes.includes(e.code))
    // The connection goes on.
    assert.equal(c.status().state, 'up')
  } finally {
    await c.close()
  }
  await assert.rejects(c.clearCall('x'), { code: 'ERR_CLOSED' })
})

test('commands that change a device: do-not-disturb and forwarding reach the model', async () => {
  const c = await connect(gw.url, TOKENS.desk100)
  try {
    const dnd = waitFor(c, (ev) => ev.event === 'do_not_disturb' && ev)
    await c.setDoNotDisturb('100', true)
    assert.equal((await dnd).enabled, true)
    assert.equal(c.device('100').doNotDisturb, true)
    const off = waitFor(c, (ev) => ev.event === 'do_not_disturb' && !ev.enabled)
    await c.setDoNotDisturb('100', false)
    await off

    const fwd = waitFor(c, (ev) => ev.event === 'forwarding' && ev.kind === 'busy' && ev.to === '101')
    await c.setForwarding('100', 'busy', '101')
    await fwd
    assert.equal(c.device('100').forwardBusy, '101')
    const fwdOff = waitFor(c, (ev) => ev.event === 'forwarding' && ev.to === null)
    await c.setForwarding('100', 'busy', null)
    await fwdOff
    assert.equal(c.device('100').forwardBusy, null)
  } finally {
    await c.close()
  }
})

test('a wrong token is refused with ERR_AUTH_FAILED', async () => {
  await assert.rejects(connect(gw.url, 'wrong-token-0123456789'), (e) => {
    assert.ok(e instanceof CtilinkError)
    assert.equal(e.code, 'ERR_AUTH_FAILED')
    return true
  })
})

test('connect errors: a bad URL, nobody listening', async () => {
  await assert.rejects(connect('http://127.0.0.1:1/ws', 'x'), { code: 'ERR_INVALID_URL' })
  await assert.rejects(connect('ws://127.0.0.1:1/ws', 'x'), { code: 'ERR_CONNECT' })
  await assert.rejects(connect(gw.url), TypeError)
})
