// Headless Chromium for the panel's tests and bench: Debian's /usr/bin/chromium (or
// CHROMIUM), driven by puppeteer-core, which downloads nothing. A fresh profile each time,
// no network traffic of its own (updates, sync, QUIC), so that the page's requests are the
// only ones.

import puppeteer from 'puppeteer-core'
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const shotsDir = join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'panel-shots')

export function chromiumPath() {
  const p = process.env.CHROMIUM || '/usr/bin/chromium'
  if (!existsSync(p)) {
    throw new Error(`headless Chromium is needed at ${p} (apt-get install -y chromium; scripts/setup.sh does), or set CHROMIUM`)
  }
  return p
}

/** Launches Chromium; `close()` also removes the profile. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'ctilink-chromium-'))
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  })
  return {
    browser,
    async close() {
      await browser.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Saves a screenshot of `page` as target/panel-shots/<name>.png. */
export async function shot(page, name) {
  mkdirSync(shotsDir, { recursive: true })
  await page.screenshot({ path: join(shotsDir, `${name}.png`) })
}
