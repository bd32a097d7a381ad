// Every error code, each from a real failure over TCP (a simulator, a closed port, or a
// small fake PBX where the simulator cannot misbehave that way).
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'

import { connect, CtilinkError, errorCodes, Simulator } from '../index.js'
import { fastOffice, office, rejection, ringing, talking, Watch } from './helpers.mjs'

/** `err` is a CtilinkError with `code` that does not give the secret away. */
function coded(err, code) {
  assert.ok(err instanceof Error, `${err}`)
  assert.ok(err instanceof CtilinkError, `${err}`)
  assert.equal(err.code, code, err.message)
  assert.equal(err.name, 'CtilinkError')
  assert.ok(!err.message.includes('secret'), err.message)
  assert.ok(!err.message.startsWith('ERR_'), 'the code is lifted out of the message')
  assert.ok(err.stack.includes('errors.test.mjs'), 'the stack shows the caller')
}

test('errorCodes lists the core error codes, stable', () => {
  assert.deepEqual(errorCodes, [
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
  assert.ok(Object.isFrozen(errorCodes))
})

test('ERR_INVALID_URL', async () => {
  coded(await rejection(connect('http://admin:secret@127.0.0.1:1')), 'ERR_INVALID_URL')
  coded(await rejection(connect('ami://admin:secret@127.0.0.1:1?control=telepathy')), 'ERR_INVALID_URL')
})

test('ERR_INVALID_ARGUMENT: bad values in commands and options, nothing sent', async (t) => {
  const { sim, session } = await office(t)
  const sent = sim.actionsReceived()
  coded(await rejection(session.makeCall('100', '1 2')), 'ERR_INVALID_ARGUMENT')
  coded(await rejection(session.sendDtmf('c1', '100', 'x')), 'ERR_INVALID_ARGUMENT')
  coded(await rejection(session.setForwarding('100', 'sometimes', '101')), 'ERR_INVALID_ARGUMENT')
  coded(await rejection(session.makeCall('', '101')), 'ERR_INVALID_ARGUMENT')
  assert.equal(sim.actionsReceived(), sent)
  coded(await rejection(connect(sim.url, { control: 'telepathy' })), 'ERR_INVALID_ARGUMENT')
  coded(await rejection(connect(sim.url, { eventQueue: 0 })), 'ERR_INVALID_ARGUMENT')
})

test('wrong JavaScript types are TypeErrors with ERR_INVALID_ARG_TYPE', async (t) => {
  const { session } = await office(t)
  const err = await rejection(session.makeCall(100, 101))
  assert.ok(err instanceof TypeError)
  assert.equal(err.code, 'ERR_INVALID_ARG_TYPE')
  const opt = await rejection(connect('ami://a:b@127.0.0.1:1', { timeoutMs: 'soon' }))
  assert.equal(opt.code, 'ERR_INVALID_ARG_TYPE')
})

test('ERR_CONNECT: nothing listens', async () => {
  const sim = await Simulator.start(fastOffice())
  const url = sim.url
  await sim.shutdown()
  coded(await rejection(connect(url, { reconnect: false, connectTimeoutMs: 2000 })), 'ERR_CONNECT')
})

test('ERR_TLS: TLS to a plain AMI port', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  const url = sim.url.replace('ami://', 'amis://')
  coded(await rejection(connect(url, { reconnect: false, connectTimeoutMs: 2000 })), 'ERR_TLS')
})

test('ERR_AUTH_FAILED: a wrong secret, and it is not in the message', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  const url = sim.url.replace(':secret@', ':s3cr3t-wrong@')
  const err = await rejection(connect(url, { reconnect: false }))
  coded(err, 'ERR_AUTH_FAILED')
  assert.ok(!err.message.includes('s3cr3t-wrong'), err.message)
  assert.equal(sim.failedLogins(), 1)
})

test('ERR_LINK_DOWN: a command while the link is down', async (t) => {
  const { sim, session } = await office(t, { session: { reconnect: false } })
  const w = new Watch(session, 'link')
  sim.dropConnections()
  await w.until('link down', (e) => e.event === 'link_down')
  assert.equal(session.status().state, 'down')
  coded(await rejection(session.setDoNotDisturb('100', true)), 'ERR_LINK_DOWN')
  coded(await rejection(session.makeCall('100', '101')), 'ERR_LINK_DOWN')
})

test('ERR_TIMEOUT: the PBX does not answer in time', async (t) => {
  const { sim, session } = await office(t, { session: { timeoutMs: 300 } })
  sim.stall(1500)
  const started = Date.now()
  coded(await rejection(session.setDoNotDisturb('100', true)), 'ERR_TIMEOUT')
  assert.ok(Date.now() - started < 1200, 'the command gave up at its deadline')
})

test('ERR_PBX_REFUSED: the PBX answers Permission denied, and the message comes through', async (t) => {
  const { sim, session } = await office(t)
  sim.setActionAllowed('Originate', false)
  const err = await rejection(session.makeCall('100', '101'))
  coded(err, 'ERR_PBX_REFUSED')
  assert.match(err.message, /Permission denied/)
})

