/**
 * @module A streamed ustar (POSIX.1-1988) writer for export archives: regular files only, one header and the
 * file's bytes at a time, so an archive of any size never sits in memory. Times are 0 and owners empty, so the
 * same files give the same archive. The hub's ustar reader (uploads/ustar.ts) reads what this writes.
 */
import { createReadStream } from 'node:fs'

const BLOCK = 512

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0'
}

/** The 512-byte header of a regular file; names over 100 bytes are split at a slash into prefix and name. */
export function ustarHeader(path: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK)
  let name = path
  let prefix = ''
  if (Buffer.byteLength(name) > 100) {
    const cut = path.lastIndexOf('/', 155)
    if (cut <= 0 || Buffer.byteLength(path.slice(cut + 1)) > 100) throw new Error(`path too long for ustar: ${path.slice(0, 80)}…`)
    prefix = path.slice(0, cut)
    name = path.slice(cut + 1)
  }
  h.write(name, 0, 100, 'utf8')
  h.write(octal(0o644, 8), 100, 'ascii')
  h.write(octal(0, 8), 108, 'ascii')
  h.write(octal(0, 8), 116, 'ascii')
  h.write(octal(size, 12), 124, 'ascii')
  h.write(octal(0, 12), 136, 'ascii')
  h.write('        ', 148, 'ascii')
  h.write('0', 156, 'ascii')
  h.write('ustar\0', 257, 'ascii')
  h.write('00', 263, 'ascii')
  h.write(prefix, 345, 155, 'utf8')
  let sum = 0
  for (const b of h) sum += b
  h.write(octal(sum, 7) + ' ', 148, 'ascii')
  return h
}

/** The archive as chunks: each file's header, its bytes read from disk, padding, then the two zero blocks. */
export async function* ustarStream(files: { path: string; abs: string; bytes: number }[]): AsyncGenerator<Buffer> {
  for (const f of files) {
    yield ustarHeader(f.path, f.bytes)
    let n = 0
    for await (const chunk of createReadStream(f.abs)) {
      n += (chunk as Buffer).length
      yield chunk as Buffer
    }
    if (n !== f.bytes) throw new Error(`${f.path} changed size while archiving`)
    if (n % BLOCK) yield Buffer.alloc(BLOCK - (n % BLOCK))
  }
  yield Buffer.alloc(BLOCK * 2)
}
