import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import { decodeText, encodeString, normalizeCharsetTerm } from './charset.ts'
import { Tags } from './dictionary.ts'
import { readDicomBuffer } from './reader.ts'
import { CHARSET_FILES, python } from './testkit.ts'
import type { PersonName } from './types.ts'
import { getItems, getPersonName, getString, getStrings } from './values.ts'

const FILES = readdirSync(CHARSET_FILES).filter((f) => f.endsWith('.dcm')).map((f) => `${CHARSET_FILES}/${f}`)

/** pydicom's decoding of every PN, LO, SH in each charset file, top level and first-level items. */
const reference = JSON.parse(
  python(
    `def pn(v):
    c = list(v.components) + ['', '']
    return {k: x for k, x in zip(('Alphabetic', 'Ideographic', 'Phonetic'), c[:3]) if x}
def walk(ds):
    out = {}
    for el in ds:
        if el.VR == 'PN':
            vals = el.value if el.VM > 1 else ([el.value] if el.value not in (None, '') else [])
            out['%08X' % el.tag] = [pn(v) for v in vals]
        elif el.VR in ('LO', 'SH'):
            vals = el.value if el.VM > 1 else ([el.value] if el.value not in (None, '') else [])
            out['%08X' % el.tag] = [str(v) for v in vals]
        elif el.VR == 'SQ':
            out['%08X' % el.tag] = [walk(item) for item in el.value]
    return out
print(json.dumps({p: walk(pydicom.dcmread(p)) for p in sys.argv[1:]}))`,
    FILES,
  ),
) as Record<string, Record<string, unknown>>

test('every PN, LO and SH in pydicom’s charset files decodes exactly as pydicom decodes it', () => {
  assert.ok(FILES.length >= 17)
  let checked = 0
  for (const f of FILES) {
    const p = readDicomBuffer(readFileSync(f))
    const walk = (ds: typeof p.dataset, ref: Record<string, unknown>, where: string) => {
      for (const [hex, expected] of Object.entries(ref)) {
        const tag = parseInt(hex, 16)
        const el = ds.elements.get(tag)!
        if (el.vr === 'SQ') {
          ;(expected as Record<string, unknown>[]).forEach((item, i) => walk(el.items![i], item, `${where}${hex}/${i}/`))
        } else if (el.vr === 'PN') {
          assert.deepEqual(getPersonName(ds, tag), expected as PersonName[], `${where}${hex}`)
          checked++
        } else {
          // pydicom keeps leading spaces of LO/SH; PS3.5 says they are insignificant. Compare trimmed.
          assert.deepEqual(getStrings(ds, tag), (expected as string[]).map((s) => s.trim()), `${where}${hex}`)
          checked++
        }
      }
    }
    walk(p.dataset, reference[f], `${f.split('/').pop()}: `)
  }
  assert.ok(checked > 100, `${checked} values compared`)
})

test('Japanese names: half-width katakana, kanji and hiragana (ISO 2022 IR 13 / IR 87)', () => {
  const h31 = readDicomBuffer(readFileSync(`${CHARSET_FILES}/chrH31.dcm`)).dataset
  assert.deepEqual(getPersonName(h31, Tags.PatientName), [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }])
  const h32 = readDicomBuffer(readFileSync(`${CHARSET_FILES}/chrH32.dcm`)).dataset
  assert.deepEqual(getPersonName(h32, Tags.PatientName), [{ Alphabetic: 'ﾔﾏﾀﾞ^ﾀﾛｳ', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }])
})

test('sequence items inherit the character set, or use their own', () => {
  for (const name of ['chrSQEncoding.dcm', 'chrSQEncoding1.dcm']) {
    const ds = readDicomBuffer(readFileSync(`${CHARSET_FILES}/${name}`)).dataset
    const item = getItems(ds, 0x00321064)[0]
    assert.deepEqual(item.charset, ['ISO 2022 IR 13', 'ISO 2022 IR 87'], name)
    assert.deepEqual(getPersonName(item, Tags.PatientName), [{ Alphabetic: 'ﾔﾏﾀﾞ^ﾀﾛｳ', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }], name)
  }
})

test('encodeString reproduces the exact bytes of the PN in each reference file', () => {
  // chrKoreanMulti is left out: it adds ESC ( B after G1 (KS X 1001) runs, which chrI2 (and we) do not;
  // G0 never left ASCII there, so both spellings decode the same.
  const cases = ['chrH31', 'chrH32', 'chrI2', 'chrX1', 'chrX2', 'chrFren', 'chrGerm', 'chrRuss', 'chrGreek', 'chrArab', 'chrHbrw', 'chrJapMulti']
  for (const name of cases) {
    const ds = readDicomBuffer(readFileSync(`${CHARSET_FILES}/${name}.dcm`)).dataset
    const el = ds.elements.get(Tags.PatientName)!
    let raw = el.bytes!
    while (raw.length && raw[raw.length - 1] === 0x20) raw = raw.subarray(0, raw.length - 1)
    const text = decodeText(raw, ds.charset, 'PN')
    const encoded = encodeString(text, ds.charset, 'PN')
    assert.equal(Buffer.from(encoded).toString('latin1'), Buffer.from(raw).toString('latin1'), `${name} (${ds.charset.join('\\')}): ${text}`)
  }
})

