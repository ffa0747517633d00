/** The spool's journal: what survives a reopen, what a torn end leaves, when segments go. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { closeSync, openSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { silentLogger } from '@kura/core'
import { Journal, type JournalMeta } from './journal.ts'

let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'kura-journal-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

/** Segment files (a folder also holds a spare being preallocated). */
const segments = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.seg')).sort()

/** Resolves once `check` holds (polled), or fails after `ms`. */
async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) assert.fail(`timed out waiting: ${what}`)
}

function object(i: number, bytes = 1000): { meta: JournalMeta; data: Buffer } {
  const data = Buffer.alloc(bytes, i & 0xff)
  data.writeUInt32LE(i, 0)
  const meta: JournalMeta = { id: `obj${i}`, source: 'dimse', callingAE: 'PACS', bytes, sha256: createHash('sha256').update(data).digest('hex'), receivedAt: new Date(1e12 + i).toISOString() }
  return { meta, data }
}

test('records appended and flushed are listed, whole, after a reopen, released or not (the outbox rows decide)', async () => {
  const dir = join(root, 'a')
  const j = Journal.open(dir)
  const objs = Array.from({ length: 20 }, (_, i) => object(i))
  for (const o of objs) j.append(o.meta, o.data)
  await Promise.all([j.flush(), j.flush()])
  j.release('obj3')
  j.close()
  const again = Journal.open(dir)
  assert.deepEqual(again.records().map((m) => m.id), objs.map((o) => o.meta.id), 'a release is not written down: after a crash, recovery releases again')
  for (const o of objs) {
    assert.ok(again.verify(o.meta.id))
    assert.deepEqual(Buffer.from(again.read(o.meta.id)), o.data)
    assert.deepEqual(again.records().find((m) => m.id === o.meta.id), o.meta)
  }
  again.close()
})

test('a torn last record (a write a crash cut short) is ignored, the records before it kept; the next run writes a new segment', async () => {
  const dir = join(root, 'b')
  const j = Journal.open(dir)
  for (let i = 0; i < 5; i++) j.append(object(i).meta, object(i).data)
  await j.flush()
  j.close()
  const [seg] = segments(dir)
  truncateSync(join(dir, seg!), statSync(join(dir, seg!)).size - 10)
  const again = Journal.open(dir)
  assert.deepEqual(again.records().map((m) => m.id), ['obj0', 'obj1', 'obj2', 'obj3'])
  again.append(object(9).meta, object(9).data)
  await again.flush()
  assert.equal(segments(dir).length, 2, 'never appends after a torn record')
  again.close()
  assert.deepEqual(Journal.open(dir).records().map((m) => m.id), ['obj0', 'obj1', 'obj2', 'obj3', 'obj9'])
})

test('a record whose data does not match its hash fails verify', async () => {
  const dir = join(root, 'c')
  const j = Journal.open(dir)
  const o = object(1)
  j.append({ ...o.meta, sha256: '0'.repeat(64) }, o.data)
  await j.flush()
  assert.equal(j.verify('obj1'), false)
  assert.equal(j.verify('missing'), false)
  j.close()
})

test('a segment fills, a new one starts; a segment no longer written goes once all its records are released', async () => {
  const dir = join(root, 'd')
  const j = Journal.open(dir)
  const big = Array.from({ length: 70 }, (_, i) => object(i, 1 << 20))
  for (const o of big) j.append(o.meta, o.data)
  await j.flush()
  assert.equal(segments(dir).length, 2, '70 MiB make two 64 MiB segments')
  // The first records were pushed out of memory: read back from disk, still whole.
  assert.deepEqual(Buffer.from(j.read('obj0')), big[0]!.data)
  for (const o of big.slice(0, 60)) j.release(o.meta.id)
  assert.equal(segments(dir).length, 2, 'records of the first segment remain')
  for (const o of big.slice(60)) j.release(o.meta.id)
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(segments(dir).length, 1, 'the full segment is deleted; the one being written stays')
  j.close()
  await until(() => readdirSync(dir).length === 0, 'closing removes a segment with nothing left in it, and the spare')
})

test('a flush that fails forgets the records it covered (none is vouched for), and later records go to a new segment', async () => {
  const dir = join(root, 'e')
  const j = Journal.open(dir)
  const first = object(1)
  j.append(first.meta, first.data)
  await j.flush()
  const lost = object(2)
  j.append(lost.meta, lost.data)
  // An fdatasync that fails, as a failing disk's would: the segment's descriptor is closed under the journal.
  const internals = j as unknown as { current: { fd: number; name: string } }
  const seg = internals.current
  closeSync(seg.fd)
  await assert.rejects(j.flush(), /EBADF/)
  assert.equal(j.has('obj2'), false, 'the record the failed flush covered is forgotten')
  assert.equal(j.has('obj1'), true, 'a record an earlier flush covered stays')
  // Still open to the journal when it holds obj1 (the first record went into it, no spare was ready then): a
  // descriptor for close() to close.
  if (seg.fd >= 0) seg.fd = openSync(join(dir, seg.name), 'r')
  const next = object(3)
  j.append(next.meta, next.data)
  await j.flush()
  assert.notEqual(internals.current.name, seg.name, 'nothing more is written into the segment whose flush failed')
  j.close()
})

