/** @module Archive repository on both engines: storing, duplicates, conflicts, counters, listing, deleting. */
import { it, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { isKuraError } from '@kura/core'
import { describeEachEngine, openTestCatalog, testInstanceRecord as rec, type TestCatalog } from '../testing/index.ts'
import {
  deleteInstance,
  deleteSeries,
  deleteStudy,
  getInstance,
  getSeries,
  getStudy,
  listInstances,
} from './archive.repository.ts'
import { storeInstance } from './store-instance.ts'
import type { Catalog } from './connect.ts'

async function count(catalog: Catalog, table: 'collection' | 'subject' | 'study' | 'series' | 'instance'): Promise<number> {
  const r = await catalog.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return r.n
}

describeEachEngine('archive repository', (engine) => {
  let tc: TestCatalog
  let catalog: Catalog
  beforeEach(async () => {
    tc = await openTestCatalog(engine)
    catalog = tc.catalog
  })
  afterEach(() => tc.cleanup())

  it('stores a first instance, creating collection, subject, study and series', async () => {
    const r = rec({ patientName: 'Yamada^Taro=山田^太郎=やまだ^たろう', size: 5_000_000_000 })
    const out = await storeInstance(catalog.db, r)
    assert.equal(out.status, 'stored')
    const inst = await getInstance(catalog.db, r.sopInstanceUid)
    assert.ok(inst)
    assert.equal(inst.id, out.status === 'stored' ? out.instanceId : '')
    assert.equal(inst.collection, 'test')
    assert.equal(inst.studyInstanceUid, r.studyInstanceUid)
    assert.equal(inst.seriesInstanceUid, r.seriesInstanceUid)
    assert.equal(inst.objectKey, r.objectKey)
    // Sizes above 2^32 come back as numbers on both engines (PostgreSQL bigint included).
    assert.strictEqual(inst.size, 5_000_000_000)
    assert.strictEqual(inst.rows, 512)
    assert.strictEqual(inst.numberOfFrames, null)
    assert.match(inst.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const study = await getStudy(catalog.db, r.studyInstanceUid)
    assert.ok(study)
    assert.equal(study.patientName, 'Yamada^Taro=山田^太郎=やまだ^たろう')
    assert.equal(study.numberOfSeries, 1)
    assert.equal(study.numberOfInstances, 1)
    assert.equal(study.modalitiesInStudy, 'CT')
    assert.strictEqual(typeof study.numberOfInstances, 'number')
    const series = await getSeries(catalog.db, r.seriesInstanceUid)
    assert.equal(series?.numberOfInstances, 1)
    assert.equal(series?.studyInstanceUid, r.studyInstanceUid)
    assert.equal(await getStudy(catalog.db, '9.9.9'), null)
    assert.equal(await getSeries(catalog.db, '9.9.9'), null)
    assert.equal(await getInstance(catalog.db, '9.9.9'), null)
  })

  it('maintains counters and the sorted modality list as instances and series arrive', async () => {
    for (let i = 1; i <= 3; i++) assert.equal((await storeInstance(catalog.db, rec({ instanceNumber: i }))).status, 'stored')
    await storeInstance(catalog.db, rec({ seriesInstanceUid: '1.2.3.4.2', modality: 'MR', seriesNumber: 2 }))
    await storeInstance(catalog.db, rec({ seriesInstanceUid: '1.2.3.4.3', modality: 'CT', seriesNumber: 3 }))
    await storeInstance(catalog.db, rec({ seriesInstanceUid: '1.2.3.4.4', modality: 'KO', seriesNumber: 4 }))
    const study = await getStudy(catalog.db, '1.2.3.4')
    assert.equal(study?.numberOfSeries, 4)
    assert.equal(study?.numberOfInstances, 6)
    assert.equal(study?.modalitiesInStudy, 'CT\\KO\\MR')
    assert.equal((await getSeries(catalog.db, '1.2.3.4.1'))?.numberOfInstances, 3)
    assert.equal(await count(catalog, 'collection'), 1)
    assert.equal(await count(catalog, 'subject'), 1)
  })

  it('reports a re-sent identical instance as duplicate and changes nothing', async () => {
    const r = rec()
    const first = await storeInstance(catalog.db, r)
    const again = await storeInstance(catalog.db, { ...r })
    assert.equal(again.status, 'duplicate')
    assert.equal(again.status === 'duplicate' && first.status === 'stored' && again.instanceId === first.instanceId, true)
    assert.equal((await getStudy(catalog.db, r.studyInstanceUid))?.numberOfInstances, 1)
    assert.equal(await count(catalog, 'instance'), 1)
  })

  it('never overwrites: same SOP Instance UID with other content is a conflict', async () => {
    const r = rec()
    await storeInstance(catalog.db, r)
    const other = await storeInstance(catalog.db, { ...r, sha256: 'f'.repeat(64), objectKey: 'dicom/ff/ff/x' })
    assert.equal(other.status, 'conflict')
    assert.match(other.status === 'conflict' ? other.reason : '', /already stored with different content/)
    assert.equal((await getInstance(catalog.db, r.sopInstanceUid))?.sha256, r.sha256)
    // … even when it claims another series (nothing new may be left behind).
    const moved = await storeInstance(catalog.db, { ...r, sha256: 'e'.repeat(64), seriesInstanceUid: '1.2.3.4.99' })
    assert.equal(moved.status, 'conflict')
    assert.equal(await count(catalog, 'series'), 1)
  })

  it('the same bytes sent to another collection are a conflict, not a duplicate', async () => {
    const r = rec()
    await storeInstance(catalog.db, r)
    const out = await storeInstance(catalog.db, { ...r, collection: 'other' })
    assert.equal(out.status, 'conflict')
    assert.match(out.status === 'conflict' ? out.reason : '', /another collection/)
  })

  it('refuses an instance that puts a stored study under another patient or collection, leaving nothing behind', async () => {
    await storeInstance(catalog.db, rec())
    const otherPatient = await storeInstance(catalog.db, rec({ patientId: 'PAT-2', seriesInstanceUid: '1.2.3.4.7' }))
    assert.equal(otherPatient.status, 'conflict')
    assert.match(otherPatient.status === 'conflict' ? otherPatient.reason : '', /different patient or collection/)
    const otherCollection = await storeInstance(catalog.db, rec({ collection: 'elsewhere' }))
    assert.equal(otherCollection.status, 'conflict')
    assert.equal(await count(catalog, 'subject'), 1)
    assert.equal(await count(catalog, 'series'), 1)
    assert.equal(await count(catalog, 'collection'), 1)
    assert.equal((await getStudy(catalog.db, '1.2.3.4'))?.numberOfInstances, 1)
  })

  it('refuses a series that already belongs to another study, rolling back the new study', async () => {
    await storeInstance(catalog.db, rec({ studyInstanceUid: '1.2.3.4', seriesInstanceUid: '5.5.5' }))
    const out = await storeInstance(catalog.db, rec({ studyInstanceUid: '1.2.3.5', seriesInstanceUid: '5.5.5' }))
    assert.equal(out.status, 'conflict')
    assert.match(out.status === 'conflict' ? out.reason : '', /already belongs to another study/)
    assert.equal(await getStudy(catalog.db, '1.2.3.5'), null)
    assert.equal(await count(catalog, 'study'), 1)
  })

  it('concurrent calls are written together; a duplicate or conflict in the batch affects only itself', async () => {
    await storeInstance(catalog.db, rec({ instanceNumber: 0 }))
    const same = rec({ instanceNumber: 1 })
    const calls = [
      rec({ instanceNumber: 2 }),
      same,
      { ...same },
      rec({ instanceNumber: 3, seriesInstanceUid: '1.2.3.4.2', modality: 'MR' }),
      rec({ studyInstanceUid: '1.2.3.4', patientId: 'SOMEONE-ELSE', seriesInstanceUid: '1.2.3.4.3' }),
      rec({ studyInstanceUid: '1.2.3.9', seriesInstanceUid: '1.2.3.9.1' }),
      ...Array.from({ length: 80 }, (_, i) => rec({ instanceNumber: 10 + i })),
    ]
    const outcomes = await Promise.all(calls.map((r) => storeInstance(catalog.db, r)))
    const statuses = outcomes.map((o) => o.status)
    assert.deepEqual(statuses.slice(0, 6), ['stored', 'stored', 'duplicate', 'stored', 'conflict', 'stored'])
    assert.ok(statuses.slice(6).every((s) => s === 'stored'))
    const study = await getStudy(catalog.db, '1.2.3.4')
    assert.equal(study?.numberOfInstances, 1 + 3 + 80)
    assert.equal(study?.numberOfSeries, 2)
    assert.equal(study?.modalitiesInStudy, 'CT\\MR')
    assert.equal((await getSeries(catalog.db, '1.2.3.4.1'))?.numberOfInstances, 1 + 2 + 80)
    assert.equal(await getSeries(catalog.db, '1.2.3.4.3'), null)
    assert.equal((await getStudy(catalog.db, '1.2.3.9'))?.numberOfInstances, 1)
  })

  it('a batch that opens new series stores each once, judges repeats and conflicts alone, and counts exactly', async () => {
    await storeInstance(catalog.db, rec({ instanceNumber: 0 }))
    const repeated = rec({ instanceNumber: 5, seriesInstanceUid: '1.2.3.4.7' })
    const calls = [
      // Two new series of a known study, interleaved, the second with an instance sent twice.
      ...Array.from({ length: 40 }, (_, i) => rec({ instanceNumber: 10 + i, seriesInstanceUid: i % 2 ? '1.2.3.4.6' : '1.2.3.4.7', seriesNumber: i % 2 ? 6 : 7 })),
      repeated,
      { ...repeated },
      // A new study with a new series, and a "new" series already filed under study 1.2.3.4.
      ...Array.from({ length: 10 }, (_, i) => rec({ instanceNumber: i, studyInstanceUid: '1.2.3.8', seriesInstanceUid: '1.2.3.8.1' })),
      rec({ instanceNumber: 1, studyInstanceUid: '1.2.3.8', seriesInstanceUid: '1.2.3.4.6' }),
    ]
    const outcomes = await Promise.all(calls.map((r) => storeInstance(catalog.db, r)))
    const statuses = outcomes.map((o) => o.status)
    assert.ok(statuses.slice(0, 41).every((s) => s === 'stored'), statuses.join())
    assert.deepEqual(statuses.slice(41), ['duplicate', ...Array(10).fill('stored'), 'conflict'])
    assert.equal((await getSeries(catalog.db, '1.2.3.4.6'))?.numberOfInstances, 20)
    assert.equal((await getSeries(catalog.db, '1.2.3.4.7'))?.numberOfInstances, 21)
    const study = await getStudy(catalog.db, '1.2.3.4')
    assert.equal(study?.numberOfInstances, 1 + 41)
    assert.equal(study?.numberOfSeries, 3)
    assert.equal((await getStudy(catalog.db, '1.2.3.8'))?.numberOfInstances, 10)
    assert.equal(await count(catalog, 'instance'), 1 + 41 + 10)
  })

  it('stores inside a caller\'s transaction, which decides whether it sticks', async () => {
    const kept = rec({ instanceNumber: 1 })
    const dropped = rec({ instanceNumber: 2 })
    await catalog.db.transaction().execute(async (trx) => {
      assert.equal((await storeInstance(trx, kept)).status, 'stored')
      // A conflict inside the caller's transaction undoes only its own rows.
      assert.equal((await storeInstance(trx, rec({ patientId: 'OTHER', seriesInstanceUid: '1.2.3.4.5' }))).status, 'conflict')
    })
    await assert.rejects(
      catalog.db.transaction().execute(async (trx) => {
        await storeInstance(trx, dropped)
        throw new Error('caller changed its mind')
      }),
      /changed its mind/,
    )
    assert.ok(await getInstance(catalog.db, kept.sopInstanceUid))
    assert.equal(await getInstance(catalog.db, dropped.sopInstanceUid), null)
    assert.equal((await getStudy(catalog.db, '1.2.3.4'))?.numberOfInstances, 1)
  })

  it('rejects records without the identifiers the catalog needs', async () => {
    for (const field of ['collection', 'studyInstanceUid', 'seriesInstanceUid', 'sopInstanceUid', 'objectKey', 'sha256'] as const) {
      await assert.rejects(storeInstance(catalog.db, rec({ [field]: '' })), (e) => isKuraError(e) && e.code === 'CATALOG_INVALID_RECORD')
    }
  })

  it('lists a study by series number then instance number, unnumbered last', async () => {
    const uids: string[] = []
    const add = async (series: string, seriesNumber: number | null, instanceNumber: number | null, sop: string) => {
      await storeInstance(catalog.db, rec({ seriesInstanceUid: series, seriesNumber, instanceNumber, sopInstanceUid: sop }))
      uids.push(sop)
    }
    await add('1.2.3.4.2', 2, 2, 'b2')
    await add('1.2.3.4.9', null, 1, 'n1')
    await add('1.2.3.4.2', 2, 1, 'b1')
    await add('1.2.3.4.1', 1, null, 'a-null')
    await add('1.2.3.4.1', 1, 10, 'a10')
    await add('1.2.3.4.1', 1, 9, 'a9')
    const all = await listInstances(catalog.db, { studyInstanceUid: '1.2.3.4' })
    assert.deepEqual(
      all.map((r) => r.sopInstanceUid),
      ['a9', 'a10', 'a-null', 'b1', 'b2', 'n1'],
    )
    assert.ok(all.every((r) => r.instanceJson.includes(r.sopInstanceUid) && r.objectKey.startsWith('dicom/')))
    const series = await listInstances(catalog.db, { studyInstanceUid: '1.2.3.4', seriesInstanceUid: '1.2.3.4.2' })
    assert.deepEqual(
      series.map((r) => r.sopInstanceUid),
      ['b1', 'b2'],
    )
    const one = await listInstances(catalog.db, { studyInstanceUid: '1.2.3.4', seriesInstanceUid: '1.2.3.4.2', sopInstanceUid: 'b2' })
    assert.deepEqual(
      one.map((r) => r.sopInstanceUid),
      ['b2'],
    )
    assert.deepEqual(await listInstances(catalog.db, { studyInstanceUid: '1.2.3.4', seriesInstanceUid: '1.2.3.4.1', sopInstanceUid: 'b2' }), [])
    assert.deepEqual(await listInstances(catalog.db, { studyInstanceUid: 'nope' }), [])
  })

  it('deleting instances updates counters and modalities and removes empty series, study and subject', async () => {
    const ct = [rec({ instanceNumber: 1 }), rec({ instanceNumber: 2 })]
    const mr = rec({ seriesInstanceUid: '1.2.3.4.2', modality: 'MR', seriesNumber: 2 })
    for (const r of [...ct, mr]) await storeInstance(catalog.db, r)
    assert.equal((await getStudy(catalog.db, '1.2.3.4'))?.modalitiesInStudy, 'CT\\MR')

    // Wrong parents: nothing happens.
    assert.deepEqual((await deleteInstance(catalog.db, '1.2.3.4', '1.2.3.4.2', ct[0].sopInstanceUid)).keys, [])
    assert.deepEqual((await deleteInstance(catalog.db, '9.9', '1.2.3.4.1', ct[0].sopInstanceUid)).keys, [])

    assert.deepEqual((await deleteInstance(catalog.db, '1.2.3.4', '1.2.3.4.2', mr.sopInstanceUid)).keys, [mr.objectKey])
    let study = await getStudy(catalog.db, '1.2.3.4')
    assert.equal(study?.numberOfSeries, 1)
    assert.equal(study?.numberOfInstances, 2)
    assert.equal(study?.modalitiesInStudy, 'CT')
    assert.equal(await getSeries(catalog.db, '1.2.3.4.2'), null)

    assert.deepEqual((await deleteInstance(catalog.db, '1.2.3.4', '1.2.3.4.1', ct[0].sopInstanceUid)).keys, [ct[0].objectKey])
    study = await getStudy(catalog.db, '1.2.3.4')
    assert.equal(study?.numberOfInstances, 1)
    assert.equal((await getSeries(catalog.db, '1.2.3.4.1'))?.numberOfInstances, 1)

    assert.deepEqual((await deleteInstance(catalog.db, '1.2.3.4', '1.2.3.4.1', ct[1].sopInstanceUid)).keys, [ct[1].objectKey])
    assert.equal(await getStudy(catalog.db, '1.2.3.4'), null)
    assert.equal(await count(catalog, 'series'), 0)
    assert.equal(await count(catalog, 'subject'), 0)
    // Collections stay: they are configuration, not data.
    assert.equal(await count(catalog, 'collection'), 1)
  })

  it('deleteSeries and deleteStudy return every unreferenced key; a patient with another study stays', async () => {
    const a = [rec({ instanceNumber: 1 }), rec({ instanceNumber: 2 }), rec({ seriesInstanceUid: '1.2.3.4.2', modality: 'SR' })]
    const b = rec({ studyInstanceUid: '1.2.3.5' })
    for (const r of [...a, b]) await storeInstance(catalog.db, r)

    assert.deepEqual((await deleteSeries(catalog.db, '1.2.3.4', '1.2.3.4.1')).keys.sort(), [a[0].objectKey, a[1].objectKey].sort())
    assert.equal((await getStudy(catalog.db, '1.2.3.4'))?.modalitiesInStudy, 'SR')
    assert.deepEqual((await deleteSeries(catalog.db, '1.2.3.5', '1.2.3.4.2')).keys, [])

    assert.deepEqual((await deleteStudy(catalog.db, '1.2.3.4')).keys, [a[2].objectKey])
    assert.equal(await getStudy(catalog.db, '1.2.3.4'), null)
    assert.equal(await count(catalog, 'subject'), 1, 'PAT-1 still has study 1.2.3.5')
    assert.deepEqual((await deleteStudy(catalog.db, '1.2.3.4')).keys, [])
    assert.deepEqual((await deleteStudy(catalog.db, '1.2.3.5')).keys, [b.objectKey])
    assert.equal(await count(catalog, 'subject'), 0)
    assert.equal(await count(catalog, 'instance'), 0)
  })

  it('does not give back an object key another instance still uses', async () => {
    const shared = 'dicom/aa/bb/shared'
    const one = rec({ objectKey: shared })
    const two = rec({ objectKey: shared, studyInstanceUid: '1.2.3.5' })
    await storeInstance(catalog.db, one)
    await storeInstance(catalog.db, two)
    assert.deepEqual((await deleteStudy(catalog.db, '1.2.3.4')).keys, [])
    assert.deepEqual((await deleteStudy(catalog.db, '1.2.3.5')).keys, [shared])
  })

  it('deletes a study of many instances in one go', async () => {
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < 400; i++) await storeInstance(catalog.db, rec({ seriesInstanceUid: `1.2.3.4.${s}`, instanceNumber: i }))
    }
    assert.equal((await getStudy(catalog.db, '1.2.3.4'))?.numberOfInstances, 1200)
    assert.equal((await deleteStudy(catalog.db, '1.2.3.4')).keys.length, 1200)
    assert.equal(await count(catalog, 'instance'), 0)
    assert.equal(await count(catalog, 'series'), 0)
  })
})
