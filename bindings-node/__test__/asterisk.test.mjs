// Simulator.start({ asterisk }): the Asterisk the simulator imitates (18, 20 or 22), as
// `ctilink sim --asterisk`. The version shows in the AMI banner and, unless `technology`
// says otherwise, in the phones' channel technology (chan_sip on 18 and 20, PJSIP on 22).
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'

import { connect, CtilinkError, Simulator } from '../index.js'
import { fastOffice, is, rejection, Watch } from './helpers.mjs'

/** The first line the simulator writes on a raw TCP connection, without its CRLF. */
function banner(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    socket.setEncoding('latin1')
    socket.setTimeout(5000, () => socket.destroy(new Error('no banner within 5 s')))
    socket.on('data', (chunk) => {
      data += chunk
      const end = data.indexOf('\r\n')
      if (end >= 0) {
        socket.destroy()
        resolve(data.slice(0, end))
      }
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(data)}`)))
  })
}

/** Starts a simulator imitating `asterisk`, checks its banner, and makes a call through a
 * session; the channel names of that call's events. */
async function callChannels(t, options, amiVersion) {
  const sim = await Simulator.start(fastOffice(options))
  t.after(() => sim.shutdown())
  assert.equal(await banner(sim.port), `Asterisk Call Manager/${amiVersion}`)
  const session = await connect(sim.sessionUrl)
  t.after(() => session.close())
  const w = new Watch(session, 'call')
  const call = await session.makeCall('100', '101')
  await w.until('101 answers', (e) => is(e, 'established', '101') && e.call === call)
  const channels = w.seen.filter((e) => e.call === call && typeof e.channel === 'string').map((e) => e.channel)
  assert.ok(channels.length > 0, JSON.stringify(w.seen))
  assert.deepEqual(new Set(channels.map((c) => c.split('/')[1].split('-')[0])), new Set(['100', '101']))
  return { sim, channels }
}

test('asterisk 22: banner 11.0.0 and PJSIP channels', async (t) => {
  const { sim, channels } = await callChannels(t, { asterisk: 22 }, '11.0.0')
  assert.ok(channels.every((c) => c.startsWith('PJSIP/')), JSON.stringify(channels))
  assert.match(sim.sessionUrl, /control=pjsip&astdb=1$/)
})

test('asterisk 20 with the default technology: banner 9.0.0 and chan_sip channels', async (t) => {
  const { sim, channels } = await callChannels(t, { asterisk: 20 }, '9.0.0')
  assert.ok(channels.every((c) => c.startsWith('SIP/')), JSON.stringify(channels))
  assert.match(sim.sessionUrl, /control=sip&astdb=1$/)
})

test('asterisk 18: banner 7.0.3 and chan_sip channels', async (t) => {
  const { channels } = await callChannels(t, { asterisk: 18 }, '7.0.3')
  assert.ok(channels.every((c) => c.startsWith('SIP/')), JSON.stringify(channels))
})

test('without asterisk: Asterisk 20 with PJSIP phones, as always', async (t) => {
  const { channels } = await callChannels(t, {}, '9.0.0')
  assert.ok(channels.every((c) => c.startsWith('PJSIP/')), JSON.stringify(channels))
})

test('a version string, and a technology chosen for the version', async () => {
  const v22 = await Simulator.start({ extensions: ['100', '101'], asterisk: '22.10.1' })
  try {
    assert.equal(await banner(v22.port), 'Asterisk Call Manager/11.0.0')
  } finally {
    await v22.shutdown()
  }
  const v20 = await Simulator.start({ extensions: ['100', '101'], asterisk: 20, technology: 'PJSIP' })
  try {
    assert.equal(await banner(v20.port), 'Asterisk Call Manager/9.0.0')
    assert.match(v20.sessionUrl, /control=pjsip&astdb=1$/)
  } finally {
    await v20.shutdown()
  }
})

test('an unknown version, or SIP on 22, is ERR_INVALID_ARGUMENT', async () => {
  const invalid = [
    { asterisk: 17 },
    { asterisk: 21 },
    { asterisk: -20 },
    { asterisk: 'x' },
    { asterisk: '' },
    { asterisk: 22, technology: 'SIP' },
    { asterisk: '22', technology: 'sip' },
    { technology: 'IAX2' },
  ]
  for (const options of invalid) {
    const err = await rejection(Simulator.start({ extensions: ['100', '101'], ...options }))
    assert.ok(err instanceof CtilinkError, `${JSON.stringify(options)}: ${err}`)
    assert.equal(err.code, 'ERR_INVALID_ARGUMENT', `${JSON.stringify(options)}: ${err.message}`)
    assert.match(err.message, /Asterisk/)
  }
  // Not a number or a string at all: napi's type error, with the type error code.
  const typeErr = await rejection(Simulator.start({ asterisk: true }))
  assert.ok(typeErr instanceof TypeError, `${typeErr}`)
  assert.equal(typeErr.code, 'ERR_INVALID_ARG_TYPE')
})
