import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, appendFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { Tags, getString, readDicomBuffer, getPersonName } from '@kura/dicom'
import { Outbox } from '../outbox/index.ts'
import { FolderSource } from '../sources/folder/index.ts'
import { Pipeline } from './pipeline.ts'
import { leakyInstance, smallStudies } from './testkit.ts'

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** Every queued object's clean output (a small one is in the clean journal, a larger one a file), checked against its name. */
function cleanOutputs(outbox: Outbox): Uint8Array[] {
  const rows = outbox.db.prepare("SELECT DISTINCT output_sha256 AS s FROM objects WHERE state = 'queued'").all() as Array<{ s: string }>
  return rows.map(({ s }) => {
    const bytes = outbox.cleanData(s) ?? readFileSync(outbox.cleanPath(s))
    assert.equal(sha(bytes), s, 'a clean output is named by its SHA-256')
    return bytes
  })
}

test('folder → spool → de-identified into clean/, a flagged object and a truncated file quarantined, nothing re-taken after restart', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kura-pipe-'))
  const watch = join(root, 'drop')
  const spool = join(root, 'spool')
  mkdirSync(join(watch, 'sub'), { recursive: true })
  const instances = smallStudies(2, 1, 2)
  instances.forEach((inst, i) => writeFileSync(join(watch, i % 2 ? 'sub' : '', `${i}.dcm`), inst.bytes))
  const leaky = leakyInstance()
  writeFileSync(join(watch, 'leaky.dcm'), leaky.bytes)
  writeFileSync(join(watch, 'truncated.dcm'), instances[0]!.bytes.subarray(0, 300))
  writeFileSync(join(watch, '.hidden'), 'skip me')
  const total = instances.length + 2

  let outbox = Outbox.open(spool)
  outbox.recover()
  const pipeline = new Pipeline(outbox, { policy: BASIC_POLICY, secret: generateSecret(), collection: 'test' }, { pollMs: 100 })
  let folder = new FolderSource({ path: watch, settleSeconds: 0, deleteAfterTake: false }, outbox, { pollMs: 100, onTaken: () => pipeline.kick() })
  try {
    pipeline.start()
    folder.start()
    const done = () => (outbox.db.prepare("SELECT COUNT(*) AS n FROM objects WHERE state IN ('queued', 'quarantined')").get() as { n: number }).n
    await until('every file processed', () => done() === total)
    await folder.stop()
    await pipeline.stop()

    const rows = outbox.db.prepare('SELECT * FROM objects ORDER BY source_ref').all() as Array<{ id: string; state: string; source_ref: string; output_sha256: string | null; last_error: string | null }>
    assert.equal(rows.length, total)
    const byName = (n: string) => rows.find((r) => r.source_ref.endsWith(n))!
    // The clean outputs: named by their SHA-256, PatientName gone, identity removed marked; small ones have no file.
    const clean = cleanOutputs(outbox)
    assert.equal(clean.length, instances.length)
    assert.deepEqual(readdirSync(join(spool, 'clean')), ['journal'])
    for (const bytes of clean) {
      const p = readDicomBuffer(bytes)
      assert.equal(getString(p.dataset, 0x00120062), 'YES')
      const names = getPersonName(p.dataset, Tags.PatientName).map((n) => JSON.stringify(n))
      for (const inst of instances) {
        assert.ok(!names.includes(JSON.stringify(inst.patientName)), 'the patient name is gone')
        assert.notEqual(getString(p.dataset, Tags.PatientID), inst.patientId)
        assert.notEqual(getString(p.dataset, Tags.StudyInstanceUID), inst.studyInstanceUid)
      }
    }
    // The flagged object: quarantined with its reason, never queued or claimable.
    const lr = byName('leaky.dcm')
    assert.equal(lr.state, 'quarantined')
    const reason = JSON.parse(readFileSync(join(spool, 'quarantine', lr.id, 'reason.json'), 'utf8'))
    assert.ok(reason.findings.some((f: { keyword?: string }) => f.keyword === 'SoftwareVersions'), JSON.stringify(reason))
    assert.ok(!JSON.stringify(reason).includes(leaky.patientId), 'the reason never repeats the value')
    assert.ok(existsSync(join(spool, 'quarantine', lr.id, 'output.dcm')))
    const tr = byName('truncated.dcm')
    assert.equal(tr.state, 'quarantined')
    assert.match(JSON.parse(readFileSync(join(spool, 'quarantine', tr.id, 'reason.json'), 'utf8')).reason, /not a readable DICOM file/)
    const claimed = outbox.claim({ bundleBytes: 1e9, largeObjectBytes: 1e9 })
    const claimedAll = [...claimed, ...outbox.claim({ bundleBytes: 1e9, largeObjectBytes: 1e9 }), ...outbox.claim({ bundleBytes: 1e9, largeObjectBytes: 1e9 })]
    assert.equal(claimedAll.length, instances.length)
    assert.ok(claimedAll.every((r) => r.id !== lr.id && r.id !== tr.id))
    assert.equal(claimed.length, 2, 'a series travels together')
    assert.deepEqual(readdirSync(join(spool, 'incoming')), [], 'inputs are removed once their work is recorded')
    // The hospital's files are untouched.
    assert.equal(readdirSync(watch).filter((n) => n.endsWith('.dcm')).length + readdirSync(join(watch, 'sub')).length, total)

    // Restart: nothing is taken again.
    outbox.close()
    outbox = Outbox.open(spool)
    outbox.recover()
    folder = new FolderSource({ path: watch, settleSeconds: 0, deleteAfterTake: false }, outbox, { pollMs: 50 })
    await folder.scan()
    await folder.scan()
    assert.equal(folder.taken, 0)
    assert.equal((outbox.db.prepare('SELECT COUNT(*) AS n FROM objects').get() as { n: number }).n, total)
  } finally {
    await folder.stop()
    await pipeline.stop()
    outbox.close()
    rmSync(root, { recursive: true, force: true })
  }
})

