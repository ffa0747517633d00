/**
 * @module startTestS3: a real S3 API (s3rver) on a random local port, for tests in any package.
 *
 * Each call gets its own server and temp directory, so tests running in parallel never see
 * each other's objects. The bucket "kura-test" exists from the start.
 */
import crypto from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { S3Config } from '@kura/core'

export interface TestS3 {
  config: S3Config
  close(): Promise<void>
}

export async function startTestS3(): Promise<TestS3> {
  shimDesForS3rver()
  // Loaded on first use, so tests that only need a catalog do not pay for an S3 server.
  const { default: S3rver } = await import('s3rver')
  const directory = await mkdtemp(join(tmpdir(), 'kura-s3rver-'))
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: 'kura-test' }] })
  let address: { port: number }
  try {
    address = await server.run()
  } catch (e) {
    await rm(directory, { recursive: true, force: true })
    throw e
  }
  return {
    config: {
      endpoint: `http://127.0.0.1:${address.port}`,
      bucket: 'kura-test',
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    },
    async close() {
      await server.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}

let shimmed = false

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node ≥ 17)
 * no longer offers, so every truncated listing fails with a 500. Real S3 is unaffected. In test
 * processes only, route 'des' to AES-128 with the 8-byte key and IV doubled: tokens are opaque
 * and s3rver both writes and reads them, so any reversible cipher will do.
 */
function shimDesForS3rver(): void {
  if (shimmed) return
  shimmed = true
  try {
    crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8))
    return
  } catch {
    // DES unavailable: install the shim below.
  }
  const widen = (b: crypto.CipherKey | crypto.BinaryLike | null) => Buffer.concat([Buffer.from(b as Buffer), Buffer.from(b as Buffer)])
  const createCipheriv = crypto.createCipheriv
  const createDecipheriv = crypto.createDecipheriv
  const c = crypto as { createCipheriv: unknown; createDecipheriv: unknown }
  c.createCipheriv = (alg: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, opts?: unknown) =>
    alg === 'des' ? createCipheriv('aes-128-cbc', widen(key), widen(iv)) : (createCipheriv as (...a: unknown[]) => unknown)(alg, key, iv, opts)
  c.createDecipheriv = (alg: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, opts?: unknown) =>
    alg === 'des' ? createDecipheriv('aes-128-cbc', widen(key), widen(iv)) : (createDecipheriv as (...a: unknown[]) => unknown)(alg, key, iv, opts)
}
