/**
 * @module Receive one object's bytes: small objects in memory, large ones spilled to a temp file.
 *
 * Thousands of small CT instances a second must not each pay for a temp file, while a 2 GB
 * multi-frame object must never sit in memory: past SPILL_BYTES the bytes go to disk.
 */
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { once } from 'node:events'
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { BufferSource, FileSource, newId, type ByteSource } from '@kura/core'

export const SPILL_BYTES = 16 * 1024 * 1024

export interface ReceivedObject {
  sha256: string
  size: number
  /** In memory for small objects; otherwise `path` holds the bytes. */
  buffer?: Uint8Array
  path?: string
  open(): Promise<ByteSource>
  /** Removes the temp file, if any. Safe to call twice. */
  discard(): Promise<void>
}

/** A whole object already in a local file whose SHA-256 the caller has checked; it is moved, not copied. */
export interface LocalFile {
  path: string
  sha256: string
  size: number
}

/** Bytes in memory whose SHA-256 the caller computed itself (a bundle entry checked against its name): not hashed again. */
export interface HashedBytes {
  bytes: Uint8Array
  sha256: string
}

export async function receive(source: Readable | Uint8Array | LocalFile | HashedBytes, tmpDir: string): Promise<ReceivedObject> {
  if (source instanceof Uint8Array) return inMemory(source, createHash('sha256').update(source).digest('hex'))
  if ('bytes' in source && source.bytes instanceof Uint8Array) return inMemory(source.bytes, source.sha256)
  if ('path' in source && typeof source.path === 'string' && 'sha256' in source) {
    const { path, sha256, size } = source
    return { sha256, size, path, open: () => FileSource.open(path), discard: () => rm(path, { force: true }) }
  }
  const hash = createHash('sha256')
  const chunks: Buffer[] = []
  let size = 0
  let file: ReturnType<typeof createWriteStream> | undefined
  let path: string | undefined
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk)
      size += chunk.length
      if (!file) {
        chunks.push(chunk)
        if (size <= SPILL_BYTES) continue
        path = join(tmpDir, `receive-${newId()}`)
        file = createWriteStream(path)
        for (const c of chunks.splice(0)) if (!file.write(c)) await once(file, 'drain')
      } else if (!file.write(chunk)) {
        await once(file, 'drain')
      }
    }
    if (file) {
      file.end()
      await once(file, 'finish')
    }
  } catch (e) {
    file?.destroy()
    if (path) await rm(path, { force: true })
    throw e
  }
  const sha256 = hash.digest('hex')
  if (!path) return inMemory(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), sha256)
  const p = path
  return {
    sha256,
    size,
    path: p,
    open: () => FileSource.open(p),
    discard: () => rm(p, { force: true }),
  }
}

function inMemory(buffer: Uint8Array, sha256: string): ReceivedObject {
  return {
    sha256,
    size: buffer.byteLength,
    buffer,
    open: async () => new BufferSource(buffer),
    discard: async () => {},
  }
}
