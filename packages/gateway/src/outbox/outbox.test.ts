import { test } from 'node:test'
import { createHash } from 'node:crypto'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Outbox } from './outbox.ts'

function spool(): string {
  return mkdtempSync(join(tmpdir(), 'kura-outbox-'))
}

const deid = (sha: string, series = 'S1') => ({ sha256: sha, bytes: 10, studyUid: '1.2.3', seriesUid: series, sopUid: `1.2.3.${sha}` })

test('an object moves received → deidentified → queued → uploading → confirmed, and illegal moves are refused', async () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    ob.add({ id: 'a', source: 'dimse', bytes: 100 })
    assert.equal(ob.get('a')!.state, 'received')
    assert.throws(() => ob.enqueue('a'), /GATEWAY_OUTBOX_BAD_TRANSITION|cannot move to "queued" from "received"/)
    writeFileSync(ob.cleanPath('aa'), 'x')
    ob.markDeidentified('a', deid('aa'))
    ob.enqueue('a')
    const claimed = ob.claim({ bundleBytes: 1e6, largeObjectBytes: 1e6 })
    assert.deepEqual(claimed.map((r) => r.id), ['a'])
    assert.equal(ob.get('a')!.state, 'uploading')
    assert.equal(ob.get('a')!.attempts, 1)
    assert.deepEqual(ob.claim({ bundleBytes: 1e6, largeObjectBytes: 1e6 }), [], 'a claimed object is not claimed twice')
    ob.add({ id: 'b', source: 'dimse', bytes: 100 })
    assert.throws(() => ob.confirm(['a', 'b'], 'stored'), /Object b cannot move to "confirmed" from "received"/, 'a bundle with a row not being uploaded is refused')
    assert.equal(ob.get('a')!.state, 'uploading', '... as a whole: no row of it moved')
    ob.confirm(['a', 'a'], 'stored')
    assert.equal(ob.get('a')!.state, 'confirmed')
    assert.equal(ob.get('a')!.outcome, 'stored')
    await ob.cleanRemoval('aa')
    assert.equal(existsSync(ob.cleanPath('aa')), false, 'the clean file goes once the hub has it; the row stays')
    assert.throws(() => ob.markQuarantined('a', 'x'), /cannot move/)
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('claim bundles the small objects of one series, sends a large one alone, and retries respect next_attempt_at', () => {
  const dir = spool()
  let now = 1000
  const ob = Outbox.open(dir, { now: () => now })
  try {
    const put = (id: string, sha: string, series: string, bytes: number) => {
      ob.add({ id, source: 'dimse', bytes })
      ob.markDeidentified(id, { ...deid(sha, series), bytes })
      ob.enqueue(id)
      now++
    }
    put('a1', 's1', 'A', 10)
    put('b1', 's2', 'B', 10)
    put('a2', 's3', 'A', 10)
    put('a3', 's1', 'A', 10) // same content as a1: travels with it, once
    put('big', 's4', 'A', 5000)
    const first = ob.claim({ bundleBytes: 1000, largeObjectBytes: 1000 })
    assert.deepEqual(first.map((r) => r.id).sort(), ['a1', 'a2', 'a3'])
    const second = ob.claim({ bundleBytes: 1000, largeObjectBytes: 1000 })
    assert.deepEqual(second.map((r) => r.id), ['b1'])
    const third = ob.claim({ bundleBytes: 1000, largeObjectBytes: 1000 })
    assert.deepEqual(third.map((r) => r.id), ['big'])
    ob.retry(['big'], 'network down', now + 5000)
    assert.equal(ob.get('big')!.state, 'retry')
    assert.equal(ob.get('big')!.last_error, 'network down')
    assert.deepEqual(ob.claim({ bundleBytes: 1000, largeObjectBytes: 1000 }), [], 'not due yet')
    now += 5000
    assert.deepEqual(ob.claim({ bundleBytes: 1000, largeObjectBytes: 1000 }).map((r) => r.id), ['big'])
    assert.equal(ob.get('big')!.attempts, 2)
    ob.fail(['big'], 'conflict', 'another object with this SOP Instance UID')
    assert.equal(ob.get('big')!.state, 'failed')
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('claim lingers for the rest of a series, unless a bundle of it is ready (readyObjects / readyBytes)', () => {
  const dir = spool()
  let now = 1000
  const ob = Outbox.open(dir, { now: () => now })
  try {
    const put = (id: string, series: string, bytes = 10) => {
      ob.add({ id, source: 'dimse', bytes })
      ob.markDeidentified(id, { ...deid(id, series), bytes })
      ob.enqueue(id)
    }
    put('a1', 'A'); put('a2', 'A'); put('b1', 'B'); put('b2', 'B', 500)
    const opts = { bundleBytes: 1e6, largeObjectBytes: 1e6, lingerMs: 1000, readyObjects: 3, readyBytes: 400 }
    assert.deepEqual(ob.claim(opts).map((r) => r.id), ['b1', 'b2'], 'series B holds 510 bytes ≥ readyBytes: sent now')
    assert.deepEqual(ob.claim(opts), [], 'series A (2 objects, 20 bytes) lingers')
    put('a3', 'A')
    assert.deepEqual(ob.claim(opts).map((r) => r.id), ['a1', 'a2', 'a3'], 'three objects ≥ readyObjects: sent now')
    put('a4', 'A')
    assert.deepEqual(ob.claim({ ...opts, readyObjects: undefined }), [], 'without readyObjects only the linger counts')
    now += 1000
    assert.deepEqual(ob.claim(opts).map((r) => r.id), ['a4'])
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('recovery after a crash: .part files removed, uploading rows requeued, spooled files without rows adopted, finished inputs removed', () => {
  const dir = spool()
  let ob = Outbox.open(dir)
  // A run that dies mid-way: one object mid-upload, one de-identified but its input not yet removed, one received.
  ob.add({ id: 'up', source: 'dimse', bytes: 5 })
  writeFileSync(ob.cleanPath('c1'), 'clean')
  ob.markDeidentified('up', deid('c1'))
  ob.enqueue('up')
  assert.equal(ob.claim({ bundleBytes: 100, largeObjectBytes: 100 }).length, 1)
  writeFileSync(ob.incomingPath('done'), 'src')
  ob.add({ id: 'done', source: 'dimse', bytes: 3 })
  writeFileSync(ob.cleanPath('c2'), 'clean2')
  ob.markDeidentified('done', deid('c2'))
  writeFileSync(ob.incomingPath('recv'), 'src')
  ob.add({ id: 'recv', source: 'dimse', bytes: 3 })
  // Not closed: the process "died". Leftovers a crash leaves:
  writeFileSync(join(dir, 'incoming', 'x.part'), 'partial')
  writeFileSync(join(dir, 'clean', 'y.tmp'), 'partial')
  writeFileSync(ob.incomingPath('norow'), 'src')
  writeFileSync(join(dir, 'incoming', 'norow.json'), JSON.stringify({ source: 'dimse', callingAE: 'CT1', bytes: 3, sha256: 'ab', receivedAt: new Date().toISOString() }))
  writeFileSync(join(dir, 'incoming', 'orphan.json'), '{}')
  writeFileSync(ob.cleanPath('stale'), 'no row needs this')

  ob = Outbox.open(dir)
  try {
    const rep = ob.recover()
    assert.equal(rep.partsRemoved, 2)
    assert.equal(rep.requeued, 2, 'uploading and deidentified go back to queued')
    assert.equal(rep.adopted, 1)
    assert.equal(ob.get('up')!.state, 'queued')
    assert.equal(ob.get('done')!.state, 'queued')
    assert.equal(ob.get('recv')!.state, 'received')
    assert.equal(ob.get('norow')!.state, 'received')
    assert.equal(ob.get('norow')!.source_ref, 'CT1')
    assert.deepEqual(readdirSync(join(dir, 'incoming')).sort(), ['norow.dcm', 'norow.json', 'recv.dcm'])
    assert.deepEqual(readdirSync(join(dir, 'clean')).sort(), ['c1.dcm', 'c2.dcm', 'journal'])
    // Recovery is idempotent.
    const again = ob.recover()
    assert.deepEqual(again, { partsRemoved: 0, requeued: 0, adopted: 0, leftoversRemoved: 0, lost: 0 })
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('recovery with the journals: an acknowledged record without a row is adopted, a torn one dropped, finished ones released', async () => {
  const dir = spool()
  let ob = Outbox.open(dir)
  const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex')
  const received = (id: string, data: Buffer, sha = hex(data)) => ob.journal.append({ id, source: 'dimse', callingAE: 'CT1', bytes: data.length, sha256: sha, receivedAt: new Date().toISOString() }, data)
  const clean = (data: Buffer) => { ob.cleanJournal.append({ id: hex(data), bytes: data.length, sha256: hex(data) }, data); return hex(data) }
  // Acknowledged to its sender, but the crash came before its row was added.
  received('norow', Buffer.from('object a'))
  // Received, row added, not yet de-identified.
  received('recv', Buffer.from('object b'))
  ob.add({ id: 'recv', source: 'dimse', bytes: 8 })
  // De-identified and queued: its input is done, its clean output waits for the hub.
  received('done', Buffer.from('object c'))
  ob.add({ id: 'done', source: 'dimse', bytes: 8 })
  const c1 = clean(Buffer.from('clean c'))
  ob.markDeidentified('done', deid(c1))
  ob.enqueue('done')
  // Published, but the crash came before its batch was recorded: no row needs it.
  const stale = clean(Buffer.from('clean d'))
  // Data that does not match its hash: a write the crash tore, never acknowledged.
  received('torn', Buffer.from('object e'), '0'.repeat(64))
  await Promise.all([ob.journal.flush(), ob.cleanJournal.flush()])
  // Not closed: the process "died".

  ob = Outbox.open(dir)
  try {
    const rep = ob.recover()
    assert.equal(rep.adopted, 1)
    assert.equal(ob.get('norow')!.state, 'received')
    assert.equal(ob.get('norow')!.source_ref, 'CT1')
    assert.equal(ob.get('torn'), undefined, 'a torn record is not adopted')
    assert.equal(ob.journal.has('torn'), false)
    assert.deepEqual(Buffer.from(ob.input('recv') as Uint8Array), Buffer.from('object b'), 'a received row reads its input from the journal')
    assert.equal(ob.journal.has('done'), false, 'a finished input is released')
    assert.equal(ob.get('done')!.state, 'queued', 'its clean output is in the clean journal: not lost')
    assert.deepEqual(Buffer.from(ob.cleanData(c1)!), Buffer.from('clean c'))
    assert.equal(ob.cleanData(stale), null, 'a clean output no row needs is released')
    assert.deepEqual(ob.recover(), { partsRemoved: 0, requeued: 0, adopted: 0, leftoversRemoved: 0, lost: 0 }, 'recovery is idempotent')
  } finally {
    ob.close()
  }
  // After a clean restart the same holds, read from disk.
  ob = Outbox.open(dir)
  try {
    ob.recover()
    assert.deepEqual(ob.journal.records().map((m) => m.id).sort(), ['norow', 'recv'])
    assert.deepEqual(ob.cleanJournal.records().map((m) => m.id), [c1])
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a row whose files vanished is marked lost with a reason instead of waiting forever', () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    ob.add({ id: 'gone', source: 'dimse', bytes: 1 })
    ob.add({ id: 'q', source: 'dimse', bytes: 1 })
    mkdirSync(ob.clean, { recursive: true })
    ob.markDeidentified('q', deid('nofile'))
    ob.enqueue('q')
    const rep = ob.recover()
    assert.equal(rep.lost, 2)
    assert.equal(ob.get('gone')!.state, 'failed')
    assert.match(ob.get('gone')!.last_error!, /missing/)
    assert.equal(ob.get('q')!.outcome, 'lost')
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('an object moved to quarantine just before a crash is recorded as quarantined, not lost', () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    ob.add({ id: 'q1', source: 'dimse', bytes: 1 })
    mkdirSync(join(ob.quarantine, 'q1'), { recursive: true })
    writeFileSync(join(ob.quarantine, 'q1', 'reason.json'), '{}')
    const rep = ob.recover()
    assert.equal(rep.lost, 0)
    assert.equal(ob.get('q1')!.state, 'quarantined')
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('taken folder files are remembered across restarts', () => {
  const dir = spool()
  let ob = Outbox.open(dir)
  ob.addTaken({ id: 'f1', source: 'folder:/x', bytes: 4 }, { path: '/x/a.dcm', size: 4, mtimeMs: 1234.5, sha256: 'abcd' })
  ob.close()
  ob = Outbox.open(dir)
  try {
    assert.equal(ob.wasTaken('/x/a.dcm', 4, 1234.5), true)
    assert.equal(ob.wasTaken('/x/a.dcm', 5, 1234.5), false, 'a changed file is a new file')
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a spooled object without a sidecar (the DICOM receiver writes none) is adopted with its size and SHA-256 measured from the file', () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    const bytes = Buffer.from('a whole received object')
    writeFileSync(ob.incomingPath('bare'), bytes)
    assert.equal(ob.recover().adopted, 1)
    const row = ob.db.prepare('SELECT input_bytes, input_sha256, source FROM objects WHERE id = ?').get('bare') as { input_bytes: number; input_sha256: string; source: string }
    assert.equal(row.input_bytes, bytes.length)
    assert.equal(row.input_sha256, createHash('sha256').update(bytes).digest('hex'))
    assert.equal(row.source, 'dimse')
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a clean file held by the pipeline (published, not yet recorded) survives the confirm of another object with the same content', async () => {
  const dir = spool()
  const ob = Outbox.open(dir)
  try {
    ob.addMany([{ id: 'a', source: 'dimse', bytes: 3 }, { id: 'b', source: 'dimse', bytes: 3 }])
    assert.equal(ob.pending().length, 2, 'addMany records every object')
    writeFileSync(ob.cleanPath('same'), 'x')
    ob.markDeidentified('a', deid('same'))
    ob.enqueue('a')
    assert.equal(ob.claim({ bundleBytes: 1e6, largeObjectBytes: 1e6 }).length, 1)
    // 'b' de-identified to the same content and its file is published, but its row is not recorded yet.
    ob.holdClean('same')
    ob.confirm(['a'], 'stored')
    await ob.cleanRemoval('same')
    assert.ok(existsSync(ob.cleanPath('same')), 'a held file is not removed')
    ob.markDeidentified('b', deid('same'))
    ob.enqueue('b')
    ob.releaseClean('same')
    assert.equal(ob.claim({ bundleBytes: 1e6, largeObjectBytes: 1e6 })[0]!.id, 'b')
    ob.confirm(['b'], 'duplicate')
    await ob.cleanRemoval('same')
    assert.equal(existsSync(ob.cleanPath('same')), false, 'released, it goes with the last object that needs it')
  } finally {
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