test('the DICOM Japanese convention round-trips through ISO 2022 IR 87 and IR 13', () => {
  const values = [
    ['Yamada^Tarou=山田^太郎=やまだ^たろう', ['', 'ISO 2022 IR 87']],
    ['ヤマダ^タロウ=山田^太郎=やまだ^たろう', ['', 'ISO 2022 IR 87']],
    ['ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう', ['ISO 2022 IR 13', 'ISO 2022 IR 87']],
    ['Wang^XiaoDong=王^小東=', ['ISO_IR 192']],
    ['Buc^Jérôme', ['ISO_IR 100']],
  ] as const
  for (const [v, cs] of values) {
    const bytes = encodeString(v, cs, 'PN')
    const viaPydicom = python(
      `from pydicom.charset import decode_bytes, convert_encodings
print(json.dumps(decode_bytes(bytes.fromhex(sys.argv[1]), convert_encodings(json.loads(sys.argv[2])), {0x5e, 0x3d, 0x5c})))`,
      [Buffer.from(bytes).toString('hex'), JSON.stringify(cs)],
    )
    assert.equal(JSON.parse(viaPydicom), v, `pydicom decodes ${v}`)
    assert.equal(decodeText(bytes, cs, 'PN'), v)
  }
  // Escapes return to ASCII before every delimiter and at the end (PS3.5 6.1.2.5.3).
  const b = Buffer.from(encodeString('山田^太郎', ['', 'ISO 2022 IR 87'], 'PN')).toString('latin1')
  assert.equal(b, '\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B')
})

test('property: any mix of ASCII, kana and kanji round-trips through ISO 2022 IR 87 and UTF-8', () => {
  const alphabet = 'abcXYZ019 ^=.-アイウエオヤマダタロウやまだたろう山田太郎鈴木花子東京都渡邊髙橋'
  const text = fc.array(fc.constantFrom(...alphabet), { maxLength: 40 }).map((a) => a.join('').trim())
  fc.assert(
    fc.property(text, (v) => {
      for (const cs of [['', 'ISO 2022 IR 87'], ['ISO 2022 IR 13', 'ISO 2022 IR 87'], ['ISO_IR 192']]) {
        assert.equal(decodeText(encodeString(v, cs, 'PN'), cs, 'PN'), v)
      }
    }),
    { numRuns: 300 },
  )
})

test('characters the character set cannot hold are refused with DICOM_UNENCODABLE_TEXT', () => {
  assert.throws(() => encodeString('山田', ['ISO_IR 100'], 'PN'), (e: any) => e.code === 'DICOM_UNENCODABLE_TEXT')
  assert.throws(() => encodeString('Jérôme', [], 'PN'), (e: any) => e.code === 'DICOM_UNENCODABLE_TEXT')
  assert.throws(() => encodeString('😀', ['', 'ISO 2022 IR 87'], 'LO'), (e: any) => e.code === 'DICOM_UNENCODABLE_TEXT')
  assert.deepEqual([...encodeString('ABC', [], 'LO')], [0x41, 0x42, 0x43])
})

test('misspelled character set terms are tolerated', () => {
  assert.equal(normalizeCharsetTerm('ISO-IR 100'), 'ISO_IR 100')
  assert.equal(normalizeCharsetTerm('iso_ir192'), 'ISO_IR 192')
  assert.equal(normalizeCharsetTerm('ISO 2022 IR87'), 'ISO 2022 IR 87')
  assert.equal(decodeText(new Uint8Array([0x4a, 0xe9]), ['ISO-IR 100'], 'LO'), 'Jé')
  assert.equal(decodeText(new Uint8Array([0xc3, 0xa9]), ['UTF-8'], 'LO'), 'é')
  // An unknown term falls back to Latin-1 instead of failing the whole object.
  assert.equal(decodeText(new Uint8Array([0x4a, 0xe9]), ['NOT A CHARSET'], 'LO'), 'Jé')
  // Text VRs outside the Specific Character Set rules (UI, CS, DA) are never transcoded.
  const ds = readDicomBuffer(readFileSync(`${CHARSET_FILES}/chrH31.dcm`)).dataset
  assert.match(getString(ds, Tags.SOPInstanceUID)!, /^[0-9.]+$/)
})

test('property: the fast ISO 2022 decoder agrees with dicom-character-set', async () => {
  const { convertBytes } = await import('dicom-character-set')
  const { decodeIso2022 } = await import('./iso2022.ts')
  const cases = [
    { cs: ['', 'ISO 2022 IR 87'], alphabet: 'abc XYZ019^=.-アイウエオやまだ山田太郎髙橋' },
    { cs: ['ISO 2022 IR 13', 'ISO 2022 IR 87'], alphabet: 'abc 019^=ｱｲｳｴｵﾔﾏﾀﾞ山田太郎やまだ' },
    { cs: ['', 'ISO 2022 IR 87', 'ISO 2022 IR 159'], alphabet: 'abc^=山田丂' },
    { cs: ['', 'ISO 2022 IR 149'], alphabet: 'Hong^Gildong=洪吉洞홍길동 ' },
    { cs: ['ISO 2022 IR 100'], alphabet: 'Jérôme^Buc=äöü ' },
  ]
  const pnDelims = (b: number) => [0x0d, 0x0a, 0x0c, 0x09, 0x5c, 0x5e, 0x3d].includes(b)
  for (const { cs, alphabet } of cases) {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 30 }), (chars) => {
        const v = chars.join('')
        const bytes = encodeString(v, cs, 'PN')
        const fast = decodeIso2022(bytes, cs, pnDelims)
        assert.equal(fast, convertBytes(cs.join('\\'), bytes, { vr: 'PN' }))
        assert.equal(fast, v)
      }),
      { numRuns: 200 },
    )
  }
})
