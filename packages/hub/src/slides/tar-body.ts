/**
 * @module A ustar (POSIX tar) request body spooled to temp files: how a DICOM WSI (a set of instances) arrives
 * at POST /slides in one request. Each member is written to its own file while hashed, so a slide of several
 * gigabytes never sits in memory. Only regular files count; directories and pax/GNU name records are skipped,
 * links and devices are refused. Any refusal removes what was spooled.
 */
import { createHash } from 'node:crypto'
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { newId } from '@kura/core'
import { SlideErrors } from './errors.ts'

export interface SpooledFile {
  /** The member's name in the archive (only for messages). */
  name: string
  path: string
  sha256: string
  size: number
}

const BLOCK = 512
/** A slide has a handful of levels and associated images; a few hundred covers concatenated levels too. */
export const MAX_TAR_MEMBERS = 1000

/** Pulls exact byte counts out of a chunked stream. */
class Chunks {
  private buf: Buffer = Buffer.alloc(0)
  private readonly it: AsyncIterator<Buffer>
  private done = false
  constructor(src: AsyncIterable<Buffer>) {
    this.it = src[Symbol.asyncIterator]()
  }
  private async fill(n: number): Promise<void> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next()
      if (r.done) this.done = true
      else this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value
    }
  }
  /** Exactly `n` bytes, or null at a clean end of stream. */
  async take(n: number): Promise<Buffer | null> {
    await this.fill(n)
    if (this.buf.length === 0 && this.done) return null
    if (this.buf.length < n) throw SlideErrors.badTar('the archive ends in the middle of a member')
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }
  /** `n` bytes in the chunks they arrive in (never gathered). */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      if (this.buf.length === 0) {
        const r = await this.it.next()
        if (r.done) throw SlideErrors.badTar('the archive ends in the middle of a member')
        this.buf = r.value
      }
      const part = this.buf.subarray(0, Math.min(left, this.buf.length))
      this.buf = this.buf.subarray(part.length)
      left -= part.length
      yield part
    }
  }
  async drain(): Promise<void> {
    while (!(await this.it.next()).done) {}
  }
}

function text(b: Buffer, at: number, len: number): string {
  const s = b.subarray(at, at + len)
  const nul = s.indexOf(0)
  return s.subarray(0, nul < 0 ? len : nul).toString('utf8')
}

/** An octal number field, or base-256 (GNU/star, for members over 8 GiB). */
function numberField(b: Buffer, at: number, len: number): number {
  if (b[at]! & 0x80) {
    let v = b[at]! & 0x7f
    for (let i = 1; i < len; i++) v = v * 256 + b[at + i]!
    return v
  }
  const s = text(b, at, len).trim()
  if (!/^[0-7]*$/.test(s)) throw SlideErrors.badTar(`a header field holds "${s.slice(0, 20)}", not an octal number`)
  return s ? parseInt(s, 8) : 0
}

function checksumOk(h: Buffer): boolean {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!
  return sum === numberField(h, 148, 8)
}

/** Spools every regular file of the tar stream `body` into `dir`; the caller removes the files. */
export async function spoolTar(body: AsyncIterable<Buffer>, dir: string): Promise<SpooledFile[]> {
  const chunks = new Chunks(body)
  const files: SpooledFile[] = []
  try {
    for (;;) {
      const h = await chunks.take(BLOCK)
      if (!h || h.every((b) => b === 0)) break // end-of-archive blocks (or a stream that just stops there)
      if (!checksumOk(h)) throw SlideErrors.badTar('a header checksum does not match (is the body a tar archive?)')
      const size = numberField(h, 124, 12)
      const type = String.fromCharCode(h[156]!) // '\0' is an old-style regular file
      const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? text(h, 345, 155) : ''
      const name = (prefix ? `${prefix}/` : '') + text(h, 0, 100)
      const padded = Math.ceil(size / BLOCK) * BLOCK
      if (type === '0' || type === '\0' || type === '7') {
        if (files.length >= MAX_TAR_MEMBERS) throw SlideErrors.badTar(`it holds more than ${MAX_TAR_MEMBERS} files; one slide has far fewer instances`)
        const path = join(dir, `member-${newId()}`)
        const hash = createHash('sha256')
        const fh = await open(path, 'w')
        files.push({ name, path, sha256: '', size })
        try {
          for await (const part of chunks.stream(size)) {
            hash.update(part)
            await fh.write(part)
          }
        } finally {
          await fh.close()
        }
        files[files.length - 1]!.sha256 = hash.digest('hex')
        if (padded > size) await chunks.take(padded - size)
      } else if (type === '5' || type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        // Directories, pax attributes and GNU long names: nothing to store (names are only for messages).
        for await (const _ of chunks.stream(padded)) void _
      } else {
        throw SlideErrors.badTar(`member "${name.slice(0, 80)}" is a link or special file (type ${JSON.stringify(type)}); send the instance files themselves`)
      }
    }
    await chunks.drain()
    return files
  } catch (e) {
    await Promise.all(files.map((f) => rm(f.path, { force: true })))
    throw e
  }
}
