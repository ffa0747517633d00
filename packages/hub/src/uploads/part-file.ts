/**
 * @module The part file of an upload (`<dataDir>/uploads/<id>.part`): append one PATCH body
 * while hashing it, make it durable, or cut it back.
 *
 * The body is written as it arrives, in batches: socket reads are gathered and go out WRITE_BATCH
 * bytes at a time in one writev while the next batch gathers; if the disk is slower than the
 * network the body is paused, so a slow disk slows the sender instead of filling memory. (One
 * awaited write per 64 KiB socket read stalled the receive and cost as much as the hashing.)
 * The chunk's own hash is computed here as the bytes arrive; the whole-upload hash, when the
 * caller tracks it, on the WholeHasher's thread (each written batch goes there too). Before writing,
 * the file is cut to the durable offset: bytes a crashed process wrote past its last recorded
 * offset are never kept. One fdatasync per PATCH, so large PATCHes (tens of MiB) are cheap.
 */
import { open, truncate, rm, type FileHandle } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import type { WholeHasher } from './whole-hasher.ts'
import type { Readable } from 'node:stream'

export interface AppendOutcome {
  /** Bytes written past `offset` (all of them, or up to where the body broke). */
  written: number
  /** Base64 SHA-256 of what was written. */
  chunkSha256: string
  /** Whether the body's bytes went to the whole-upload hasher (a `whole` was handed in). */
  tracked: boolean
  /** Set when the body did not arrive whole (client gone, or more bytes than allowed). */
  broken?: 'aborted' | 'past-end'
}

/** Bytes gathered behind a write in flight before the body is paused. */
const WRITE_BATCH = 8 * 1024 * 1024

/** Where the whole-upload hash of this body goes: the hasher, the upload, and whether it starts empty (offset 0). */
export interface WholeTarget {
  hasher: WholeHasher
  id: string
  fresh: boolean
}

export async function appendBody(path: string, offset: number, body: Readable, maxBytes: number, whole: WholeTarget | null): Promise<AppendOutcome> {
  const fh = await open(path, 'r+')
  const chunkHash = createHash('sha256')
  // A tentative state on the hasher's side: the committed one survives if this body is later refused.
  whole?.hasher.begin(whole.id, whole.fresh)
  let written = 0
  let broken: AppendOutcome['broken']
  let gathered: Buffer[] = []
  let gatheredBytes = 0
  let at = offset
  let inFlight: Promise<void> | null = null
  const flush = () => {
    const bufs = gathered
    const start = at
    at += gatheredBytes
    gathered = []
    gatheredBytes = 0
    inFlight = writeAll(fh, bufs, start).then(() => whole?.hasher.update(whole.id, bufs))
    // Handled when awaited; this keeps a failed write from counting as an unhandled rejection meanwhile.
    inFlight.catch(() => {})
  }
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
        gathered.push(chunk)
        gatheredBytes += chunk.length
        written += chunk.length
        if (inFlight && gatheredBytes < WRITE_BATCH) continue
        if (inFlight) await inFlight
        flush()
      }
    } catch {
      broken = 'aborted'
    }
    // What arrived before a break is written too: without a checksum that prefix is kept.
    if (inFlight) await inFlight
    if (gatheredBytes) { flush(); await inFlight }
    // Durable before the offset is recorded: the catalog never counts a byte a power cut could lose.
    if (!broken) await fh.datasync()
  } finally {
    await fh.close()
  }
  return { written, chunkSha256: chunkHash.digest('base64'), tracked: whole !== null, broken }
}

/** Writes every buffer at `position`, continuing after a short write. */
async function writeAll(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs
  while (rest.length) {
    let { bytesWritten } = await fh.writev(rest, position)
    position += bytesWritten
    const left: Buffer[] = []
    for (const b of rest) {
      if (bytesWritten >= b.length) { bytesWritten -= b.length; continue }
      left.push(bytesWritten ? b.subarray(bytesWritten) : b)
      bytesWritten = 0
    }
    rest = left
  }
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