test('a file that is still growing is not taken until it has settled', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kura-settle-'))
  const watch = join(root, 'drop')
  mkdirSync(watch)
  const outbox = Outbox.open(join(root, 'spool'))
  const folder = new FolderSource({ path: watch, settleSeconds: 1, deleteAfterTake: false }, outbox, { pollMs: 100 })
  try {
    const bytes = smallStudies(1, 1, 1)[0]!.bytes
    const file = join(watch, 'slow.dcm')
    writeFileSync(file, bytes.subarray(0, 100))
    folder.start()
    // Grow it in pieces, each sooner than the settle time, for about 2.5 s.
    const step = Math.ceil((bytes.length - 100) / 8)
    for (let off = 100; off < bytes.length; off += step) {
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(folder.taken, 0, `taken while still growing (at ${off} of ${bytes.length} bytes)`)
      appendFileSync(file, bytes.subarray(off, Math.min(bytes.length, off + step)))
    }
    assert.equal(statSync(file).size, bytes.length)
    await until('the settled file to be taken', () => folder.taken === 1, 10_000)
    const row = outbox.db.prepare('SELECT * FROM objects').get() as { id: string; input_sha256: string; input_bytes: number }
    assert.equal(row.input_sha256, sha(bytes), 'the whole file, not a prefix')
    assert.equal(row.input_bytes, bytes.length)
    assert.equal(sha(readFileSync(outbox.incomingPath(row.id))), sha(bytes))
  } finally {
    await folder.stop()
    outbox.close()
    rmSync(root, { recursive: true, force: true })
  }
})

