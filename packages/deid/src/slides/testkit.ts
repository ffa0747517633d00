/**
 * @module Test support: writes small TIFF/BigTIFF files in either byte order, or appends
 * directories to an existing one, so the scrubber's unlinking is tested beyond what vips writes.
 */
export interface TinyEntry {
  readonly tag: number
  /** 2 ASCII, 3 SHORT, 4 LONG, 7 UNDEFINED, 16 LONG8. */
  readonly type: 2 | 3 | 4 | 7 | 16
  readonly value: readonly number[] | string | Uint8Array
}

export interface TinyDir {
  readonly entries: readonly TinyEntry[]
  /** Tiles (TileOffsets/TileByteCounts added) or strips (StripOffsets/StripByteCounts added). */
  readonly tiled: boolean
  readonly chunks: readonly Uint8Array[]
}

/** A new TIFF holding `dirs` in one chain. */
export function buildTiff(big: boolean, le: boolean, dirs: readonly TinyDir[]): Uint8Array {
  const head = new Uint8Array(big ? 16 : 8)
  const dv = new DataView(head.buffer)
  head[0] = head[1] = le ? 0x49 : 0x4d
  dv.setUint16(2, big ? 43 : 42, le)
  if (big) dv.setUint16(4, 8, le)
  return appendDirs(head, big, le, big ? 8 : 4, dirs)
}

/** `file` with `dirs` appended and linked from the pointer at `linkPos` (the last directory's next-IFD pointer). */
export function appendDirs(file: Uint8Array, big: boolean, le: boolean, linkPos: number, dirs: readonly TinyDir[]): Uint8Array {
  const parts: Uint8Array[] = [file.slice()]
  let pos = file.length
  const ps = big ? 8 : 4
  const put = (b: Uint8Array): number => {
    if (pos % 2) {
      parts.push(new Uint8Array(1))
      pos++
    }
    const at = pos
    parts.push(b)
    pos += b.length
    return at
  }
  const ptrFixups: Array<[number, number]> = [] // [position of a pointer, value]
  let link = linkPos
  for (const d of dirs) {
    const offs = d.chunks.map((c) => put(c))
    const offType: 4 | 16 = big ? 16 : 4
    const entries: TinyEntry[] = [
      ...d.entries,
      { tag: d.tiled ? 324 : 273, type: offType, value: offs },
      { tag: d.tiled ? 325 : 279, type: offType, value: d.chunks.map((c) => c.length) },
    ].sort((a, b) => a.tag - b.tag)
    const encoded = entries.map((e) => encode(e, le))
    const valueAt = encoded.map((b) => (b.length > ps ? put(b) : -1))
    const es = big ? 20 : 12
    const cs = big ? 8 : 2
    const ifd = new Uint8Array(cs + entries.length * es + ps)
    const v = new DataView(ifd.buffer)
    if (big) v.setBigUint64(0, BigInt(entries.length), le)
    else v.setUint16(0, entries.length, le)
    entries.forEach((e, i) => {
      const p = cs + i * es
      v.setUint16(p, e.tag, le)
      v.setUint16(p + 2, e.type, le)
      const count = typeof e.value === 'string' ? e.value.length + 1 : e.value.length
      if (big) v.setBigUint64(p + 4, BigInt(count), le)
      else v.setUint32(p + 4, count, le)
      const vp = p + (big ? 12 : 8)
      if (valueAt[i] < 0) ifd.set(encoded[i], vp)
      else if (big) v.setBigUint64(vp, BigInt(valueAt[i]), le)
      else v.setUint32(vp, valueAt[i], le)
    })
    const at = put(ifd)
    ptrFixups.push([link, at])
    link = at + cs + entries.length * es
  }
  const out = new Uint8Array(pos)
  let p = 0
  for (const b of parts) {
    out.set(b, p)
    p += b.length
  }
  const ov = new DataView(out.buffer)
  for (const [at, value] of ptrFixups) {
    if (big) ov.setBigUint64(at, BigInt(value), le)
    else ov.setUint32(at, value, le)
  }
  return out
}

function encode(e: TinyEntry, le: boolean): Uint8Array {
  if (typeof e.value === 'string') return new Uint8Array(Buffer.from(e.value + '\0', 'latin1'))
  if (e.value instanceof Uint8Array) return e.value
  const size = e.type === 3 ? 2 : e.type === 16 ? 8 : e.type === 4 ? 4 : 1
  const b = new Uint8Array(size * e.value.length)
  const v = new DataView(b.buffer)
  e.value.forEach((x, i) => {
    if (size === 2) v.setUint16(i * 2, x, le)
    else if (size === 4) v.setUint32(i * 4, x, le)
    else if (size === 8) v.setBigUint64(i * 8, BigInt(x), le)
    else b[i] = x
  })
  return b
}

/** An uncompressed RGB image's entries (8 bits per sample), tiled or in one strip. */
export function rgbEntries(w: number, h: number, tile: number | null, extra: readonly TinyEntry[] = []): TinyEntry[] {
  const base: TinyEntry[] = [
    { tag: 256, type: 4, value: [w] },
    { tag: 257, type: 4, value: [h] },
    { tag: 258, type: 3, value: [8, 8, 8] },
    { tag: 259, type: 3, value: [1] },
    { tag: 262, type: 3, value: [2] },
    { tag: 277, type: 3, value: [3] },
    { tag: 284, type: 3, value: [1] },
  ]
  const layout: TinyEntry[] = tile ? [{ tag: 322, type: 3, value: [tile] }, { tag: 323, type: 3, value: [tile] }] : [{ tag: 278, type: 4, value: [h] }]
  return [...base, ...layout, ...extra]
}
