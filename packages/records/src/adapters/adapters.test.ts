import { test } from 'node:test'
import assert from 'node:assert/strict'
import iconv from 'iconv-lite'
import { generateVendorExport } from '../synth/vendor.ts'
import { ENCODINGS, loadAdapter, type Adapter } from './adapter.ts'
import { readVendorExport, type ExportItem } from './read-export.ts'
import { checkExport, unmappedTerms } from './unmapped.ts'
import { proposeMapping } from './propose.ts'
import { shippedAdapter, SHIPPED_ADAPTERS } from './shipped.ts'
import type { EndoscopyRecord, HeldRecord } from '../schema/types.ts'

async function readAll(input: Parameters<typeof readVendorExport>[0], adapter: Adapter, encoding?: (typeof ENCODINGS)[number]): Promise<{ records: EndoscopyRecord[]; held: HeldRecord[] }> {
  const records: EndoscopyRecord[] = []
  const held: HeldRecord[] = []
  for await (const it of readVendorExport(input, adapter, { encoding })) {
    if ('record' in it) records.push(it.record as EndoscopyRecord)
    else held.push(it.held)
  }
  return { records, held }
}

/** Byte chunks of `size`, to cut multi-byte characters and escape sequences at every position. */
async function* chunked(b: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size)
}

for (const layout of SHIPPED_ADAPTERS) {
  for (const encoding of ENCODINGS) {
    test(`${layout} reads a generated export in ${encoding}: records, held rows with reasons, names intact`, async () => {
      const g = generateVendorExport({ layout, encoding, exams: 24, seed: 7 })
      const adapter = shippedAdapter(layout)
      const { records, held } = await readAll(chunked(g.bytes, 7), adapter, encoding)
      assert.equal(records.length, g.exams.length)
      assert.equal(held.length, g.expectedHeld)
      for (const m of g.malformed) {
        assert.ok(held.some((h) => h.reasons.some((r) => r.message.includes(m.reason))), `${m.kind}: ${m.reason}`)
      }
      for (const h of held) assert.ok(h.raw.length > 0 && h.source.ref.length > 0)
      const byPatient = new Map(g.patients.map((p) => [p.patientId, p]))
      g.exams.forEach((e, i) => {
        const r = records[i]!
        assert.equal(r.recordId, e.recordId)
        assert.equal(r.subject.patientId, e.patientId)
        const p = byPatient.get(e.patientId)!
        // Kanji and kana (能, 表, ソ, 十 have 0x5C trail bytes in Shift_JIS) survive every encoding.
        assert.equal(r.subject.name?.kanji, p.kanji)
        assert.equal(r.subject.name?.kana, p.kana)
        assert.equal(r.subject.birthDate, p.birthDate) // written as an era date
        assert.equal(r.subject.sex, p.sex)
        assert.equal(r.performedAt.slice(0, 10), e.performedOn)
        assert.deepEqual(r.images, [{ studyInstanceUid: e.studyInstanceUid }])
        assert.equal(r.findings.length, e.findings)
        assert.ok(r.findings.every((f) => f.site.system === 'MST3' && f.term.system === 'MST3'))
        assert.equal(r.staff[0]?.role, 'endoscopist')
      })
      // The export has patients whose names hold 0x5C trail bytes.
      assert.ok(g.patients.some((p) => /[能表十]|ソ/.test(p.kanji + p.kana)))
    })
  }
}

test('Shift_JIS kanji with 0x5C trail bytes next to delimiters and quotes', async () => {
  const csv = '番号,患者ID,氏名,検査日,部位,所見\r\n"A1",001,表 能ソ,2023/04/01,胃体中部,潰瘍\r\nA1,001,表 能ソ,2023/04/01,"前庭部",びらん\r\n'
  const bytes = iconv.encode(csv, 'shift_jis')
  assert.ok(bytes.includes(0x5c))
  const adapter = loadAdapter(`adapter: t
kind: endoscopy
format: csv
encoding: shift_jis
recordKey: 番号
fields:
  recordId: 番号
  subject.patientId: 患者ID
  subject.name.kanji: 氏名
  performedAt: { column: 検査日, date: [yyyy/MM/dd] }
  examType: { const: upper-gi }
rows:
  findings:
    fields:
      site: { column: 部位, terms: site }
      term: { column: 所見, terms: finding }
terms:
  site: { 胃体中部: ST-BODY-M, 前庭部: ST-ANTRUM }
  finding: { 潰瘍: FD-ULCER, びらん: FD-EROSION }
`)
  for (const size of [1, 2, 3, 5, 64]) {
    const { records, held } = await readAll(chunked(bytes, size), adapter)
    assert.deepEqual(held, [], `chunk ${size}`)
    assert.equal(records.length, 1)
    assert.equal(records[0]!.subject.name?.kanji, '表 能ソ')
    assert.deepEqual(records[0]!.findings.map((f) => [f.site.code, f.term.code]), [['ST-BODY-M', 'FD-ULCER'], ['ST-ANTRUM', 'FD-EROSION']])
  }
})

