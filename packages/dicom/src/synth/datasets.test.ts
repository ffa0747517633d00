import { test } from 'node:test'
import assert from 'node:assert/strict'
import iconv from 'iconv-lite'
import { planCorpus, type SynthPlanned } from './datasets.ts'
import { FAMILY_NAMES, FEMALE_GIVEN_NAMES, INSTITUTIONS, MALE_GIVEN_NAMES, toHalfWidthKatakana } from './names.ts'
import { Prng, synthUid } from './prng.ts'
import type { PersonName } from '../types.ts'

const small = { ES: { rows: 48, columns: 64 }, CT: { rows: 32, columns: 32 }, MR: { rows: 32, columns: 32 } }

function find(p: SynthPlanned, tag: number) {
  return p.elements.find((e) => e.tag === tag)?.value
}

test('same seed, same corpus; another seed, other UIDs', () => {
  const a = [...planCorpus({ studies: 3, seriesPerStudy: 2, instancesPerSeries: 2, seed: 7, sizes: small })]
  const b = [...planCorpus({ studies: 3, seriesPerStudy: 2, instancesPerSeries: 2, seed: 7, sizes: small })]
  const c = [...planCorpus({ studies: 3, seriesPerStudy: 2, instancesPerSeries: 2, seed: 8, sizes: small })]
  assert.equal(a.length, 12)
  assert.deepEqual(a, b)
  assert.notEqual(a[0].sopInstanceUid, c[0].sopInstanceUid)
})

test('a study is the same whatever the size of the corpus around it', () => {
  const one = [...planCorpus({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 3, sizes: small })][0]
  const many = [...planCorpus({ studies: 4, seriesPerStudy: 2, instancesPerSeries: 3, seed: 3, sizes: small })][0]
  assert.equal(one.sopInstanceUid, many.sopInstanceUid)
  assert.deepEqual(one.study, many.study)
})

test('UIDs are valid 2.25 UIDs and unique; paths are study/series/n.dcm', () => {
  const all = [...planCorpus({ studies: 6, seriesPerStudy: 2, instancesPerSeries: 3, seed: 1, sizes: small })]
  const uids = new Set<string>()
  for (const p of all) {
    for (const uid of [p.sopInstanceUid, p.seriesInstanceUid, p.study.studyInstanceUid]) {
      assert.match(uid, /^2\.25\.(0|[1-9][0-9]*)$/)
      assert.ok(uid.length <= 64)
    }
    assert.ok(!uids.has(p.sopInstanceUid))
    uids.add(p.sopInstanceUid)
    assert.match(p.path, /^\d{4}\/\d{3}\/\d{4}\.dcm$/)
  }
  assert.equal(new Set(all.map((p) => p.path)).size, all.length)
  assert.equal(new Set(all.map((p) => p.seriesInstanceUid)).size, 12)
  assert.equal(synthUid(1, 'x'), synthUid(1, 'x'))
})

test('mixed corpus alternates CT, MR, ES and all three character sets', () => {
  const all = [...planCorpus({ studies: 9, seriesPerStudy: 1, instancesPerSeries: 1, seed: 5, sizes: small })]
  assert.deepEqual(all.slice(0, 3).map((p) => p.study.modality), ['CT', 'MR', 'ES'])
  assert.deepEqual(new Set(all.map((p) => p.study.patient.charset)), new Set(['ir87', 'ir13', 'ir192']))
  for (const p of all) {
    const sop = find(p, 0x00080016)
    assert.equal(sop, { CT: '1.2.840.10008.5.1.4.1.1.2', MR: '1.2.840.10008.5.1.4.1.1.4', ES: '1.2.840.10008.5.1.4.1.1.77.1.1' }[p.study.modality])
  }
})

test('element lists are sorted, DS/IS values fit, pixel bytes match the image size', () => {
  for (const p of planCorpus({ studies: 3, seriesPerStudy: 3, instancesPerSeries: 2, seed: 2, sizes: small })) {
    for (let i = 1; i < p.elements.length; i++) assert.ok(p.elements[i - 1].tag < p.elements[i].tag, `order at ${p.elements[i].tag.toString(16)}`)
    for (const e of p.elements) {
      if (e.vr === 'DS' || e.vr === 'IS') for (const v of [e.value].flat()) assert.ok(typeof v === 'string' && v.length <= (e.vr === 'DS' ? 16 : 12) && /^[-+0-9.eE]+$/.test(v), `${e.tag.toString(16)}=${v}`)
      if (e.vr === 'LO') for (const v of [e.value].flat()) assert.ok(String(v).length <= 64)
      if (e.vr === 'SH') for (const v of [e.value].flat()) assert.ok(String(v).length <= 16)
    }
    const rows = find(p, 0x00280010) as number
    const cols = find(p, 0x00280011) as number
    const bytesPer = p.study.modality === 'ES' ? 3 : 2
    assert.equal(p.pixels.length, rows * cols * bytesPer)
    assert.match(p.study.patient.patientId, /^\d{8}$/)
    assert.match(String(find(p, 0x00101010)), /^\d{3}Y$/)
  }
})

