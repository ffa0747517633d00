/**
 * Clinical records in the browser application: a researcher searches by exam type, finds the
 * record a site posted, opens it (findings with their meanings, the linked study), follows the
 * link to the study page and sees the record in its "Clinical records" panel; the counts page
 * shows it under its site and month; another collection's record is "not found". English and
 * Japanese labels both render. Uncaught errors and CSP violations fail the test.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { createToken } from '@kura/hub'
import { itemOf, sampleEndoscopy } from '../packages/hub/src/records/samples.ts'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'
import { ensureWebBuilt, launchChromium, requireChromium, withCheckedPage } from './support/browser.ts'

const SCREENSHOTS = join(import.meta.dirname, '..', '.tmp', 'web')

describe('clinical records in Chromium', () => {
  let hub: TestHub
  let browser: Browser | undefined
  let studyUid = ''
  const ids = { colon: '', hidden: '' }
  const researcher = { username: 'records-researcher', password: '' }

  async function call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' }
    if (token) headers.authorization = `Bearer ${token}`
    const res = await hub.fetch(hub.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`)
    return (text ? JSON.parse(text) : undefined) as T
  }

  before(async () => {
    ensureWebBuilt()
    mkdirSync(SCREENSHOTS, { recursive: true })
    hub = await startTestHub()
    for (const name of ['web-rec-a', 'web-rec-b']) await call('POST', '/api/collections', { name })
    await call('POST', '/api/sites', { name: 'site-east' })
    const up = await call<{ user: { id: string } }>('POST', '/api/users', { username: 'records-uploader' })
    await call('POST', '/api/grants', { userId: up.user.id, role: 'site_uploader', collection: 'web-rec-a', site: 'site-east' })
    const { token } = await createToken(hub.archive.catalog.db, { userId: up.user.id, name: 'gw', role: 'site_uploader', collection: 'web-rec-a', site: 'site-east' })
    const r = await call<{ user: { id: string }; oneTimePassword: string }>('POST', '/api/users', { username: researcher.username })
    researcher.password = r.oneTimePassword
    await call('POST', '/api/grants', { userId: r.user.id, role: 'researcher', collection: 'web-rec-a' })

    const { body, contentType } = stowBody([await readFile(join(PYDICOM_FILES, 'CT_small.dcm'))])
    const stow = await globalThis.fetch(`${hub.dicomweb}/studies?collection=web-rec-a`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType, accept: 'application/dicom+json' }, body })
    assert.equal(stow.status, 200)
    studyUid = new URL(((await stow.json()) as any)['00081199'].Value[0]['00081190'].Value[0]).pathname.split('/')[3]!

    const colon = sampleEndoscopy({ recordId: 'W-1', subject: 'SUBJ-W1', performedAt: '2025-05-12T09:30', examType: 'colonoscopy', finding: 'FD-POLYP', site: 'CO-SIG', diagnosis: 'DX-COLORECTAL-ADENOMA', studies: [studyUid] })
    const upper = sampleEndoscopy({ recordId: 'W-2', subject: 'SUBJ-W2', performedAt: '2025-05-20' })
    const posted = await call<{ results: { status: string; id: string }[] }>('POST', '/api/records?collection=web-rec-a', [itemOf(colon), itemOf(upper)], token)
    assert.deepEqual(posted.results.map((x) => x.status), ['stored', 'stored'])
    ids.colon = posted.results[0]!.id
    const hidden = await call<{ results: { id: string }[] }>('POST', '/api/records?collection=web-rec-b', [itemOf(sampleEndoscopy({ recordId: 'W-3', subject: 'SUBJ-W3', performedAt: '2025-05-21', examType: 'colonoscopy' }))])
    ids.hidden = hidden.results[0]!.id
  })
  after(async () => {
    await browser?.close()
    await hub?.close()
  })

  async function withPage(name: string, locale: string, fn: (page: Page) => Promise<void>): Promise<void> {
    browser ??= await launchChromium()
    await withCheckedPage(browser, `web-records-${name}`, fn, { locale })
  }

  async function signIn(page: Page, start: string): Promise<void> {
    await page.goto(hub.url + start)
    await page.getByLabel('User name').fill(researcher.username)
    await page.getByLabel('Password').fill(researcher.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    if (researcher.password.endsWith('-42')) return
    await page.getByText('You signed in with a one-time password').waitFor()
    const next = 'records-chosen-password-42'
    await page.getByLabel('Current password').fill(researcher.password)
    await page.getByLabel('New password', { exact: true }).fill(next)
    await page.getByLabel('New password again').fill(next)
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.getByRole('heading', { name: 'Change password' }).waitFor({ state: 'detached' })
    researcher.password = next
  }

  it('finds a posted record by exam type, opens it, and sees it on its study page', async (t) => {
    if (!requireChromium(t)) return
    await withPage('search', 'en-US', async (page) => {
      await signIn(page, '/records')
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clinical records' }).click()
      await page.getByRole('heading', { name: 'Clinical records', level: 1 }).waitFor()
      await page.getByLabel('Exam type').selectOption('colonoscopy')
      await page.getByRole('button', { name: 'Search' }).click()
      await page.waitForURL(/examType=colonoscopy/)
      const rows = page.locator('table.records tbody tr')
      await rows.first().waitFor()
      assert.equal(await rows.count(), 1, 'only the colonoscopy of the visible collection')
      assert.equal(await rows.first().getAttribute('data-record-id'), ids.colon)
      await page.screenshot({ path: join(SCREENSHOTS, 'records-search.png'), fullPage: true })
      assert.match((await rows.first().textContent()) ?? '', /Polyp.*MST3 FD-POLYP/)
      assert.match((await rows.first().textContent()) ?? '', /site-east/)

      // A finding-code search that matches nothing says so.
      await page.getByLabel('Finding code').fill('FD-VARICES')
      await page.getByRole('button', { name: 'Search' }).click()
      await page.getByText('No clinical records match.').waitFor()
      await page.goBack()
      await rows.first().waitFor()

      await rows.first().getByRole('link').click()
      await page.getByRole('heading', { name: 'Endoscopy 2025-05-12 09:30' }).waitFor()
      const findings = page.getByTestId('record-findings')
      assert.match((await findings.textContent()) ?? '', /Sigmoid colon \(MST3 CO-SIG\)Polyp \(MST3 FD-POLYP\)/)
      assert.match((await page.locator('main').textContent()) ?? '', /Colorectal adenoma \(MST3 DX-COLORECTAL-ADENOMA\)/)
      await page.screenshot({ path: join(SCREENSHOTS, 'record-detail.png'), fullPage: true })
      await page.getByTestId('record-studies').getByRole('link').click()
      await page.waitForURL(new RegExp(`/studies/${studyUid.replace(/\./g, '\\.')}$`))
      const panel = page.getByTestId('study-records')
      await panel.getByRole('heading', { name: 'Clinical records' }).waitFor()
      await panel.locator(`tr[data-record-id="${ids.colon}"]`).waitFor()
      assert.equal(await panel.locator('tbody tr').count(), 1)
      await page.screenshot({ path: join(SCREENSHOTS, 'study-records-panel.png'), fullPage: true })
    })
  })

  it('counts per site and month, in Japanese too; another collection\'s record is not found', async (t) => {
    if (!requireChromium(t)) return
    await withPage('counts', 'en-US', async (page) => {
      await signIn(page, '/records/counts')
      await page.getByRole('heading', { name: 'Clinical records per site and month' }).waitFor()
      await page.getByRole('button', { name: '日本語' }).click()
      await page.getByRole('heading', { name: '施設別・月別の臨床記録数' }).waitFor()
      const row = page.getByTestId('record-counts').locator('tr[data-site="site-east"]')
      await row.waitFor()
      const headers = await page.getByTestId('record-counts').locator('thead th').allTextContents()
      assert.deepEqual(headers, ['コレクション', '施設', '2025-05', '合計'])
      assert.deepEqual((await row.locator('td, th').allTextContents()).slice(1), ['site-east', '2', '2'])
      await page.screenshot({ path: join(SCREENSHOTS, 'record-counts-ja.png'), fullPage: true })
      // Code meanings come from the shipped vocabulary, in the chosen language.
      await page.goto(`${hub.url}/records/${ids.colon}`)
      await page.getByTestId('record-findings').getByText('ポリープ').waitFor()
      assert.match((await page.locator('main').textContent()) ?? '', /大腸腺腫/)
      await page.goto(`${hub.url}/records/${ids.hidden}`)
      await page.getByTestId('not-found').waitFor()
    })
  })
})
