// Sessions living and ending: several at once, close with events still coming, Node
// exiting after close, and sessions collected without close releasing their connections.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'

import { connect, Simulator } from '../index.js'
import { deadline, fastOffice, sleep, talking, until, Watch } from './helpers.mjs'

const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** A node process running a fixture; its output lines, and whether it exited. */
function run(name, args, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, fixture(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out = { child, lines: [], stderr: '', exit: null }
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    const parts = buf.split('\n')
    buf = parts.pop()
    out.lines.push(...parts)
  })
  child.stderr.on('data', (d) => (out.stderr += d))
  out.exited = once(child, 'exit').then(([code, signal]) => {
    out.exit = { code, signal }
    return out.exit
  })
  return out
}

test('several sessions on one PBX see the same events; closing one leaves the others', async (t) => {
  const sim = await Simulator.start(fastOffice())
  const sessions = await Promise.all([1, 2, 3].map(() => connect(sim.sessionUrl)))
  t.after(async () => {
    await Promise.all(sessions.map((s) => s.close()))
    await sim.shutdown()
  })
  assert.equal(sim.connections(), 3)
  const watches = sessions.map((s) => new Watch(s, 'call'))
  const call = await talking(sim, watches[0], '101', '100')
  for (const w of watches.slice(1)) await w.until('answered', (e) => e.call === call && e.event === 'established')
  assert.deepEqual(watches[1].kinds(call), watches[0].kinds(call))
  assert.deepEqual(watches[2].kinds(call), watches[0].kinds(call))
  await sessions[0].close()
  await until('one connection fewer', () => sim.connections() === 2)
  // The others go on: commands and events.
  await sessions[1].setDoNotDisturb('102', true)
  const dnd = new Watch(sessions[2], 'device')
  await sessions[2].setDoNotDisturb('102', false)
  await dnd.until('dnd off', (e) => e.event === 'do_not_disturb' && !e.enabled)
  assert.deepEqual(sessions[1].status(), { state: 'up' })
})

test('close with events pending: no handler runs after close(), close is emitted once', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  const session = await connect(sim.sessionUrl)
  let seen = 0
  let afterClose = 0
  let closing = false
  session.on('user', () => {
    seen++
    if (closing) afterClose++
  })
  let closes = 0
  session.on('close', () => closes++)
  const iterated = (async () => {
    let n = 0
    for await (const ev of session.events()) {
      void ev
      n++
    }
    return n
  })()
  sim.emitBurst(200_000)
  await until('the burst flows', () => seen > 100)
  closing = true
  const p1 = session.close()
  const p2 = session.close()
  assert.equal(p1, p2, 'close() is idempotent')
  await p1
  assert.ok(seen < 200_000, `closed while events were still coming (${seen})`)
  assert.equal(afterClose, 0)
  assert.equal(closes, 1)
  const n = await iterated
  assert.ok(n < 200_000, 'the iterator ended at close')
  await sleep(100)
  assert.equal(afterClose, 0)
  assert.equal(closes, 1)
  assert.deepEqual(session.status(), { state: 'closed' })
  await until('the connection closed', () => sim.connections() === 0)
  // Listeners added after close start nothing.
  session.on('event', () => assert.fail('no events after close'))
  await session.close()
})

test('close from inside an event handler completes', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  const session = await connect(sim.sessionUrl)
  const closed = new Promise((resolve) => {
    session.on('user', () => {
      session.close().then(resolve)
    })
  })
  sim.emitBurst(1000)
  await closed
  assert.equal(session.status().state, 'closed')
})

test('a handler that throws does not stop delivery to the others; the error is uncaught', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  const p = run('throwing_handler.mjs', [sim.sessionUrl])
  t.after(() => p.child.kill('SIGKILL'))
  await until('listening', () => p.lines.includes('listening'), 10_000)
  sim.emitBurst(5)
  const exit = await Promise.race([p.exited, deadline(10_000)])
  assert.deepEqual(exit, { code: 0, signal: null }, p.stderr)
  assert.deepEqual(p.lines, ['listening', 'uncaught: handler bug', 'seen 5'])
})

test('Node exits by itself after close(), with listeners, an iterator and a dial open', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  const p = run('close_exits.mjs', [sim.sessionUrl])
  const exit = await Promise.race([p.exited, deadline(10_000)])
  if (exit === null) p.child.kill('SIGKILL')
  assert.deepEqual(exit, { code: 0, signal: null }, `${p.lines.join('\n')}\n${p.stderr}`)
  // The iterator ends as close() starts, possibly before it resolves.
  assert.deepEqual([...p.lines].sort(), ['closed after some events', 'dial outcome failed', 'iterator ended'])
  await until('the connection closed', () => sim.connections() === 0)
})

test('a session being listened to keeps Node running; removing the last listener lets it exit', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  const open = run('stays_open.mjs', [sim.sessionUrl])
  const released = run('stays_open.mjs', [sim.sessionUrl, 'unlisten'])
  t.after(() => open.child.kill('SIGKILL'))
  const exit = await Promise.race([released.exited, deadline(10_000)])
  assert.deepEqual(exit, { code: 0, signal: null }, released.stderr)
  assert.deepEqual(released.lines, ['listening', 'unlistened'])
  await sleep(500)
  assert.deepEqual(open.lines, ['listening'])
  assert.equal(open.exit, null, 'still running')
  assert.equal(sim.connections(), 1)
})

test('sessions collected without close() release their connections', async (t) => {
  const sim = await Simulator.start(fastOffice())
  t.after(() => sim.shutdown())
  const p = run('gc.mjs', [sim.sessionUrl], ['--expose-gc'])
  t.after(() => p.child.kill('SIGKILL'))
  await until('connected', () => p.lines.includes('connected'), 10_000)
  assert.equal(sim.connections(), 3)
  await until('connections released', () => sim.connections() === 0, 15_000)
  assert.equal(p.exit, null, `the process is still running: ${p.stderr}`)
  await until('all three collected', () => p.lines.filter((l) => l.startsWith('collected')).length === 3, 5000)
})
