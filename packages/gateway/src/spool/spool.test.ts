/** The spool's commit protocol: what a crash or a failed write leaves, and what a commit guarantees. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { isKuraError } from '@kura/core'
import { Journal, Spool, type SpoolEntryInput } from './index.ts'

let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'kura-spool-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

const info: SpoolEntryInput = {
  source: 'dimse', callingAE: 'PACS', calledAE: 'KURA', peer: { address: '127.0.0.1', port: 4242 },
  sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '2.25.1', transferSyntaxUid: '1.2.840.10008.1.2.1',
}

test('a large object commits to <id>.dcm with size and SHA-256 of the whole file; nothing else remains (no sidecar)', async () => {
  const spool = await Spool.open(join(root, 'a'))
  const w = spool.begin(info, Buffer.from('HEAD'))
  const chunks = [Buffer.alloc(3 << 20, 1), Buffer.from('tail')]
  for (const c of chunks) if (!w.write(c)) await new Promise<void>((r) => w.onDrain(r))
  const entry = await w.commit()
  const file = await readFile(entry.path!)
  assert.deepEqual(file, Buffer.concat([Buffer.from('HEAD'), ...chunks]))
  assert.equal(entry.bytes, file.length)
  assert.equal(entry.sha256, createHash('sha256').update(file).digest('hex'))
  await spool.close()
  assert.deepEqual(await readdir(spool.incoming), [`${entry.id}.dcm`])
  assert.deepEqual(await readdir(spool.journal.dir), [], 'nothing in the journal')
})

test('a small object goes to the journal at commit, with no file of its own; a large one streams to its .part first', async () => {
  const spool = await Spool.open(join(root, 'g'))
  const small = spool.begin(info, Buffer.from('HEAD'))
  small.write(Buffer.alloc(64 * 1024, 2))
  assert.deepEqual(await readdir(spool.journal.dir), [], 'nothing on disk before commit')
  const large = spool.begin(info, Buffer.from('HEAD'))
  large.write(Buffer.alloc(2 << 20, 3))
  await new Promise<void>((r) => large.onDrain(r))
  assert.ok((await readdir(spool.incoming)).includes(`${large.id}.part`))
  assert.ok((await stat(join(spool.incoming, `${large.id}.part`))).size > 0, 'the large object is streaming to its .part')
  const [a, b] = await Promise.all([small.commit(), large.commit()])
  assert.equal(a.path, undefined)
  assert.deepEqual(Buffer.from(spool.read(a)), Buffer.concat([Buffer.from('HEAD'), Buffer.alloc(64 * 1024, 2)]))
  assert.equal(a.sha256, createHash('sha256').update(spool.read(a)).digest('hex'))
  assert.equal((await readFile(b.path!)).length, 4 + (2 << 20))
  await spool.close()
  assert.deepEqual(await readdir(spool.incoming), [`${b.id}.dcm`])
  // What a restarted gateway finds: the small object's record, whole.
  const again = Journal.open(spool.journal.dir)
  assert.deepEqual(again.records().map((m) => m.id), [a.id])
  assert.ok(again.verify(a.id))
  again.close()
})

test('commits that arrive together share flushes and all land', async () => {
  const spool = await Spool.open(join(root, 'h'))
  const writes = Array.from({ length: 50 }, (_, i) => { const w = spool.begin(info, Buffer.from(`object ${i}`)); w.write(Buffer.alloc(1000, i)); return w })
  const entries = await Promise.all(writes.map((w) => w.commit()))
  assert.equal(new Set(entries.map((e) => e.id)).size, 50)
  for (const [i, e] of entries.entries()) assert.deepEqual(Buffer.from(spool.read(e)), Buffer.concat([Buffer.from(`object ${i}`), Buffer.alloc(1000, i)]))
  await spool.close()
  const again = Journal.open(spool.journal.dir)
  assert.equal(again.records().length, 50)
  for (const e of entries) assert.ok(again.verify(e.id), `${e.id} is whole after reopening`)
  again.close()
})

test('discard removes the partial file', async () => {
  const spool = await Spool.open(join(root, 'b'))
  const w = spool.begin(info, Buffer.from('HEAD'))
  w.write(Buffer.alloc(2 << 20))
  const part = `${w.id}.part`
  assert.ok((await readdir(spool.incoming)).includes(part))
  await w.discard()
  assert.ok(!(await readdir(spool.incoming)).includes(part))
  await spool.close()
  assert.deepEqual(await readdir(spool.incoming), [])
})

test('opening the spool removes .part files and sidecars without their .dcm, and keeps committed objects', async () => {
  const dir = join(root, 'c')
  const first = await Spool.open(dir)
  const w = first.begin(info, Buffer.from('x'))
  w.write(Buffer.alloc(2 << 20))
  const kept = await w.commit()
  await writeFile(join(first.incoming, 'crashed.part'), 'half an object')
  await writeFile(join(first.incoming, 'crashed.ready'), '')
  await writeFile(join(first.incoming, 'orphan.json'), '{}')
  const again = await Spool.open(dir)
  assert.deepEqual(await readdir(again.incoming), [`${kept.id}.dcm`])
  await first.close()
  await again.close()
})

test('a write that fails (folder gone) makes commit throw SPOOL_WRITE_FAILED and leaves nothing', async () => {
  const spool = await Spool.open(join(root, 'd'))
  await rm(spool.journal.dir, { recursive: true })
  await writeFile(spool.journal.dir, 'not a folder')
  const small = spool.begin(info, Buffer.from('HEAD'))
  small.write(Buffer.alloc(1000))
  await assert.rejects(small.commit(), (e) => isKuraError(e) && e.code === 'SPOOL_WRITE_FAILED')
  await rm(spool.incoming, { recursive: true })
  const large = spool.begin(info, Buffer.from('HEAD'))
  large.write(Buffer.alloc(2 << 20))
  await assert.rejects(large.commit(), (e) => isKuraError(e) && e.code === 'SPOOL_WRITE_FAILED')
  await spool.close()
})

test('checkSpace refuses below the free-space floor with SPOOL_LOW_DISK_SPACE', async () => {
  const low = await Spool.open(join(root, 'e'), { minFreeBytes: Number.MAX_SAFE_INTEGER })
  await assert.rejects(async () => low.checkSpace(), (e) => isKuraError(e) && e.code === 'SPOOL_LOW_DISK_SPACE')
  const ok = await Spool.open(join(root, 'f'), { minFreeBytes: 1 })
  await ok.checkSpace()
  assert.equal(ok.checkSpace(), undefined, 'a fresh reading is answered synchronously')
})
