/**
 * @module ObjectStore contract: one behavioural suite every store implementation must pass.
 *
 * filesystem.test.ts and s3.test.ts run it, so the two stores stay interchangeable: the hub
 * never needs to know which one it got.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import v8 from 'node:v8'
import vm from 'node:vm'
import { isKuraError, sha256Hex } from '@kura/core'
import type { ArchiveObjectStore } from './archive-object-store.ts'

export interface ContractSubject {
  store: ArchiveObjectStore
  /** Partial writes left behind by the store (temp files, spool files): must be none after any put. */
  leftovers(): Promise<string[]>
  cleanup(): Promise<void>
}

const MB = 1024 * 1024

/** A forced GC, so memory samples show what a store retains rather than garbage not yet collected. */
function gcNow(): () => void {
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as () => void
}

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of r) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** A stream that yields `total` bytes in fresh chunks (so a store holding them shows up in memory), optionally failing part-way. */
function generated(total: number, opts: { chunk?: number; failAt?: number; onChunk?: () => void } = {}): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256')
  const chunk = opts.chunk ?? 64 * 1024
  let hex: string | undefined
  async function* gen() {
    let sent = 0
    let seed = 7
    while (sent < total) {
      if (opts.failAt !== undefined && sent >= opts.failAt) throw new Error('client went away')
      const n = Math.min(chunk, total - sent)
      const b = bytes(n, seed++)
      hash.update(b)
      sent += n
      opts.onChunk?.()
      yield b
    }
  }
  return { stream: Readable.from(gen()), sha256: () => (hex ??= hash.digest('hex')) }
}

function assertCode(code: string) {
  return (e: unknown) => {
    assert.ok(isKuraError(e), `expected KuraError ${code}, got ${String(e)}`)
    assert.equal(e.code, code)
    return true
  }
}

