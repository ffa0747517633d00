/**
 * The browser application end to end: the hub serves the built app, and Debian's Chromium signs
 * in, lists, opens and signs out; a researcher with a grant on one collection cannot reach the
 * admin pages or the other collection's studies.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { synthStudies } from '@kura/dicom/synth'
import { startTestHub, stowBody, type TestHub } from './support/hub.ts'
import { ensureWebBuilt, launchChromium, requireChromium } from './support/browser.ts'

describe('web application files', () => {
  let hub: TestHub
  before(async () => {
    ensureWebBuilt()
    hub = await startTestHub()
  })
  after(async () => hub?.close())

  it('serves index.html uncached for the app routes, hashed assets cached for a year', async () => {
    for (const path of ['/', '/collections', '/studies?collection=x', '/studies/1.2.3', '/admin/users']) {
      const res = await hub.app.inject({ url: path })
      assert.equal(res.statusCode, 200, path)
      assert.match(String(res.headers['content-type']), /^text\/html/, path)
      assert.equal(res.headers['cache-control'], 'no-cache', path)
      assert.match(res.body, /<div id="root">/, path)
    }
    const index = (await hub.app.inject({ url: '/' })).body
    const assets = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), `index.html links its script and style: ${assets}`)
    for (const a of assets) {
      const res = await hub.app.inject({ url: a })
      assert.equal(res.statusCode, 200, a)
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', a)
    }
  })

  it('keeps the JSON 404 for data routes and missing assets (no HTML fallback there)', async () => {
    for (const path of ['/api/no-such-route', '/dicomweb/no-such-route', '/iiif/x', '/slides/x', '/assets/no-such-file.js', '/assets/..%2Findex.html']) {
      const res = await hub.app.inject({ url: path })
      // 401 where a data route exists (/iiif/:id, /slides/:ref): what matters is JSON, never the app's HTML.
      assert.ok([401, 403, 404].includes(res.statusCode), `${path}: ${res.statusCode}`)
      assert.match(String(res.headers['content-type']), /^application\/json/, path)
    }
  })
})

const A = 'web-a'
const B = 'web-b'

describe('web application in Chromium', () => {
  let hub: TestHub
  let browser: Browser | undefined
  const studies: Record<string, string[]> = { [A]: [], [B]: [] }
  const accounts: Record<'admin' | 'researcher', { username: string; password: string }> = {
    admin: { username: 'web-admin', password: '' },
    researcher: { username: 'web-researcher', password: '' },
  }

  /** The hub's JSON API as the test's admin program (bearer token, so no CSRF header). */
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(hub.url + path, {
      method,
      headers: { authorization: `Bearer ${hub.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`)
    return (text ? JSON.parse(text) : undefined) as T
  }

  before(async () => {
    ensureWebBuilt()
    hub = await startTestHub()
    for (const [name, seed, modality, n] of [[A, 61, 'MR', 2], [B, 62, 'CT', 1]] as const) {
      await call('POST', '/api/collections', { name })
      const files = [...synthStudies({ studies: n, seriesPerStudy: 2, instancesPerSeries: 1, seed, modality })]
      studies[name] = [...new Set(files.map((f) => f.studyInstanceUid))]
      const { body, contentType } = stowBody(files.map((f) => f.bytes))
      const res = await fetch(`${hub.dicomweb}/studies?collection=${name}`, { method: 'POST', headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': contentType, accept: 'application/dicom+json' }, body })
      assert.equal(res.status, 200, await res.text())
    }
    const admin = await call<{ oneTimePassword: string }>('POST', '/api/users', { username: accounts.admin.username, displayName: 'Web Admin', isAdmin: true })
    accounts.admin.password = admin.oneTimePassword
    const researcher = await call<{ user: { id: string }; oneTimePassword: string }>('POST', '/api/users', { username: accounts.researcher.username, displayName: '研究 花子' })
    accounts.researcher.password = researcher.oneTimePassword
    await call('POST', '/api/grants', { userId: researcher.user.id, role: 'researcher', collection: A })
  })
  after(async () => {
    await browser?.close()
    await hub?.close()
  })

  /** A fresh browser context (own cookies) in English; a failure leaves a screenshot in the temp folder. */
  async function withPage(name: string, fn: (page: Page) => Promise<void>): Promise<void> {
    browser ??= await launchChromium()
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    page.setDefaultTimeout(20_000)
    const pageErrors: string[] = []
    page.on('pageerror', (e) => pageErrors.push(e.message))
    try {
      await fn(page)
      assert.deepEqual(pageErrors, [], 'no uncaught errors in the page')
    } catch (e) {
      const shot = join(tmpdir(), `kura-web-${name}.png`)
      await page.screenshot({ path: shot, fullPage: true }).catch(() => {})
      console.error(`screenshot of the failure: ${shot}`)
      throw e
    } finally {
      await context.close()
    }
  }

  /** Signs in with the one-time password, then makes the forced password change; returns the new password. */
  async function signInFirstTime(page: Page, who: 'admin' | 'researcher'): Promise<void> {
    const { username, password } = accounts[who]
    await page.goto(hub.url + '/collections')
    await page.waitForURL(/\/sign-in\?next=%2Fcollections$/)
    // Keyboard only: the user name field has focus, Tab reaches the password, Enter submits.
    await page.getByLabel('User name').pressSequentially(username)
    await page.keyboard.press('Tab')
    await page.keyboard.type(password)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Change password' }).waitFor()
    await page.getByText('You signed in with a one-time password').waitFor()
    const next = `${who}-chosen-password-42`
    await page.getByLabel('Current password').fill(password)
    await page.getByLabel('New password', { exact: true }).fill(next)
    await page.getByLabel('New password again').fill(next)
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.getByRole('heading', { name: 'Collections' }).waitFor()
    accounts[who].password = next
  }

  /** Form fields without a label or accessible name (ids or names, for the message). */
  const unlabelled = (page: Page) =>
    page.locator('input:not([type=hidden]):not([hidden]), select, textarea').evaluateAll((els) =>
      els.filter((e: any) => e.labels.length === 0 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map((e: any) => e.name || e.id || e.outerHTML),
    )
  const rowUids = (page: Page) => page.locator('tr[data-study-uid]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-study-uid')!))
  // A function, not a string: the app's Content-Security-Policy forbids eval, and so string predicates.
  const thumbnailsLoaded = (page: Page, selector: string, n: number) =>
    page.waitForFunction(
      ([sel, count]) => {
        const imgs: { complete: boolean; naturalWidth: number }[] = [...(globalThis as any).document.querySelectorAll(sel)]
        return imgs.length === count && imgs.every((x) => x.complete && x.naturalWidth > 0)
      },
      [selector, n] as const,
    )

  it('admin: one-time password → forced change → collections → studies with thumbnails → a study → sign out', async (t) => {
    if (!requireChromium(t)) return
    await withPage('admin', async (page) => {
      await signInFirstTime(page, 'admin')
      // allTextContents does not wait: the list is fetched after sign-in, so wait for its second row first.
      await page.locator('main tbody th').nth(1).waitFor()
      const names = await page.locator('main tbody th').allTextContents()
      assert.deepEqual(names.sort(), [A, B])
      const nav = page.getByRole('navigation', { name: 'Main' })
      for (const item of ['Users', 'Grants', 'Sites', 'Audit']) assert.equal(await nav.getByRole('link', { name: item }).count(), 1, `admin sees ${item}`)

      assert.deepEqual(await unlabelled(page), [], 'collections: every field has a label')
      await page.getByRole('link', { name: A, exact: true }).click()
      await page.waitForURL(`**/studies?collection=${A}`)
      await page.locator('tr[data-study-uid]').first().waitFor()
      assert.deepEqual((await rowUids(page)).sort(), [...studies[A]!].sort())
      await thumbnailsLoaded(page, 'table.studies img.thumb', studies[A]!.length)
      assert.deepEqual(await unlabelled(page), [], 'studies: every field has a label')

      const uid = studies[A]![0]!
      await page.locator(`tr[data-study-uid="${uid}"] th a`).click()
      await page.waitForURL(`**/studies/${uid}`)
      await page.locator('.series-card').first().waitFor()
      assert.equal(await page.locator('.series-card').count(), 2)
      await page.getByText(uid, { exact: true }).waitFor()
      await thumbnailsLoaded(page, '.series-card img.thumb', 2)

      // Every admin page renders the hub's data, each field labelled.
      for (const [path, ready] of [['/admin/users', 'main tbody tr'], ['/admin/sites', 'main form'], ['/tokens', 'main form'], ['/audit', 'main tbody tr']] as const) {
        await page.goto(hub.url + path)
        await page.locator(ready).first().waitFor()
        assert.equal(await page.locator('main .notice.error').count(), 0, `${path} shows no error`)
        assert.deepEqual(await unlabelled(page), [], `${path}: every field has a label`)
      }
      // A new user's one-time password, and a new token's secret, are shown once (POSTs with the CSRF header).
      await page.goto(hub.url + '/admin/users')
      await page.getByLabel('User name').fill('web-newcomer')
      await page.getByRole('button', { name: 'Create user' }).click()
      assert.match(await page.getByTestId('secret').textContent() ?? '', /^\S{12,}$/)
      await page.locator('tr[data-username="web-newcomer"]').waitFor()
      await page.goto(hub.url + '/tokens')
      await page.getByLabel('Name', { exact: true }).fill('web-test-token')
      await page.getByLabel('Role').selectOption('researcher')
      await page.getByLabel('Collection').selectOption(A)
      await page.getByRole('button', { name: 'Create token' }).click()
      const secret = (await page.getByTestId('secret').textContent()) ?? ''
      assert.match(secret, /^kura_/)
      const viaToken = await fetch(`${hub.dicomweb}/studies?limit=100`, { headers: { authorization: `Bearer ${secret}`, accept: 'application/dicom+json' } })
      assert.equal(viaToken.status, 200, 'the token shown works')

      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('heading', { name: 'Sign in to Kura' }).waitFor()
      assert.equal((await page.request.get(hub.url + '/api/session')).status(), 401, 'the session is gone on the hub too')
      await page.goto(hub.url + '/studies')
      await page.waitForURL(/\/sign-in/)
    })
  })

  it('researcher: sees only collection A; admin pages say no permission (403); B is not found', async (t) => {
    if (!requireChromium(t)) return
    await withPage('researcher', async (page) => {
      await signInFirstTime(page, 'researcher')
      await page.locator('main tbody th').first().waitFor()
      assert.deepEqual(await page.locator('main tbody th').allTextContents(), [A])
      const nav = page.getByRole('navigation', { name: 'Main' })
      await nav.getByRole('link', { name: 'Studies' }).waitFor()
      for (const item of ['Users', 'Grants', 'Sites', 'Audit']) assert.equal(await nav.getByRole('link', { name: item }).count(), 0, `researcher has no ${item} link`)

      // Every study the researcher can list is A's; none of B's.
      await nav.getByRole('link', { name: 'Studies' }).click()
      await page.locator('tr[data-study-uid]').first().waitFor()
      assert.deepEqual((await rowUids(page)).sort(), [...studies[A]!].sort())

      // Asking for B by name shows nothing of B, whatever the hub answers (empty list, 403 or 404).
      await page.goto(`${hub.url}/studies?collection=${B}`)
      await page.locator('main .notice, main table.studies').first().waitFor()
      assert.equal(await page.locator('tr[data-study-uid]').count(), 0)

      for (const path of ['/admin/users', '/admin/sites']) {
        const api = page.waitForResponse((r) => r.url().startsWith(`${hub.url}/api/${path.split('/')[2]}`))
        await page.goto(hub.url + path)
        assert.equal((await api).status(), 403, `${path}: the hub refuses`)
        await page.getByTestId('no-permission').waitFor()
        await page.getByRole('heading', { name: 'No permission' }).waitFor()
      }

      await page.goto(`${hub.url}/studies/${studies[B]![0]}`)
      await page.getByTestId('not-found').waitFor()
      assert.equal(await page.locator('.series-card').count(), 0)
      // And with the same cookie, the hub itself hands out nothing of B's study.
      const qido = await page.request.get(`${hub.dicomweb}/studies?StudyInstanceUID=${studies[B]![0]}`)
      assert.ok(qido.status() === 204 || (qido.status() === 200 && (await qido.json()).length === 0), `QIDO for B's study: ${qido.status()}`)
      for (const path of ['series', 'thumbnail', 'metadata']) {
        assert.equal((await page.request.get(`${hub.dicomweb}/studies/${studies[B]![0]}/${path}`)).status(), 404, `B's study ${path}`)
      }
      // The same page for A's study works: not-found above is about B, not the page.
      await page.goto(`${hub.url}/studies/${studies[A]![0]}`)
      await page.locator('.series-card').first().waitFor()
    })
  })

  it('switches the interface to Japanese, sets <html lang> and keeps the choice; an ended session leads back to sign-in', async (t) => {
    if (!requireChromium(t)) return
    await withPage('language', async (page) => {
      await page.goto(hub.url + '/sign-in')
      await page.getByLabel('User name').fill(accounts.researcher.username)
      await page.getByLabel('Password').fill('not-the-password')
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.getByRole('alert').getByText('The user name or password is wrong.').waitFor()
      await page.getByLabel('Password').fill(accounts.researcher.password)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.getByRole('heading', { name: 'Collections' }).waitFor()
      assert.equal(await page.locator('html').getAttribute('lang'), 'en')

      await page.getByRole('button', { name: '日本語' }).click()
      await page.getByRole('heading', { name: 'コレクション' }).waitFor()
      assert.equal(await page.locator('html').getAttribute('lang'), 'ja')
      await page.getByRole('button', { name: 'サインアウト' }).waitFor()
      assert.equal(await page.getByRole('button', { name: '日本語' }).getAttribute('aria-pressed'), 'true')

      await page.reload()
      await page.getByRole('heading', { name: 'コレクション' }).waitFor()
      await page.getByRole('navigation', { name: 'メイン' }).getByRole('link', { name: '検査' }).click()
      await page.getByRole('button', { name: '検索' }).waitFor()
      await page.getByLabel('患者 ID').waitFor()

      // The session ends under the page (expired, revoked): the next request's 401 leads back to sign-in.
      await page.context().clearCookies()
      await page.getByRole('navigation', { name: 'メイン' }).getByRole('link', { name: 'コレクション' }).click()
      await page.getByRole('heading', { name: 'Kura にサインイン' }).waitFor()
      await page.getByText('セッションが終了しました').waitFor()
      assert.match(page.url(), /\/sign-in\?expired=1&next=%2Fcollections$/)
    })
  })
})
