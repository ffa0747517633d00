/**
 * @module Text → bytes in the encodings vendor exports use. Shift_JIS, CP932 and EUC-JP through iconv-lite;
 * ISO-2022-JP (which iconv-lite lacks) written here: ASCII as-is, JIS X 0208 characters as their EUC-JP code
 * minus 0x80 per byte between ESC $ B and ESC ( B. Half-width katakana has no place in ISO-2022-JP and is
 * written full width first.
 */
import iconv from 'iconv-lite'
import type { ExportEncoding } from '../adapters/adapter.ts'

const HALF_KANA = /[\uff61-\uff9f]+/g

export function encodeIso2022jp(text: string): Uint8Array {
  const s = text.replace(HALF_KANA, (m) => m.normalize('NFKC'))
  const out: number[] = []
  let kanji = false
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (c < 0x80) {
      if (kanji) { out.push(0x1b, 0x28, 0x42); kanji = false }
      out.push(c)
      continue
    }
    const euc = iconv.encode(ch, 'euc-jp')
    if (euc.length !== 2 || euc[0]! < 0xa1) throw new Error(`U+${c.toString(16)} is not in JIS X 0208, so ISO-2022-JP cannot carry it`)
    if (!kanji) { out.push(0x1b, 0x24, 0x42); kanji = true }
    out.push(euc[0]! - 0x80, euc[1]! - 0x80)
  }
  if (kanji) out.push(0x1b, 0x28, 0x42)
  return Uint8Array.from(out)
}

export function encodeText(text: string, encoding: ExportEncoding): Uint8Array {
  if (encoding === 'utf-8') return new TextEncoder().encode(text)
  if (encoding === 'iso-2022-jp') return encodeIso2022jp(text)
  return iconv.encode(text, encoding)
}
