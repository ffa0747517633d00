/** @module Filesystem object store: the shared contract plus filesystem-only behaviour. */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FilesystemObjectStore } from './filesystem.ts'
import { objectStoreContract } from './object-store.contract.ts'

objectStoreContract('filesystem', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'kura-fs-store-'))
  const store = await FilesystemObjectStore.open(dataDir)
  return {
    store,
    leftovers: () => readdir(join(dataDir, 'objects', '.tmp')),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  }
})

it('filesystem store keeps objects as plain files under <dataDir>/objects and sweeps stale temp files on open', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'kura-fs-store-'))
  try {
    const store = await FilesystemObjectStore.open(dataDir)
    await store.put('sha256/ab/cd/abcd', new Uint8Array([1, 2, 3]))
    assert.equal((await stat(join(dataDir, 'objects', 'sha256', 'ab', 'cd', 'abcd'))).size, 3)
    const stale = join(dataDir, 'objects', '.tmp', 'stale.part')
    const fresh = join(dataDir, 'objects', '.tmp', 'fresh.part')
    await writeFile(stale, 'x')
    await writeFile(fresh, 'x')
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000)
    await utimes(stale, old, old)
    await FilesystemObjectStore.open(dataDir)
    assert.deepEqual(await readdir(join(dataDir, 'objects', '.tmp')), ['fresh.part'])
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
})
