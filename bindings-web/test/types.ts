// Type test of index.d.ts (tsc -p tsconfig.json); never run.
import { connect, CtilinkError, errorCodes } from 'ctilink-web'
import type { Client, Event, ErrorCode, Snapshot, ClientStatus } from 'ctilink-web'

async function crm(): Promise<void> {
  const client: Client = await connect('wss://gateway.example/ws', 'token', { client: 'crm', pingMs: 10000, reconnect: true })
  const who: string | null = client.identity
  const mine: string[] = client.control
  client.on('event', (ev: Event) => {
    switch (ev.event) {
      case 'delivered':
        if (!ev.clickToDial) console.log(ev.device, ev.caller.number, ev.callingDevice)
        break
      case 'call_cleared':
        console.log(ev.call, ev.answered, ev.mergedInto)
        break
      case 'link_down':
        console.log(ev.reason)
        break
      case 'resynced':
        console.log(ev.callsEnded.length, ev.devicesChanged)
        break
    }
  })
  client.on('call', (ev) => console.log(ev.call))
  client.on('device', (ev) => console.log(ev.device))
  client.on('error', (e) => console.log(e.code))
  client.once('close', () => console.log('closed', who, mine))

  const snap: Snapshot = client.snapshot()
  for (const d of snap.devices) console.log(d.id, d.state, d.doNotDisturb, d.forwardBusy)
  for (const c of snap.calls) console.log(c.id, c.connections.map((k) => k.state))
  const s: ClientStatus = client.status()
  if (s.state === 'up') console.log(s.pbx)
  console.log(client.device('100')?.state, client.call('x')?.answered)

  const call: string = await client.makeCall('100', '0301234567')
  await client.answer(call, '100')
  await client.hold(call, '100')
  await client.retrieve(call, '100')
  await client.sendDtmf(call, '100', '123#')
  await client.singleStepTransfer(call, '100', '200')
  await client.deflect(call, '100', '200')
  await client.pickup('100', '101')
  await client.clearConnection(call, '100')
  await client.clearCall(call)
  const consult: string = await client.consultationCall(call, '100', '200')
  await client.transferCall(call, consult)
  await client.setDoNotDisturb('100', true)
  await client.setForwarding('100', 'busy', '200')
  await client.setForwarding('100', 'immediate', null)
  try {
    await client.makeCall('102', '100')
  } catch (e) {
    if (e instanceof CtilinkError) {
      const code: ErrorCode = e.code
      if (code === 'ERR_NOT_ALLOWED' || code === 'ERR_LINK_DOWN') console.log(e.message)
    }
  }
  const all: readonly ErrorCode[] = errorCodes
  console.log(all.length)

  for await (const ev of client) {
    if (ev.event === 'device_state') console.log(ev.device, ev.previous, ev.state)
  }
  for await (const ev of client.events()) console.log(ev.event)
  await client.close()
}

// @ts-expect-error: a token is required
connect('ws://x/ws')
// @ts-expect-error: forwarding kinds are the core's
void (null as unknown as Client).setForwarding('100', 'sometimes', null)

void crm
