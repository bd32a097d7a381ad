// Drives the Node benchmark: one simulator process, then each client in turn against it.
//   node bench.mjs [--events N] [--roundtrips N] [--repeat R] [--json FILE]
// See README.md for what is measured and how.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : dflt
}
const EVENTS = Number(arg('--events', 100_000))
const ROUNDTRIPS = Number(arg('--roundtrips', 5000))
const REPEAT = Number(arg('--repeat', 3))
/** Events per burst; the clients read it from the environment too. */
const BURST = Number(process.env.BURST ?? 4000)
const JSON_OUT = arg('--json', null)
const here = (f) => fileURLToPath(new URL(f, import.meta.url))

/** A child process speaking JSON (or `ready`) lines. */
function proc(file, args) {
  const child = spawn(process.execPath, [here(file), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    child,
    send: (l) => child.stdin.write(`${l}\n`),
    async line() {
      const { value, done } = await lines.next()
      if (done) throw new Error(`${file} ended early`)
      return value
    },
    async json() {
      return JSON.parse(await this.line())
    },
    exited: new Promise((r) => child.on('exit', r)),
  }
}

const sim = proc('sim_server.mjs', [])
const { url, sessionUrl } = await sim.json()

async function measure(client, mode, n, extra = []) {
  const file = client === 'ctilink' ? 'ctilink_client.mjs' : 'asterisk_manager_client.cjs'
  const c = proc(file, [client === 'ctilink' ? sessionUrl : url, mode, String(n), ...extra])
  const ready = await c.line()
  if (ready !== 'ready') throw new Error(`${client}: ${ready}`)
  c.send('go')
  let line
  while ((line = await c.line()) === 'burst') {
    sim.send(`burst ${BURST}`)
    await sim.json()
  }
  const r = JSON.parse(line)
  await c.exited
  return { client, ...r }
}

const median = (xs, key) => [...xs].sort((a, b) => a[key] - b[key])[Math.floor(xs.length / 2)]

const results = []
for (const [client, mode] of [
  ['ctilink', 'events'],
  ['ctilink', 'iterate'],
  ['asterisk-manager', 'events'],
]) {
  const runs = []
  for (let i = 0; i < REPEAT; i++) runs.push(await measure(client, mode, EVENTS))
  const m = median(runs, 'perSecond')
  results.push({ ...m, runs: runs.map((r) => Math.round(r.perSecond)) })
  console.error(`${client} ${mode}: ${runs.map((r) => Math.round(r.perSecond)).join(', ')} events/s`)
}
sim.send('call')
const { channels } = await sim.json()
const peer = channels.find((c) => c.ext === '101').name
for (const [client, mode] of [
  ['ctilink', 'roundtrip'],
  ['asterisk-manager', 'roundtrip'],
  ['ctilink', 'roundtrip-dnd'],
]) {
  const r = await measure(client, mode, ROUNDTRIPS, client === 'ctilink' ? [] : [peer])
  results.push(r)
  console.error(`${client} ${mode}: p50 ${r.p50Us.toFixed(0)} us, p99 ${r.p99Us.toFixed(0)} us`)
}
sim.send('quit')
await sim.exited

const fmt = (x) => Math.round(x).toLocaleString('en-US')
console.log(`\nevents delivered to a JavaScript handler (${fmt(EVENTS)} events in bursts of ${fmt(BURST)}, median of ${REPEAT})\n`)
console.log('| client | how | events/s | delivered | dropped (lagged) | runs (events/s) |')
console.log('|---|---|---:|---:|---:|---|')
for (const r of results.filter((r) => r.events !== undefined)) {
  const how = r.mode === 'iterate' ? '`for await (… of session.events())`' : r.client === 'ctilink' ? "`session.on('event')`" : "`ami.on('userevent')`"
  console.log(`| ${r.client} | ${how} | ${fmt(r.perSecond)} | ${fmt(r.events)} | ${fmt(r.missed)} | ${r.runs.map(fmt).join(', ')} |`)
}
console.log(`\ncommand round trip (${fmt(ROUNDTRIPS)} sequential, after 200 warm-up)\n`)
console.log('| client | command | AMI actions | p50 µs | p99 µs | mean µs | per s |')
console.log('|---|---|---:|---:|---:|---:|---:|')
for (const r of results.filter((r) => r.p50Us !== undefined)) {
  const what =
    r.mode === 'roundtrip-dnd'
      ? ['`setDoNotDisturb`', 2]
      : r.client === 'ctilink'
        ? ['`sendDtmf` (one digit)', 1]
        : ["`action({action: 'PlayDTMF'})`", 1]
  console.log(`| ${r.client} | ${what[0]} | ${what[1]} | ${fmt(r.p50Us)} | ${fmt(r.p99Us)} | ${fmt(r.meanUs)} | ${fmt(r.perSecond)} |`)
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(results, null, 2))
