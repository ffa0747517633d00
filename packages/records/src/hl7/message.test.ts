/**
 * HL7 v2 parser: decode-before-split (kanji whose JIS bytes equal delimiters), escape sequences, the character set
 * spellings SS-MIX2 files carry, PID-5 in kanji and kana in every order real files use, tolerated damage with
 * warnings, and fatal problems as KuraErrors with stable codes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import iconv from 'iconv-lite'
import { isKuraError } from '@kura/core'
import { decodeHl7Bytes, encodeIso2022Jp, parseHl7, readNames, readXad, readXtn, hl7DateTime, unescapeHl7, escapeHl7, DEFAULT_DELIMITERS } from './index.ts'

const MSH = (charset = '~ISO IR87', scheme = 'ISO 2022-1994') =>
  `MSH|^~\\&|HIS|SEND|GW|RCV|20240105101010.123||ADT^A08^ADT_A01|MSG0001|P|2.5||||||${charset}||${scheme}`
const PID = (names: string) => `PID|0001||1234567890^^^^PI||${names}||19700101|F|||^^^^100-0001^JPN^H^東京都千代田区宮本町１丁目２番||^PRN^PH^^^^^^^^^03-1234-5678`
const msg = (...segs: string[]) => segs.join('\r') + '\r'

function code(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (isKuraError(e)) return e.code
    throw e
  }
  return 'no error'
}

test('kanji whose JIS bytes equal |, ^, ~, \\ and & survive: the parser decodes before it splits', () => {
  // 奥 = 0x31 0x7C ('|'), 本 = 0x4B 0x5C ('\'), 京 = 0x35 0x7E ('~'), 愛 = 0x30 0x26 ('&'), 五 = 0x38 0x5E ('^').
  const names = '奥本^京愛^^^^^L^I~オクモト^キョウア^^^^^L^P~五十嵐^京子愛^^^^^L^D'
  const bytes = encodeIso2022Jp(msg(MSH(), PID(names)))
  for (const [delim, jis] of [[0x7c, [0x31, 0x7c]], [0x5c, [0x4b, 0x5c]], [0x7e, [0x35, 0x7e]], [0x26, [0x30, 0x26]], [0x5e, [0x38, 0x5e]]] as const) {
    const at = bytes.findIndex((b, i) => b === jis[0] && bytes[i + 1] === jis[1])
    assert.ok(at >= 0, `the encoded message holds the kanji with 0x${delim.toString(16)}`)
  }
  // A splitter working on bytes would see extra fields in PID: prove the trap is real.
  const pidBytes = bytes.subarray(bytes.indexOf(0x0d) + 1)
  const naiveFields = Buffer.from(pidBytes).toString('latin1').split('\r')[0].split('|').length
  const m = parseHl7(bytes)
  const pid = m.segment('PID')!
  assert.ok(naiveFields > pid.fieldCount + 1, 'splitting the raw bytes gives more fields than there are')
  assert.equal(pid.get(5, 1), '奥本')
  assert.equal(pid.get(5, 2), '京愛')
  assert.equal(pid.get(5, 1, 1, 3), '五十嵐')
  assert.equal(pid.get(5, 2, 1, 3), '京子愛')
  assert.deepEqual(readNames(pid.repetitions(5)), { kanji: '奥本 京愛', kana: 'オクモト キョウア' })
  assert.equal(pid.get(7), '19700101')
  assert.equal(readXad(pid.repetitions(11)[0])?.text, '東京都千代田区宮本町１丁目２番')
  assert.equal(readXtn(pid.repetitions(13)[0]), '03-1234-5678')
  assert.equal(m.charset, 'iso-2022-jp')
  assert.deepEqual(m.warnings, [])
})

test('escape sequences: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\, hex, line breaks; unknown ones kept', () => {
  const text = msg(MSH(), 'OBX|1|FT|REPORT^所見^99KURA||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\次の行\\X4142\\\\H\\強調\\N\\\\Q\\')
  const m = parseHl7(encodeIso2022Jp(text))
  assert.equal(m.segment('OBX')!.get(5), 'a|b^c&d~e\\f\n次の行AB強調\\Q\\')
  assert.equal(unescapeHl7('no escapes here', DEFAULT_DELIMITERS), 'no escapes here')
  assert.equal(unescapeHl7('dangling \\ escape', DEFAULT_DELIMITERS), 'dangling \\ escape')
  const raw = 'x|y^z~w&v\\u\n行'
  assert.equal(unescapeHl7(escapeHl7(raw), DEFAULT_DELIMITERS), raw)
})

test('character set spellings: "~ISO IR87" with "ISO 2022-1994" or "ISO2022-1994", and none at all', () => {
  const names = '田中^太郎^^^^^L^I~タナカ^タロウ^^^^^L^P'
  for (const [charset, scheme] of [['~ISO IR87', 'ISO 2022-1994'], ['~ISO IR87', 'ISO2022-1994'], ['ISO IR87', ''], ['~ISO_IR 87', ''], ['', 'ISO 2022-1994']]) {
    const m = parseHl7(encodeIso2022Jp(msg(MSH(charset, scheme), PID(names))))
    assert.deepEqual(m.warnings, [], `${charset} / ${scheme}`)
    assert.equal(readNames(m.segment('PID')!.repetitions(5)).kanji, '田中 太郎')
  }
  assert.deepEqual(parseHl7(encodeIso2022Jp(msg(MSH('~ISO IR87'), 'EVN||20240105'))).declaredCharsets, ['', 'ISO IR87'])
  const missing = parseHl7(encodeIso2022Jp(msg(MSH('', ''), PID(names))))
  assert.match(missing.warnings.join(), /MSH-18 \(character set\) is missing/)
  assert.equal(readNames(missing.segment('PID')!.repetitions(5)).kana, 'タナカ タロウ')
})

test('PID-5: kanji and kana in either order, with or without XPN-8, half-width kana, one script only', () => {
  const cases: Array<[string, ReturnType<typeof readNames>]> = [
    ['山田^太郎^^^^^L^I~ヤマダ^タロウ^^^^^L^P', { kanji: '山田 太郎', kana: 'ヤマダ タロウ' }],
    ['ヤマダ^タロウ^^^^^L^P~山田^太郎^^^^^L^I', { kanji: '山田 太郎', kana: 'ヤマダ タロウ' }],
    ['山田^太郎~ヤマダ^タロウ', { kanji: '山田 太郎', kana: 'ヤマダ タロウ' }],
    ['山田^太郎^^^^^L^I~ﾔﾏﾀﾞ^ﾀﾛｳ^^^^^L^P', { kanji: '山田 太郎', kana: 'ﾔﾏﾀﾞ ﾀﾛｳ' }],
    ['山田^太郎^^^^^L^I', { kanji: '山田 太郎' }],
    ['~山田^太郎^^^^^L^I~~YAMADA^TARO^^^^^L^A~ヤマダ^タロウ', { kanji: '山田 太郎', alphabetic: 'YAMADA TARO', kana: 'ヤマダ タロウ' }],
  ]
  for (const [names, want] of cases) {
    const m = parseHl7(encodeIso2022Jp(msg(MSH(), PID(names))))
    assert.deepEqual(readNames(m.segment('PID')!.repetitions(5)), want, names)
  }
})

test('tolerated: CRLF, LF, blank lines, trailing NUL/EOF bytes, stray lines, ESC ( J, ESC $ @, SO/SI and 8-bit kana', () => {
  const base = msg(MSH(), PID('鈴木^一郎^^^^^L^I~スズキ^イチロウ^^^^^L^P'), 'PV1|0001|O')
  const check = (bytes: Uint8Array, warn?: RegExp) => {
    const m = parseHl7(bytes)
    assert.deepEqual(m.segments.map((s) => s.name), ['MSH', 'PID', 'PV1'])
    assert.equal(readNames(m.segment('PID')!.repetitions(5)).kanji, '鈴木 一郎')
    if (warn) assert.match(m.warnings.join(' / '), warn)
    else assert.deepEqual(m.warnings, [])
  }
  check(encodeIso2022Jp(base.replace(/\r/g, '\r\n')))
  check(encodeIso2022Jp(base.replace(/\r/g, '\n')))
  check(encodeIso2022Jp(base.replace('\rPID', '\r\r\rPID')))
  check(Buffer.concat([encodeIso2022Jp(base), Buffer.from([0, 0, 0x1a])]), /trailing NUL\/EOF/)
  check(encodeIso2022Jp(base + '-- end of message --\r'), /1 line\(s\) that are not segments ignored/)
  const esc = (b: Uint8Array, from: number[], to: number[]) => {
    const out = Buffer.from(b).toString('latin1').split(String.fromCharCode(...from)).join(String.fromCharCode(...to))
    return Buffer.from(out, 'latin1')
  }
  check(esc(encodeIso2022Jp(base), [0x1b, 0x28, 0x42], [0x1b, 0x28, 0x4a]))
  check(esc(encodeIso2022Jp(base), [0x1b, 0x24, 0x42], [0x1b, 0x24, 0x40]))
  // Half-width katakana three ways: ESC ( I, SO/SI, and 8-bit JIS8 bytes.
  const kana7 = Buffer.concat([Buffer.from('A'), Buffer.from([0x1b, 0x28, 0x49, 0x31, 0x32]), Buffer.from([0x1b, 0x28, 0x42]), Buffer.from('B')])
  assert.equal(decodeHl7Bytes(kana7).text, 'AｱｲB')
  assert.equal(decodeHl7Bytes(Buffer.from([0x41, 0x0e, 0x31, 0x32, 0x0f, 0x42])).text, 'AｱｲB')
  assert.equal(decodeHl7Bytes(Buffer.from([0x1b, 0x24, 0x42, 0x30, 0x21, 0x1b, 0x28, 0x42, 0xb1, 0xb2])).text, '亜ｱｲ')
  // JIS X 0212 (ESC $ ( D): 0x3021 is 丂.
  assert.equal(decodeHl7Bytes(Buffer.from([0x1b, 0x24, 0x28, 0x44, 0x30, 0x21, 0x1b, 0x28, 0x42])).text, '丂')
})

test('fatal problems are KuraErrors with stable codes and positions, never values', () => {
  const good = msg(MSH(), PID('佐藤^花子^^^^^L^I~サトウ^ハナコ^^^^^L^P'))
  assert.equal(code(() => parseHl7(new Uint8Array(0))), 'HL7_EMPTY')
  assert.equal(code(() => parseHl7(Buffer.from(' \r\n\0'))), 'HL7_EMPTY')
  assert.equal(code(() => parseHl7(Buffer.from('%PDF-1.4\n\xe2\xe3', 'latin1'))), 'HL7_NO_MSH')
  assert.equal(code(() => parseHl7(Buffer.from('PID|1||123\r'))), 'HL7_NO_MSH')
  assert.equal(code(() => parseHl7(Buffer.from('MSH|^^^^|HIS\r'))), 'HL7_BAD_ENCODING_CHARACTERS')
  assert.equal(code(() => parseHl7(iconv.encode(good, 'shift_jis'))), 'HL7_CHARSET_SHIFT_JIS')
  assert.equal(code(() => parseHl7(new TextEncoder().encode(good))), 'HL7_CHARSET_UTF8')
  assert.equal(code(() => parseHl7(Buffer.concat([Buffer.from('MSH|^~\\&|'), Buffer.from([0xff, 0xfe, 0x80])]))), 'HL7_CHARSET_UNKNOWN')
  const bytes = encodeIso2022Jp(good)
  const kanji = bytes.findIndex((b, i) => b === 0x1b && bytes[i + 1] === 0x24)
  assert.equal(code(() => parseHl7(bytes.subarray(0, kanji + 4))), 'HL7_BAD_ISO2022')
  assert.equal(code(() => parseHl7(Buffer.concat([Buffer.from('MSH|^~\\&|'), Buffer.from([0x1b, 0x25, 0x47])]))), 'HL7_BAD_ISO2022')
  try {
    parseHl7(iconv.encode(good, 'shift_jis'))
  } catch (e) {
    assert.ok(!String((e as Error).message).includes('佐藤'))
  }
})

test('field numbering follows HL7: MSH-1 is the separator, repetitions and subcomponents from 1', () => {
  const m = parseHl7(msg(MSH(), 'OBR|1|ORD1|FIL1|ES-UGI^上部^99KURA|||20240105093000|||||||||||ACC1||||||ES||||||||DE1234&内視&太郎~DE5678&医師&次郎'))
  assert.equal(m.msh.get(1), '|')
  assert.equal(m.msh.get(2), '^~\\&')
  assert.deepEqual(m.type, { code: 'ADT', trigger: 'A08', structure: 'ADT_A01' })
  assert.equal(m.controlId, 'MSG0001')
  assert.equal(m.version, '2.5')
  const obr = m.segment('OBR')!
  assert.equal(obr.get(4, 2), '上部')
  assert.equal(obr.get(18), 'ACC1')
  assert.equal(obr.get(32, 1, 2), '内視')
  assert.equal(obr.get(32, 1, 1, 2), 'DE5678')
  assert.equal(obr.get(99), '')
  assert.equal(obr.repetitions(32).length, 2)
  assert.equal(hl7DateTime(obr.get(7)), '2024-01-05T09:30:00')
  assert.equal(hl7DateTime('20240105'), '2024-01-05')
  assert.equal(hl7DateTime('202401051230'), '2024-01-05T12:30')
  assert.equal(hl7DateTime('20241340'), undefined)
})

test('encodeIso2022Jp round-trips every generated name and ends each run in ASCII', () => {
  const text = '五十嵐 京子 宮本 美穂 愛 本輝 奥田 厚子 日野 佐々木 ー－～ ｱｲｳ ABC'
  const b = encodeIso2022Jp(text)
  assert.ok(b.every((x) => x < 0x80), '7-bit only')
  assert.deepEqual([...b.subarray(-1)], [0x43])
  assert.equal(decodeHl7Bytes(b).text, text)
  assert.throws(() => encodeIso2022Jp('😀'), /not in JIS X 0208/)
})

test('a field read before the segment is split (found by scanning) equals the one read after it is split', () => {
  const m = parseHl7('MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\rOBX|1|CWE|SITE^^99KURA|2|a^b~c||x|||||||||||||||last\rPID|||\rZZZ\r')
  for (const seg of m.segments) {
    const n = seg.raw.split('|').length + 3
    const fresh = () => parseHl7(m.text).segments[seg.index - 1]!
    const scanned = Array.from({ length: n }, (_, i) => fresh().rawField(i))
    const split = fresh()
    split.rawField(40) // splits
    for (let i = 0; i < n; i++) assert.equal(scanned[i], split.rawField(i), `${seg.name}-${i}`)
    for (const odd of [-1, 1.5, NaN]) assert.equal(fresh().rawField(odd), '', `${seg.name} ${odd}`)
  }
})

test('every JIS X 0208 cell reads as the EUC-JP decoder reads it, in runs, across line ends and next to katakana', () => {
  const euc = new TextDecoder('euc-jp')
  for (let row = 0x21; row <= 0x7e; row++) {
    const jis: number[] = [0x1b, 0x24, 0x42]
    const eucBytes: number[] = []
    for (let cell = 0x21; cell <= 0x7e; cell++) { jis.push(row, cell); eucBytes.push(row | 0x80, cell | 0x80) }
    // A line end inside the run resets to ASCII; JIS8 katakana and a new run follow.
    jis.push(0x0d, 0x41, 0xb1, 0x1b, 0x24, 0x42, row, 0x21, 0x1b, 0x28, 0x42)
    const want = euc.decode(new Uint8Array(eucBytes)) + '\rAｱ' + euc.decode(new Uint8Array([row | 0x80, 0xa1]))
    assert.equal(decodeHl7Bytes(new Uint8Array(jis)).text, want, `row ${row.toString(16)}`)
  }
})

test('fields read in any order (scanned on from the last one, or from recorded starts) are the same', () => {
  const text = 'MSH|^~\\&|A|B|C|D|20240101||ORU^R01^ORU_R01|1|P|2.5\rOBX|1|CWE|SITE^^99KURA|2|a\\T\\b^c&d~e||x|||||||||||||||last\r'
  const reads: Array<[number, number, number]> = [[5, 2, 2], [3, 1, 1], [2, 1, 1], [4, 1, 1], [3, 3, 1], [20, 1, 1], [5, 1, 1], [1, 1, 1], [9, 2, 1]]
  const read = (order: Array<[number, number, number]>) => {
    const m = parseHl7(text)
    return order.map(([n, c, s]) => m.segments.map((seg) => seg.get(n, c, s)).join('|')).sort()
  }
  assert.deepEqual(read(reads), read([...reads].reverse()))
  const obx = parseHl7(text).segment('OBX')!
  assert.deepEqual([obx.get(5), obx.get(5, 2, 2), obx.get(3, 3), obx.get(2), obx.get(5, 1, 1, 2)], ['a&b', 'd', '99KURA', 'CWE', 'e'])
  assert.deepEqual([parseHl7(text).msh.get(9, 2), parseHl7(text).type.structure], ['R01', 'ORU_R01'])
})

/** Field n, repetition r, component c, subcomponent s the straightforward way: split the segment at every level. */
function splitValue(seg: { name: string; raw: string }, d: { field: string; component: string; repetition: string; subcomponent: string }, n: number, c: number, s: number, r: number): string {
  const parts = seg.raw.split(d.field)
  const k = seg.name === 'MSH' ? n - 1 : n
  if (seg.name === 'MSH' && n === 1) return d.field
  const field = parts[k] ?? ''
  if (seg.name === 'MSH' && n === 2) return field
  const rep = field.split(d.repetition)[r - 1] ?? ''
  const comp = rep.split(d.component)[c - 1]
  if (comp === undefined) return ''
  return comp.split(d.subcomponent)[s - 1] ?? ''
}

