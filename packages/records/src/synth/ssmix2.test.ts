/**
 * The SS-MIX2 generator: same seed, same bytes; every message 7-bit ISO-2022-JP (but the deliberately broken ones);
 * every identifier it reports is really in the messages (so a leak scan built on the list can fail), in kanji and
 * kana; variants and malformed files are listed; memory-light mode keeps the same files.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeForDisplay, parseHl7 } from '../hl7/index.ts'
import { validateRecord } from '../schema/validate.ts'
import { parseSsmix2FileName, readSsmix2Tree, toClinicalRecords } from '../ssmix2/index.ts'
import { synthSsmix2Files, type Ssmix2SynthFile, type Ssmix2SynthOptions, type Ssmix2SynthResult } from './ssmix2.ts'

function run(opts: Ssmix2SynthOptions): { files: Ssmix2SynthFile[]; result: Ssmix2SynthResult } {
  const files: Ssmix2SynthFile[] = []
  const g = synthSsmix2Files(opts)
  for (;;) {
    const n = g.next()
    if (n.done) return { files, result: n.value }
    files.push(n.value)
  }
}

const digest = (files: Ssmix2SynthFile[]) => {
  const h = createHash('sha256')
  for (const f of files) h.update(f.path).update(f.bytes)
  return h.digest('hex')
}

test('deterministic: the same options give the same files; another seed does not; collect=false changes nothing written', () => {
  const a = run({ patients: 8, seed: 11 })
  const b = run({ patients: 8, seed: 11, collect: false })
  const c = run({ patients: 8, seed: 12 })
  assert.equal(digest(a.files), digest(b.files))
  assert.notEqual(digest(a.files), digest(c.files))
  assert.equal(b.result.identifiers.names.length, 0)
  assert.deepEqual(a.result.expected, b.result.expected)
})

test('messages are ISO-2022-JP, parse, and carry every reported identifier in kanji and kana', () => {
  const { files, result } = run({ patients: 10, seed: 21, dicom: { studies: 4, seriesPerStudy: 1, instancesPerSeries: 1, seed: 21 } })
  const broken = new Set(result.malformed.filter((m) => m.stage === 'reader').map((m) => m.path))
  let text = ''
  for (const f of files) {
    if (broken.has(f.path)) continue
    assert.ok(f.bytes.every((b) => b < 0x80), `${f.path} is 7-bit`)
    const m = parseHl7(f.bytes)
    assert.equal(m.charset, 'iso-2022-jp')
    text += decodeForDisplay(f.bytes) + '\n'
  }
  const ids = result.identifiers
  assert.ok(ids.patientIds.length >= 10 + 1)
  for (const p of result.patients) {
    assert.ok(text.includes(p.patientId), 'patient ID written')
    const [fk, gk] = p.kanji.split(' ')
    assert.ok(text.includes(`${fk}^${gk}`), 'kanji name written as PID-5 family^given')
    assert.ok(ids.names.includes(p.kanji) && ids.names.includes(p.kana), 'both scripts reported')
    assert.ok(text.includes(p.birthDate), 'birth date written')
  }
  for (const a of ids.addresses) assert.ok(text.includes(a), 'address written')
  for (const ph of ids.phones) assert.ok(text.includes(ph), 'phone written')
  for (const s of ids.staffIds) assert.ok(ids.staffNames.length > 0 && s.length > 0)
  // Some report text names the patient: de-identification has free text to clean.
  assert.ok(result.patients.some((p) => text.includes(`${p.kanji.replace(' ', '')}様`)))
  // Linked patients and studies are marked; every study UID is written in an IPC segment.
  assert.ok(result.patients.some((p) => p.linkedToDicom))
  assert.ok(result.studies.filter((s) => s.linkedToDicom).length === 4)
  for (const s of result.studies) assert.ok(text.includes(`|${s.studyInstanceUid}|`))
})

test('variants and malformed files are listed with their reasons', () => {
  const { result } = run({ patients: 40, seed: 31 })
  const kinds = new Set(result.variants.map((v) => v.variant))
  for (const v of ['crlf', 'lf', 'trailing-garbage', 'blank-lines', 'esc-(-j', 'superseded-version']) assert.ok(kinds.has(v), v)
  const codes = result.malformed.map((m) => m.code).sort()
  assert.deepEqual(codes, ['HL7_BAD_ISO2022', 'HL7_CHARSET_SHIFT_JIS', 'HL7_CHARSET_UTF8', 'HL7_EMPTY', 'HL7_NO_MSH', 'OBR-4', 'PID-3', 'PID-7', 'SPM-4', 'fileName', 'fileName'])
  const e = result.expected
  assert.equal(e.files, e.current + e.superseded + e.deleted + e.heldByReader)
  assert.equal(e.current, e.heldByMapping + e.skipped + e.records.patient + e.records.endoscopy + e.records.pathology + e.records.radiology)
  const none = run({ patients: 5, seed: 31, variants: false, malformed: false }).result
  assert.equal(none.malformed.length, 0)
  assert.equal(none.variants.length, 0)
  assert.equal(none.expected.superseded + none.expected.deleted + none.expected.heldByReader + none.expected.heldByMapping, 0)
})

test('every record from a generated tree validates against the shipped vocabularies', () => {
  const { files, result } = run({ patients: 30, seed: 41, dicom: { studies: 6, seriesPerStudy: 1, instancesPerSeries: 1, seed: 41 } })
  const broken = new Set(result.malformed.map((m) => m.path))
  let n = 0
  for (const f of files) {
    if (broken.has(f.path)) continue
    const name = parseSsmix2FileName(f.path.slice(f.path.lastIndexOf('/') + 1))
    assert.ok(name.ok)
    if (name.name.flag !== '1') continue // older versions; stale flag-1 copies here are all orders (no record)
    for (const r of toClinicalRecords(parseHl7(f.bytes), { path: f.path, file: name.name }).records) {
      n++
      assert.deepEqual(validateRecord(r), [], `${r.kind} from ${f.path}`)
    }
  }
  assert.equal(n, Object.values(result.expected.records).reduce((a, b) => a + b, 0))
})

test('kura synth ssmix2 writes the tree the generator describes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-synth-ssmix2-'))
  try {
    const bin = fileURLToPath(new URL('../../../cli/bin/kura.js', import.meta.url))
    const r = spawnSync(process.execPath, [bin, 'synth', 'ssmix2', '--out', join(dir, 't'), '--patients', '6', '--seed', '9'], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const want = run({ patients: 6, seed: 9, years: 3, collect: false }).result
    assert.match(r.stdout, new RegExp(`Wrote ${want.files} SS-MIX2 files`))
    let n = 0
    for await (const _ of readSsmix2Tree(join(dir, 't'))) n++
    assert.equal(n, want.files)
    const bad = spawnSync(process.execPath, [bin, 'synth', 'ssmix2', '--patients', '2'], { encoding: 'utf8' })
    assert.equal(bad.status, 2)
    assert.match(bad.stderr, /--out is required/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