test('once a preallocated spare is ready, records go into it; they survive a reopen, and its zero-filled end is not taken for a torn record', async () => {
  const dir = join(root, 'f')
  const warnings: string[] = []
  const log = { ...silentLogger, warn: (_o: unknown, msg?: string) => { warnings.push(String(msg)) } }
  const j = Journal.open(dir, { log })
  j.append(object(0).meta, object(0).data)
  await j.flush()
  const [plain] = segments(dir)
  assert.equal(statSync(join(dir, plain!)).size, object(0).data.length + 16 + Buffer.byteLength(JSON.stringify(object(0).meta)), 'the first segment is plain: no spare was ready')
  await until(() => (j as unknown as { spare: { ready: boolean } | null }).spare?.ready === true, 'the spare is ready')
  for (let i = 1; i <= 10; i++) j.append(object(i).meta, object(i).data)
  await j.flush()
  const segs = segments(dir)
  assert.equal(segs.length, 2, 'the spare became the next segment')
  assert.equal(statSync(join(dir, segs[1]!)).size, 4 << 20, 'a preallocated segment has its whole length from the start')
  assert.equal(readdirSync(dir).some((n) => n.endsWith('.spare')), false, 'the next spare waits until this one is half full')
  j.close()
  const again = Journal.open(dir, { log })
  assert.deepEqual(again.records().map((m) => m.id), Array.from({ length: 11 }, (_, i) => `obj${i}`))
  for (let i = 0; i <= 10; i++) assert.deepEqual(Buffer.from(again.read(`obj${i}`)), object(i).data)
  assert.deepEqual(warnings, [], 'the zeros after the last record are the preallocated end, not a torn record')
  again.close()
  // A record torn inside the preallocated segment (its data cut short by a crash, zeros after it).
  const last = join(dir, segs[1]!)
  const fd = openSync(last, 'r+')
  const tornAt = statSync(last).size - (4 << 20) + (object(0).data.length + 16 + Buffer.byteLength(JSON.stringify(object(10).meta))) * 10 - 100
  writeSync(fd, Buffer.alloc(100), 0, 100, tornAt)
  closeSync(fd)
  const torn = Journal.open(dir, { log })
  assert.deepEqual(torn.records().map((m) => m.id), Array.from({ length: 10 }, (_, i) => `obj${i}`), 'the record whose data does not match its hash is dropped')
  assert.equal(warnings.length, 1, 'and reported')
  torn.close()
})

test('open removes spares a previous run left', async () => {
  const dir = join(root, 'g')
  const j = Journal.open(dir)
  j.append(object(0).meta, object(0).data)
  await j.flush()
  await until(() => readdirSync(dir).some((n) => n.endsWith('.spare')), 'a spare exists')
  // A crash: no close.
  const again = Journal.open(dir)
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.spare')), [])
  assert.deepEqual(again.records().map((m) => m.id), ['obj0'])
  again.close()
  j.close()
})

test('a released segment is recycled as the spare (no zeros written); a reopen reads only its new records, quietly, never its old ones', async () => {
  const dir = join(root, 'h')
  const warnings: string[] = []
  const log = { ...silentLogger, warn: (_o: unknown, msg?: string) => { warnings.push(String(msg)) } }
  const j = Journal.open(dir, { log })
  const internals = j as unknown as { spare: { ready: boolean } | null }
  const a = object(1, 4.5 * 2 ** 20)
  j.append(a.meta, a.data)
  await until(() => internals.spare?.ready === true, 'the first spare is ready')
  const b = object(2)
  j.append(b.meta, b.data)
  await j.flush()
  const [first] = segments(dir)
  const inode = statSync(join(dir, first!)).ino
  const oldSalt = Number.parseInt(/-([0-9a-f]{8})\.seg$/.exec(first!)![1]!, 16)
  j.release(a.meta.id)
  assert.deepEqual(segments(dir).length, 1, 'the released segment left its name')
  const spare = readdirSync(dir).find((n) => n.endsWith('.spare'))
  assert.equal(statSync(join(dir, spare!)).ino, inode, 'and became the spare, its blocks kept')
  // Too large for the 4 MiB segment being written: it goes into the recycled one, over the old record.
  const d = object(3, Math.floor(4.2 * 2 ** 20))
  j.append(d.meta, d.data)
  await j.flush()
  const segs = segments(dir)
  assert.equal(segs.length, 2)
  assert.equal(statSync(join(dir, segs[1]!)).ino, inode, 'the recycled segment took the next name')
  assert.notEqual(segs[1]!.split('-')[1], first!.split('-')[1], 'with a new salt')
  // A crash (no close): the new records only, no warning, although the old record's bytes follow them.
  const again = Journal.open(dir, { log })
  assert.deepEqual(again.records().map((m) => m.id), ['obj2', 'obj3'])
  assert.deepEqual(Buffer.from(again.read('obj3')), d.data)
  assert.deepEqual(warnings, [])
  again.close()
  // Were an old record's header right after the last new one (the zero header after it not yet written), its salt
  // is the old one: the scan ends there, quietly.
  const path = join(dir, segs[1]!)
  const end = 16 + Buffer.byteLength(JSON.stringify(d.meta)) + d.data.length
  const stale = Buffer.alloc(16)
  stale.writeUInt32LE(0x3252_4a4b, 0)
  stale.writeUInt32LE(oldSalt, 4)
  stale.writeUInt32LE(100, 8)
  stale.writeUInt32LE(100, 12)
  let fd = openSync(path, 'r+')
  writeSync(fd, stale, 0, 16, end)
  closeSync(fd)
  const quiet = Journal.open(dir, { log })
  assert.deepEqual(quiet.records().map((m) => m.id), ['obj2', 'obj3'])
  assert.deepEqual(warnings, [], 'a record of the old salt is the end of the new records')
  quiet.close()
  // One of the segment's own salt that does not hold together is a torn record: reported.
  stale.writeUInt32LE(Number.parseInt(segs[1]!.split('-')[1]!, 16), 4)
  fd = openSync(path, 'r+')
  writeSync(fd, stale, 0, 16, end)
  closeSync(fd)
  const torn = Journal.open(dir, { log })
  assert.deepEqual(torn.records().map((m) => m.id), ['obj2', 'obj3'])
  assert.equal(warnings.length, 1)
  torn.close()
  j.close()
})

