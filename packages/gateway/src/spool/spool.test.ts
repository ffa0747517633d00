/** The spool's commit protocol: what a crash or a failed write leaves, and what a commit guarantees. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { isKuraError } from '@kura/core'
import { Spool, type SpoolEntryInput } from './index.ts'

let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'kura-spool-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

const info: SpoolEntryInput = {
  source: 'dimse', callingAE: 'PACS', calledAE: 'KURA', peer: { address: '127.0.0.1', port: 4242 },
  sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '2.25.1', transferSyntaxUid: '1.2.840.10008.1.2.1',
}

test('commit writes <id>.dcm and returns size and SHA-256 of the whole file; nothing else remains (no sidecar)', async () => {
  const spool = await Spool.open(join(root, 'a'))
  const w = spool.begin(info, Buffer.from('HEAD'))
  const chunks = [Buffer.alloc(3 << 20, 1), Buffer.from('tail')]
  for (const c of chunks) if (!w.write(c)) await new Promise<void>((r) => w.onDrain(r))
  const entry = await w.commit()
  const file = await readFile(entry.path)
  assert.deepEqual(file, Buffer.concat([Buffer.from('HEAD'), ...chunks]))
  assert.equal(entry.bytes, file.length)
  assert.equal(entry.sha256, createHash('sha256').update(file).digest('hex'))
  await spool.close()
  assert.deepEqual(await readdir(spool.incoming), [`${entry.id}.dcm`])
})

test('a small object is written at commit in one piece; a large one streams to its .part first', async () => {
  const spool = await Spool.open(join(root, 'g'))
  const small = spool.begin(info, Buffer.from('HEAD'))
  small.write(Buffer.alloc(64 * 1024, 2))
  assert.deepEqual(await readdir(spool.incoming), [], 'nothing on disk before commit')
  const large = spool.begin(info, Buffer.from('HEAD'))
  large.write(Buffer.alloc(2 << 20, 3))
  await new Promise<void>((r) => large.onDrain(r))
  assert.ok((await readdir(spool.incoming)).includes(`${large.id}.part`))
  assert.ok((await stat(join(spool.incoming, `${large.id}.part`))).size > 0, 'the large object is streaming to its .part')
  const [a, b] = await Promise.all([small.commit(), large.commit()])
  assert.equal((await readFile(a.path)).length, 4 + 64 * 1024)
  assert.equal((await readFile(b.path)).length, 4 + (2 << 20))
  await spool.close()
  assert.deepEqual((await readdir(spool.incoming)).sort(), [`${a.id}.dcm`, `${b.id}.dcm`].sort())
})

test('commits that arrive together share folder fsyncs and all land', async () => {
  const spool = await Spool.open(join(root, 'h'))
  const writes = Array.from({ length: 50 }, (_, i) => { const w = spool.begin(info, Buffer.from(`object ${i}`)); w.write(Buffer.alloc(1000, i)); return w })
  const entries = await Promise.all(writes.map((w) => w.commit()))
  assert.equal(new Set(entries.map((e) => e.id)).size, 50)
  for (const [i, e] of entries.entries()) assert.deepEqual(await readFile(e.path), Buffer.concat([Buffer.from(`object ${i}`), Buffer.alloc(1000, i)]))
  await spool.close()
})

test('files are created ahead for the next objects: empty .ready files, used by later commits, removed at close and at open', async () => {
  const dir = join(root, 'i')
  const spool = await Spool.open(dir)
  const first = await spool.begin(info, Buffer.from('first')).commit()
  // The first commit took a file and started creating some ahead.
  await new Promise((r) => setTimeout(r, 50))
  const ahead = (await readdir(spool.incoming)).filter((n) => n.endsWith('.ready'))
  assert.ok(ahead.length > 0, 'empty files wait for the next objects')
  for (const n of ahead) assert.equal((await stat(join(spool.incoming, n))).size, 0)
  const second = await spool.begin(info, Buffer.from('second')).commit()
  assert.ok(ahead.includes(`${second.id}.ready`), 'the next object is written into one of them')
  assert.deepEqual(await readFile(second.path), Buffer.from('second'))
  // A crash leaves them behind: opening the spool again removes them, and keeps the objects.
  const again = await Spool.open(dir)
  assert.deepEqual((await readdir(again.incoming)).sort(), [`${first.id}.dcm`, `${second.id}.dcm`].sort())
  await spool.close()
  await again.close()
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
  const kept = await first.begin(info, Buffer.from('x')).commit()
  await writeFile(join(first.incoming, 'crashed.part'), 'half an object')
  await writeFile(join(first.incoming, 'orphan.json'), '{}')
  const again = await Spool.open(dir)
  assert.deepEqual(await readdir(again.incoming), [`${kept.id}.dcm`])
})

test('a write that fails (folder gone) makes commit throw SPOOL_WRITE_FAILED and leaves nothing', async () => {
  const spool = await Spool.open(join(root, 'd'))
  await rm(spool.incoming, { recursive: true })
  const w = spool.begin(info, Buffer.from('HEAD'))
  w.write(Buffer.alloc(1000))
  await assert.rejects(w.commit(), (e) => isKuraError(e) && e.code === 'SPOOL_WRITE_FAILED')
})

test('checkSpace refuses below the free-space floor with SPOOL_LOW_DISK_SPACE', async () => {
  const low = await Spool.open(join(root, 'e'), { minFreeBytes: Number.MAX_SAFE_INTEGER })
  await assert.rejects(async () => low.checkSpace(), (e) => isKuraError(e) && e.code === 'SPOOL_LOW_DISK_SPACE')
  const ok = await Spool.open(join(root, 'f'), { minFreeBytes: 1 })
  await ok.checkSpace()
  assert.equal(ok.checkSpace(), undefined, 'a fresh reading is answered synchronously')
})
