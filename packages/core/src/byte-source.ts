/**
 * @module ByteSource: random-access reads over a file, an object-store key or a buffer.
 *
 * Every large-file reader (DICOM, slides) reads through this, so a multi-gigabyte object is
 * never loaded whole and the same reader works on a local file and on an S3 object.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { CoreErrors } from './errors.ts'

export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number
  /** Reads exactly `length` bytes at `offset`, or fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Uint8Array>
  close(): Promise<void>
}

export class BufferSource implements ByteSource {
  readonly size: number
  constructor(private readonly buf: Uint8Array) {
    this.size = buf.byteLength
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset > this.size) throw CoreErrors.rangeOutOfBounds(offset, length, this.size)
    return this.buf.subarray(offset, Math.min(this.size, offset + length))
  }
  async close(): Promise<void> {}
}

export class FileSource implements ByteSource {
  private constructor(private readonly fh: FileHandle, readonly size: number, readonly path: string) {}

  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, 'r')
    try {
      const st = await fh.stat()
      return new FileSource(fh, st.size, path)
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset > this.size) throw CoreErrors.rangeOutOfBounds(offset, length, this.size)
    const n = Math.max(0, Math.min(length, this.size - offset))
    const buf = Buffer.allocUnsafe(n)
    let got = 0
    while (got < n) {
      const { bytesRead } = await this.fh.read(buf, got, n - got, offset + got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    return got === n ? buf : buf.subarray(0, got)
  }

  async close(): Promise<void> {
    await this.fh.close()
  }
}

/**
 * `size` bytes of another source from `start`, without copying: one instance inside a pack, a tar entry inside an
 * upload. `owns`: closing the slice closes that source (else the source is its caller's to close).
 */
export class SliceSource implements ByteSource {
  constructor(private readonly src: ByteSource, private readonly start: number, readonly size: number, private readonly opts: { owns: boolean }) {
    if (start < 0 || start + size > src.size) throw CoreErrors.rangeOutOfBounds(start, size, src.size)
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset > this.size) throw CoreErrors.rangeOutOfBounds(offset, length, this.size)
    return this.src.read(this.start + offset, Math.min(length, this.size - offset))
  }

  async close(): Promise<void> {
    if (this.opts.owns) await this.src.close()
  }
}

/** A TIFF or BigTIFF header (II*\0, II+\0, MM\0*, MM\0+) at the start of `b`. */
export const isTiffHeader = (b: Uint8Array): boolean =>
  b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43)))

/** A DICOM Part 10 file: "DICM" after the 128-byte preamble. */
export const isDicomHeader = (b: Uint8Array): boolean => b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d

/**
 * The whole file when it is at most `max` bytes, else null: one open answers both "how big" and "what bytes", with
 * synchronous calls (for tens of KB a thread-pool round trip costs more than the read).
 */
export function readFileIfAtMost(path: string, max: number): Buffer | null {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    if (size > max) return null
    const buf = Buffer.allocUnsafe(size)
    let got = 0
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got)
      if (n === 0) break
      got += n
    }
    return got === size ? buf : buf.subarray(0, got)
  } finally {
    closeSync(fd)
  }
}

/** The first `n` bytes of a file (fewer when it is shorter): enough to tell DICOM ("DICM" at 128) from TIFF. */
export async function readHead(path: string, n: number): Promise<Buffer> {
  const src = await FileSource.open(path)
  try {
    return Buffer.from(await src.read(0, Math.min(n, src.size)))
  } finally {
    await src.close()
  }
}
