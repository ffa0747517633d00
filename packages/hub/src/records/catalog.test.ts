/**
 * Clinical records in the catalog on both engines: idempotent storing, versions, the search
 * index (each criterion, keyset pages), linked studies and counts per site and month.
 */
import { after, before, it } from 'node:test'
import assert from 'node:assert/strict'
import { newId } from '@kura/core'
import type { DeidentifiedRecord } from '@kura/records'
import type { Catalog } from '@kura/storage'
import { describeEachEngine, openTestCatalog, type TestCatalog } from '@kura/storage/testing'
import { countRecords, searchRecords, storeRecords, type StoreOutcome } from './catalog.ts'
import { recordKey } from './receipt-check.ts'
import { sampleEndoscopy } from './samples.ts'

describeEachEngine('clinical records catalog', (engine) => {
  let tc: TestCatalog
  let catalog: Catalog
  const ids = { a: '', b: '', site1: '', site2: '' }
  const store = (collectionId: string, siteId: string | null, ...records: DeidentifiedRecord[]) =>
    storeRecords(catalog.db, { collectionId, siteId }, records.map((record) => ({ key: recordKey(record), record })))
  const idOf = (o: StoreOutcome) => (o.status === 'rejected' ? assert.fail(o.reason) : o.id)

  before(async () => {
    tc = await openTestCatalog(engine)
    catalog = tc.catalog
    const now = new Date().toISOString()
    for (const [k, name] of [['a', 'rec-a'], ['b', 'rec-b']] as const) {
      ids[k] = newId()
      await catalog.db.insertInto('collection').values({ id: ids[k], name, created_at: now }).execute()
    }
    for (const [k, name] of [['site1', 'site-1'], ['site2', 'site-2']] as const) {
      ids[k] = newId()
      await catalog.db.insertInto('site').values({ id: ids[k], name, created_at: now }).execute()
    }
  })
  after(async () => tc?.cleanup())

  it('stores a record once: the same key again is a duplicate, in a batch and later', async () => {
    const r = sampleEndoscopy({ recordId: 'R-1', subject: 'SUBJ-1', performedAt: '2025-03-04T10:30', studies: ['1.2.3.1'] })
    const [first, again] = await store(ids.a, ids.site1, r, r)
    assert.equal(first!.status, 'stored')
    assert.deepEqual(again, { status: 'duplicate', id: idOf(first!) })
    const [later] = await store(ids.a, ids.site1, r)
    assert.deepEqual(later, { status: 'duplicate', id: idOf(first!) })
    const rows = await catalog.db.selectFrom('clinical_record').selectAll().where('collection_id', '=', ids.a).execute()
    assert.equal(rows.length, 1)
    // The same record in another collection is another record.
    assert.equal((await store(ids.b, null, r))[0]!.status, 'stored')
    const codes = await catalog.db.selectFrom('clinical_record_code').select(['role', 'system', 'code']).where('record_id', '=', idOf(first!)).orderBy('role').orderBy('code').execute()
    assert.deepEqual(codes.map((c) => `${c.role}:${c.system}:${c.code}`), ['diagnosis:MST3:DX-GASTRIC-ULCER', 'finding:MST3:FD-ULCER', 'indication:KURA:IND-SCREENING', 'procedure:KURA:PR-BIOPSY', 'site:MST3:ST-ANTRUM'])
  })

  it('indexes every record of one batch, and a new version within the same batch supersedes the first', async () => {
    const a = sampleEndoscopy({ recordId: 'B-1', subject: 'SUBJ-B', performedAt: '2023-01-01', finding: 'FD-VARICES', studies: ['1.2.7.1'] })
    const b = sampleEndoscopy({ recordId: 'B-2', subject: 'SUBJ-B', performedAt: '2023-01-02', finding: 'FD-HERNIA', studies: ['1.2.7.2', '1.2.7.3'] })
    const a2 = { ...a, diagnoses: [{ system: 'MST3', code: 'DX-NORMAL' }] } as DeidentifiedRecord
    const out = await store(ids.a, null, a, b, a2)
    assert.deepEqual(out.map((o) => o.status), ['stored', 'stored', 'stored'])
    const find = async (q: Partial<Parameters<typeof searchRecords>[1]>) => (await searchRecords(catalog.db, { collections: ['rec-a'], limit: 10, ...q })).rows.map((r) => r.id)
    assert.deepEqual(await find({ code: 'FD-HERNIA' }), [idOf(out[1]!)])
    assert.deepEqual(await find({ code: 'FD-VARICES' }), [idOf(out[2]!)], 'only the current version of B-1')
    assert.deepEqual(await find({ study: '1.2.7.3' }), [idOf(out[1]!)])
    assert.deepEqual(await find({ diagnosis: 'DX-NORMAL' }), [idOf(out[2]!)])
    const gone = [idOf(out[0]!), idOf(out[1]!), idOf(out[2]!)]
    await catalog.db.deleteFrom('clinical_record_code').where('record_id', 'in', gone).execute()
    await catalog.db.deleteFrom('clinical_record_study').where('record_id', 'in', gone).execute()
    await catalog.db.updateTable('clinical_record').set({ superseded_by: null }).where('id', 'in', gone).execute()
    await catalog.db.deleteFrom('clinical_record').where('id', 'in', gone).execute()
  })

  it('keeps a new version current and the old one out of search; another site\'s or subject\'s same record id is another record', async () => {
    const v1 = sampleEndoscopy({ recordId: 'R-V', subject: 'SUBJ-V', performedAt: '2025-01-01' })
    const v2 = { ...v1, diagnoses: [{ system: 'MST3', code: 'DX-GASTRIC-CANCER' }] } as DeidentifiedRecord
    const id1 = idOf((await store(ids.a, ids.site1, v1))[0]!)
    const otherSite = idOf((await store(ids.a, ids.site2, v2))[0]!)
    const otherSubject = idOf((await store(ids.a, ids.site1, { ...v2, subject: { id: 'SUBJ-W' } } as DeidentifiedRecord))[0]!)
    const current = async () => (await catalog.db.selectFrom('clinical_record').select('id').where('source_record_id', '=', 'R-V').where('superseded_by', 'is', null).orderBy('id').execute()).map((r) => r.id)
    assert.deepEqual(await current(), [id1, otherSite, otherSubject].sort())
    await catalog.db.deleteFrom('clinical_record_code').where('record_id', 'in', [otherSite, otherSubject]).execute()
    await catalog.db.deleteFrom('clinical_record').where('id', 'in', [otherSite, otherSubject]).execute()
    const id2 = idOf((await store(ids.a, ids.site1, v2))[0]!)
    assert.notEqual(id1, id2)
    const found = await searchRecords(catalog.db, { collections: 'all', subject: 'SUBJ-V', limit: 10 })
    assert.deepEqual(found.rows.map((r) => r.id), [id2])
    const old = await catalog.db.selectFrom('clinical_record').select('superseded_by').where('id', '=', id1).executeTakeFirstOrThrow()
    assert.equal(old.superseded_by, id2)
    await catalog.db.deleteFrom('clinical_record_code').where('record_id', 'in', [id1, id2]).execute()
    await catalog.db.deleteFrom('clinical_record').where('id', 'in', [id1, id2]).execute()
  })

  it('refuses a site-bound record that links to a study another site sent', async () => {
    await catalog.db.insertInto('study_site').values({ study_instance_uid: '1.2.3.999', site_id: ids.site2, created_at: new Date().toISOString() }).execute()
    const r = sampleEndoscopy({ recordId: 'R-X', subject: 'SUBJ-X', performedAt: '2025-01-01', studies: ['1.2.3.999'] })
    const [o] = await store(ids.a, ids.site1, r)
    assert.equal(o!.status, 'rejected')
    assert.match((o as { reasons: { path: string }[] }).reasons[0]!.path, /images\[0\]\.studyInstanceUid/)
  })

  it('finds records by each criterion, newest first, in keyset pages', async () => {
    const made: Record<string, string> = {}
    const put = async (name: string, site: string, r: DeidentifiedRecord) => (made[name] = idOf((await store(ids.b, site, r))[0]!))
    await put('colon-polyp', ids.site1, sampleEndoscopy({ recordId: 'S-1', subject: 'P-1', performedAt: '2024-05-02T09:00', examType: 'colonoscopy', finding: 'FD-POLYP', site: 'CO-SIG', diagnosis: 'DX-COLORECTAL-ADENOMA', studies: ['1.2.9.1'] }))
    await put('upper-ulcer', ids.site1, sampleEndoscopy({ recordId: 'S-2', subject: 'P-1', performedAt: '2024-05-31', finding: 'FD-ULCER', diagnosis: 'DX-GASTRIC-ULCER' }))
    await put('upper-cancer', ids.site2, sampleEndoscopy({ recordId: 'S-3', subject: 'P-2', performedAt: '2024-06-01T08:15', finding: 'FD-TUMOR', diagnosis: 'DX-GASTRIC-CANCER', studies: ['1.2.9.3'] }))
    await put('colon-normal', ids.site2, sampleEndoscopy({ recordId: 'S-4', subject: 'P-3', performedAt: '2024-07-15', examType: 'colonoscopy', finding: 'FD-DIVERTICULUM', diagnosis: 'DX-DIVERTICULOSIS' }))
    const find = async (q: Partial<Parameters<typeof searchRecords>[1]>) => (await searchRecords(catalog.db, { collections: ['rec-b'], limit: 50, ...q })).rows.map((r) => Object.entries(made).find(([, id]) => id === r.id)?.[0] ?? r.id)
    assert.deepEqual(await find({ examType: 'colonoscopy' }), ['colon-normal', 'colon-polyp'])
    assert.deepEqual(await find({ code: 'FD-POLYP' }), ['colon-polyp'])
    assert.deepEqual(await find({ code: 'FD-POLYP', system: 'JED' }), [])
    assert.deepEqual(await find({ code: 'CO-SIG', role: 'site' }), ['colon-polyp'])
    assert.deepEqual(await find({ code: 'CO-SIG', role: 'finding' }), [])
    assert.deepEqual(await find({ diagnosis: 'DX-GASTRIC-CANCER' }), ['upper-cancer'])
    assert.deepEqual(await find({ diagnosis: 'FD-ULCER' }), [], 'a finding code is not a diagnosis')
    // `to` covers the whole day, date-times included; `from` starts at the day.
    assert.deepEqual(await find({ from: '2024-05-31', to: '2024-06-01' }), ['upper-cancer', 'upper-ulcer'])
    assert.deepEqual(await find({ to: '2024-05-02' }), ['colon-polyp'])
    assert.deepEqual(await find({ site: 'site-2' }), ['colon-normal', 'upper-cancer'])
    assert.deepEqual(await find({ subject: 'P-1' }), ['upper-ulcer', 'colon-polyp'])
    assert.deepEqual(await find({ study: '1.2.9.3' }), ['upper-cancer'])
    assert.deepEqual(await find({ kind: 'pathology' }), [])
    assert.deepEqual(await find({ examType: 'upper-gi', site: 'site-1', diagnosis: 'DX-GASTRIC-ULCER' }), ['upper-ulcer'])
    assert.deepEqual(await searchRecords(catalog.db, { collections: ['rec-a'], subject: 'P-1', limit: 5 }).then((r) => r.rows.length), 0, 'another collection')
    assert.deepEqual(await searchRecords(catalog.db, { collections: [], limit: 5 }).then((r) => r.rows.length), 0, 'no collection visible')

    // Keyset pages of 3 walk all of rec-b exactly once, in order.
    const all = (await searchRecords(catalog.db, { collections: ['rec-b'], limit: 100 })).rows.map((r) => r.id)
    const walked: string[] = []
    let cursor
    for (let i = 0; i < 10; i++) {
      const page = await searchRecords(catalog.db, { collections: ['rec-b'], limit: 3, cursor })
      walked.push(...page.rows.map((r) => r.id))
      if (!page.next) break
      cursor = page.next
    }
    assert.deepEqual(walked, all)
    assert.ok(all.length >= 5, `${all.length} records in rec-b`)
  })

  it('counts current records per site and month', async () => {
    const counts = await countRecords(catalog.db, { collections: 'all', collection: 'rec-b', by: ['site', 'month'] })
    assert.deepEqual(counts, [
      { collection: 'rec-b', site: null, month: '2025-03', count: 1 },
      { collection: 'rec-b', site: 'site-1', month: '2024-05', count: 2 },
      { collection: 'rec-b', site: 'site-2', month: '2024-06', count: 1 },
      { collection: 'rec-b', site: 'site-2', month: '2024-07', count: 1 },
    ])
    assert.deepEqual(await countRecords(catalog.db, { collections: ['rec-b'], by: ['site'] }), [
      { collection: 'rec-b', site: null, count: 1 },
      { collection: 'rec-b', site: 'site-1', count: 2 },
      { collection: 'rec-b', site: 'site-2', count: 2 },
    ])
    assert.deepEqual(await countRecords(catalog.db, { collections: ['rec-a'], collection: 'rec-b', by: ['month'] }), [], 'not visible')
  })
})