test("an earlier version's segment (KJR1 records, no salt) is still read", async () => {
  const dir = join(root, 'i')
  const j = Journal.open(dir)
  j.close()
  const o = object(7)
  const meta = Buffer.from(JSON.stringify(o.meta))
  const head = Buffer.alloc(12)
  head.writeUInt32LE(0x3152_4a4b, 0)
  head.writeUInt32LE(meta.length, 4)
  head.writeUInt32LE(o.data.length, 8)
  writeFileSync(join(dir, '00000001.seg'), Buffer.concat([head, meta, o.data]))
  const again = Journal.open(dir)
  assert.deepEqual(again.records(), [o.meta])
  assert.ok(again.verify('obj7'))
  assert.deepEqual(Buffer.from(again.read('obj7')), o.data)
  again.append(object(8).meta, object(8).data)
  await again.flush()
  assert.match(segments(dir)[1]!, /^00000002-[0-9a-f]{8}\.seg$/, 'new segments are of this version, numbered after it')
  again.close()
  assert.deepEqual(readFileSync(join(dir, '00000001.seg')).subarray(0, 4).toString(), 'KJR1')
})

test('long run with recycling: after a crash at any flush, exactly the records flushed and not yet recycled come back, whole', async () => {
  const dir = join(root, 'j')
  const warnings: string[] = []
  const log = { ...silentLogger, warn: (_o: unknown, msg?: string) => { warnings.push(String(msg)) } }
  const j = Journal.open(dir, { log })
  // A fixed pseudo-random sequence: sizes from 1 KB to 1.5 MB, released a few flushes after they were appended.
  let seed = 7
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32)
  const live = new Map<string, Buffer>()
  const order: string[] = []
  let crashes = 0
  const inodes = new Map<string, number>()
  for (let i = 0; i < 400; i++) {
    const size = 1024 + Math.floor(rand() * rand() * 1.5 * 2 ** 20)
    const o = object(i, size)
    j.append(o.meta, o.data)
    live.set(o.meta.id, o.data)
    order.push(o.meta.id)
    if (rand() < 0.3) await j.flush()
    while (order.length > 12) { const id = order.shift()!; j.release(id); live.delete(id) }
    // A segment may be unlinked (off the event loop) between the listing and its stat.
    for (const n of segments(dir)) { try { inodes.set(n, statSync(join(dir, n)).ino) } catch { /* gone */ } }
    if (i % 50 === 49) {
      await j.flush()
      // A crash now: a copy of the folder as it stands, opened by a new journal.
      const copy = join(root, `j-crash-${crashes++}`)
      // Retried when a segment is unlinked mid-copy (unlinks run off the event loop).
      for (let attempt = 0; ; attempt++) {
        try { await cp(dir, copy, { recursive: true }); break } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 5) throw e
          await rm(copy, { recursive: true, force: true })
        }
      }
      const again = Journal.open(copy, { log })
      const ids = new Set(again.records().map((m) => m.id))
      for (const [id, data] of live) {
        assert.ok(ids.has(id), `${id}, flushed and not released, is back after crash ${crashes}`)
        assert.ok(again.verify(id))
        assert.deepEqual(Buffer.from(again.read(id)), data)
      }
      // Released records may come back too (a release is not written down), but only whole and as appended.
      for (const id of ids) if (!live.has(id)) assert.ok(again.verify(id), `${id} came back whole`)
      again.close()
      await rm(copy, { recursive: true, force: true })
    }
  }
  const names = [...inodes.keys()]
  assert.ok(new Set(inodes.values()).size < names.length - 2, `segments were recycled (${names.length} names, ${new Set(inodes.values()).size} files)`)
  assert.deepEqual(warnings, [], 'no crash left a torn record: every flush had completed')
  j.close()
})