test('patient names carry all three groups; IR 13 patients have half-width kana', () => {
  let halfWidth = 0
  for (const p of planCorpus({ studies: 12, seriesPerStudy: 1, instancesPerSeries: 1, seed: 9, sizes: small, charset: 'ir87' })) {
    const [name] = find(p, 0x00100010) as PersonName[]
    assert.match(name.Alphabetic!, /^[A-Z][a-z]+\^[A-Z][a-z]+$/)
    assert.match(name.Ideographic!, /^[\u3005\u3041-\u3096\u4e00-\u9fff]+\^[\u3005\u3041-\u3096\u4e00-\u9fff]+$/)
    const cs = find(p, 0x00080005)
    if (p.study.patient.charset === 'ir13') {
      halfWidth++
      assert.deepEqual(cs, ['ISO 2022 IR 13', 'ISO 2022 IR 87'])
      assert.match(name.Phonetic!, /^[\uff61-\uff9f]+\^[\uff61-\uff9f]+$/)
    } else {
      assert.deepEqual(cs, ['', 'ISO 2022 IR 87'])
      assert.match(name.Phonetic!, /^[\u3041-\u3096]+\^[\u3041-\u3096]+$/)
    }
  }
  assert.ok(halfWidth > 0)
})

test('half-width katakana conversion splits voiced marks as JIS X 0201 does', () => {
  assert.equal(toHalfWidthKatakana('やまだ^たろう'), 'ﾔﾏﾀﾞ^ﾀﾛｳ')
  assert.equal(toHalfWidthKatakana('しょうた'), 'ｼｮｳﾀ')
  assert.equal(toHalfWidthKatakana('こんどう'), 'ｺﾝﾄﾞｳ')
  assert.equal(toHalfWidthKatakana('ぱ'), 'ﾊﾟ')
})

test('every Japanese text in the tables is JIS X 0208 (encodable in ISO 2022 IR 87)', () => {
  const texts = [
    ...[...FAMILY_NAMES, ...MALE_GIVEN_NAMES, ...FEMALE_GIVEN_NAMES].flatMap(([k, h]) => [k, h]),
    ...INSTITUTIONS.map((i) => i.name),
    ...[...planCorpus({ studies: 30, seriesPerStudy: 3, instancesPerSeries: 1, seed: 4, sizes: small })].flatMap((p) =>
      p.elements.filter((e) => ['LO', 'SH'].includes(e.vr)).map((e) => String(e.value)),
    ),
  ]
  for (const t of texts) {
    const jp = t.replace(/[\x00-\x7f]/g, '')
    if (!jp) continue
    const bytes = iconv.encode(jp, 'EUC-JP')
    // Two-byte JIS X 0208 only: no 0x8E (half-width kana) or 0x8F (JIS X 0212) prefixes.
    assert.ok(bytes.length === jp.length * 2 && !bytes.includes(0x8e) && !bytes.includes(0x8f), t)
    assert.equal(iconv.decode(bytes, 'EUC-JP'), jp)
  }
})

test('CT phantom: stored values are HU + 1024 with air, soft tissue and bone', () => {
  const [p] = planCorpus({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 1, modality: 'CT', sizes: { CT: { rows: 128, columns: 128 } } })
  const px = new Int16Array(p.pixels.buffer, p.pixels.byteOffset, p.pixels.length / 2)
  const hu = Array.from(px, (v) => v - 1024)
  assert.ok(hu.some((v) => v < -1900), 'outside the field of view')
  assert.ok(hu.some((v) => v > -1050 && v < -950), 'air')
  assert.ok(hu.some((v) => v > 20 && v < 60), 'soft tissue')
  assert.ok(hu.some((v) => v > 500), 'bone')
  assert.ok(hu.some((v) => v < -700 && v > -950), 'lung')
})

test('PRNG is deterministic and roughly uniform', () => {
  const a = Prng.for(1, 'x')
  const b = Prng.for(1, 'x')
  const xs = Array.from({ length: 10000 }, () => a.next())
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b.next()))
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length
  assert.ok(Math.abs(mean - 0.5) < 0.02)
  assert.ok(xs.every((x) => x >= 0 && x < 1))
})
