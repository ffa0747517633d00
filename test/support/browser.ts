/**
 * @module Debian's Chromium driven by playwright-core for the browser tests, and a fresh build of
 * the web application for the hub to serve.
 *
 * Chromium missing on a developer machine: the test is skipped loudly. Missing in CI (CI=true):
 * the test fails, because CI must never skip the browser tests silently.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
const INSTALL = 'apt-get install chromium'

/** Returns false (after skipping `t` loudly) when Chromium is missing outside CI; throws in CI. */
export function requireChromium(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true
  const msg = `${CHROMIUM} is missing (${INSTALL}); the browser tests need Debian's Chromium`
  if (process.env.CI) throw new Error(`CI: ${msg}`)
  console.warn(`\n*** SKIPPED: ${msg} ***\n`)
  t.skip(msg)
  return false
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
}

const WEB = fileURLToPath(new URL('../../packages/web/', import.meta.url))

function newestMtime(path: string): number {
  const s = statSync(path)
  if (!s.isDirectory()) return s.mtimeMs
  return Math.max(0, ...readdirSync(path).map((n) => newestMtime(join(path, n))))
}

/**
 * Builds packages/web when dist/ is missing or older than its sources, so the tests never run
 * against a stale build (`npm ci` builds it once; edits after that would otherwise go untested).
 */
export function ensureWebBuilt(): void {
  const index = join(WEB, 'dist', 'index.html')
  const sources = Math.max(newestMtime(join(WEB, 'src')), newestMtime(join(WEB, 'index.html')), newestMtime(join(WEB, 'vite.config.ts')))
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return
  const r = spawnSync('npm', ['run', 'build', '-w', '@kura/web'], { cwd: join(WEB, '..', '..'), encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm run build -w @kura/web failed:\n${r.stdout}\n${r.stderr}`)
}

/**
 * Runs `fn` in a fresh browser context (English unless `locale` says otherwise). Uncaught errors and
 * Content-Security-Policy violations in the page fail the test (the app must work under the hub's policy);
 * a failure leaves a full-page screenshot named `kura-<name>.png` in the temp folder.
 */
export async function withCheckedPage(browser: Browser, name: string, fn: (page: Page) => Promise<void>, opts: { locale?: string; viewport?: { width: number; height: number } } = {}): Promise<void> {
  const context = await browser.newContext({ locale: opts.locale ?? 'en-US', viewport: opts.viewport ?? { width: 1400, height: 950 } })
  const page = await context.newPage()
  page.setDefaultTimeout(20_000)
  const problems: string[] = []
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`))
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`)
  })
  try {
    await fn(page)
    assert.deepEqual(problems, [], 'no uncaught errors or CSP violations in the page')
  } catch (e) {
    const shot = join(tmpdir(), `kura-${name}.png`)
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {})
    console.error(`screenshot of the failure: ${shot}`)
    throw e
  } finally {
    await context.close()
  }
}
