import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { Outbox } from './outbox.ts'
import { RecordOutbox, type RecordOutput } from './records.ts'
import { OUTBOX_SCHEMA_VERSION } from './record-schema.ts'

const spool = () => mkdtempSync(join(tmpdir(), 'kura-outbox-rec-'))

test('a spool written before records existed opens: old rows become DICOM and still travel; records are kept apart', () => {
  const dir = spool()
  try {
    // The pre-records schema, as an older gateway left it, with one queued DICOM object.
    mkdirSync(join(dir, 'clean'), { recursive: true })
    const old = new Database(join(dir, 'outbox.sqlite'))
    old.exec(`CREATE TABLE objects (id TEXT PRIMARY KEY, source TEXT NOT NULL, source_ref TEXT, state TEXT NOT NULL, input_bytes INTEGER NOT NULL,
      input_sha256 TEXT, output_sha256 TEXT, output_bytes INTEGER, study_uid TEXT, series_uid TEXT, sop_uid TEXT, received_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0, last_error TEXT, outcome TEXT)`)
    old.prepare('INSERT INTO objects (id, source, state, input_bytes, output_sha256, output_bytes, series_uid, study_uid, received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run('old', 'dimse', 'queued', 3, 'aa', 3, '1.2.1', '1.2', 1, 1)
    old.close()
    writeFileSync(join(dir, 'clean', 'aa.dcm'), 'abc')

    const ob = Outbox.open(dir)
    try {
      assert.equal(ob.get('old')!.kind, 'dicom')
      assert.equal(ob.db.pragma('user_version', { simple: true }), OUTBOX_SCHEMA_VERSION)
      const rec = new RecordOutbox(ob)
      const [inputId] = rec.addInputs([{ source: 'ssmix2:/t', ref: 'a/b', format: 'ssmix2', raw: 'MSH|...' }])
      const input = rec.pendingInputs(10)[0]!
      assert.equal(input.id, inputId)
      rec.settle([{ input, outputs: [{ kind: 'clean', key: 'k1', body: '{"a":1}', recordKind: 'patient', studyUid: null }] }])
      const rep = ob.recover()
      assert.equal(rep.lost, 0, 'a queued record has no clean file and is not "lost"')
      // DICOM claims never pick up records, and the record claim never picks up DICOM.
      const dicom = ob.claim({ bundleBytes: 1e6, largeObjectBytes: 1e6 })
      assert.deepEqual(dicom.map((r) => r.id), ['old'])
      const recs = rec.claim(10, 1e6)
      assert.equal(recs.length, 1)
      assert.equal(recs[0]!.body, '{"a":1}')
      assert.equal(ob.pending().length, 0, 'the DICOM pipeline sees no record rows')
    } finally {
      ob.close()
    }
    // Reopening does not migrate again.
    const again = Outbox.open(dir)
    assert.equal(again.get('old')!.kind, 'dicom')
    again.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('record inputs → queued and held records → claimed in batches → confirmed per record; held ones keep raw and reasons', () => {
  const dir = spool()
  let now = 1000
  const ob = Outbox.open(dir, { now: () => now })
  try {
    const rec = new RecordOutbox(ob, () => now)
    rec.addInputs([
      { source: 's', ref: 'f1', format: 'ssmix2', raw: 'one' },
      { source: 's', ref: 'f2', format: 'ssmix2', raw: 'two' },
    ], { taken: [{ path: '/t/f1', size: 3, mtimeMs: 5, sha256: 'x' }, { path: '/t/f2', size: 3, mtimeMs: 5, sha256: 'y' }] })
    assert.equal(rec.wasTaken('/t/f1', 3, 5), true)
    assert.equal(rec.wasTaken('/t/f1', 4, 5), false, 'a changed file is new')
    const [i1, i2] = rec.pendingInputs(10)
    const clean = (key: string): RecordOutput => ({ kind: 'clean', key, body: `{"k":"${key}"}`, recordKind: 'endoscopy', studyUid: '1.2.3' })
    const n = rec.settle([
      { input: i1!, outputs: [clean('k1'), clean('k2')] },
      { input: i2!, outputs: [{ kind: 'held', recordKind: 'pathology', reasons: [{ path: 'SPM-8', message: 'specimen source site (SPM-8) is missing' }], summary: 'invalid record: SPM-8: missing' }, clean('k1')] },
    ])
    assert.deepEqual(n, { queued: 2, held: 1, duplicates: 1 }, 'the same record key is queued once')
    assert.equal(rec.pendingInputs(10).length, 0, 'inputs go in the same transaction')
    assert.deepEqual(rec.counts(), { inputs: 0, states: { queued: 2, quarantined: 1 } })
    const held = rec.held()
    assert.equal(held.length, 1)
    assert.equal(held[0]!.ref, 'f2')
    assert.deepEqual(held[0]!.reasons, [{ path: 'SPM-8', message: 'specimen source site (SPM-8) is missing' }])
    assert.equal(Buffer.from(ob.db.prepare('SELECT raw FROM records WHERE id = ?').pluck().get(held[0]!.id) as Buffer).toString(), 'two', 'the raw input stays on site with the reasons')

    const batch = rec.claim(1, 1e6)
    assert.equal(batch.length, 1, 'at most `max` per batch')
    const rest = rec.claim(10, 1e6)
    assert.equal(rest.length, 1)
    assert.deepEqual(rec.claim(10, 1e6), [], 'claimed records are not claimed twice')
    rec.confirm([batch[0]!.id], 'stored')
    ob.retry([rest[0]!.id], 'hub down', now + 5000)
    assert.deepEqual(rec.claim(10, 1e6), [], 'not due yet')
    now += 6000
    const retried = rec.claim(10, 1e6)
    assert.equal(retried.length, 1)
    assert.equal(retried[0]!.attempts, 2)
    ob.fail([retried[0]!.id], 'rejected', 'the hub rejected the record: subject.id missing')
    assert.equal(ob.get(batch[0]!.id)!.state, 'confirmed')
    assert.equal(ob.db.prepare('SELECT body FROM records WHERE id = ?').pluck().get(batch[0]!.id), null, 'a confirmed record keeps its row, not its body')
    const failed = rec.held().find((h) => h.state === 'failed')!
    assert.match(failed.reasons[0]!.message, /rejected/)
    assert.throws(() => rec.confirm([batch[0]!.id], 'stored'), /not being uploaded/)
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('vendor export progress is kept with each batch and forgotten when the file is finished', () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    const rec = new RecordOutbox(ob)
    assert.equal(rec.exportProgress('/x/a.csv', 100, 7), 0)
    rec.addInputs([{ source: 'e', ref: 'a.csv:2', format: 'record', raw: '{}' }], { progress: { path: '/x/a.csv', size: 100, mtimeMs: 7, rowsDone: 1 } })
    assert.equal(rec.exportProgress('/x/a.csv', 100, 7), 1)
    assert.equal(rec.exportProgress('/x/a.csv', 120, 8), 0, 'a changed file starts again')
    rec.finishExport({ path: '/x/a.csv', size: 100, mtimeMs: 7, sha256: 'z' })
    assert.equal(rec.exportProgress('/x/a.csv', 100, 7), 0)
    assert.equal(rec.wasTaken('/x/a.csv', 100, 7), true)
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('batches larger than one multi-row statement: every input, taken file and record is written, in order', () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    const rec = new RecordOutbox(ob)
    const n = 257
    const ids = rec.addInputs(Array.from({ length: n }, (_, i) => ({ source: 's', ref: `f${i}`, format: 'ssmix2', raw: `raw ${i}` })),
      { taken: Array.from({ length: n }, (_, i) => ({ path: `/t/f${i}`, size: 5, mtimeMs: i, sha256: String(i) })) })
    assert.equal(ids.length, n)
    assert.equal(rec.wasTaken('/t/f256', 5, 256), true)
    assert.equal(ob.db.prepare('SELECT object_id FROM taken WHERE path = ?').pluck().get('/t/f130'), ids[130], 'each file names its own input')
    // The batch after one being staged: skip it.
    assert.deepEqual(rec.pendingInputs(10, 250).map((i) => i.ref), ['f250', 'f251', 'f252', 'f253', 'f254', 'f255', 'f256'])
    const inputs = rec.pendingInputs(n)
    assert.deepEqual(inputs.map((i) => i.ref), Array.from({ length: n }, (_, i) => `f${i}`))
    const out = rec.settle(inputs.map((input, i) => ({ input, outputs: [
      { kind: 'clean', key: `k${i % 200}`, body: `{"i":${i}}`, recordKind: 'patient', studyUid: null },
      { kind: 'held', recordKind: null, reasons: [{ path: 'x', message: `m${i}` }], summary: `s${i}` },
    ] as RecordOutput[] })))
    assert.deepEqual(out, { queued: 200, held: n, duplicates: n - 200 })
    assert.deepEqual(rec.counts(), { inputs: 0, states: { queued: 200, quarantined: n } })
    assert.equal(ob.db.prepare("SELECT r.body FROM objects o JOIN records r ON r.id = o.id WHERE r.key = 'k199'").pluck().get(), '{"i":199}')
    assert.equal(Buffer.from(ob.db.prepare("SELECT r.raw FROM objects o JOIN records r ON r.id = o.id WHERE o.last_error = 's256'").pluck().get() as Buffer).toString(), 'raw 256')
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('keys already queued are found however many a batch holds (looked up a statement of keys at a time)', () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    const rec = new RecordOutbox(ob)
    const settle = (keys: string[]) => {
      rec.addInputs(keys.map((k) => ({ source: 's', ref: k, format: 'ssmix2', raw: k })))
      return rec.settle(rec.pendingInputs(keys.length).map((input) => ({ input, outputs: [{ kind: 'clean', key: input.ref, body: '{}', recordKind: 'patient', studyUid: null }] as RecordOutput[] })))
    }
    const first = Array.from({ length: 250 }, (_, i) => `k${i}`)
    assert.deepEqual(settle(first), { queued: 250, held: 0, duplicates: 0 })
    // The same 250 keys read again (spread over three lookups), and five new ones among them.
    assert.deepEqual(settle([...first.slice(0, 120), 'n0', 'n1', 'n2', ...first.slice(120), 'n3', 'n4']), { queued: 5, held: 0, duplicates: 250 })
    assert.deepEqual(rec.counts().states, { queued: 255 })
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('an outbox of schema version 1 (record keys in objects.output_sha256) opens: its keys move to records, still found and claimed', () => {
  const dir = spool()
  try {
    // Version 1's layout: no key columns in records, the key in the objects row.
    const v1 = Outbox.open(dir)
    v1.db.exec('DROP INDEX records_key_prefix; ALTER TABLE records DROP COLUMN key_prefix; ALTER TABLE records DROP COLUMN key')
    v1.db.prepare('INSERT INTO objects (id, kind, source, state, input_bytes, output_sha256, output_bytes, received_at, updated_at) VALUES (?, \'record\', ?, ?, ?, ?, ?, ?, ?)').run('r1', 's', 'queued', 3, 'a'.repeat(64), 7, 1, 1)
    v1.db.prepare('INSERT INTO records (id, record_kind, body) VALUES (?, ?, ?)').run('r1', 'patient', '{"a":1}')
    v1.db.pragma('user_version = 1')
    v1.close()

    const ob = Outbox.open(dir)
    try {
      assert.equal(ob.db.pragma('user_version', { simple: true }), OUTBOX_SCHEMA_VERSION)
      const rec = new RecordOutbox(ob)
      const input = { id: null, source: 's', ref: 'f', format: 'ssmix2', raw: Buffer.from('x'), receivedAt: 2 }
      const clean = (key: string): RecordOutput => ({ kind: 'clean', key, body: '{}', recordKind: 'patient', studyUid: null })
      assert.deepEqual(rec.settle([{ input, outputs: [clean('a'.repeat(64)), clean('b'.repeat(64))] }]), { queued: 1, held: 0, duplicates: 1 }, 'the old row\'s key is known')
      const claimed = rec.claim(10, 1e6)
      assert.deepEqual(claimed.map((r) => [r.id, r.output_sha256, r.body]).sort(), [['r1', 'a'.repeat(64), '{"a":1}'], [claimed.find((r) => r.id !== 'r1')!.id, 'b'.repeat(64), '{}']].sort())
    } finally {
      ob.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('fresh inputs (read from files, not spooled): their files are taken with their records, in the same transaction; keys sharing a prefix stay apart', () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    const rec = new RecordOutbox(ob)
    const file = (i: number) => ({ path: `/t/f${i}`, size: 1, mtimeMs: i, sha256: `s${i}` })
    const fresh = (i: number) => ({ id: null, source: 's', ref: `f${i}`, format: 'ssmix2', raw: Buffer.from('x'), receivedAt: 1, file: file(i) })
    // Two keys with the same first 52 bits: one index entry value, two records.
    const k1 = `${'c'.repeat(13)}${'1'.repeat(51)}`
    const k2 = `${'c'.repeat(13)}${'2'.repeat(51)}`
    const clean = (key: string): RecordOutput => ({ kind: 'clean', key, body: `"${key}"`, recordKind: 'patient', studyUid: null })
    assert.deepEqual(rec.settle([{ input: fresh(1), outputs: [clean(k1)] }, { input: fresh(2), outputs: [] }]), { queued: 1, held: 0, duplicates: 0 })
    assert.equal(rec.wasTaken('/t/f1', 1, 1), true)
    assert.equal(rec.wasTaken('/t/f2', 1, 2), true, 'a message holding no record is taken too')
    assert.deepEqual(rec.settle([{ input: fresh(3), outputs: [clean(k2), clean(k1)] }]), { queued: 1, held: 0, duplicates: 1 })
    assert.deepEqual(rec.claim(10, 1e6).map((r) => r.output_sha256).sort(), [k1, k2])
    assert.equal(rec.inputCount(), 0, 'nothing was spooled')
    // A settle that fails takes nothing.
    ob.db.exec('CREATE TRIGGER no_records BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, \'disk full\'); END')
    assert.throws(() => rec.settle([{ input: fresh(4), outputs: [clean('d'.repeat(64))] }]), /disk full/)
    assert.equal(rec.wasTaken('/t/f4', 1, 4), false)
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a body given as UTF-8 bytes (a worker\'s reply) is stored as the same text: claimed as a string, output_bytes its length', () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    const rec = new RecordOutbox(ob)
    const text = '{"note":"内視鏡所見：異常なし","n":1}'
    const bytes = new Uint8Array(Buffer.from(`xx${text}yy`)).subarray(2, 2 + Buffer.byteLength(text))
    const input = { id: null, source: 's', ref: 'f', format: 'ssmix2', raw: new Uint8Array(3), receivedAt: 1, file: { path: '/t/f', size: 3, mtimeMs: 1, sha256: 'x' } }
    rec.settle([{ input, outputs: [{ kind: 'clean', key: 'kb', body: bytes, recordKind: 'endoscopy', studyUid: null }, { kind: 'clean', key: 'kt', body: text, recordKind: 'endoscopy', studyUid: null }] }])
    const got = rec.claim(10, 1e6)
    assert.deepEqual(got.map((r) => r.body), [text, text])
    assert.deepEqual(got.map((r) => r.output_bytes), [Buffer.byteLength(text), Buffer.byteLength(text)])
    assert.deepEqual(ob.db.prepare('SELECT DISTINCT typeof(body) FROM records').pluck().all(), ['text'])
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
