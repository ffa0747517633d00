/**
 * @module The part file of an upload (`<dataDir>/uploads/<id>.part`): append one PATCH body
 * while hashing it, make it durable, or cut it back.
 *
 * The body is written as it arrives (one socket read at a time, awaited, so a slow disk slows
 * the sender instead of filling memory). Before writing, the file is cut to the durable offset:
 * bytes a crashed process wrote past its last recorded offset are never kept.
 */
import { open, truncate, rm } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { createHash, type Hash } from 'node:crypto'
import type { Readable } from 'node:stream'

export interface AppendOutcome {
  /** Bytes written past `offset` (all of them, or up to where the body broke). */
  written: number
  /** Base64 SHA-256 of what was written. */
  chunkSha256: string
  /** The running whole-upload hash advanced by this body (null when none was handed in). */
  whole: Hash | null
  /** Set when the body did not arrive whole (client gone, or more bytes than allowed). */
  broken?: 'aborted' | 'past-end'
}

export async function appendBody(path: string, offset: number, body: Readable, maxBytes: number, running: Hash | null): Promise<AppendOutcome> {
  const fh = await open(path, 'r+')
  const chunkHash = createHash('sha256')
  // Hash.copy(): the running state survives untouched if this body is later refused.
  const whole = running ? running.copy() : null
  let written = 0
  let broken: AppendOutcome['broken']
  try {
    await fh.truncate(offset)
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (written + chunk.length > maxBytes) {
          broken = 'past-end'
          body.destroy()
          break
        }
        chunkHash.update(chunk)
        whole?.update(chunk)
        let done = 0
        while (done < chunk.length) done += (await fh.write(chunk, done, chunk.length - done, offset + written + done)).bytesWritten
        written += chunk.length
      }
    } catch {
      broken = 'aborted'
    }
    // Durable before the offset is recorded: the catalog never counts a byte a power cut could lose.
    if (!broken) await fh.datasync()
  } finally {
    await fh.close()
  }
  return { written, chunkSha256: chunkHash.digest('base64'), whole, broken }
}

/** Cuts the part file back to `offset` (a refused or broken body) and makes that durable. */
export async function cutBack(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    await fh.truncate(offset)
    await fh.datasync()
  } finally {
    await fh.close()
  }
}

/** Makes the first `length` bytes durable (the kept prefix of a broken body sent without a checksum). */
export async function syncPrefix(path: string, length: number): Promise<void> {
  await truncate(path, length)
  const fh = await open(path, 'r+')
  try {
    await fh.datasync()
  } finally {
    await fh.close()
  }
}

export async function createPartFile(path: string): Promise<void> {
  const fh = await open(path, 'wx')
  await fh.close()
}

export async function removePartFile(path: string): Promise<void> {
  await rm(path, { force: true })
}

/** Hex SHA-256 of the whole file (the fallback when no running hash covers every PATCH). */
export async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer)
  return h.digest('hex')
}
