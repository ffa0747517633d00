/**
 * @module A ustar (POSIX.1-1988 tar) index reader over a ByteSource: entry names, sizes and data
 * offsets, read header by header, never the entries' bytes.
 *
 * Only what `tar --format=ustar` writes for regular files is accepted: 512-byte headers with an
 * octal size, typeflag '0' (or NUL), data padded to 512, and two zero blocks at the end.
 * Directories, links and pax/GNU extension headers are refused: a bundle is a flat list of files.
 */
import type { ByteSource } from '@kura/core'

export interface TarEntry {
  name: string
  /** Offset of the entry's first data byte in the archive. */
  offset: number
  size: number
}

export class TarError extends Error {}

const BLOCK = 512

export async function readTarIndex(src: ByteSource): Promise<TarEntry[]> {
  const entries: TarEntry[] = []
  let pos = 0
  while (true) {
    if (pos + BLOCK > src.size) throw new TarError(`archive ends at byte ${src.size} without its two zero end blocks`)
    const h = await src.read(pos, BLOCK)
    if (h.every((b) => b === 0)) return entries
    if (!checksumOk(h)) throw new TarError(`header at byte ${pos} has a wrong checksum (not a tar archive, or damaged)`)
    const typeflag = h[156]
    if (typeflag !== 0x30 && typeflag !== 0) throw new TarError(`entry at byte ${pos} is of type '${String.fromCharCode(typeflag!)}'; only regular files are allowed`)
    const magic = text(h, 257, 6)
    if (magic !== 'ustar') throw new TarError(`header at byte ${pos} is not ustar (magic "${magic}"); write it with tar --format=ustar`)
    const prefix = text(h, 345, 155)
    const base = text(h, 0, 100)
    const name = prefix ? `${prefix}/${base}` : base
    const size = octal(h, 124, 12, pos)
    const offset = pos + BLOCK
    if (offset + size > src.size) throw new TarError(`entry "${name.slice(0, 120)}" runs past the end of the archive`)
    entries.push({ name, offset, size })
    pos = offset + Math.ceil(size / BLOCK) * BLOCK
  }
}

function text(h: Uint8Array, at: number, len: number): string {
  const field = h.subarray(at, at + len)
  const end = field.indexOf(0)
  return Buffer.from(end < 0 ? field : field.subarray(0, end)).toString('utf8')
}

function octal(h: Uint8Array, at: number, len: number, pos: number): number {
  const s = text(h, at, len).trim()
  if (!/^[0-7]+$/.test(s)) throw new TarError(`header at byte ${pos} has a size field that is not octal ("${s.slice(0, 12)}")`)
  return parseInt(s, 8)
}

/** The header checksum: the byte sum with the checksum field itself counted as spaces. */
function checksumOk(h: Uint8Array): boolean {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!
  const stored = text(h, 148, 8).trim()
  return /^[0-7]+$/.test(stored) && parseInt(stored, 8) === sum
}