const SMALL = (extra = ''): string => `adapter: small
kind: endoscopy
format: tsv
encoding: utf-8
recordKey: id
fields:
  recordId: id
  subject.patientId: pid
  performedAt: { column: date, date: [yyyyMMdd, era] }
  examType: { column: type, map: { 上部: upper-gi } }
  text: note
rows:
  findings:
    when: site
    fields:
      site: { column: site, terms: site }
      term: { column: term, terms: finding }
terms:
  site: { 胃角: ST-ANGLE }
  finding: { 潰瘍: FD-ULCER }
${extra}`

test('multi-row records: one finding per row, quoted line breaks, rows out of order and disagreeing rows are held', async () => {
  const tsv = [
    'id\tpid\tdate\ttype\tsite\tterm\tnote',
    'E1\tP1\t20230401\t上部\t胃角\t潰瘍\t"first line\nsecond line"',
    'E1\tP1\t20230401\t上部\tST-ANTRUM\tFD-EROSION\t',
    'E1\tP1\t20230401\t上部\t\t\t',
    'E2\tP2\t令和5年4月2日\t上部\t胃角\t潰瘍\t',
    'E3\tP3\t20230403\t上部\t胃角\t潰瘍\t',
    'E3\tP9\t20230403\t上部\t胃角\t潰瘍\t',
    'E2\tP2\t20230402\t上部\t胃角\t潰瘍\t',
  ].join('\n')
  const { records, held } = await readAll(new TextEncoder().encode(tsv), loadAdapter(SMALL()))
  assert.deepEqual(records.map((r) => [r.recordId, r.findings.length, r.performedAt]), [['E1', 2, '2023-04-01'], ['E2', 1, '2023-04-02']])
  assert.equal(records[0]!.text, 'first line\nsecond line')
  // Shipped codes written as such need no term map entry.
  assert.equal(records[0]!.findings[1]!.site.code, 'ST-ANTRUM')
  assert.equal(held.length, 2)
  assert.match(held[0]!.reasons[0]!.message, /disagree on column pid/)
  assert.equal(held[0]!.source.ref, 'export:7-8') // the quoted line break makes E1's first row two lines
  assert.match(held[1]!.reasons[0]!.message, /rows of record E2 appear again at line 9/)
})

test('the unmapped-term report counts every untranslated value per field', async () => {
  const tsv = ['id\tpid\tdate\ttype\tsite\tterm\tnote', 'E1\tP1\t20230401\t上部\t胃体\t潰瘍\t', 'E2\tP2\t20230401\t上部部\t胃体\tただれ\t', 'E3\tP3\t20230401\t上部\t胃体\t潰瘍\t'].join('\n')
  const bytes = new TextEncoder().encode(tsv)
  const terms = await unmappedTerms(bytes, loadAdapter(SMALL()))
  assert.deepEqual(terms, [
    { field: 'findings[].site', column: 'site', list: 'site', value: '胃体', count: 3 },
    { field: 'examType', column: 'type', list: 'value-map', value: '上部部', count: 1 },
    { field: 'findings[].term', column: 'term', list: 'finding', value: 'ただれ', count: 1 },
  ])
  const check = await checkExport(bytes, loadAdapter(SMALL()))
  assert.equal(check.records, 0)
  assert.equal(check.heldCount, 3)
  const reasons = check.held.flatMap((h) => ('held' in h ? h.held.reasons.map((r) => r.path) : []))
  assert.ok(reasons.includes('findings[0].site.code') && reasons.includes('examType'))
})

test('loadAdapter names every problem of a bad mapping file', () => {
  assert.throws(() => loadAdapter(`adapter: Bad Name
kind: dental
format: json
encoding: latin1
fields:
  recordId: id
  subject.patientId: { column: pid, terms: nosuchlist, date: [MM/dd] }
terms:
  site: { 胃: NOT-A-CODE }
`), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'RECORDS_ADAPTER_INVALID')
    for (const s of ['adapter:', 'kind:', 'format:', 'encoding:', 'recordKey:', 'fields.performedAt: required', 'unknown code list "nosuchlist"', 'needs yyyy', 'NOT-A-CODE']) assert.ok(e.message.includes(s), s)
    return true
  })
})

test('a header without the adapter\'s columns stops the read with a clear error', async () => {
  const bytes = new TextEncoder().encode('id\tpid\nE1\tP1\n')
  await assert.rejects(readAll(bytes, loadAdapter(SMALL())), /header has no column "date", "type", "note", "site", "term"/)
})

