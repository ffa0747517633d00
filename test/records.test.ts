/**
 * Clinical records over HTTP: receipt as docs/upload-protocol.md describes it (idempotent per
 * key, JSON and NDJSON, identity refused with per-field reasons, key checked, the site taken from
 * the uploader's token), search by each criterion with keyset pages, a record with its linked
 * study, the records of a study and a subject, counts per site and month, collection scoping and
 * the audit rows.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { deidentifyRecord, parsePolicy } from '@kura/deid'
import { createToken } from '@kura/hub'
import type { ClinicalRecord } from '@kura/records'
import { itemOf, sampleEndoscopy } from '../packages/hub/src/records/samples.ts'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'

describe('clinical records over HTTP', () => {
  let hub: TestHub
  const tokens: Record<'site1' | 'site2' | 'researcherA' | 'researcherB', string> = { site1: '', site2: '', researcherA: '', researcherB: '' }
  let studyUid = ''
  const as = (token: string | null, path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers)
    if (token) headers.set('authorization', `Bearer ${token}`)
    return globalThis.fetch(`${hub.url}${path}`, { ...init, headers })
  }
  const admin = (path: string, body?: unknown) =>
    hub.fetch(`${hub.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const post = async (token: string, collection: string, items: unknown[], extra = '') => {
    const res = await as(token, `/api/records?collection=${collection}${extra}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) })
    const text = await res.text()
    assert.equal(res.status, 200, text)
    return (JSON.parse(text) as { results: { key: string; status: string; id?: string; reason?: string; reasons?: { path: string; message: string }[] }[] }).results
  }
  const json = async (token: string | null, path: string) => {
    const res = await as(token, path)
    const text = await res.text()
    assert.equal(res.status, 200, `${path}: ${text}`)
    return JSON.parse(text)
  }

  before(async () => {
    hub = await startTestHub()
    for (const name of ['rec-a', 'rec-b']) assert.equal((await admin('/api/collections', { name })).status, 201)
    for (const name of ['site-1', 'site-2']) assert.equal((await admin('/api/sites', { name })).status, 201)
    const user = async (username: string, role: string, collection: string, site?: string) => {
      const u = (await (await admin('/api/users', { username })).json()) as { user: { id: string } }
      assert.equal((await admin('/api/grants', { userId: u.user.id, role, collection, site })).status, 201)
      return (await createToken(hub.archive.catalog.db, { userId: u.user.id, name: 't', role: role as never, collection, site })).token
    }
    tokens.site1 = await user('up-1', 'site_uploader', 'rec-a', 'site-1')
    tokens.site2 = await user('up-2', 'site_uploader', 'rec-a', 'site-2')
    tokens.researcherA = await user('res-a', 'researcher', 'rec-a')
    tokens.researcherB = await user('res-b', 'researcher', 'rec-b')
    // A DICOM study of site-1 that the records link to.
    const { body, contentType } = stowBody([await readFile(join(PYDICOM_FILES, 'CT_small.dcm'))])
    const res = await as(tokens.site1, '/dicomweb/studies?collection=rec-a', { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body })
    assert.equal(res.status, 200, await res.clone().text())
    const url = ((await res.json()) as any)['00081199'].Value[0]['00081190'].Value[0] as string
    studyUid = new URL(url).pathname.split('/')[3]!
  })
  after(async () => hub?.close())

  it('stores a record once, records the site from the token, and answers per item in order', async () => {
    const r1 = sampleEndoscopy({ recordId: 'E-1', subject: 'SUBJ-1', performedAt: '2025-02-03T10:00', studies: [studyUid] })
    const r2 = sampleEndoscopy({ recordId: 'E-2', subject: 'SUBJ-2', performedAt: '2025-03-09', examType: 'colonoscopy', finding: 'FD-POLYP', site: 'CO-SIG', diagnosis: 'DX-COLORECTAL-ADENOMA' })
    const first = await post(tokens.site1, 'rec-a', [itemOf(r1), itemOf(r2), itemOf(r1)])
    assert.deepEqual(first.map((r) => r.status), ['stored', 'stored', 'duplicate'])
    assert.equal(first[0]!.key, itemOf(r1).key)
    assert.equal(first[2]!.id, first[0]!.id)
    // Sent again (a gateway unsure whether the batch arrived): duplicates, no second row.
    const again = await post(tokens.site1, 'rec-a', [itemOf(r2), itemOf(r1)])
    assert.deepEqual(again.map((r) => [r.status, r.id]), [['duplicate', first[1]!.id], ['duplicate', first[0]!.id]])
    const rows = await hub.archive.catalog.db.selectFrom('clinical_record as r').innerJoin('site as s', 's.id', 'r.site_id').select(['r.id', 's.name']).execute()
    assert.deepEqual(rows.map((r) => r.name).sort(), ['site-1', 'site-1'])

    // NDJSON is the same contract.
    const r3 = sampleEndoscopy({ recordId: 'E-3', subject: 'SUBJ-1', performedAt: '2025-03-20', diagnosis: 'DX-GASTRIC-CANCER', finding: 'FD-TUMOR' })
    const nd = await as(tokens.site1, '/api/records?collection=rec-a', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${JSON.stringify(itemOf(r3))}\n\n${JSON.stringify(itemOf(r1))}\n` })
    assert.equal(nd.status, 200)
    assert.deepEqual(((await nd.json()) as any).results.map((r: any) => r.status), ['stored', 'duplicate'])
  })

  it('refuses identity outright, with per-field reasons and never the values', async () => {
    const clean = sampleEndoscopy({ recordId: 'E-ID', subject: 'SUBJ-9', performedAt: '2025-01-01' }) as any
    const withIdentity = { ...clean, subject: { ...clean.subject, patientId: 'HOSP-0012345', name: { kanji: '山田太郎' }, birthDate: '1956-04-01', address: '東京都千代田区1-1' }, source: { system: 'ssmix2', ref: '/ssmix2/001/234/0012345' } }
    const [r] = await post(tokens.site1, 'rec-a', [itemOf(withIdentity)])
    assert.equal(r!.status, 'rejected')
    const paths = r!.reasons!.map((e) => e.path)
    for (const p of ['record.subject.patientId', 'record.subject.name', 'record.subject.birthDate', 'record.subject.address', 'record.source.ref']) assert.ok(paths.includes(p), `${p} in ${paths}`)
    const text = JSON.stringify(r)
    for (const value of ['HOSP-0012345', '山田太郎', '1956-04-01', '東京都', '0012345']) assert.ok(!text.includes(value), `the answer repeats ${value}`)
    assert.match(r!.reason!, /identity/)
    const stored = await hub.archive.catalog.db.selectFrom('clinical_record').select('body').execute()
    assert.ok(stored.every((s) => !s.body.includes('HOSP-0012345')))
  })

  it('stores what the gateway\'s record de-identification makes of an identified record, and nothing identifying', async () => {
    const identity = { patientId: '00456789', name: { kanji: '能登 花子', kana: 'ノト ハナコ' }, birthDate: '1961-07-15', sex: 'F' as const, address: '石川県七尾市能登島向田町4-5-6', postalCode: '926-0211', phone: '0767-84-9876' }
    const base = sampleEndoscopy({ recordId: 'GW-0001', subject: 'x', performedAt: '2024-11-02T14:05', text: '能登 花子 様、経過良好' }) as any
    const identified: ClinicalRecord = { ...base, subject: identity, source: { system: 'adapter:vendor-a-csv', ref: 'export.csv:7' }, staff: [{ role: 'endoscopist', id: 'DR-12', name: '加賀 一郎' }] }
    delete (identified as any).deidentification
    // Sent as it is, identified: refused.
    assert.equal((await post(tokens.site1, 'rec-a', [itemOf(identified)]))[0]!.status, 'rejected')
    const policy = parsePolicy({ id: 'records', version: '1', profile: 'basic', options: ['retainLongitudinalModifiedDates'] }, 'test')
    const deid = deidentifyRecord(identified, { secret: new Uint8Array(32).map((_, i) => i * 3 + 5), collection: 'rec-a', policy })
    const [r] = await post(tokens.site1, 'rec-a', [itemOf(deid)])
    assert.equal(r!.status, 'stored', r!.reason)
    const row = await hub.archive.catalog.db.selectFrom('clinical_record').select(['body', 'subject_id', 'performed_at']).where('id', '=', r!.id!).executeTakeFirstOrThrow()
    for (const v of ['00456789', '能登', '花子', 'ノト', '1961-07-15', '七尾', '926-0211', '0767-84-9876', '加賀', 'DR-12', 'GW-0001', 'export.csv']) assert.ok(!row.body.includes(v) && !row.subject_id.includes(v), `${v} reached the hub`)
    await hub.archive.catalog.db.deleteFrom('clinical_record_code').where('record_id', '=', r!.id!).execute()
    await hub.archive.catalog.db.deleteFrom('clinical_record').where('id', '=', r!.id!).execute()
  })

  it('names each bad field: shape, vocabulary, marks, PHI patterns and a wrong key', async () => {
    const base = sampleEndoscopy({ recordId: 'E-BAD', subject: 'SUBJ-9', performedAt: '2025-01-01' }) as any
    const bad = { ...base, examType: 'gastroscopy', performedAt: '2025-13-40', findings: [{ ...base.findings[0], term: { system: 'MST3', code: 'FD-NOPE' } }], deidentification: undefined, text: 'Call 03-1234-5678 after the exam' }
    delete bad.deidentification
    const wrongKey = { key: 'a'.repeat(64), record: sampleEndoscopy({ recordId: 'E-KEY', subject: 'SUBJ-9', performedAt: '2025-01-01' }) }
    const [r, k] = await post(tokens.site1, 'rec-a', [itemOf(bad), wrongKey])
    assert.equal(r!.status, 'rejected')
    const byPath = new Map(r!.reasons!.map((e) => [e.path, e.message]))
    assert.ok(byPath.has('record.examType'), [...byPath.keys()].join())
    assert.ok(byPath.has('record.performedAt'))
    assert.match(byPath.get('record.findings[0].term.code') ?? '', /unknown MST3 code/)
    assert.match(byPath.get('record.deidentification') ?? '', /de-identification marks/)
    assert.match(byPath.get('record.text') ?? '', /telephone number/)
    assert.ok(!JSON.stringify(r).includes('1234-5678'))
    assert.equal(k!.status, 'rejected')
    assert.match(k!.reason!, /key-mismatch/)
    // Whole-request errors: no collection, a body that is not items.
    assert.equal((await as(tokens.site1, '/api/records', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' })).status, 400)
    assert.equal((await as(tokens.site1, '/api/records?collection=rec-a', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 400)
    assert.equal((await as(tokens.site1, '/api/records?collection=rec-a', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"record":{}}]' })).status, 400)
    assert.equal((await as(tokens.site1, '/api/records?collection=nope', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' })).status, 403)
    assert.equal((await admin('/api/records?collection=nope', [])).status, 404)
    const many = JSON.stringify(Array.from({ length: 1001 }, () => ({ key: 'k', record: {} })))
    const tooMany = await as(tokens.site1, '/api/records?collection=rec-a', { method: 'POST', headers: { 'content-type': 'application/json' }, body: many })
    assert.equal(tooMany.status, 413)
    assert.equal(((await tooMany.json()) as any).code, 'RECORD_BATCH_TOO_LARGE')
    const huge = await as(tokens.site1, '/api/records?collection=rec-a', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: 'x'.repeat(9 * 1024 * 1024) })
    assert.equal(huge.status, 413)
    assert.equal((await admin('/api/records?collection=rec-a&site=nowhere', [])).status, 404)
  })

  it('binds a site uploader to its site and its own studies', async () => {
    const r = sampleEndoscopy({ recordId: 'E-S2', subject: 'SUBJ-5', performedAt: '2025-04-01' })
    const asOther = await as(tokens.site1, '/api/records?collection=rec-a&site=site-2', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([itemOf(r)]) })
    assert.equal(asOther.status, 403)
    assert.equal(((await asOther.json()) as any).code, 'RECORD_OTHER_SITE')
    assert.equal((await post(tokens.site2, 'rec-a', [itemOf(r)]))[0]!.status, 'stored')
    // site-2 may not link a record to the study site-1 sent, nor supersede site-1's record.
    const linked = sampleEndoscopy({ recordId: 'E-S2L', subject: 'SUBJ-5', performedAt: '2025-04-02', studies: [studyUid] })
    const [l] = await post(tokens.site2, 'rec-a', [itemOf(linked)])
    assert.equal(l!.status, 'rejected')
    assert.match(l!.reason!, /other-site/)
    // The same exam number from another site is another site's record: site-1's stays current.
    const sameNumber = sampleEndoscopy({ recordId: 'E-1', subject: 'SUBJ-1', performedAt: '2025-02-03T10:00', diagnosis: 'DX-NORMAL', finding: 'FD-NORMAL' })
    const [other] = await post(tokens.site2, 'rec-a', [itemOf(sameNumber)])
    assert.equal(other!.status, 'stored')
    const e1 = await hub.archive.catalog.db.selectFrom('clinical_record').select(['id', 'superseded_by']).where('source_record_id', '=', 'E-1').orderBy('received_at').execute()
    assert.deepEqual(e1.map((r) => r.superseded_by), [null, null])
    await hub.archive.catalog.db.deleteFrom('clinical_record_code').where('record_id', '=', other!.id!).execute()
    await hub.archive.catalog.db.deleteFrom('clinical_record').where('id', '=', other!.id!).execute()
    // A site uploader never reads back.
    assert.equal((await as(tokens.site1, '/api/records?collection=rec-a')).status, 403)
    const counts = await json(hub.adminToken, '/api/records/counts?collection=rec-a&by=site')
    assert.deepEqual(counts.counts, [
      { collection: 'rec-a', site: 'site-1', count: 3 },
      { collection: 'rec-a', site: 'site-2', count: 1 },
    ])
  })

  it('searches by each criterion, pages by keyset, and shows a record with its linked study', async () => {
    const ids = async (q: string) => ((await json(tokens.researcherA, `/api/records?${q}`)).records as any[]).map((r) => r.subject + '/' + r.performedAt)
    assert.deepEqual(await ids('examType=colonoscopy'), ['SUBJ-2/2025-03-09'])
    assert.deepEqual(await ids('code=FD-POLYP'), ['SUBJ-2/2025-03-09'])
    assert.deepEqual(await ids('code=CO-SIG&role=site'), ['SUBJ-2/2025-03-09'])
    assert.deepEqual(await ids('diagnosis=DX-GASTRIC-CANCER'), ['SUBJ-1/2025-03-20'])
    assert.deepEqual(await ids('from=2025-03-01&to=2025-03-20'), ['SUBJ-1/2025-03-20', 'SUBJ-2/2025-03-09'])
    assert.deepEqual(await ids('to=2025-02-03'), ['SUBJ-1/2025-02-03T10:00'])
    assert.deepEqual(await ids('site=site-2'), ['SUBJ-5/2025-04-01'])
    assert.deepEqual(await ids('subject=SUBJ-1'), ['SUBJ-1/2025-03-20', 'SUBJ-1/2025-02-03T10:00'])
    assert.deepEqual(await ids(`study=${studyUid}`), ['SUBJ-1/2025-02-03T10:00'])
    assert.deepEqual(await ids('kind=pathology'), [])
    assert.equal((await as(tokens.researcherA, '/api/records?from=yesterday')).status, 400)
    assert.equal((await as(tokens.researcherA, '/api/records?cursor=garbage')).status, 400)

    const walked: string[] = []
    let next: string | null = null
    do {
      const page: any = await json(tokens.researcherA, `/api/records?collection=rec-a&limit=2${next ? `&cursor=${next}` : ''}`)
      assert.ok(page.records.length <= 2)
      walked.push(...page.records.map((r: any) => r.id))
      next = page.next
    } while (next)
    const all = ((await json(tokens.researcherA, '/api/records?collection=rec-a')).records as any[]).map((r) => r.id)
    assert.equal(all.length, 4)
    assert.deepEqual(walked, all)

    const [linked] = (await json(tokens.researcherA, `/api/studies/${studyUid}/records`)).records as any[]
    assert.equal(linked.subject, 'SUBJ-1')
    const detail = await json(tokens.researcherA, `/api/records/${linked.id}`)
    assert.equal(detail.record.examType, 'upper-gi')
    assert.equal(detail.site, 'site-1')
    assert.deepEqual(detail.linkedStudies.map((s: any) => [s.studyInstanceUid, s.inArchive]), [[studyUid, true]])
    assert.deepEqual(detail.findings, [{ system: 'MST3', code: 'FD-ULCER', meaning: 'Ulcer' }])
    const subject = await json(tokens.researcherA, '/api/subjects/SUBJ-1/records')
    assert.equal(subject.records.length, 2)
  })

  it('keeps another collection\'s records out of sight: 404 and absent', async () => {
    const [one] = (await json(tokens.researcherA, '/api/records?collection=rec-a&limit=1')).records as any[]
    const hidden = await as(tokens.researcherB, `/api/records/${one.id}`)
    const missing = await as(tokens.researcherB, '/api/records/00000000-0000-7000-8000-000000000000')
    assert.equal(hidden.status, 404)
    assert.equal(missing.status, 404)
    assert.deepEqual(await hidden.json(), await missing.json())
    assert.deepEqual((await json(tokens.researcherB, '/api/records')).records, [])
    assert.deepEqual((await json(tokens.researcherB, '/api/records?collection=rec-a')).records, [])
    assert.deepEqual((await json(tokens.researcherB, `/api/studies/${studyUid}/records`)).records, [])
    assert.deepEqual((await json(tokens.researcherB, '/api/subjects/SUBJ-1/records')).records, [])
    assert.deepEqual((await json(tokens.researcherB, '/api/records/counts')).counts, [])
  })

  it('counts per site and month', async () => {
    const { counts } = await json(tokens.researcherA, '/api/records/counts?collection=rec-a&by=site,month')
    assert.deepEqual(counts, [
      { collection: 'rec-a', site: 'site-1', month: '2025-02', count: 1 },
      { collection: 'rec-a', site: 'site-1', month: '2025-03', count: 2 },
      { collection: 'rec-a', site: 'site-2', month: '2025-04', count: 1 },
    ])
    assert.equal((await as(tokens.researcherA, '/api/records/counts?by=weekday')).status, 400)
  })

  it('writes an audit event for each receipt and read, with collection and ids, never values', async () => {
    await hub.app.auditLog.flush()
    const events = (await hub.archive.catalog.db.selectFrom('audit_event').selectAll().orderBy('seq').execute()).filter((e) => e.resource.includes('records'))
    const detail = (e: { detail: string }) => JSON.parse(e.detail) as Record<string, unknown>
    const receipts = events.filter((e) => e.action === 'POST /api/records' && e.status === 200)
    assert.ok(receipts.length >= 5, `${receipts.length} receipts audited`)
    assert.ok(receipts.every((e) => e.collection === 'rec-a'))
    assert.ok(receipts.some((e) => detail(e).stored === 2 && detail(e).duplicate === 1), 'the first batch: 2 stored, 1 duplicate')
    assert.ok(receipts.some((e) => detail(e).rejected === 2))
    const read = events.find((e) => e.action === 'GET /api/records/:id' && e.status === 200)
    assert.equal(read?.collection, 'rec-a')
    assert.equal(typeof detail(read!).record, 'string')
    const denied = events.find((e) => e.action === 'GET /api/records/:id' && e.status === 404)
    assert.ok(denied, 'the hidden record read is audited too')
    assert.ok(events.some((e) => e.action === 'GET /api/records/counts'))
    assert.ok(events.some((e) => e.action === 'GET /api/studies/:study/records'))
    for (const e of events) assert.ok(!e.detail.includes('HOSP-0012345') && !e.detail.includes('山田'), e.detail)
  })
})
