/** @module S3 object store against a real S3 API (s3rver): the shared contract plus S3-only behaviour. */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isKuraError } from '@kura/core'
import { startTestS3 } from '../testing/s3-server.ts'
import { S3ObjectStore, S3RangeSource } from './s3.ts'
import { objectStoreContract } from './object-store.contract.ts'

objectStoreContract('s3', async () => {
  const s3 = await startTestS3()
  const spoolDir = await mkdtemp(join(tmpdir(), 'kura-s3-spool-'))
  // Smallest part size S3 allows, and tiny list pages, so tests cross part and page boundaries.
  const store = await S3ObjectStore.open(s3.config, { spoolDir, partSize: 5 * 1024 * 1024, listPageSize: 2 })
  return {
    store,
    leftovers: () => readdir(spoolDir),
    async cleanup() {
      await s3.close()
      await rm(spoolDir, { recursive: true, force: true })
    },
  }
})

it('S3 source reads a header in small steps with few GETs', async () => {
  const s3 = await startTestS3()
  const spoolDir = await mkdtemp(join(tmpdir(), 'kura-s3-spool-'))
  const store = await S3ObjectStore.open(s3.config, { spoolDir, readBlockSize: 64 * 1024 })
  try {
    const data = Buffer.alloc(200_000, 7)
    await store.put('hdr/obj', data)
    const src = (await store.source('hdr/obj')) as S3RangeSource
    for (let off = 0; off < 60_000; off += 64) await src.read(off, 64)
    assert.equal(src.requests, 1)
    await src.read(70_000, 64)
    assert.equal(src.requests, 2)
    await src.close()
  } finally {
    await store.close()
    await s3.close()
    await rm(spoolDir, { recursive: true, force: true })
  }
})

it('S3 store creates a missing bucket, or refuses when told not to', async () => {
  const s3 = await startTestS3()
  const spoolDir = await mkdtemp(join(tmpdir(), 'kura-s3-spool-'))
  try {
    const config = { ...s3.config, bucket: 'kura-new-bucket' }
    await assert.rejects(S3ObjectStore.open(config, { spoolDir, createBucket: false }), (e) => isKuraError(e) && e.code === 'STORAGE_BUCKET_MISSING')
    const store = await S3ObjectStore.open(config, { spoolDir })
    await store.put('x', new Uint8Array([1]))
    assert.equal((await store.head('x'))?.size, 1)
    await store.close()
  } finally {
    await s3.close()
    await rm(spoolDir, { recursive: true, force: true })
  }
})

it('S3 store reports an unreachable endpoint clearly', async () => {
  const spoolDir = await mkdtemp(join(tmpdir(), 'kura-s3-spool-'))
  try {
    const config = { endpoint: 'http://127.0.0.1:1', bucket: 'b', region: 'us-east-1', accessKeyId: 'x', secretAccessKey: 'y', forcePathStyle: true }
    await assert.rejects(S3ObjectStore.open(config, { spoolDir }), (e) => isKuraError(e) && e.code === 'STORAGE_S3_UNAVAILABLE')
  } finally {
    await rm(spoolDir, { recursive: true, force: true })
  }
})
