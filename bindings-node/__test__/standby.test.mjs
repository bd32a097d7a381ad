// A standby PBX named in the URL (`standby=host:port`): when the PBX in use is lost and
// stays unreachable, the session moves to the standby, with link_down then resynced as for
// a reconnect, and commands reach the standby.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { connect, Simulator } from '../index.js'
import { fastOffice, Watch } from './helpers.mjs'

test('a lost PBX is replaced by its standby', async (t) => {
  const primary = await Simulator.start(fastOffice())
  const standby = await Simulator.start(fastOffice())
  t.after(() => Promise.all([primary.shutdown(), standby.shutdown()]))
  const session = await connect(`${primary.sessionUrl}&reconnect_ms=50&standby=127.0.0.1:${standby.port}`)
  t.after(() => session.close())
  const link = new Watch(session, 'link')
  const calls = new Watch(session, 'event')
  primary.placeCall('100', '101')
  await calls.until('101 answers on the primary', (e) => e.event === 'established' && e.device === '101')
  standby.placeCall('102', '103')

  await primary.shutdown()
  await link.until('link down', (e) => e.event === 'link_down')
  await link.until('resynced', (e) => e.event === 'resynced', 10_000)
  const devices = session.snapshot().calls.map((c) => c.connections.map((k) => k.device).sort())
  assert.deepEqual(devices, [['102', '103']])

  const call = await session.makeCall('104', '105')
  await calls.until(
    '105 answers on the standby',
    (e) => e.event === 'established' && e.device === '105' && e.call === call,
  )
})
