// Starts the real simulator and gateway (`ctilink sim`, `ctilink gateway`) for the tests.
// The CLI is built once (cargo build -p ctilink-cli); CTILINK_BIN names another binary.

import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target')

let built = null

const children = new Set()
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

/** The ctilink binary, built on first use. */
export function ctilink() {
  if (process.env.CTILINK_BIN) return process.env.CTILINK_BIN
  const bin = join(targetDir, 'debug', process.platform === 'win32' ? 'ctilink.exe' : 'ctilink')
  if (!built) {
    execFileSync('cargo', ['build', '-q', '-p', 'ctilink-cli'], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, CARGO_TARGET_DIR: targetDir },
    })
    built = bin
  }
  if (!existsSync(bin)) throw new Error(`no ctilink binary at ${bin}`)
  return bin
}

/** Spawns `args` and resolves once `want` has matched a line of stdout (with the match). */
function start(args, want, timeoutMs = 20000) {
  // stderr is piped, not inherited, so that a killed test run leaves no process holding
  // the terminal's pipe; the children are killed when the test process exits.
  const child = spawn(ctilink(), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CTILINK_LOG: 'warn' } })
  child.stderr.on('data', (d) => process.stderr.write(d))
  children.add(child)
  child.once('exit', () => children.delete(child))
  const lines = createInterface({ input: child.stdout })
  return new Promise((resolve, reject) => {
    const found = {}
    const timer = setTimeout(() => {
      child.kill()
      reject(new Error(`ctilink ${args[0]} printed no address in time`))
    }, timeoutMs)
    child.once('exit', (code) => reject(new Error(`ctilink ${args[0]} exited (${code})`)))
    lines.on('line', (line) => {
      for (const [key, re] of Object.entries(want)) {
        const m = re.exec(line)
        if (m) found[key] = m[1]
      }
      if (Object.keys(want).every((k) => k in found)) {
        clearTimeout(timer)
        resolve({ child, found })
      }
    })
  })
}

/** Stops a child process and waits for its exit. */
export function stop(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

/**
 * The simulator on a free port, phones 100-103 (or `extensions`), quick to ring and
 * answer; `noAnswer` phones ring until answered by a command; `traffic` random calls/s;
 * `deny` AMI actions the PBX refuses with `Permission denied` (a comma list).
 */
export async function startSim({ extensions = '100-103', noAnswer, traffic, deny } = {}) {
  const args = ['sim', '--listen', '127.0.0.1:0', '--extensions', extensions, '--ring-delay-ms', '200', '--answer-delay-ms', '300']
  if (noAnswer) args.push('--no-answer', noAnswer)
  if (traffic) args.push('--traffic', String(traffic))
  if (deny) args.push('--deny', deny)
  const { child, found } = await start(args, { addr: /AMI on (127\.0\.0\.1:\d+)/ })
  return { child, url: `ami://admin:secret@${found.addr}?control=pjsip&astdb=1`, stop: () => stop(child) }
}

export const TOKENS = {
  desk100: 'desk-100-token-0123456789',
  board: 'board-token-0123456789',
}

/**
 * A gateway in front of `pbxUrl` with two tokens (desk-100: monitor 100 and 101, control
 * 100; board: all, control none) and any `tokens` (TOML `[[token]]` tables); `ws` is the
 * WebSocket address ("127.0.0.1:0" for any port). Resolves with its ws:// URL.
 */
export async function startGateway(pbxUrl, { ws = '127.0.0.1:0', idleTimeoutMs, tokens = '' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ctilink-web-'))
  const config = join(dir, 'gateway.toml')
  const clients = idleTimeoutMs ? `[clients]\nidle_timeout_ms = ${idleTimeoutMs}\n` : ''
  writeFileSync(
    config,
    `[pbx]
url = "${pbxUrl}"
[listen]
ws = "${ws}"
diagnostics = "127.0.0.1:0"
${clients}
[[token]]
identity = "desk-100"
token = "${TOKENS.desk100}"
monitor = ["100", "101"]
control = ["100"]

[[token]]
identity = "board"
token = "${TOKENS.board}"
monitor = ["*"]
control = []
${tokens}`,
  )
  const { child, found } = await start(['gateway', '--config', config], { ws: /^websocket\s+(ws:\/\/\S+)/ })
  const port = Number(new URL(found.ws).port)
  return { child, url: found.ws, port, config, stop: () => stop(child) }
}

/** Resolves with the first value of `fn(ev)` that is not undefined, from `client`'s events. */
export function waitFor(client, fn, timeoutMs = 10000, what = 'an event') {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('event', on)
      reject(new Error(`timed out waiting for ${what}`))
    }, timeoutMs)
    const on = (ev) => {
      const v = fn(ev)
      if (v !== undefined && v !== false) {
        clearTimeout(timer)
        client.off('event', on)
        resolve(v)
      }
    }
    client.on('event', on)
  })
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
