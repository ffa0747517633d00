/**
 * completeUpload on a bundle (ustar written by the system tar): more entries than one ingestMany group, one
 * entry past the in-memory limit (streamed alone), one misnamed entry; every outcome in entry order.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { synthStudies } from '@kura/dicom/synth'
import { openObjectStore } from '@kura/storage'
import { openTestCatalog, type TestCatalog } from '@kura/storage/testing'
import { Archive } from '../archive/archive.ts'
import { completeUpload, GROUP } from './complete.ts'
import type { UploadRow } from './upload-state.ts'

const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
let t: TestCatalog
let dir: string
let archive: Archive
before(async () => {
  t = await openTestCatalog('sqlite')
  dir = await mkdtemp(join(tmpdir(), 'kura-complete-'))
  archive = new Archive(t.catalog, await openObjectStore({ dataDir: dir, s3: null }), dir)
})
after(async () => {
  await t?.cleanup()
  if (dir) await rm(dir, { recursive: true, force: true })
})

test('a bundle of GROUP + 3 small entries, one large and one misnamed: outcomes in entry order, all stored but the misnamed', async () => {
  const small = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: GROUP + 3, seed: 41, modality: 'CT', sizes: { CT: { rows: 8, columns: 8 } } })]
  const study = small[0]!.studyInstanceUid
  // 3000 × 3000 × 16 bits: past the 16 MiB an entry may have to be read into memory.
  const large = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 42, modality: 'CT', sizes: { CT: { rows: 3000, columns: 3000 } } })][0]!
  const files = small.map((i) => i.bytes)
  files.splice(5, 0, large.bytes)
  const names = files.map((b) => `${hex(b)}.dcm`)
  names[9] = `${'0'.repeat(64)}.dcm`
  await Promise.all(files.map((b, i) => writeFile(join(dir, names[i]!), b)))
  const tar = join(dir, 'bundle.tar')
  execFileSync('tar', ['--format=ustar', '-cf', tar, '-C', dir, ...names])
  const sha256 = createHash('sha256').update(execFileSync('cat', [tar], { maxBuffer: 1 << 30 })).digest('hex')
  const row = { id: 'u1', kind: 'dicom-bundle', collection: 'c', study_instance_uid: study, sha256, object_count: files.length, upload_length: 0 } as unknown as UploadRow
  // The large object belongs to another study: refused by the study check, after streaming in like any large entry.
  const done = await completeUpload(archive, row, tar, sha256)
  const outcomes = done.result.objects.map((o) => o.outcome)
  assert.equal(outcomes.length, files.length)
  assert.equal(outcomes[9], 'rejected')
  assert.match(done.result.objects[5]!.reason ?? '', /study/i)
  assert.deepEqual(outcomes.filter((_, i) => i !== 9 && i !== 5), Array(files.length - 2).fill('stored'))
  assert.deepEqual(done.result.objects.map((o) => o.sha256).filter((_, i) => i !== 9), files.map(hex).filter((_, i) => i !== 9))
  const n = await t.catalog.db.selectFrom('instance').select((e) => e.fn.countAll().as('n')).executeTakeFirst()
  assert.equal(Number(n?.n), files.length - 2)
})