for (const encoding of ['shift_jis', 'cp932', 'euc-jp', 'iso-2022-jp', 'utf-8'] as const) {
  test(`propose-mapping on a vendor-a-csv sample in ${encoding} gets encoding and columns right, and the draft reads the export`, async () => {
    const g = generateVendorExport({ layout: 'vendor-a-csv', encoding, exams: 30, seed: 11, malformed: false })
    const draft = await proposeMapping(g.bytes.subarray(0, 6000))
    assert.equal(draft.encoding, encoding === 'cp932' ? 'shift_jis' : encoding) // no CP932-only characters in this sample
    assert.equal(draft.format, 'csv')
    assert.equal(draft.header, true)
    const field = (c: string) => draft.columns.find((x) => x.column === c)?.field
    assert.equal(field('検査番号'), 'recordId')
    assert.equal(field('患者ID'), 'subject.patientId')
    assert.equal(field('患者氏名'), 'subject.name.kanji')
    assert.equal(field('患者カナ'), 'subject.name.kana')
    assert.equal(field('生年月日'), 'subject.birthDate')
    assert.equal(field('StudyInstanceUID'), 'images[].studyInstanceUid')
    assert.equal(field('部位'), 'row:site')
    assert.equal(field('所見'), 'row:term')
    assert.equal(field('所見コメント'), 'row:note')
    assert.equal(field('抗血栓薬'), 'antithrombotics')
    // No patient's name, ID or birth date is copied into the draft.
    for (const p of g.patients) for (const v of [p.kanji, p.kana, p.patientId]) assert.ok(!draft.yaml.includes(v))
    const adapter = loadAdapter(draft.yaml)
    const { records, held } = await readAll(g.bytes, adapter)
    assert.equal(records.length + held.length, g.exams.length)
    const unmapped = await unmappedTerms(g.bytes, adapter)
    assert.ok(unmapped.every((u) => u.count > 0))
    // Terms named as the shipped lists name them were mapped by the proposer.
    assert.ok(!unmapped.some((u) => u.value === '胃体中部'))
  })
}

test('propose-mapping on a vendor-b-xml sample finds the row element and child paths', async () => {
  const g = generateVendorExport({ layout: 'vendor-b-xml', exams: 10, seed: 5, malformed: false })
  const draft = await proposeMapping(g.bytes)
  assert.equal(draft.format, 'xml')
  assert.equal(draft.encoding, 'utf-8')
  assert.equal(draft.rowElement, 'Exam')
  const field = (c: string) => draft.columns.find((x) => x.column === c)?.field
  assert.equal(field('@id'), 'recordId')
  assert.equal(field('Patient/Id'), 'subject.patientId')
  assert.equal(field('Patient/Name'), 'subject.name.kanji')
  assert.equal(field('Patient/Name/@kana'), 'subject.name.kana')
  assert.equal(field('Images/@studyUid'), 'images[].studyInstanceUid')
  assert.equal(field('Findings/Finding/@site'), 'row:site')
  const { records, held } = await readAll(g.bytes, loadAdapter(draft.yaml))
  assert.equal(records.length + held.length, g.exams.length)
  assert.ok([...records, ...held].length > 0)
})

test('readVendorExport never loads the whole export: a generated export streams from a file', async () => {
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'kura-vendor-'))
  try {
    const g = generateVendorExport({ layout: 'vendor-b-xml', exams: 300, seed: 2 })
    const path = join(dir, 'export.xml')
    writeFileSync(path, g.bytes)
    const items: ExportItem[] = []
    for await (const it of readVendorExport(path, shippedAdapter('vendor-b-xml'))) items.push(it)
    assert.equal(items.filter((i) => 'record' in i).length, 300)
    const h = items.find((i) => 'held' in i)
    assert.ok(h && 'held' in h && h.held.source.ref.startsWith('export.xml:'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('propose-mapping without a header row guesses columns from their values', async () => {
  const g = generateVendorExport({ layout: 'vendor-a-csv', encoding: 'utf-8', exams: 30, seed: 4, malformed: false })
  const body = new TextDecoder().decode(g.bytes).split('\r\n').slice(1).join('\r\n')
  const draft = await proposeMapping(new TextEncoder().encode(body))
  assert.equal(draft.header, false)
  const field = (c: number) => draft.columns.find((x) => x.column === c)?.field
  assert.deepEqual([1, 2, 3, 4, 5, 6, 28].map(field), ['recordId', 'subject.patientId', 'subject.name.kanji', 'subject.name.kana', 'subject.birthDate', 'subject.sex', 'images[].studyInstanceUid'])
  const adapter = loadAdapter(draft.yaml)
  assert.equal(adapter.recordKey, 1)
  assert.deepEqual(adapter.fields.performedAt?.concat, [7, 8])
})
