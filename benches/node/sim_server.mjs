// The PBX both clients talk to, in its own process so that it does not share a JS thread
// with the client being measured. Driven by bench.mjs over stdin, one command a line:
//   burst N   send N UserEvents to every logged-in connection
//   call      set up a call 101 -> 100, answered; prints its channels
//   quit      shut down and exit
// Prints one JSON line per command.
import { createInterface } from 'node:readline'
import { Simulator } from '../../bindings-node/index.js'

const extensions = Array.from({ length: 50 }, (_, i) => String(100 + i))
const sim = await Simulator.start({ extensions, ringDelayMs: 10, answerDelayMs: 3_600_000 })
const say = (o) => console.log(JSON.stringify(o))
say({ url: sim.url, sessionUrl: sim.sessionUrl })

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/)
  if (cmd === 'burst') {
    sim.emitBurst(Number(arg))
    say({ burst: Number(arg) })
  } else if (cmd === 'call') {
    sim.hangupAll()
    sim.placeCall('101', '100')
    while (!sim.answerExt('100')) await new Promise((r) => setTimeout(r, 5))
    const channels = sim.truth().channels.map((c) => ({ ext: c.ext, name: c.name, state: c.state }))
    say({ channels })
  } else if (cmd === 'connections') {
    say({ connections: sim.connections() })
  } else if (cmd === 'quit') {
    break
  }
}
await sim.shutdown()
// stdin stays open (the driver holds it), so leave explicitly.
process.exit(0)
