// ctilink-web when the gateway goes away and comes back, and the pings that keep an idle
// client connected.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from '../index.js'
import { startSim, startGateway, waitFor, sleep, TOKENS } from './processes.mjs'

test('the gateway restarts on the same port: link_down, link_up, a resync, commands again', async () => {
  const sim = await startSim()
  let gw = await startGateway(sim.url)
  const c = await connect(gw.url, TOKENS.desk100, { client: 'test-reconnect' })
  try {
    const seen = []
    c.on('event', (e) => seen.push(e))
    const down = waitFor(c, (ev) => ev.event === 'link_down' && ev)
    await gw.stop() // SIGTERM: the gateway says bye to every client
    const ev = await down
    assert.match(ev.reason, /shutting down/)
    assert.equal(c.status().state, 'down')
    await assert.rejects(c.makeCall('100', '101'), { code: 'ERR_LINK_DOWN' })

    // While the gateway is away a call starts on the PBX (through another gateway).
    const other = await startGateway(sim.url)
    const helper = await connect(other.url, TOKENS.desk100)
    const est = waitFor(helper, (e) => e.event === 'established' && e.device === '101' && e)
    const call = await helper.makeCall('100', '101')
    await est
    await helper.close()
    await other.stop()

    const up = waitFor(c, (e) => e.event === 'link_up' && e, 20000, 'link_up')
    const resynced = waitFor(c, (e) => e.event === 'resynced' && e, 20000, 'resynced')
    gw = await startGateway(sim.url, { ws: `127.0.0.1:${gw.port}` })
    assert.equal((await up).reconnected, true)
    const r = await resynced
    assert.deepEqual(r.callsFound, [call])
    assert.deepEqual(r.callsEnded, [])
    assert.deepEqual([...r.devicesChanged].sort(), ['100', '101'])
    // The resync told the call as events, before `resynced`.
    const kinds = seen.slice(seen.indexOf(await up)).map((e) => `${e.event}${e.device ? ' ' + e.device : ''}`)
    assert.ok(kinds.includes('originated 100') && kinds.includes('established 101'), kinds.join(', '))
    assert.equal(c.status().state, 'up')
    assert.deepEqual(
      c.call(call).connections.map((k) => `${k.device} ${k.state}`),
      ['100 connected', '101 connected'],
    )
    assert.equal(c.device('100').state, 'in_use')

    // Commands work again; the call ends and leaves the model.
    const cleared = waitFor(c, (e) => e.event === 'call_cleared' && e.call === call)
    await c.clearCall(call)
    await cleared
    assert.deepEqual(c.snapshot().calls, [])
  } finally {
    await c.close()
    await gw.stop()
    await sim.stop()
  }
})

test('pings keep an idle client connected past the gateway\'s idle timeout', async () => {
  const sim = await startSim()
  const gw = await startGateway(sim.url, { idleTimeoutMs: 1000 })
  const quiet = await connect(gw.url, TOKENS.desk100, { pingMs: 3600000, reconnect: false })
  const pinging = await connect(gw.url, TOKENS.desk100, { pingMs: 200 })
  try {
    const downs = []
    pinging.on('link', (e) => e.event === 'link_down' && downs.push(e))
    const closed = new Promise((resolve) => quiet.on('close', resolve))
    await sleep(2500)
    await closed
    assert.equal(quiet.status().state, 'closed', 'the one that did not ping was closed (reconnect: false)')
    assert.deepEqual(downs, [])
    assert.equal(pinging.status().state, 'up')
  } finally {
    await pinging.close()
    await quiet.close()
    await gw.stop()
    await sim.stop()
  }
})