test('ERR_BUSY: more commands waiting for the PBX than the link allows', async (t) => {
  const { sim, session } = await office(t, { session: { timeoutMs: 1000 } })
  sim.stall(2500)
  // The link lets 1024 actions wait for answers at once.
  const results = await Promise.allSettled(
    Array.from({ length: 1100 }, (_, i) => session.setDoNotDisturb('100', i % 2 === 0)),
  )
  const codes = new Set(results.map((r) => (r.status === 'rejected' ? r.reason.code : 'ok')))
  assert.ok(codes.has('ERR_BUSY'), JSON.stringify([...codes]))
  const busy = results.find((r) => r.status === 'rejected' && r.reason.code === 'ERR_BUSY')
  coded(busy.reason, 'ERR_BUSY')
})

test('ERR_CLOSED: commands after close', async () => {
  const sim = await Simulator.start(fastOffice())
  const session = await connect(sim.sessionUrl)
  await session.close()
  coded(await rejection(session.makeCall('100', '101')), 'ERR_CLOSED')
  coded(await rejection(session.setDoNotDisturb('100', true)), 'ERR_CLOSED')
  await sim.shutdown()
})

test('ERR_UNKNOWN_DEVICE, ERR_UNKNOWN_CALL, ERR_NOT_ALLOWED', async (t) => {
  const { sim, session } = await office(t)
  const w = new Watch(session)
  coded(await rejection(session.setDoNotDisturb('999', true)), 'ERR_UNKNOWN_DEVICE')
  coded(await rejection(session.makeCall('777', '101')), 'ERR_UNKNOWN_DEVICE')
  coded(await rejection(session.dial('777', '101')), 'ERR_UNKNOWN_DEVICE')
  coded(await rejection(session.clearCall('no-such-call')), 'ERR_UNKNOWN_CALL')
  const ring = await ringing(sim, w, '101', '108')
  const talk = await talking(sim, w, '102', '103')
  coded(await rejection(session.answer(talk, '103')), 'ERR_NOT_ALLOWED')
  coded(await rejection(session.deflect(talk, '103', '104')), 'ERR_NOT_ALLOWED')
  coded(await rejection(session.singleStepTransfer(ring, '108', '104')), 'ERR_NOT_ALLOWED')
  coded(await rejection(session.transferCall(talk, ring)), 'ERR_NOT_ALLOWED')
  coded(await rejection(session.pickup('104', '105')), 'ERR_NOT_ALLOWED')
})

test('ERR_UNSUPPORTED: phone control and AstDB not set up, or the PBX lacks the action', async (t) => {
  const sim = await Simulator.start(fastOffice())
  const bare = await connect(sim.url) // no ?control=pjsip&astdb=1
  const full = await connect(sim.sessionUrl)
  t.after(async () => {
    await bare.close()
    await full.close()
    await sim.shutdown()
  })
  const w = new Watch(bare)
  const call = await talking(sim, w, '101', '100')
  coded(await rejection(bare.hold(call, '100')), 'ERR_UNSUPPORTED')
  coded(await rejection(bare.setDoNotDisturb('100', true)), 'ERR_UNSUPPORTED')
  sim.setActionKnown('PJSIPNotify', false)
  coded(await rejection(full.hold(call, '100')), 'ERR_UNSUPPORTED')
})

/**
 * A fake PBX that answers every action with a bare `Response: Success`: to an MD5 login's
 * `Challenge` that is a response without the challenge, which AMI does not allow.
 */
async function fakePbx(t) {
  const sockets = new Set()
  const server = net.createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => {})
    sock.write('Asterisk Call Manager/9.0.0\r\n')
    let buf = ''
    sock.on('data', (d) => {
      buf += d.toString('latin1')
      let end
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const msg = buf.slice(0, end)
        buf = buf.slice(end + 4)
        const id = /^ActionID: (.*)$/im.exec(msg)?.[1] ?? ''
        sock.write(`Response: Success\r\nActionID: ${id}\r\n\r\n`)
      }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return server.address().port
}

test('ERR_PROTOCOL: the PBX breaks the protocol', async (t) => {
  const port = await fakePbx(t)
  const err = await rejection(connect(`ami://admin:secret@127.0.0.1:${port}?auth=md5`, { reconnect: false }))
  coded(err, 'ERR_PROTOCOL')
})

test('simulator errors have codes too', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  assert.throws(() => sim.placeCall('999', '100'), { code: 'ERR_SIM_UNKNOWN_EXTENSION' })
  sim.placeCall('101', '108')
  assert.throws(() => sim.placeCall('101', '102'), { code: 'ERR_SIM_EXTENSION_BUSY' })
  const e = await rejection(Simulator.start({ host: 'not-an-ip' }))
  assert.equal(e.code, 'ERR_INVALID_ARGUMENT')
})
