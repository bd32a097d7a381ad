// The same measurements with the asterisk-manager npm package (installed by run.sh into
// .work/). Usage:
//   node asterisk_manager_client.cjs URL events N         events/s to a JS handler
//   node asterisk_manager_client.cjs URL roundtrip N CHAN PlayDTMF round trips on CHAN
// Same protocol as ctilink_client.mjs: `ready`, wait for `go`, one JSON line.
'use strict'
const net = require('node:net')
const readline = require('node:readline')
const Manager = require('asterisk-manager')

// asterisk-manager writes its Login with the keys sorted and an `Event: on` header before
// `Secret` and `Username`. Asterisk reads `Events:` at login and ignores `Event:`, but the
// simulator refuses a Login with `Event:` ahead of the credentials (a simulator quirk; see
// docs/node.md). So this harness rewrites that one header, of that one action, to
// `Events: on` at the end; everything after login is the package's own traffic.
const write = net.Socket.prototype.write
net.Socket.prototype.write = function (data, ...rest) {
  if (typeof data === 'string' && /^Action: login\r\n/i.test(data)) {
    const m = /\r\nEvent: (\w+)\r\n/.exec(data)
    if (m) data = data.replace(m[0], '\r\n').replace(/\r\n\r\n$/, `\r\nEvents: ${m[1]}\r\n\r\n`)
  }
  return write.call(this, data, ...rest)
}
const { percentiles } = require('./stats.cjs')

async function main() {
  const [url, mode, nArg, channel] = process.argv.slice(2)
  const n = Number(nArg)
  const u = new URL(url)
  const ami = new Manager(Number(u.port), u.hostname, decodeURIComponent(u.username), decodeURIComponent(u.password), true)
  ami.keepConnected = () => {}
  const action = (a) =>
    new Promise((resolve, reject) => ami.action(a, (err, res) => (err ? reject(new Error(JSON.stringify(err))) : resolve(res))))
  await action({ action: 'Ping' }) // answered once logged in
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  const go = async () => {
    console.log('ready')
    await lines.next()
  }
  if (mode === 'events') {
    // As ctilink_client.mjs: bursts of BURST, timed from first to last event of each.
    const BURST = Number(process.env.BURST ?? 4000)
    const bursts = Math.ceil(n / BURST)
    let count = 0
    let inBurst = 0
    let first = 0n
    let busyNs = 0n
    let burstDone = null
    ami.on('userevent', (evt) => {
      if (evt.userevent !== 'Burst') return
      if (inBurst === 0) first = process.hrtime.bigint()
      count++
      inBurst++
      if (inBurst >= BURST) {
        busyNs += process.hrtime.bigint() - first
        inBurst = 0
        burstDone()
      }
    })
    await go()
    for (let i = 0; i < bursts; i++) {
      const done = new Promise((resolve) => (burstDone = resolve))
      console.log('burst')
      await done
    }
    const seconds = Number(busyNs) / 1e9
    console.log(JSON.stringify({ mode, events: count, missed: 0, seconds, perSecond: count / seconds }))
  } else if (mode === 'roundtrip') {
    const one = () => action({ action: 'PlayDTMF', channel, digit: '1', duration: '100' })
    await go()
    for (let i = 0; i < 200; i++) await one()
    const times = []
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint()
      await one()
      times.push(Number(process.hrtime.bigint() - t0) / 1e3)
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    console.log(JSON.stringify({ mode, n, perSecond: n / seconds, ...percentiles(times) }))
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
  ami.disconnect()
  process.stdin.destroy()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
