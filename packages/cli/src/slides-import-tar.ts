/**
 * @module A ustar (POSIX tar) stream of files, written as it is read: how `kura import --url` sends the instances
 * of one DICOM WSI to POST /slides in one request without holding them in memory. Members get neutral names
 * (`instance-0001.dcm`, ...), so no file or folder name (which may hold a patient's name) leaves the machine.
 */
import { createReadStream } from 'node:fs'

const BLOCK = 512

export interface TarMember {
  path: string
  size: number
}

function field(h: Buffer, at: number, len: number, value: string): void {
  h.write(value, at, len, 'latin1')
}

/** An octal size field of 11 digits, or base-256 (GNU) for members of 8 GiB and more. */
function sizeField(h: Buffer, size: number): void {
  if (size < 8 ** 11) return field(h, 124, 12, size.toString(8).padStart(11, '0') + '\0')
  h[124] = 0x80
  let v = size
  for (let i = 135; i > 124; i--) {
    h[i] = v % 256
    v = Math.floor(v / 256)
  }
}

function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK)
  field(h, 0, 100, name)
  field(h, 100, 8, '0000644\0')
  field(h, 108, 8, '0000000\0')
  field(h, 116, 8, '0000000\0')
  sizeField(h, size)
  field(h, 136, 12, '00000000000\0')
  field(h, 148, 8, '        ')
  field(h, 156, 1, '0')
  field(h, 257, 6, 'ustar\0')
  field(h, 263, 2, '00')
  let sum = 0
  for (const b of h) sum += b
  field(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ')
  return h
}

/** The tar archive of `members`, each read from disk as it is sent. */
export async function* tarStream(members: readonly TarMember[]): AsyncGenerator<Uint8Array> {
  for (const [i, m] of members.entries()) {
    yield header(`instance-${String(i + 1).padStart(4, '0')}.dcm`, m.size)
    let sent = 0
    for await (const chunk of createReadStream(m.path)) {
      sent += (chunk as Buffer).length
      if (sent > m.size) throw new Error(`${m.path} grew while it was being sent; send it again once it is complete`)
      yield chunk as Buffer
    }
    if (sent !== m.size) throw new Error(`${m.path} changed size while it was being sent; send it again once it is complete`)
    if (m.size % BLOCK) yield Buffer.alloc(BLOCK - (m.size % BLOCK))
  }
  yield Buffer.alloc(2 * BLOCK)
}
