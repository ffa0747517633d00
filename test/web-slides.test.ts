/**
 * Slides in the browser application: an administrator uploads a real Aperio slide through the
 * form (cookie session, CSRF header, progress bar), finds it in the list with its thumbnail and
 * scan facts, opens it in OpenSeadragon, which loads Deep Zoom tiles that exist, zooms deeper by
 * keyboard and buttons, and shows a scale bar from the slide's MPP, all under the app's CSP. A
 * researcher of another collection finds the slide's address "not found".
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page, Response } from 'playwright-core'
import { scaleBar, formatLength, scanObjective } from '../packages/web/src/slide-scale.ts'
import { startTestHub, type TestHub } from './support/hub.ts'
import { ensureWebBuilt, launchChromium, requireChromium, withCheckedPage } from './support/browser.ts'

const CMU_SMALL = '/work/shared/data/wsi/CMU-1-Small-Region.svs'
const SCREENSHOTS = join(import.meta.dirname, '..', '.tmp', 'web')

describe('slide scale bar numbers', () => {
  it('picks the longest 1-2-5 length that fits, in µm or mm', () => {
    // 0.5 µm per screen pixel, 160 px at most: 80 µm fit, so 50 µm over 100 px.
    assert.deepEqual(scaleBar(0.5), { px: 100, label: '50 µm' })
    assert.deepEqual(scaleBar(10), { px: 100, label: '1 mm' })
    assert.deepEqual(scaleBar(16), { px: 125, label: '2 mm' })
    assert.equal(scaleBar(0), null)
    assert.equal(scaleBar(Number.NaN), null)
    assert.equal(formatLength(0.2), '200 nm')
    assert.equal(formatLength(1500), '1.5 mm')
    for (const um of [0.013, 0.26, 3.3, 47, 999, 12345]) {
      const b = scaleBar(um)!
      assert.ok(b.px <= 160 && b.px > 160 / 5.01, `${um} µm/px → ${b.px} px`)
    }
  })

  it('takes the objective from the file, else from the MPP', () => {
    assert.equal(scanObjective(20, { x: 0.499, y: 0.499 }), 20)
    assert.equal(scanObjective(null, { x: 0.2527, y: 0.2527 }), 40)
    assert.equal(scanObjective(null, null), null)
  })
})

const A = 'slides-web-a'
const B = 'slides-web-b'

describe('slides in Chromium', () => {
  let hub: TestHub
  let browser: Browser | undefined
  let slideId = ''
  const accounts: Record<'admin' | 'researcher', { username: string; password: string }> = {
    admin: { username: 'slides-admin', password: '' },
    researcher: { username: 'slides-researcher', password: '' },
  }

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await hub.fetch(hub.url + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`)
    return (text ? JSON.parse(text) : undefined) as T
  }

  before(async () => {
    ensureWebBuilt()
    hub = await startTestHub()
    for (const name of [A, B]) await call('POST', '/api/collections', { name })
    const admin = await call<{ oneTimePassword: string }>('POST', '/api/users', { username: accounts.admin.username, isAdmin: true })
    accounts.admin.password = admin.oneTimePassword
    const researcher = await call<{ user: { id: string }; oneTimePassword: string }>('POST', '/api/users', { username: accounts.researcher.username })
    accounts.researcher.password = researcher.oneTimePassword
    await call('POST', '/api/grants', { userId: researcher.user.id, role: 'researcher', collection: B })
    mkdirSync(SCREENSHOTS, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await hub?.close()
  })

  /**
   * A fresh English browser context; uncaught errors and Content-Security-Policy violations fail
   * the test (OpenSeadragon must work under the hub's policy); a failure leaves a screenshot.
   */
  async function withPage(name: string, fn: (page: Page) => Promise<void>): Promise<void> {
    browser ??= await launchChromium()
    await withCheckedPage(browser, `web-slides-${name}`, fn)
  }

  async function signInFirstTime(page: Page, who: 'admin' | 'researcher', start: string): Promise<void> {
    const { username, password } = accounts[who]
    await page.goto(hub.url + start)
    await page.getByLabel('User name').fill(username)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByText('You signed in with a one-time password').waitFor()
    const next = `${who}-chosen-password-42`
    await page.getByLabel('Current password').fill(password)
    await page.getByLabel('New password', { exact: true }).fill(next)
    await page.getByLabel('New password again').fill(next)
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.getByRole('heading', { name: 'Change password' }).waitFor({ state: 'detached' })
    accounts[who].password = next
  }

  /** Deep Zoom tile responses, as `{ level, status }`, from the moment it is called. */
  function recordTiles(page: Page): { level: number; status: number; url: string }[] {
    const seen: { level: number; status: number; url: string }[] = []
    page.on('response', (r: Response) => {
      const m = /\/slides\/[0-9a-f-]{36}_files\/(\d+)\/\d+_\d+\.jpe?g$/.exec(new URL(r.url()).pathname)
      if (m) seen.push({ level: Number(m[1]), status: r.status(), url: r.url() })
    })
    return seen
  }

  async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
    const end = Date.now() + ms
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** Form fields without a label or accessible name. */
  const unlabelled = (page: Page) =>
    page.locator('input:not([type=hidden]), select, textarea').evaluateAll((els) =>
      els.filter((e: any) => e.labels.length === 0 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map((e: any) => e.name || e.id || e.outerHTML),
    )

  const scaleText = async (page: Page) => ((await page.getByTestId('scale-bar').textContent()) ?? '').trim()

  it('admin uploads a slide through the form, lists it, and views it: tiles, zoom, scale bar', async (t) => {
    if (!requireChromium(t)) return
    await withPage('admin', async (page) => {
      await signInFirstTime(page, 'admin', `/wsi?collection=${A}`)
      await page.getByRole('heading', { name: `Slides: ${A}` }).waitFor()
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Slides' }).waitFor()
      await page.getByText('No slides here yet.').waitFor()
      assert.deepEqual(await unlabelled(page), [], 'every field of the slides page has a label')

      // Upload through the form: cookie session, so the hub insists on the CSRF header.
      await page.getByLabel('Into collection').selectOption(A)
      await page.getByLabel('Slide file (SVS, NDPI, TIFF)').setInputFiles(CMU_SMALL)
      // A 1.8 MB upload to loopback can start and end between two polls of a locator: a MutationObserver in the
      // page records whether the progress bar was ever shown.
      await page.evaluate(() => {
        const w = globalThis as any // the page's window (this file is compiled without the DOM types)
        w.sawProgress = false
        new w.MutationObserver(() => { if (w.document.querySelector('.upload-progress progress')) w.sawProgress = true }).observe(w.document.body, { childList: true, subtree: true })
      })
      const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/slides')
      await page.getByRole('button', { name: 'Upload', exact: true }).click()
      const res = await posted
      assert.equal(res.status(), 201)
      await page.getByTestId('upload-done').getByText('The slide was stored.').waitFor()
      assert.equal(await page.evaluate(() => (globalThis as any).sawProgress), true, 'the progress bar showed while sending')
      const link = await page.getByTestId('upload-done').getByRole('link', { name: 'Open it' }).getAttribute('href')
      slideId = /^\/wsi\/([0-9a-f-]{36})$/.exec(link ?? '')?.[1] ?? ''
      assert.ok(slideId, `the notice links the new slide: ${link}`)

      // The list reloads: one row with its thumbnail and scan facts.
      const row = page.locator(`tr[data-slide-id="${slideId}"]`)
      await row.waitFor()
      assert.equal(await page.locator('tr[data-slide-id]').count(), 1)
      await page.waitForFunction((id) => {
        const img = (globalThis as any).document.querySelector(`tr[data-slide-id="${id}"] img.thumb`)
        return !!img && img.complete && img.naturalWidth > 0
      }, slideId)
      const cells = (await row.locator('td').allTextContents()).map((s) => s.trim())
      assert.ok(cells.includes('aperio-svs'), `format shown: ${cells}`)
      assert.ok(cells.includes('2,220 × 2,967'), `dimensions shown: ${cells}`)
      assert.ok(cells.includes('0.499'), `MPP shown: ${cells}`)
      assert.ok(cells.includes('20×'), `objective shown: ${cells}`)

      // Open the viewer (a lazily loaded chunk) by the row's link.
      const tiles = recordTiles(page)
      const chunks: string[] = []
      page.on('request', (r) => r.url().includes('/assets/') && chunks.push(new URL(r.url()).pathname))
      await row.locator('th a').click()
      await page.waitForURL(`**/wsi/${slideId}`)
      const canvas = page.getByRole('application', { name: 'Slide viewer' })
      await canvas.waitFor()
      assert.ok(chunks.some((c) => /\/assets\/slide-[\w-]+\.js$/.test(c)), `the viewer chunk loads on demand: ${chunks}`)
      await until('first tiles', () => tiles.some((x) => x.status === 200))
      await until('the scale bar', async () => /^\d+(\.\d+)? (µm|mm)$/.test(await scaleText(page)))
      const before = { level: Math.max(...tiles.map((x) => x.level)), scale: await scaleText(page), count: tiles.length }
      await page.locator('.openseadragon-container .navigator').waitFor()

      // Keyboard: the viewer takes focus and zooms while "=" is held.
      await canvas.focus()
      assert.equal(await canvas.evaluate((el) => el === (globalThis as any).document.activeElement), true, 'the viewer is focusable')
      const magBefore = (await page.getByTestId('magnification').textContent()) ?? ''
      // Held like a real keyboard: auto-repeated keydowns (~30 a second), then the release.
      for (let i = 0; i < 60; i++) {
        await page.keyboard.down('Equal')
        await new Promise((r) => setTimeout(r, 33))
      }
      await page.keyboard.up('Equal')
      const magAfter = (await page.getByTestId('magnification').textContent()) ?? ''
      assert.notEqual(magAfter, magBefore, 'the key zoomed')
      console.log(`keyboard zoom: ${magBefore} → ${magAfter}`)
      await until(`tiles deeper than level ${before.level}`, () => tiles.some((x) => x.level > before.level && x.status === 200))
      await until('the scale bar to change', async () => (await scaleText(page)) !== before.scale)

      // Buttons: the 20× preset, then zoom in/out by their accessible names.
      await page.getByRole('button', { name: 'Zoom to 20× magnification' }).click()
      await until('20× magnification', async () => ((await page.getByTestId('magnification').textContent()) ?? '') === 'Now 20×')
      const deepest = Math.max(...tiles.map((x) => x.level))
      assert.equal(deepest, 12, 'at 20× the viewer reaches the full-resolution Deep Zoom level (2967 px → level 12)')
      await page.getByRole('button', { name: 'Zoom out' }).click()
      await page.getByRole('button', { name: 'Zoom in' }).click()
      await page.getByRole('button', { name: 'Whole slide' }).click()
      await new Promise((r) => setTimeout(r, 1500))

      // Only tiles that exist were asked for, and every one came back.
      const bad = tiles.filter((x) => x.status !== 200 && x.status !== 304)
      assert.deepEqual(bad, [], 'every Deep Zoom tile request answered 200')
      assert.ok(tiles.length > before.count, `zooming fetched more tiles (${before.count} → ${tiles.length})`)

      await page.getByRole('heading', { name: 'Details' }).waitFor()
      await page.getByText(slideId, { exact: true }).waitFor()
      await page.getByRole('button', { name: 'Zoom to 10× magnification' }).click()
      await until('10× magnification', async () => ((await page.getByTestId('magnification').textContent()) ?? '') === 'Now 10×')
      await new Promise((r) => setTimeout(r, 1500))
      await page.screenshot({ path: join(SCREENSHOTS, 'slide-viewer.png') })

      // In Japanese the controls and the viewer's own name follow the language.
      await page.getByRole('button', { name: '日本語' }).click()
      await page.getByRole('button', { name: '拡大', exact: true }).waitFor()
      await page.getByRole('application', { name: 'スライドビューア' }).waitFor()
      await page.getByRole('button', { name: '20 倍に拡大' }).waitFor()
      await page.getByRole('button', { name: 'English' }).click()

      await page.getByRole('link', { name: /Back to slides/ }).click()
      await page.waitForURL(`**/wsi?collection=${A}`)
      await row.waitFor()
      await page.screenshot({ path: join(SCREENSHOTS, 'slides-list.png') })
    })
  })

  it('a researcher of another collection: the slide is not found and not listed', async (t) => {
    if (!requireChromium(t)) return
    assert.ok(slideId, 'the upload test ran first')
    await withPage('researcher', async (page) => {
      const tiles = recordTiles(page)
      await signInFirstTime(page, 'researcher', `/wsi/${slideId}`)
      await page.waitForURL(`**/wsi/${slideId}`)
      await page.getByTestId('not-found').getByText('This slide does not exist, or it is in a collection you have no access to.').waitFor()
      assert.equal(await page.locator('.openseadragon-container').count(), 0, 'no viewer for a slide outside the grant')
      assert.deepEqual(tiles, [], 'no tile was requested')
      await page.goto(hub.url + '/wsi')
      await page.getByText('No slides here yet.').waitFor()
      assert.equal(await page.getByRole('heading', { name: 'Upload a slide' }).count(), 0, 'a researcher gets no upload form')
    })
  })
})
