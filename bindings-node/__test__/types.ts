// Compile-time tests of index.d.ts (tsc -p tsconfig.json). Each `@ts-expect-error` must
// meet an error: if the types became `any` somewhere, tsc fails with "unused directive".
import { connect, CtilinkError, errorCodes, Simulator } from '../index.js'
import type { CallEvent, DialOutcome, ErrorCode, Event, Snapshot } from '../index.js'

export async function typed(): Promise<void> {
  const sim = await Simulator.start({ extensions: ['100', '101'], ringDelayMs: 10 })
  const session = await connect(sim.sessionUrl, { timeoutMs: 1000, control: 'pjsip' })

  session.on('call', (ev: CallEvent) => {
    if (ev.event === 'delivered') {
      const ctd: boolean = ev.clickToDial
      const caller: string = ev.caller.number
      void ctd
      void caller
    }
    // @ts-expect-error a call event is never a device event
    if (ev.event === 'device_state') return
  })
  session.on('device', (ev) => {
    // @ts-expect-error device events carry no call
    void ev.call
    if (ev.event === 'device_removed') {
      const gone: string = ev.device
      void gone
    }
  })
  sim.restart(['100', '102'])
  // @ts-expect-error extensions are strings
  sim.restart([100])
  // @ts-expect-error no such event
  session.on('ringing', () => {})

  for await (const ev of session.events()) {
    const e: Event = ev
    if (e.event === 'lagged') {
      const missed: number = e.missed
      void missed
    }
    break
  }

  const call: string = await session.makeCall('100', '101')
  // @ts-expect-error makeCall takes device and number as strings
  await session.makeCall(100, 101)
  await session.setForwarding('100', 'busy', null)
  // @ts-expect-error not a forwarding kind
  await session.setForwarding('100', 'sometimes', '101')
  const dial = await session.dial('100', '101', { timeoutMs: 5000 })
  const outcome: DialOutcome = await dial.outcome
  // @ts-expect-error outcomes are the four words
  const wrong: 'ringing' = await dial.outcome
  void wrong

  const snap: Snapshot = session.snapshot()
  const state: string | undefined = snap.calls.find((c) => c.id === call)?.connections[0]?.state
  void state
  // @ts-expect-error connect takes known options only
  await connect(sim.url, { timeout: 5 })
  const pjsip = await Simulator.start({ asterisk: 22, technology: 'PJSIP' })
  await pjsip.shutdown()
  // @ts-expect-error the simulator imitates Asterisk 18, 20 or 22
  await Simulator.start({ asterisk: 17 })

  try {
    await session.clearCall(call)
  } catch (err) {
    if (err instanceof CtilinkError) {
      const code: ErrorCode | string = err.code
      void code
    }
  }
  const codes: readonly ErrorCode[] = errorCodes
  void codes
  void outcome
  await session.close()
  await sim.shutdown()
}
