/**
 * @module Export bytes → text, streamed, in the export's encoding. Decoding comes BEFORE any splitting on
 * delimiters: in Shift_JIS/CP932 the trail byte of many kanji is 0x5C ("\", e.g. 表 95 5C, ソ 83 5C, 能 94 5C) or
 * another ASCII byte, so byte-level splitting would cut characters. Shift_JIS, CP932 and EUC-JP go through
 * iconv-lite's streaming decoders; ISO-2022-JP through the WHATWG TextDecoder (ICU), whose streaming mode keeps
 * the escape state across chunks. A leading UTF-8 byte order mark is dropped.
 */
import { createReadStream } from 'node:fs'
import iconv from 'iconv-lite'
import type { ExportEncoding } from './adapter.ts'
import { AdapterErrors } from './errors.ts'

/** An export: a file path, its bytes, or a stream of byte chunks. */
export type ExportInput = string | Uint8Array | AsyncIterable<Uint8Array>

interface ChunkDecoder {
  write(chunk: Uint8Array): string
  end(): string
}

export function chunkDecoder(encoding: ExportEncoding): ChunkDecoder {
  switch (encoding) {
    case 'utf-8':
    case 'iso-2022-jp': {
      const d = new TextDecoder(encoding)
      return { write: (c) => d.decode(c, { stream: true }), end: () => d.decode() }
    }
    case 'shift_jis':
    case 'cp932':
    case 'euc-jp': {
      const d = iconv.getDecoder(encoding)
      return { write: (c) => d.write(Buffer.from(c.buffer, c.byteOffset, c.byteLength)), end: () => d.end() ?? '' }
    }
    default:
      throw AdapterErrors.encoding(String(encoding))
  }
}

/** The raw byte chunks of an input (files are read 64 KiB at a time, never whole). */
export async function* byteChunks(input: ExportInput): AsyncGenerator<Uint8Array> {
  if (typeof input === 'string') {
    try {
      for await (const c of createReadStream(input, { highWaterMark: 64 * 1024 })) yield c as Buffer
    } catch (e) {
      throw AdapterErrors.unreadable(input.split('/').pop() ?? 'file', e)
    }
    return
  }
  if (input instanceof Uint8Array) {
    for (let i = 0; i < input.length; i += 64 * 1024) yield input.subarray(i, i + 64 * 1024)
    return
  }
  yield* input
}

/** The text of an input, streamed in pieces, decoded from `encoding`. */
export async function* textChunks(input: ExportInput, encoding: ExportEncoding): AsyncGenerator<string> {
  const d = chunkDecoder(encoding)
  let first = true
  for await (const c of byteChunks(input)) {
    let s = d.write(c)
    if (first && s.length > 0) {
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1)
      first = false
    }
    if (s) yield s
  }
  const tail = d.end()
  if (tail) yield tail
}