export function objectStoreContract(name: string, open: () => Promise<ContractSubject>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let s: ContractSubject
    let store: ArchiveObjectStore
    let scratch: string
    before(async () => {
      s = await open()
      store = s.store
      scratch = await mkdtemp(join(tmpdir(), 'kura-contract-'))
    })
    after(async () => {
      await store.close()
      await s.cleanup()
      await rm(scratch, { recursive: true, force: true })
    })

    async function assertAbsent(key: string) {
      assert.equal(await store.head(key), null)
      assert.deepEqual(await collect(store.list(key)), [])
      assert.deepEqual(await s.leftovers(), [])
    }

    it('puts a buffer and reads it back whole, by range and by random access', async () => {
      const data = bytes(100_000)
      const info = await store.put('a/b/buffer.bin', data)
      assert.deepEqual(info, { key: 'a/b/buffer.bin', size: data.length, sha256: sha256Hex(data) })
      assert.ok((await readAll(await store.get('a/b/buffer.bin'))).equals(data))
      assert.ok((await readAll(await store.get('a/b/buffer.bin', { offset: 10, length: 1000 }))).equals(data.subarray(10, 1010)))
      // A range running past the end is clipped; one starting at the end is empty.
      assert.ok((await readAll(await store.get('a/b/buffer.bin', { offset: 99_990, length: 100 }))).equals(data.subarray(99_990)))
      assert.equal((await readAll(await store.get('a/b/buffer.bin', { offset: 100_000, length: 10 }))).length, 0)
      assert.equal((await readAll(await store.get('a/b/buffer.bin', { offset: 5, length: 0 }))).length, 0)
      await assert.rejects(store.get('a/b/buffer.bin', { offset: 100_001, length: 1 }), assertCode('BYTE_RANGE_OUT_OF_BOUNDS'))

      const src = await store.source('a/b/buffer.bin')
      try {
        assert.equal(src.size, data.length)
        assert.ok(Buffer.from(await src.read(0, 132)).equals(data.subarray(0, 132)))
        assert.ok(Buffer.from(await src.read(50_000, 64)).equals(data.subarray(50_000, 50_064)))
        assert.ok(Buffer.from(await src.read(99_999, 10)).equals(data.subarray(99_999)))
        assert.equal((await src.read(100_000, 10)).length, 0)
        assert.ok(Buffer.from(await src.read(1000, 80_000)).equals(data.subarray(1000, 81_000)))
        await assert.rejects(src.read(100_001, 1), assertCode('BYTE_RANGE_OUT_OF_BOUNDS'))
      } finally {
        await src.close()
      }
    })

    it('puts a stream and reports size and checksum', async () => {
      const data = bytes(300_000, 3)
      const info = await store.put('stream/one', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { sha256: sha256Hex(data) })
      assert.deepEqual(info, { key: 'stream/one', size: data.length, sha256: sha256Hex(data) })
      const head = await store.head('stream/one')
      assert.equal(head?.size, data.length)
      if (head?.sha256 !== undefined) assert.equal(head.sha256, sha256Hex(data))
      assert.ok((await readAll(await store.get('stream/one'))).equals(data))
    })

    it('stores an empty object', async () => {
      const info = await store.put('empty/stream', Readable.from([]))
      assert.equal(info.size, 0)
      assert.equal(info.sha256, sha256Hex(new Uint8Array(0)))
      assert.equal((await readAll(await store.get('empty/stream'))).length, 0)
      assert.equal((await store.head('empty/stream'))?.size, 0)
    })

    it('putting the same content under the same key again succeeds', async () => {
      const data = bytes(5000, 9)
      await store.put('same/key', data)
      const again = await store.put('same/key', Readable.from([data]), { sha256: sha256Hex(data) })
      assert.equal(again.sha256, sha256Hex(data))
      assert.ok((await readAll(await store.get('same/key'))).equals(data))
    })

    it('reports missing objects: head → null, get/source → NOT_FOUND, delete → no error', async () => {
      assert.equal(await store.head('missing/x'), null)
      await assert.rejects(store.get('missing/x'), assertCode('NOT_FOUND'))
      await assert.rejects(store.get('missing/x', { offset: 0, length: 5 }), assertCode('NOT_FOUND'))
      await assert.rejects(store.source('missing/x'), assertCode('NOT_FOUND'))
      await store.delete('missing/x')
      // A prefix of stored keys is not an object either.
      await store.put('prefix/only/obj', bytes(3))
      assert.equal(await store.head('prefix/only'), null)
      await assert.rejects(store.get('prefix/only'), assertCode('NOT_FOUND'))
      await assert.rejects(store.source('prefix/only'), assertCode('NOT_FOUND'))
    })

    it('deletes', async () => {
      await store.put('del/me', bytes(10))
      await store.delete('del/me')
      await assertAbsent('del/me')
    })

    it('lists by prefix, across directories and pages', async () => {
      const keys = ['list/a/1', 'list/a/2', 'list/ab/3', 'list/b/4', 'list/b/c/5', 'lister/6']
      for (const k of keys) await store.put(k, bytes(k.length))
      const all = (await collect(store.list('list/'))).map((o) => o.key).sort()
      assert.deepEqual(all, keys.slice(0, 5))
      const a = (await collect(store.list('list/a'))).map((o) => o.key).sort()
      assert.deepEqual(a, ['list/a/1', 'list/a/2', 'list/ab/3'])
      const b = await collect(store.list('list/b/'))
      assert.deepEqual(b.map((o) => [o.key, o.size]).sort(), [['list/b/4', 8], ['list/b/c/5', 10]])
      assert.deepEqual(await collect(store.list('nothing/here/')), [])
      const everything = (await collect(store.list(''))).map((o) => o.key)
      for (const k of keys) assert.ok(everything.includes(k), `${k} listed under ""`)
    })

    it('rejects keys that could escape the store or clash with its internals', async () => {
      for (const bad of ['', '/abs', '../up', 'a/../b', 'a//b', 'trailing/', '.tmp/x', 'back\\slash']) {
        await assert.rejects(store.put(bad, bytes(1)), assertCode('STORAGE_INVALID_KEY'), bad)
      }
      await assert.rejects(store.get('../x'), assertCode('STORAGE_INVALID_KEY'))
    })

    it('checksum mismatch stores nothing (buffer, small stream, large stream)', async () => {
      const wrong = '0'.repeat(64)
      await assert.rejects(store.put('bad/buffer', bytes(1000), { sha256: wrong }), assertCode('STORAGE_CHECKSUM_MISMATCH'))
      await assertAbsent('bad/buffer')
      await assert.rejects(store.put('bad/stream', generated(200_000).stream, { sha256: wrong }), assertCode('STORAGE_CHECKSUM_MISMATCH'))
      await assertAbsent('bad/stream')
      await assert.rejects(store.put('bad/large', generated(12 * MB).stream, { sha256: wrong }), assertCode('STORAGE_CHECKSUM_MISMATCH'))
      await assertAbsent('bad/large')
      // A mismatch does not clobber an existing object either.
      const good = bytes(2000, 5)
      await store.put('bad/existing', good)
      await assert.rejects(store.put('bad/existing', bytes(2000, 6), { sha256: sha256Hex(good) }), assertCode('STORAGE_CHECKSUM_MISMATCH'))
      assert.ok((await readAll(await store.get('bad/existing'))).equals(good))
    })

    it('an aborted stream stores nothing (small, large with and without a known checksum)', async () => {
      await assert.rejects(store.put('abort/small', generated(1 * MB, { failAt: 512 * 1024 }).stream), /client went away/)
      await assertAbsent('abort/small')
      await assert.rejects(store.put('abort/large', generated(20 * MB, { failAt: 12 * MB }).stream), /client went away/)
      await assertAbsent('abort/large')
      await assert.rejects(store.put('abort/large-sha', generated(20 * MB, { failAt: 12 * MB }).stream, { sha256: 'f'.repeat(64) }), /client went away/)
      await assertAbsent('abort/large-sha')
    })

    for (const withSha of [false, true]) {
      it(`streams a 50 MB object without buffering it${withSha ? ' (checksum known)' : ''}`, async () => {
        const total = 50 * MB
        // Precompute the checksum with a dry run of the same deterministic generator.
        let expected: string | undefined
        if (withSha) {
          const dry = generated(total)
          for await (const _ of dry.stream);
          expected = dry.sha256()
        }
        const gc = gcNow()
        gc()
        const base = process.memoryUsage().arrayBuffers
        let peak = 0
        let chunks = 0
        const sample = () => {
          if (++chunks % 16 === 0) gc()
          peak = Math.max(peak, process.memoryUsage().arrayBuffers - base)
        }
        const g = generated(total, { onChunk: sample })
        const info = await store.put(`large/${withSha}`, g.stream, expected ? { sha256: expected } : {})
        assert.equal(info.size, total)
        assert.equal(info.sha256, g.sha256())
        // Holding the object would take ≥ 50 MB; a streaming store holds a few parts at most
        // (the limit leaves room for an in-process test server's socket buffers on a busy host).
        assert.ok(peak < 45 * MB, `peak retained buffer memory ${(peak / MB).toFixed(1)} MB for a 50 MB put`)
        const back = createHash('sha256')
        let n = 0
        for await (const c of await store.get(`large/${withSha}`)) {
          back.update(c as Buffer)
          n += (c as Buffer).length
        }
        assert.equal(n, total)
        assert.equal(back.digest('hex'), info.sha256)
        assert.deepEqual(await s.leftovers(), [])
        await store.delete(`large/${withSha}`)
      })
    }

    it('putFile copies by default and moves when asked; a mismatch leaves the file alone', async () => {
      const data = bytes(70_000, 11)
      const path = join(scratch, 'upload.dcm')
      await writeFile(path, data)
      const copied = await store.putFile('file/copied', path, { sha256: sha256Hex(data) })
      assert.deepEqual(copied, { key: 'file/copied', size: data.length, sha256: sha256Hex(data) })
      assert.ok((await readFile(path)).equals(data), 'source kept after a copy')
      await assert.rejects(store.putFile('file/bad', path, { sha256: '1'.repeat(64), move: true }), assertCode('STORAGE_CHECKSUM_MISMATCH'))
      assert.ok((await readFile(path)).equals(data), 'source kept after a failed move')
      await assertAbsent('file/bad')
      const moved = await store.putFile('file/moved', path, { move: true })
      assert.equal(moved.sha256, sha256Hex(data))
      await assert.rejects(stat(path), /ENOENT/)
      assert.ok((await readAll(await store.get('file/moved'))).equals(data))
    })

    it('putFile uploads a file larger than one part', async () => {
      const data = bytes(11 * MB, 13)
      const path = join(scratch, 'big.bin')
      await writeFile(path, data)
      const info = await store.putFile('file/big', path)
      assert.equal(info.sha256, sha256Hex(data))
      assert.ok((await readAll(await store.get('file/big', { offset: 6 * MB, length: 100 }))).equals(data.subarray(6 * MB, 6 * MB + 100)))
      await store.delete('file/big')
    })

    it('concurrent puts of the same content to the same key both succeed', async () => {
      const data = bytes(400_000, 17)
      const results = await Promise.all([1, 2, 3].map(() => store.put('race/same', Readable.from([data]))))
      for (const r of results) assert.equal(r.sha256, sha256Hex(data))
      assert.ok((await readAll(await store.get('race/same'))).equals(data))
      assert.deepEqual(await s.leftovers(), [])
    })
  })
}