test('reported objects go through in one batch; a batch whose outputs cannot be written records nothing, and is done once the spool is writable again', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kura-batch-'))
  const outbox = Outbox.open(join(root, 'spool'))
  outbox.recover()
  let idle = 0
  const pipeline = new Pipeline(outbox, { policy: BASIC_POLICY, secret: generateSecret(), collection: 'test' }, { pollMs: 100, onIdle: () => idle++ })
  try {
    const instances = smallStudies(1, 2, 6)
    // The clean folder is not a folder: every output write (a file, or the clean journal's first segment) fails
    // (ENOTDIR), as a full or read-only disk would.
    rmSync(outbox.clean, { recursive: true })
    writeFileSync(outbox.clean, 'not a folder')
    pipeline.start()
    instances.forEach((inst, i) => {
      writeFileSync(outbox.incomingPath(`o${i}`), inst.bytes)
      pipeline.received({ id: `o${i}`, source: 'dimse', sourceRef: 'CT1', bytes: inst.bytes.length, sha256: sha(inst.bytes) })
    })
    await until('the pause', () => /could not write to the spool/.test(pipeline.counters.paused ?? ''))
    const states = () => (outbox.db.prepare('SELECT state, COUNT(*) AS n FROM objects GROUP BY state').all() as Array<{ state: string; n: number }>).map((r) => `${r.state}:${r.n}`)
    assert.deepEqual(states(), [`received:${instances.length}`], 'nothing of the failed batch is recorded')
    assert.equal(readdirSync(outbox.incoming).length, instances.length, 'every input stays')
    assert.equal(outbox.get('o0')!.source_ref, 'CT1', 'the reported rows were added')
    assert.equal(idle, 0)

    rmSync(outbox.clean)
    mkdirSync(outbox.clean)
    await until('every object queued', () => pipeline.counters.clean === instances.length)
    assert.deepEqual(states(), [`queued:${instances.length}`])
    assert.equal(pipeline.counters.paused, null)
    // The inputs go once recorded, off the main thread: the counters may run a moment ahead of the unlinks.
    await until('the inputs removed', () => readdirSync(outbox.incoming).length === 0, 5_000)
    assert.equal(cleanOutputs(outbox).length, instances.length, 'one durable output each')
    assert.deepEqual(readdirSync(outbox.clean), ['journal'], 'no temporary file left')
    await until('the idle call', () => idle === 1, 5_000)
  } finally {
    await pipeline.stop()
    outbox.close()
    rmSync(root, { recursive: true, force: true })
  }
})

test('an outbox that cannot be written pauses the pipeline instead of crashing it, and reported objects are recorded once it can', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kura-outbox-full-'))
  const outbox = Outbox.open(join(root, 'spool'))
  outbox.recover()
  const pipeline = new Pipeline(outbox, { policy: BASIC_POLICY, secret: generateSecret(), collection: 'test' }, { pollMs: 100 })
  // The first row written (in the transaction that records the object's outcome) fails as a full disk would.
  const add = outbox.add.bind(outbox)
  let failures = 0
  outbox.add = (o) => {
    if (failures++ === 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
    add(o)
  }
  try {
    const inst = smallStudies(1, 1, 1)[0]!
    pipeline.start()
    writeFileSync(outbox.incomingPath('one'), inst.bytes)
    pipeline.received({ id: 'one', source: 'dimse', sourceRef: 'CT1', bytes: inst.bytes.length, sha256: sha(inst.bytes) })
    // The pause lasts until the next pass (here at once: the failure was a single one); its event stays.
    await until('the object queued', () => outbox.get('one')?.state === 'queued')
    assert.ok(outbox.lastEvents(20).some((e) => /could not write to the spool: database or disk is full/.test(e.message)), JSON.stringify(outbox.lastEvents(20)))
    assert.ok(failures >= 2, 'the row was added after the failure')
    assert.equal(outbox.get('one')!.source_ref, 'CT1', 'the reported row, not one adopted from the file')
    assert.equal(pipeline.counters.paused, null)
  } finally {
    await pipeline.stop()
    outbox.close()
    rmSync(root, { recursive: true, force: true })
  }
})
