/**
 * Archive.ingestMany (a gateway bundle's objects stored together): the same outcome per object, in order, as
 * ingest one by one — stored, duplicate (also twice in one batch), conflict, rejected, quarantined — and only the
 * stored ones indexed and in the object store. On both catalog engines.
 */
import { after, before, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BufferSource } from '@kura/core'
import { readDicomBuffer } from '@kura/dicom'
import { synthStudies } from '@kura/dicom/synth'
import { BASIC_POLICY, deidentify } from '@kura/deid'
import { describeEachEngine, openTestCatalog, type TestCatalog } from '@kura/storage/testing'
import { openObjectStore } from '@kura/storage'
import { createCollection } from '../auth/grants.ts'
import { Archive, objectKeyFor } from './archive.ts'

const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function deidentified(buf: Uint8Array): Promise<Uint8Array> {
  const { output } = await deidentify(readDicomBuffer(buf), new BufferSource(buf), { policy: BASIC_POLICY, secret: new Uint8Array(32).fill(9), collection: 'clean' })
  const parts: Uint8Array[] = []
  for await (const p of output) parts.push(p)
  return Buffer.concat(parts)
}

describeEachEngine('Archive.ingestMany', (engine) => {
  let t: TestCatalog
  let dir: string
  let archive: Archive
  before(async () => {
    t = await openTestCatalog(engine)
    dir = await mkdtemp(join(tmpdir(), 'kura-ingest-many-'))
    archive = new Archive(t.catalog, await openObjectStore({ dataDir: dir, s3: null }), dir)
  })
  after(async () => {
    await t?.cleanup()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('gives each object the outcome ingest would, in order, and indexes only the stored ones', async () => {
    const insts = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 4, seed: 31, modality: 'CT', sizes: { CT: { rows: 16, columns: 16 } } })]
    const [a, b, c, d] = insts.map((i) => i.bytes)
    // c is already stored; its SOP Instance UID then arrives again with other bytes (a conflict).
    assert.equal((await archive.ingest({ source: c!, collection: 'plain' })).status, 'stored')
    const otherC = Buffer.from(c!)
    otherC[otherC.length - 1] ^= 0xff // a pixel changed: same UIDs, other bytes
    const otherStudy = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 32, modality: 'CT', sizes: { CT: { rows: 16, columns: 16 } } })][0]!.bytes
    const inputs = [a!, b!, a!, otherC, new Uint8Array(300), otherStudy, d!].map((bytes) => ({ source: { bytes, sha256: hex(bytes) }, collection: 'plain', studyInstanceUid: insts[0]!.studyInstanceUid }))
    const r = await archive.ingestMany(inputs)
    // a twice: the first is stored, the second is its duplicate, on both engines.
    assert.deepEqual(r.map((x) => x.status), ['stored', 'stored', 'duplicate', 'conflict', 'rejected', 'rejected', 'stored'])
    assert.equal(r[3]!.sopInstanceUid, insts[2]!.sopInstanceUid)
    const rows = await t.catalog.db.selectFrom('instance').select(['sop_instance_uid', 'sha256']).execute()
    assert.deepEqual(rows.map((x) => x.sha256).sort(), [a, b, c, d].map((x) => hex(x!)).sort())
    for (const x of [a, b, c, d]) assert.ok(await archive.objects.head(objectKeyFor(hex(x!))), 'original stored')
    assert.equal(await archive.objects.head(objectKeyFor(hex(otherC))), null, 'the conflicting bytes are not kept')
    const series = await t.catalog.db.selectFrom('series').select('number_of_instances').execute()
    assert.deepEqual(series.map((s) => Number(s.number_of_instances)), [4])
  })

  it('quarantines what fails the receipt check of a de-identified collection, storing the rest of the batch', async () => {
    await createCollection(t.catalog.db, 'clean', true)
    const insts = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 3, seed: 33, modality: 'CT', sizes: { CT: { rows: 16, columns: 16 } } })]
    const good = await Promise.all([insts[0]!, insts[2]!].map((i) => deidentified(i.bytes)))
    const identifying = insts[1]!.bytes
    const r = await archive.ingestMany([good[0]!, identifying, good[1]!].map((bytes) => ({ source: bytes, collection: 'clean' })))
    assert.deepEqual(r.map((x) => x.status), ['stored', 'rejected', 'stored'])
    assert.equal('code' in r[1]! && r[1].code, 'HUB_QUARANTINED')
    const q = await t.catalog.db.selectFrom('quarantine').select('sha256').execute()
    assert.deepEqual(q.map((x) => x.sha256), [hex(identifying)])
    const indexed = await t.catalog.db.selectFrom('instance').select('sha256').where('sha256', 'in', [...good, identifying].map(hex)).execute()
    assert.deepEqual(indexed.map((x) => x.sha256).sort(), good.map(hex).sort())
    assert.equal(await archive.objects.head(objectKeyFor(hex(identifying))), null, 'never where readers look')
    // The same batch again: duplicates, and no second quarantine entry.
    const again = await archive.ingestMany([good[0]!, identifying, good[1]!].map((bytes) => ({ source: bytes, collection: 'clean' })))
    assert.deepEqual(again.map((x) => x.status), ['duplicate', 'rejected', 'duplicate'])
    assert.equal((await t.catalog.db.selectFrom('quarantine').select('id').execute()).length, 1)
  })
})
