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
  /** The stored bytes of the instance with this SHA-256, read as WADO-RS reads them (random access, then streamed). */
  async function storedBytes(sha256: string): Promise<Buffer> {
    const row = await t.catalog.db.selectFrom('instance').select(['object_key as objectKey', 'object_offset as objectOffset', 'size']).where('sha256', '=', sha256).executeTakeFirstOrThrow()
    const src = await archive.instanceSource(row)
    const viaSource = Buffer.from(await src.read(0, src.size))
    await src.close()
    const parts: Buffer[] = []
    for await (const p of await archive.instanceStream(row)) parts.push(p as Buffer)
    assert.deepEqual(Buffer.concat(parts), viaSource)
    return viaSource
  }
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
    for (const x of [a, b, c, d]) assert.deepEqual(await storedBytes(hex(x!)), Buffer.from(x!), 'original stored, byte for byte')
    assert.equal(await archive.objects.head(objectKeyFor(hex(otherC))), null, 'the conflicting bytes are not kept')
    const series = await t.catalog.db.selectFrom('series').select('number_of_instances').execute()
    assert.deepEqual(series.map((s) => Number(s.number_of_instances)), [4])
    // The bundle's stored objects went into one pack, end to end; c, stored alone, is its own object.
    const placed = await t.catalog.db.selectFrom('instance').select(['sha256', 'object_key', 'object_offset', 'size']).execute()
    const byHash = new Map(placed.map((p) => [p.sha256, p]))
    const pack = byHash.get(hex(a!))!.object_key
    assert.deepEqual([a, b, d].map((x) => byHash.get(hex(x!))!.object_key), [pack, pack, pack])
    assert.deepEqual([a, b].map((x) => Number(byHash.get(hex(x!))!.object_offset)), [0, a!.length])
    assert.deepEqual(byHash.get(hex(c!))!, { sha256: hex(c!), object_key: objectKeyFor(hex(c!)), object_offset: null, size: c!.length })
  })

  it('a pack stays while any of its instances does, and goes with the last', async () => {
    const insts = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 3, seed: 34, modality: 'CT', sizes: { CT: { rows: 16, columns: 16 } } })]
    const r = await archive.ingestMany(insts.map((i) => ({ source: i.bytes, collection: 'plain' })))
    assert.deepEqual(r.map((x) => x.status), ['stored', 'stored', 'stored'])
    const rows = await t.catalog.db.selectFrom('instance').select(['object_key']).where('sha256', 'in', insts.map((i) => hex(i.bytes))).execute()
    const pack = rows[0]!.object_key
    assert.ok(rows.every((x) => x.object_key === pack))
    const one = insts[0]!
    assert.equal(await archive.delete({ studyInstanceUid: one.studyInstanceUid, seriesInstanceUid: one.seriesInstanceUid, sopInstanceUid: one.sopInstanceUid }), 1)
    assert.ok(await archive.objects.head(pack), 'the other instances still need the pack')
    assert.deepEqual(await storedBytes(hex(insts[2]!.bytes)), Buffer.from(insts[2]!.bytes))
    assert.equal(await archive.delete({ studyInstanceUid: one.studyInstanceUid, seriesInstanceUid: one.seriesInstanceUid }), 2, 'every instance counts, though they share one object')
    assert.equal(await archive.objects.head(pack), null, 'the pack goes with its last instance')
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