test('values read by scanning (in any order, fields and components read on from the last one) equal splitting at every level, on every generated message', async () => {
  const { synthSsmix2Files } = await import('../synth/index.ts')
  let seed = 3
  const rnd = (k: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % k)
  let compared = 0
  for (const f of synthSsmix2Files({ patients: 6, seed: 21, years: 2, collect: false, malformed: true })) {
    let m: ReturnType<typeof parseHl7>
    try { m = parseHl7(f.bytes) } catch { continue }
    for (const seg of m.segments) {
      const fields = seg.raw.split(m.delimiters.field).length + 1
      // Reads in order (as readers do), then at random: each is compared with the split value, unescaped.
      const reads: Array<[number, number, number, number]> = []
      for (let n = 1; n <= fields; n++) reads.push([n, 1, 1, 1], [n, 2, 1, 1], [n, 3, 1, 1])
      for (let i = 0; i < 40; i++) reads.push([rnd(fields + 2), 1 + rnd(9), 1 + rnd(3), 1 + rnd(3)])
      for (const [n, c, s, r] of reads) {
        const want = unescapeHl7(splitValue(seg, m.delimiters, n, c, s, r), m.delimiters)
        const got = seg.get(n, c, s, r)
        if (!(seg.name === 'MSH' && n <= 2)) assert.equal(got, want, `${f.path} ${seg.name}-${n}.${c}.${s} rep ${r}`)
        compared++
      }
      // Components of one repetition read on from each other, and back.
      for (const field of seg.repetitions(1 + rnd(fields))) {
        for (const c of [1, 2, 3, 2, 5, 4, 1, 9]) assert.equal(field.component(c), unescapeHl7(field.raw.split(m.delimiters.component)[c - 1]?.split(m.delimiters.subcomponent)[0] ?? '', m.delimiters))
      }
    }
  }
  assert.ok(compared > 10_000, `${compared} values compared`)
})

