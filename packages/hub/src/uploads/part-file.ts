/**
 * @module The part file of an upload (`<dataDir>/uploads/<id>.part`): append one PATCH body
 * while hashing it, make it durable, or cut it back.
 *
 * The body is written as it arrives, in batches: socket reads are gathered and go out WRITE_BATCH
 * bytes at a time in one writev while the next batch gathers; if the disk is slower than the
 * network the body is paused, so a slow disk slows the sender instead of filling memory. (One
 * awaited write per 64 KiB socket read stalled the receive and cost as much as the hashing.)
 * Each written batch's position goes to the UploadHasher's thread, which reads it back (from the
 * page cache) and compute the body's own hash and, when the caller tracks it, the whole-upload
 * hash; the receive waits for them only when they fall HASH_AHEAD bytes behind. Before writing,
 * the file is cut to the durable offset: bytes a crashed process wrote past its last recorded
 * offset are never kept.
 *
 * Durability: a PATCH is answered (and its offset recorded) only after one fdatasync that covers
 * all of its bytes, so an acknowledged offset survives a crash or power cut. That wait (50–65 ms
 * per 64 MiB here) no longer idles the link: the gateway pipelines its PATCHes, and the hub
 * receives the next body (written past the durable offset, not counted) while the previous one
 * is made durable and recorded (routes.ts, chained PATCHes).
 */
import { open, truncate, rm, type FileHandle } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import type { HashFrom, UploadHasher } from './whole-hasher.ts'
import type { Readable } from 'node:stream'

export interface AppendOutcome {
  /** Bytes written past `offset` (all of them, or up to where the body broke). */
  written: number
  /** Base64 SHA-256 of what was written; null when it could not be computed (the hashing thread failed). */
  chunkSha256: string | null
  /** Whether the body's bytes went to the whole-upload hash (a `whole` was handed in). */
  tracked: boolean
  /** Set when the body did not arrive whole (client gone, or more bytes than allowed). */
  broken?: 'aborted' | 'past-end'
}

/** Bytes gathered behind a write in flight before the body is paused. */
const WRITE_BATCH = 8 * 1024 * 1024
/** Bytes written but not yet hashed before the receive waits for the hashing thread. */
const HASH_AHEAD = 4 * WRITE_BATCH

/** Whether the body also continues upload `id`'s whole-upload hash, and from where (see HashFrom). */
export interface WholeTarget {
  id: string
  from: HashFrom
}

export interface AppendOptions {
  /** Cut the file to `offset` first (false only where the body continues one this process has just written). */
  cut: boolean
  /** Called once every byte of a whole body is written (not yet durable), after its hashing was handed every byte. */
  onWritten?: () => void
}

export async function appendBody(path: string, offset: number, body: Readable, maxBytes: number, hasher: UploadHasher, whole: WholeTarget | null, opts: AppendOptions = { cut: true }): Promise<AppendOutcome> {
  const fh = await open(path, 'r+')
  // A tentative state on the hasher's side: the committed one survives if this body is later refused.
  if (whole) hasher.begin(whole.id, whole.from)
  const bodyNo = hasher.startBody(path)
  let written = 0
  let broken: AppendOutcome['broken']
  let gathered: Buffer[] = []
  let gatheredBytes = 0
  let at = offset
  let inFlight: Promise<void> | null = null
  const flush = () => {
    const bufs = gathered
    const start = at
    const n = gatheredBytes
    at += n
    gathered = []
    gatheredBytes = 0
    inFlight = writeAll(fh, bufs, start).then(() => {
      hasher.update(bodyNo, whole?.id ?? null, start, n)
    })
    // Handled when awaited; this keeps a failed write from counting as an unhandled rejection meanwhile.
    inFlight.catch(() => {})
  }
  let digest: Promise<string | null> | null = null
  try {
    if (opts.cut) await fh.truncate(offset)
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (written + chunk.length > maxBytes) {
          broken = 'past-end'
          body.destroy()
          break
        }
        gathered.push(chunk)
        gatheredBytes += chunk.length
        written += chunk.length
        if (inFlight && gatheredBytes < WRITE_BATCH) continue
        if (inFlight) await inFlight
        await hasher.caughtUp(HASH_AHEAD)
        flush()
      }
    } catch {
      broken = 'aborted'
    }
    // What arrived before a break is written too: without a checksum that prefix is kept.
    if (inFlight) await inFlight
    if (gatheredBytes) { flush(); await inFlight }
    digest = hasher.bodyDigest(bodyNo)
    hasher.endBody(bodyNo, whole?.id ?? null)
    if (!broken) opts.onWritten?.()
    // Durable before the offset is recorded: the catalog never counts a byte a power cut could lose.
    if (!broken) await fh.datasync()
  } finally {
    // Never leave a body's hash state (or its file open) behind on the hashing thread.
    if (!digest) {
      digest = hasher.bodyDigest(bodyNo)
      hasher.endBody(bodyNo, whole?.id ?? null)
    }
    await fh.close()
  }
  return { written, chunkSha256: await digest, tracked: whole !== null, broken }
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
