/**
 * @module A POSIX ustar writer (what `tar --format=ustar` writes): 512-byte headers, file data padded to 512, two
 * zero blocks at the end. Bundles hold regular files named `<sha256>.dcm` (docs/upload-protocol.md).
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { once } from 'node:events'

const BLOCK = 512
/** Entries up to this size are read whole (most bundled instances); larger ones stream. */
const SMALL_ENTRY_BYTES = 1 << 20
/** 11 octal digits: the ustar size field's limit. */
export const USTAR_MAX_FILE = 8 * 1024 ** 3 - 1

export interface TarEntry {
  /** Name in the archive (at most 100 bytes, ASCII). */
  name: string
  /** File to read the content from, unless `data` holds it. */
  path: string
  /** The content, when it is in memory (the spool's clean journal). */
  data?: Uint8Array
  size: number
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0'
}

/** One ustar header block for a regular file. */
export function ustarHeader(name: string, size: number, mtime: number): Buffer {
  const nameBytes = Buffer.from(name, 'ascii')
  if (nameBytes.length > 100 || !/^[\x21-\x7e]+$/.test(name)) throw new Error(`tar entry name "${name}" must be at most 100 printable ASCII bytes`)
  if (size > USTAR_MAX_FILE) throw new Error(`tar entry ${name} is larger than ustar allows (${size} bytes)`)
  const h = Buffer.alloc(BLOCK)
  nameBytes.copy(h, 0)
  h.write(octal(0o644, 8), 100, 'ascii')
  h.write(octal(0, 8), 108, 'ascii')
  h.write(octal(0, 8), 116, 'ascii')
  h.write(octal(size, 12), 124, 'ascii')
  h.write(octal(Math.floor(mtime), 12), 136, 'ascii')
  h.write('        ', 148, 'ascii') // the checksum is computed with its own field as spaces
  h.write('0', 156, 'ascii')
  h.write('ustar\0', 257, 'ascii')
  h.write('00', 263, 'ascii')
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii')
  return h
}

/**
 * Writes the archive to `out`; returns its size and SHA-256. Files that changed size make it throw. Not fsynced: a
 * bundle file is only read by the upload that wrote it, and the outbox removes any a crash leaves (built again).
 */
export async function writeUstar(entries: readonly TarEntry[], out: string, mtime = Date.now() / 1000): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256')
  let bytes = 0
  const ws = createWriteStream(out, { flags: 'wx', mode: 0o600 })
  const closed = once(ws, 'close')
  const put = async (b: Buffer) => {
    hash.update(b)
    bytes += b.length
    if (!ws.write(b)) await once(ws, 'drain')
  }
  try {
    for (const e of entries) {
      await put(ustarHeader(e.name, e.size, mtime))
      let n = 0
      if (e.data) {
        n = e.data.length
        await put(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.length))
      } else if (e.size <= SMALL_ENTRY_BYTES) {
        // One read into a buffer of the file's size: a stream would allocate a whole highWaterMark buffer per file.
        const data = await readFile(e.path)
        n = data.length
        await put(data)
      } else {
        for await (const chunk of createReadStream(e.path, { highWaterMark: 1 << 20 })) {
          n += (chunk as Buffer).length
          await put(chunk as Buffer)
        }
      }
      if (n !== e.size) throw new Error(`${e.path} is ${n} bytes, expected ${e.size}`)
      const pad = (BLOCK - (e.size % BLOCK)) % BLOCK
      if (pad) await put(Buffer.alloc(pad))
    }
    await put(Buffer.alloc(BLOCK * 2))
  } finally {
    ws.end()
    await closed
  }
  return { bytes, sha256: hash.digest('hex') }
}

/** The archive's size for these entry sizes: a header per entry, data padded to 512, two zero blocks. */
export function ustarBytes(sizes: readonly number[]): number {
  let n = BLOCK * 2
  for (const s of sizes) n += BLOCK + Math.ceil(s / BLOCK) * BLOCK
  return n
}

/**
 * The same archive as `writeUstar`, built in memory: each file read straight into its place in one buffer. A bundle
 * that is uploaded from memory never becomes a file of its own (no create, write, fsync and unlink per bundle, no
 * second read of the bytes); it need not be durable, as a restarted gateway builds its bundles again.
 */
export async function buildUstar(entries: readonly TarEntry[], mtime = Date.now() / 1000): Promise<{ data: Buffer; sha256: string }> {
  const data = Buffer.alloc(ustarBytes(entries.map((e) => e.size)))
  let at = 0
  for (const e of entries) {
    ustarHeader(e.name, e.size, mtime).copy(data, at)
    at += BLOCK
    if (e.data) {
      if (e.data.length !== e.size) throw new Error(`${e.name} is ${e.data.length} bytes, expected ${e.size}`)
      data.set(e.data, at)
      at += Math.ceil(e.size / BLOCK) * BLOCK
      continue
    }
    const fh = await open(e.path, 'r')
    try {
      // One byte more than expected is asked for (the padding or the end blocks always leave room), so a file that
      // grew is caught; a short read of a regular file is its end.
      let n = 0
      for (;;) {
        const want = e.size - n + 1
        const { bytesRead } = await fh.read(data, at + n, want, n)
        n += bytesRead
        if (bytesRead === 0 || bytesRead < want || n > e.size) break
      }
      if (n !== e.size) throw new Error(`${e.path} is ${n > e.size ? 'larger than' : `${n} bytes,`} expected ${e.size}`)
    } finally {
      await fh.close()
    }
    at += Math.ceil(e.size / BLOCK) * BLOCK
  }
  return { data, sha256: createHash('sha256').update(data).digest('hex') }
}