test('hl7DateTime reads TS/DTM as its regular expression does', () => {
  const plain = (ts: string): string | undefined => {
    const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})?(\d{2})?(?:\.\d+)?)?(?:[+-]\d{4})?$/.exec(ts.trim())
    if (!m) return undefined
    const [, y, mo, d, h, mi, s] = m
    if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31) return undefined
    const date = `${y}-${mo}-${d}`
    if (h === undefined) return date
    if (Number(h) > 23 || Number(mi ?? 0) > 59 || Number(s ?? 0) > 59) return undefined
    return `${date}T${h}:${mi ?? '00'}${s ? `:${s}` : ''}`
  }
  let seed = 1
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n)
  const alphabet = '0123456789.+- x２'
  const texts = ['20240105', '202401051230', '20240105123045.123+0900', ' 20240105 ', '20241340', '2024010512+0900', '20240105.5', '20240105123', '20240105123045.']
  for (let i = 0; i < 50_000; i++) {
    let t = ['2024', '1999', '0000'][rnd(3)]! + ['01', '12', '13', '00'][rnd(4)]! + ['05', '31', '32', '00'][rnd(4)]!
    t = t.slice(0, 8 - rnd(2) * rnd(8))
    for (let j = rnd(12); j > 0; j--) t += rnd(3) === 0 ? alphabet[rnd(alphabet.length)] : String(rnd(10))
    texts.push(t)
  }
  for (const t of texts) assert.equal(hl7DateTime(t), plain(t), JSON.stringify(t))
})
