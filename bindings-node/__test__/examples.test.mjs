// The examples in examples/node/ run as a user runs them (`node examples/node/X.mjs ...`)
// against a simulator over TCP, and say what the Rust examples say.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'

import { Simulator } from '../index.js'
import { deadline, sleep, until } from './helpers.mjs'

const example = (name) => fileURLToPath(new URL(`../../examples/node/${name}`, import.meta.url))

/** Phones 100-105 that ring briefly; 105 rings until Dial() gives up (nobody at the desk). */
function quickOffice(extra = {}) {
  return {
    extensions: ['100', '101', '102', '103', '104', '105'],
    ringDelayMs: 50,
    answerDelayMs: 150,
    noAnswer: ['105'],
    dialTimeoutMs: 500,
    ...extra,
  }
}

/** Runs an example to its end (at most `ms`); its exit code and output lines. */
async function runExample(name, args, ms = 20_000) {
  const p = start(name, args)
  const exit = await Promise.race([p.exited, deadline(ms)])
  if (exit === null) {
    p.child.kill('SIGKILL')
    assert.fail(`${name} ${args.join(' ')} did not end: ${p.lines.join('\n')}\n${p.stderr}`)
  }
  return { code: exit.code, lines: p.lines, stderr: p.stderr }
}

function start(name, args) {
  const child = spawn(process.execPath, [example(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const p = { child, lines: [], stderr: '' }
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    const parts = buf.split('\n')
    buf = parts.pop()
    p.lines.push(...parts)
  })
  child.stderr.on('data', (d) => (p.stderr += d))
  p.exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }))
  return p
}

async function withSim(t, options) {
  const sim = await Simulator.start(quickOffice(options))
  t.after(() => sim.shutdown())
  return sim
}

test('click_to_dial prints answered when the destination answers', async (t) => {
  const sim = await withSim(t)
  const r = await runExample('click_to_dial.mjs', [sim.url, '100', '101'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.lines[0], /^call \S+: your phone 100 rings; answer it to call 101$/)
  assert.deepEqual(r.lines.slice(1), [
    '  delivered 100',
    '  originated 100',
    '  delivered 101',
    '  established 101',
    'answered',
  ])
  // The call goes on after the example has ended, as a click-to-dial call does.
  assert.ok(sim.truth().channels.some((c) => c.ext === '101'))
})

test('click_to_dial prints busy when the destination is in a call', async (t) => {
  const sim = await withSim(t)
  sim.placeCall('102', '101')
  const r = await runExample('click_to_dial.mjs', [sim.url, '100', '101'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.lines.at(-1), 'busy')
})

test('click_to_dial prints no-answer when nobody picks up', async (t) => {
  const sim = await withSim(t)
  const r = await runExample('click_to_dial.mjs', [sim.url, '100', '105'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.lines.at(-1), 'no-answer')
})

test('click_to_dial prints failed for an unknown number', async (t) => {
  const sim = await withSim(t)
  const r = await runExample('click_to_dial.mjs', [sim.url, '100', '999'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.lines.at(-1), 'failed')
})

test('click_to_dial from an unknown device exits 1 with the error code', async (t) => {
  const sim = await withSim(t)
  const r = await runExample('click_to_dial.mjs', [sim.url, '777', '101'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^error: unknown device "777" \(ERR_UNKNOWN_DEVICE\)$/m)
  assert.ok(!r.stderr.includes('secret'), r.stderr)
})

test('click_to_dial with no arguments dials in an in-process simulator', async () => {
  const r = await runExample('click_to_dial.mjs', [])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.lines.at(-1), 'answered')
})

test('click_to_dial with wrong arguments prints its usage', async () => {
  const r = await runExample('click_to_dial.mjs', ['ami://a:b@127.0.0.1:1'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /usage: click_to_dial.mjs \[URL FROM TO\]/)
})

test('incoming_call pops up each caller at the ringing phone, until Ctrl-C', async (t) => {
  const sim = await withSim(t, { answerDelayMs: 60_000 })
  const p = start('incoming_call.mjs', [sim.url])
  t.after(() => p.child.kill('SIGKILL'))
  // Login and the three state lists, then it listens.
  await until('the example connected', () => p.lines.includes('waiting for calls...'), 10_000)
  sim.placeCall('101', '100')
  sim.placeCall('103', '102')
  await until('two pop-ups', () => p.lines.length >= 3, 10_000)
  p.child.kill('SIGINT')
  const exit = await p.exited
  assert.deepEqual(exit, { code: 0, signal: null }, p.stderr)
  assert.deepEqual(p.lines, [
    'waiting for calls...',
    'pop-up at 100: call from 101 Phone 101',
    'pop-up at 102: call from 103 Phone 103',
  ])
  await until('it logged off', () => sim.connections() === 0)
  sim.hangupAll()
})

test('incoming_call with no arguments shows two calls in an in-process simulator', async () => {
  const r = await runExample('incoming_call.mjs', [])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.lines, [
    'waiting for calls...',
    'pop-up at 100: call from 101 Phone 101',
    'pop-up at 102: call from 103 Phone 103',
  ])
})
