// The operator panel (/panel of `ctilink gateway`) in headless Chromium against the real
// simulator and gateway: login, the lamp field, a call ringing and answered, dialing,
// transfer by drag and drop, DND and forwarding, refusals in words, and ctilink-web loaded
// under the panel's CSP. Each test leaves a screenshot in target/panel-shots/.
// Run: node --experimental-websocket --test test/panel.test.mjs
import { test, before, after, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from '../index.js'
import { startSim, startGateway, TOKENS } from './processes.mjs'
import { launch, shot } from './browser.mjs'

// The operator sees phones 100-107 and acts for 100, which rings until answered.
const OPERATOR = 'operator-token-0123456789'
// The switchboard drives the simulator's phones from outside.
const SWITCH = 'switch-token-0123456789'
const tokens = `
[[token]]
identity = "operator"
token = "${OPERATOR}"
monitor = ["*"]
control = ["100"]

[[token]]
identity = "switch"
token = "${SWITCH}"
monitor = ["*"]
control = ["*"]
`

let sim, gw, chromium, origin, driver
let page, problems
// The origins a page may reach: the gateway's (and a second one's, for one test).
const origins = new Set()

before(async () => {
  sim = await startSim({ extensions: '100-107', noAnswer: '100,106' })
  gw = await startGateway(sim.url, { tokens })
  origin = `http://127.0.0.1:${gw.port}`
  origins.add(origin)
  chromium = await launch()
  driver = await connect(gw.url, SWITCH, { client: 'panel-test-driver' })
})

after(async () => {
  await driver?.close()
  await chromium?.close()
  await gw?.stop()
  await sim?.stop()
})

beforeEach(async () => {
  page = await chromium.browser.newPage()
  await page.setViewport({ width: 1100, height: 640 })
  // Anything the page asks of another origin, a CSP violation or a script error fails the test.
  problems = []
  page.on('request', (r) => {
    const ours = [...origins].some((o) => r.url().startsWith(`${o}/`))
    if (!ours && !r.url().startsWith('data:')) problems.push(`request to ${r.url()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
})

afterEach(async () => {
  // Calls left by a test would colour the next one's lamps.
  for (const c of driver.snapshot().calls) await driver.clearCall(c.id).catch(() => {})
  await untilIdle()
  await page.close()
  assert.deepEqual(problems, [])
})

/** Until the switchboard's model has no calls and every phone is idle. */
async function untilIdle() {
  for (let i = 0; i < 100; i++) {
    const s = driver.snapshot()
    if (s.calls.length === 0 && s.devices.every((d) => d.state === 'idle' && !d.doNotDisturb && !d.forwardTo)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`the PBX did not settle: ${JSON.stringify(driver.snapshot())}`)
}

async function login(token = OPERATOR, at = origin) {
  await page.goto(`${at}/panel`)
  await page.type('#token', token)
  await page.keyboard.press('Enter')
}

async function loggedIn(at = origin) {
  await login(OPERATOR, at)
  await page.waitForSelector('#panel:not([hidden])')
  await page.waitForFunction(() => document.querySelectorAll('#lamps .lamp').length === 8)
}

const lampClass = (id) => page.$eval(`#lamps [data-device="${id}"]`, (el) => el.className)
/** Waits until lamp `id` shows `cls` (a class such as "ringing", "in-use", "idle"). */
const lampIs = (id, cls) =>
  page.waitForFunction(
    (id, cls) => document.querySelector(`#lamps [data-device="${id}"]`)?.classList.contains(cls),
    { timeout: 10000 },
    id,
    cls,
  )
/** Waits until the calls table has a row whose text includes every string of `parts`. */
const callRow = (...parts) =>
  page.waitForFunction(
    (parts) => [...document.querySelectorAll('#calls tbody tr')].some((tr) => parts.every((p) => tr.textContent.includes(p))),
    { timeout: 10000 },
    parts,
  )
const message = () => page.$eval('#message', (el) => (el.hidden ? '' : el.textContent))

test('ctilink-web works in the browser under the panel CSP (connect-src self reaches ws://)', async () => {
  await page.goto(`${origin}/panel`)
  const got = await page.evaluate(async (token) => {
    const { connect } = await import('/panel/ctilink-web.js')
    const url = `ws://${location.host}/ws`
    const c = await connect(url, token, { client: 'in-browser' })
    const out = { identity: c.identity, control: c.control, devices: c.snapshot().devices.map((d) => d.id), state: c.status().state }
    let refused = null
    try {
      await c.answer('no-such-call', '101')
    } catch (e) {
      refused = e.code
    }
    await c.close()
    return { ...out, refused }
  }, OPERATOR)
  assert.deepEqual(got, {
    identity: 'operator',
    control: ['100'],
    devices: ['100', '101', '102', '103', '104', '105', '106', '107'],
    state: 'up',
    refused: 'ERR_NOT_ALLOWED',
  })
})

test('login shows the lamp field of the token, and keeps the token out of the URL', async () => {
  await loggedIn()
  assert.equal(await page.$eval('#identity', (el) => el.textContent), 'operator')
  for (const id of ['100', '101', '107']) assert.match(await lampClass(id), /\bidle\b/)
  assert.match(await lampClass('100'), /\bme\b/, 'one’s own phone stands out')
  assert.equal(await page.$eval('#me', (el) => el.value), '100')
  assert.equal(page.url(), `${origin}/panel`)
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ctilink-panel-token')), OPERATOR)
  assert.equal(await page.evaluate(() => localStorage.length), 0)
  // The filter hides what does not match.
  await page.type('#filter', '10')
  await page.keyboard.type('5')
  await page.waitForFunction(() => [...document.querySelectorAll('#lamps .lamp')].filter((el) => !el.hidden).length === 1)
  await shot(page, 'login-filter')
  // A reload logs in again from sessionStorage.
  await page.reload()
  await page.waitForSelector('#panel:not([hidden])')
  assert.equal(await page.$eval('#identity', (el) => el.textContent), 'operator')
})

test('a wrong token is refused in words', async () => {
  await login('not-a-token-0123456789')
  await page.waitForSelector('#login-error:not([hidden])', { timeout: 10000 })
  const text = await page.$eval('#login-error', (el) => el.textContent)
  assert.match(text, /refused this token/)
  assert.equal(await page.$eval('#panel', (el) => el.hidden), true)
  assert.equal(await page.evaluate(() => sessionStorage.length), 0)
  await shot(page, 'wrong-token')
})

test('a call rings at one’s phone, stands out, and is answered from the panel', async () => {
  await loggedIn()
  const call = await driver.makeCall('102', '100')
  await lampIs('100', 'ringing')
  await page.waitForSelector('#incoming:not([hidden])')
  const banner = await page.$eval('#incoming', (el) => el.innerText.replace(/\s+/g, ' '))
  assert.match(banner, /Incoming call at 100 from 102\b/)
  await shot(page, 'incoming')
  await page.click('#incoming button')
  await lampIs('100', 'in-use')
  await lampIs('102', 'in-use')
  await callRow('102', 'talking')
  await page.waitForSelector('#incoming', { hidden: true })
  assert.equal(driver.call(call).connections.find((k) => k.device === '100').state, 'connected')
  // Hold and retrieve from the call's row.
  await page.click(`#calls tr[data-call="${call}"] button`) // Hold comes first
  await callRow('on hold')
  await lampIs('100', 'on-hold')
  await page.waitForFunction(
    (call) => [...document.querySelectorAll(`#calls tr[data-call="${call}"] button`)].some((b) => b.textContent === 'Retrieve'),
    {},
    call,
  )
  const retrieve = await page.$$(`#calls tr[data-call="${call}"] button`)
  await retrieve[0].click()
  await callRow('102', 'talking')
  await lampIs('100', 'in-use')
})

test('dialing from the keyboard: type a number, Enter; the call is established; hang up', async () => {
  await loggedIn()
  await page.click('#filter') // start away from the number box
  await page.keyboard.press('Escape')
  await page.keyboard.type('103') // a digit focuses the number box
  await page.keyboard.press('Enter')
  await lampIs('103', 'in-use')
  await lampIs('100', 'in-use')
  await callRow('100', '103', 'talking')
  await page.waitForFunction(() => document.querySelector('#message').textContent.includes('Dial 103: done'))
  await shot(page, 'dialed')
  const hangUp = await page.$$('#calls tbody tr button')
  assert.deepEqual(await Promise.all(hangUp.map((b) => b.evaluate((el) => el.textContent))), ['Hold', 'Hang up'])
  await hangUp[1].click()
  await lampIs('100', 'idle')
  await page.waitForFunction(() => document.querySelectorAll('#calls tbody tr').length === 0)
})

test('clicking an idle extension dials it', async () => {
  await loggedIn()
  assert.match(await lampClass('104'), /\bcallable\b/)
  await page.click('#lamps [data-device="104"]')
  await callRow('100', '104', 'talking')
})

/** Drags the row of `call` onto lamp `to`, as a user does with the mouse. */
async function drag(call, to) {
  const row = await page.$(`#calls tr[data-call="${call}"]`)
  const lamp = await page.$(`#lamps [data-device="${to}"]`)
  // The browser's own drag and drop (mouse down, moves, up), not synthetic events.
  await row.drag(lamp)
  await lamp.drop(row)
}

test('dragging a call onto an extension transfers it', async () => {
  await loggedIn()
  await page.type('#number', '101')
  await page.keyboard.press('Enter')
  await callRow('100', '101', 'talking')
  const call = (await page.$eval('#calls tbody tr', (tr) => tr.dataset.call))
  await drag(call, '105')
  await page.waitForFunction(() => document.querySelector('#message').textContent.includes('Transfer to 105: done'))
  // 100 is out; 101's call now goes to 105, whose phone rings and answers: one call, the
  // same id, 101 and 105 talking in it.
  await lampIs('100', 'idle')
  await lampIs('105', 'in-use')
  await callRow('101', '105', 'talking')
  // The switchboard's own client may get 105's answer a moment after the panel did.
  const talkingWith105 = () => driver.snapshot().calls[0]?.connections.some((x) => x.device === '105' && x.state === 'connected')
  for (let i = 0; i < 100 && !talkingWith105(); i++) await new Promise((r) => setTimeout(r, 50))
  const calls = driver.snapshot().calls
  assert.equal(calls.length, 1)
  assert.equal(calls[0].id, call)
  assert.equal(calls[0].called.number, '105')
  assert.deepEqual(calls[0].connections.map((x) => [x.device, x.state]).sort(), [
    ['101', 'connected'],
    ['105', 'connected'],
  ])
  await shot(page, 'transferred')
})

test('the PBX’s own refusal is shown in words, and the call goes on', async () => {
  // A PBX whose AMI user may not transfer (Asterisk answers `Permission denied`).
  const pbx = await startSim({ extensions: '100-107', noAnswer: '100,106', deny: 'BlindTransfer' })
  const gw2 = await startGateway(pbx.url, { tokens })
  const at = `http://127.0.0.1:${gw2.port}`
  origins.add(at)
  const driver2 = await connect(gw2.url, SWITCH, { client: 'panel-test-driver-2' })
  try {
    await loggedIn(at)
    await page.type('#number', '101')
    await page.keyboard.press('Enter')
    await callRow('100', '101', 'talking')
    const call = await page.$eval('#calls tbody tr', (tr) => tr.dataset.call)
    await drag(call, '105')
    await page.waitForFunction(() => /Transfer to 105.*The PBX refused: .*Permission denied/.test(document.querySelector('#message').textContent))
    await shot(page, 'pbx-refused')
    assert.deepEqual(driver2.call(call).connections.map((k) => [k.device, k.state]).sort(), [
      ['100', 'connected'],
      ['101', 'connected'],
    ])
    await lampIs('105', 'idle')
  } finally {
    for (const c of driver2.snapshot().calls) await driver2.clearCall(c.id).catch(() => {})
    await driver2.close()
    await gw2.stop()
    await pbx.stop()
    origins.delete(at)
  }
})

test('an action on another’s phone is refused in words, and none is offered', async () => {
  await loggedIn()
  const call = await driver.makeCall('102', '103')
  await callRow('102', '103', 'talking')
  const buttons = await page.$$eval(`#calls tr[data-call="${call}"] button`, (bs) => bs.length)
  assert.equal(buttons, 0, 'no buttons on a call without one’s phone')
  await drag(call, '105')
  await page.waitForFunction(() => /not allowed/i.test(document.querySelector('#message').textContent), { timeout: 10000 })
  assert.match(await message(), /Transfer to 105 — Not allowed for this token: device 102 is not in this client's control list/)
  await shot(page, 'refused')
  assert.deepEqual(driver.call(call).connections.map((k) => k.device).sort(), ['102', '103'], 'nothing moved')
})

test('DND and forwarding toggles of one’s phone; an event touches only its own lamp', async () => {
  await loggedIn()
  // Every change to the lamp field from here on, by the lamp it happened in.
  await page.evaluate(() => {
    window.__touched = new Set()
    new MutationObserver((ms) => {
      for (const m of ms) {
        const t = m.target.nodeType === Node.TEXT_NODE ? m.target.parentElement : m.target
        window.__touched.add(t.closest('.lamp')?.dataset.device ?? 'field')
      }
    }).observe(document.querySelector('#lamps'), { subtree: true, childList: true, attributes: true, characterData: true })
  })
  await page.click('#dnd')
  await lampIs('100', 'dnd')
  assert.deepEqual(await page.evaluate(() => [...window.__touched]), ['100'], 'no other lamp re-rendered')
  assert.equal(await page.$eval('#dnd', (el) => el.getAttribute('aria-pressed')), 'true')
  await page.click('#dnd')
  await lampIs('100', 'idle')
  await page.type('#forward-to', '107')
  await page.click('#forward-button')
  await page.waitForFunction(() => document.querySelector('#lamps [data-device="100"]').textContent.includes('→ 107'))
  assert.equal(driver.device('100').forwardTo, '107')
  await page.click('#forward-button')
  await page.waitForFunction(() => !document.querySelector('#lamps [data-device="100"]').textContent.includes('→'))
  assert.equal(driver.device('100').forwardTo, null)
})

test('a number that cannot be dialed is refused in words', async () => {
  await loggedIn()
  await page.type('#number', 'x!')
  await page.keyboard.press('Enter')
  await page.waitForFunction(() => document.querySelector('#message').textContent.startsWith('Dial x!'), { timeout: 10000 })
  assert.equal(await message(), `Dial x! — Invalid input: number "x!" contains '!'`)
  assert.equal(await page.$eval('#number', (el) => el.value), 'x!', 'the number stays for correction')
})
