/**
 * Clinical records end to end: a generated SS-MIX2 tree (realistic patients, several years, ISO-2022-JP, real-world
 * variants and malformed files), generated vendor exports of both shipped layouts in every supported encoding,
 * and DICOM studies of the same patients (the SS-MIX2 generator links its patients and Study Instance UIDs to the
 * DICOM synthetic corpus), all through one real gateway into one real hub (a de-identified collection).
 *
 * Then: every expected record is confirmed; records and images link up under one pseudonym (record subject =
 * the study's de-identified PatientID, the record's study UID = the hub's de-identified Study Instance UID); no
 * generated identifier (names in kanji, kana and romaji, IDs, addresses, postal codes, phones, birth dates in the
 * generators' formats, staff names and IDs) survives anywhere in the hub: every text column of every catalog
 * table (SQLite or PostgreSQL), the SQLite file's bytes, and every stored object; malformed messages and rows are held on the gateway
 * with the reasons the generators name, and the gateway status shows them.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import iconv from 'iconv-lite'
import { pseudonymizer, writeSecretFile, loadSecret } from '@kura/deid'
import { synthStudies, type SynthOptions } from '@kura/dicom/synth'
import { ENCODINGS, encodeIso2022Jp, shippedAdapterPath, type ExportEncoding } from '@kura/records'
import { generateVendorExport, writeSsmix2Tree, type GeneratedVendorExport, type Ssmix2SynthResult, type VendorLayout } from '@kura/records/synth'
import { startTestHub, type TestHub } from './support/hub.ts'
import { until } from './support/network.ts'
import { parseGatewayConfig } from '../packages/gateway/src/config/index.ts'
import { startGateway, type Gateway } from '../packages/gateway/src/gateway.ts'
import { RecordOutbox } from '../packages/gateway/src/outbox/index.ts'
import { SSMIX2_RECORD_TYPES } from '../packages/gateway/src/sources/ssmix2/index.ts'

const COLLECTION = 'rec-e2e'
const DICOM: SynthOptions = { studies: 6, seriesPerStudy: 1, instancesPerSeries: 2, seed: 31, modality: 'mixed', charset: 'mixed', sizes: { CT: { rows: 16, columns: 16 }, MR: { rows: 16, columns: 16 }, ES: { rows: 16, columns: 16 } } }
const LAYOUTS: VendorLayout[] = ['vendor-a-csv', 'vendor-b-xml']

interface Summary { id: string; kind: string; subject: string; studies: string[] }

describe('clinical records: SS-MIX2 and vendor exports through a gateway into a hub, linked to images', () => {
  let hub: TestHub
  let root: string
  let gw: Gateway | null = null
  let tree: Ssmix2SynthResult
  const exports: Array<{ layout: VendorLayout; encoding: ExportEncoding; g: GeneratedVendorExport }> = []
  const instances = [...synthStudies(DICOM)]
  let baselineText = ''

  before(async () => {
    hub = await startTestHub()
    // What a fresh hub already holds (vocabularies, ...): a needle found there is not a leak, and is skipped.
    baselineText = (await hubText(hub)).join('\n')
    const made = await hub.fetch(`${hub.url}/api/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: COLLECTION, deidentified: true }) })
    assert.equal(made.status, 201, await made.text())
    root = mkdtempSync(join(tmpdir(), 'kura-records-e2e-'))
    writeFileSync(join(root, 'token'), hub.adminToken + '\n', { mode: 0o600 })
    writeSecretFile(join(root, 'secret.key'))
    mkdirSync(join(root, 'drop'))
    instances.forEach((inst, i) => writeFileSync(join(root, 'drop', `${i}.dcm`), inst.bytes))
    tree = await writeSsmix2Tree(join(root, 'ssmix2'), { patients: 3, years: 3, seed: 8, dicom: DICOM })
    let seed = 60
    for (const layout of LAYOUTS) {
      for (const encoding of ENCODINGS) {
        const g = generateVendorExport({ layout, encoding, exams: 4, seed: seed++ })
        exports.push({ layout, encoding, g })
        const dir = join(root, 'exports', `${layout}-${encoding}`)
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, `export.${layout.endsWith('xml') ? 'xml' : 'csv'}`), g.bytes)
        // A site exporting in another encoding copies the shipped adapter and changes its encoding line.
        writeFileSync(join(root, 'exports', `${layout}-${encoding}.yaml`), readFileSync(shippedAdapterPath(layout), 'utf8').replace(/^encoding:.*$/m, `encoding: ${encoding}`))
      }
    }
    const config = parseGatewayConfig({
      site: 'test-site',
      hub: { url: hub.url, tokenFile: 'token' },
      collection: COLLECTION,
      deid: { policy: 'basic', secretFile: 'secret.key' },
      spool: 'spool',
      sources: {
        folders: [{ path: 'drop', settleSeconds: 0 }],
        ssmix2: [{ path: 'ssmix2', settleSeconds: 0, rescanSeconds: 1 }],
        vendorExports: exports.map((e) => ({ path: `exports/${e.layout}-${e.encoding}`, adapter: `exports/${e.layout}-${e.encoding}.yaml`, settleSeconds: 0, rescanSeconds: 1 })),
      },
      limits: { concurrency: 2, minFreeDiskBytes: 0 },
      status: { port: 0 },
    }, join(root, 'gateway.yaml'))
    gw = await startGateway(config, { pollMs: 200, backoffMs: 200 })
  })

  after(async () => {
    await gw?.stop()
    await hub?.close()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  const objects = () => gw!.outbox.db.prepare('SELECT kind, state, outcome, last_error, study_uid FROM objects').all() as Array<{ kind: string; state: string; outcome: string | null; last_error: string | null; study_uid: string | null }>
  const settled = () => {
    const rows = objects()
    const rec = new RecordOutbox(gw!.outbox)
    return rows.filter((r) => r.kind === 'dicom').length === instances.length && rec.inputCount() === 0 && rows.every((r) => !['received', 'deidentified', 'queued', 'uploading', 'retry'].includes(r.state))
      && gw!.vendorExports.every((s) => s.files === 1) && gw!.ssmix2.every((s) => s.counters.scans > 0)
  }

  it('delivers every image and every expected record; the hub confirms each', async () => {
    await until('every image and record settled', settled, 240_000)
    const rows = objects()
    const dicom = rows.filter((r) => r.kind === 'dicom')
    assert.ok(dicom.every((r) => r.state === 'confirmed'), JSON.stringify(dicom.filter((r) => r.state !== 'confirmed')))
    const records = rows.filter((r) => r.kind === 'record')
    const failed = records.filter((r) => r.state === 'failed')
    assert.deepEqual(failed.map((r) => r.last_error), [], 'the hub rejected none of the records the gateway found clean')
    const confirmed = records.filter((r) => r.state === 'confirmed')
    const expectRecords = Object.values(tree.expected.records).reduce((a, b) => a + b, 0) + exports.reduce((n, e) => n + e.g.exams.length, 0)
    const held = new RecordOutbox(gw!.outbox).held(1000)
    assert.equal(confirmed.length, expectRecords, `every record the generators made is confirmed by the hub; held: ${JSON.stringify(held.slice(0, 8).map((h) => h.reasons.slice(0, 2)))}`)
    // Hub side: the same number of current records in the collection.
    assert.equal((await hubRecords(hub)).length, expectRecords)
  })

  it('links records and images under one pseudonym', async () => {
    const p = pseudonymizer(loadSecret(join(root, 'secret.key')), COLLECTION)
    const summaries = await hubRecords(hub)
    const linked = tree.studies.filter((s) => s.linkedToDicom)
    assert.ok(linked.length >= 3, 'the SS-MIX2 tree references the DICOM studies')
    for (const s of linked) {
      const uid = p.uid(s.studyInstanceUid)
      const subject = p.patientId(s.patientId)
      const q = await hub.fetch(`${hub.dicomweb}/studies?StudyInstanceUID=${uid}&includefield=00100020`, { headers: { accept: 'application/dicom+json' } })
      assert.equal(q.status, 200, `the de-identified study ${s.kind} is on the hub`)
      const found = (await q.json()) as Array<Record<string, { Value?: unknown[] }>>
      assert.equal(found.length, 1, 'the study is on the hub under its de-identified UID')
      assert.equal(String(found[0]!['00100020']?.Value?.[0]), subject, "the study's PatientID is the subject's pseudonym")
      const recs = summaries.filter((r) => r.studies.includes(uid))
      assert.ok(recs.length >= 1, `a ${s.kind} record points at the de-identified study`)
      for (const r of recs) assert.equal(r.subject, subject, 'the record and the images share one pseudonymous subject')
      const viaStudy = (await (await hub.fetch(`${hub.url}/api/studies/${uid}/records`)).json()) as { records: Summary[] }
      assert.ok(viaStudy.records.some((r) => r.kind === s.kind), 'the study page finds its record')
    }
    // Every patient of the tree is one subject: their demographics record carries the same pseudonym as their images.
    for (const pt of tree.patients.filter((x) => x.linkedToDicom)) {
      assert.ok(summaries.some((r) => r.kind === 'patient' && r.subject === p.patientId(pt.patientId)), 'the demographics record is under the same pseudonym')
    }
  })

  it('leaves no generated identifier anywhere in the hub: catalog text, database file, objects', async () => {
    const needles = identifierNeedles(tree, exports, instances).filter((n) => !baselineText.includes(n.text))
    assert.ok(needles.length > 50, `${needles.length} identifiers to look for`)
    const texts = await hubText(hub)
    // Positive control: the scan does see what the hub holds (a linked subject's pseudonym is in both places).
    const p = pseudonymizer(loadSecret(join(root, 'secret.key')), COLLECTION)
    const control = p.patientId(tree.patients.find((x) => x.linkedToDicom)!.patientId)
    assert.ok(texts.some((t) => t.includes(control)), 'the catalog scan reads the records and studies')
    const blobs = await hubBlobs(hub)
    assert.ok(blobs.some((b) => b.bytes.includes(Buffer.from(control))), 'the byte scan reads the stored objects (and the SQLite file)')
    assert.ok(blobs.some((b) => b.where.startsWith('object ')), 'objects are scanned')
    const hits: string[] = []
    for (const n of needles) {
      for (const t of texts) {
        const at = findNeedle(Buffer.from(t, 'utf8'), Buffer.from(n.text, 'utf8'))
        if (at >= 0) { hits.push(`${n.what} "${n.text}" in catalog text …${t.slice(Math.max(0, t.indexOf(n.text) - 40), t.indexOf(n.text) + n.text.length + 40)}…`); break }
      }
    }
    for (const b of blobs) {
      for (const n of needles) {
        for (const enc of n.encodings) {
          // Shorter byte strings match binary data by chance: Shift_JIS writes the half-width name "ﾋﾉ" as the
          // two bytes CB C9, which the WAL's random salts and checksums hold now and then. Such names are still
          // sought in the catalog's decoded text above, and in their UTF-8 and ISO 2022 forms (6+ bytes) here.
          if (enc.length < 6) continue
          const at = findNeedle(b.bytes, enc)
          if (at >= 0) { hits.push(`${n.what} "${n.text}" in ${b.where} at ${at}: ${JSON.stringify(b.bytes.subarray(Math.max(0, at - 40), at + enc.length + 40).toString('latin1'))}`); break }
        }
      }
    }
    assert.deepEqual(hits, [], 'no identifier survives')
  })

  it('holds malformed messages and rows on the gateway with clear reasons, shown in the status', async () => {
    const st = (await (await fetch(`http://127.0.0.1:${gw!.statusServer!.port}/status`)).json()) as { records: { held: Array<{ ref: string | null; reasons: Array<{ path: string; message: string }> }> } }
    const held = new RecordOutbox(gw!.outbox).held(10_000)
    const planted = tree.malformed.filter((m) => SSMIX2_RECORD_TYPES.includes(m.path.split('/')[4]!))
    assert.ok(planted.length >= 4)
    for (const m of planted) {
      const h = held.find((x) => x.ref === m.path)
      assert.ok(h, `${m.reason}: held on the gateway`)
      const text = h.reasons.map((r) => `${r.path} ${r.message}`).join(' | ')
      assert.ok(text.includes(m.code), `${m.reason}: the reasons (${text}) name ${m.code}`)
    }
    for (const e of exports) {
      for (const m of e.g.malformed) {
        assert.ok(held.some((h) => h.source.includes(`${e.layout}-${e.encoding}`) && h.reasons.some((r) => r.message.includes(m.reason))), `${e.layout} ${e.encoding} ${m.kind}: held with "${m.reason}"`)
      }
    }
    assert.ok(st.records.held.length > 0, 'the status lists held records with their reasons')
    const metrics = await (await fetch(`http://127.0.0.1:${gw!.statusServer!.port}/metrics`)).text()
    assert.match(metrics, /kura_gateway_records\{state="quarantined"\} [1-9]/)
    assert.match(metrics, /kura_gateway_records\{state="confirmed"\} [1-9]/)
  })
})

/** Every current record summary of the collection, through the hub's paginated search. */
async function hubRecords(hub: TestHub): Promise<Summary[]> {
  const out: Summary[] = []
  let cursor: string | null = null
  do {
    const res = await hub.fetch(`${hub.url}/api/records?collection=${COLLECTION}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    assert.equal(res.status, 200, await res.clone().text())
    const page = (await res.json()) as { records: Summary[]; next: string | null }
    out.push(...page.records)
    cursor = page.next
  } while (cursor)
  return out
}

/** Every text value of every column of every table of the hub's catalog, on either backend. */
async function hubText(hub: TestHub): Promise<string[]> {
  const db = hub.archive.catalog.db
  const sqlite = hub.env.config.databaseUrl.startsWith('sqlite:')
  const tables = sqlite
    ? (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(db)).rows.map((r) => r.name)
    : (await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`.execute(db)).rows.map((r) => r.name)
  const out: string[] = []
  for (const t of tables) {
    for (const row of (await sql<Record<string, unknown>>`SELECT * FROM ${sql.id(t)}`.execute(db)).rows) {
      for (const v of Object.values(row)) {
        if (typeof v === 'string') out.push(v)
        else if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'))
        else if (v !== null && typeof v === 'object' && !(v instanceof Date)) out.push(JSON.stringify(v))
      }
    }
  }
  return out
}

/** The bytes of every stored object, and (SQLite) of every file under the data folder: the database and its WAL too. */
async function hubBlobs(hub: TestHub): Promise<Array<{ where: string; bytes: Buffer }>> {
  const out: Array<{ where: string; bytes: Buffer }> = []
  for await (const o of hub.archive.objects.list('')) {
    const chunks: Buffer[] = []
    for await (const c of await hub.archive.objects.get(o.key)) chunks.push(c as Buffer)
    out.push({ where: `object ${o.key}`, bytes: Buffer.concat(chunks) })
  }
  if (hub.env.config.databaseUrl.startsWith('sqlite:')) {
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.isFile() && statSync(p).size > 0) out.push({ where: `file ${p.slice(hub.env.config.dataDir.length)}`, bytes: readFileSync(p) })
      }
    }
    walk(hub.env.config.dataDir)
  }
  return out
}

interface Needle { what: string; text: string; encodings: Buffer[] }

/**
 * Where `needle` occurs in `hay`, or -1. A needle that begins or ends with a digit (an ID, a birth date, a
 * phone number) counts only where no digit touches it: a 7-digit patient ID inside a random 39-digit `2.25.`
 * UID or a millisecond timestamp is chance, not a leak.
 */
function findNeedle(hay: Buffer, needle: Buffer): number {
  const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39
  const guardStart = isDigit(needle[0])
  const guardEnd = isDigit(needle[needle.length - 1])
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) {
    if (guardStart && isDigit(hay[at - 1])) continue
    if (guardEnd && isDigit(hay[at + needle.length])) continue
    return at
  }
  return -1
}

/** Every identifier the generators wrote, in the forms and encodings they wrote them. */
function identifierNeedles(tree: Ssmix2SynthResult, exports: Array<{ g: GeneratedVendorExport }>, instances: Array<{ patientId: string; patientName: { Alphabetic?: string; Ideographic?: string; Phonetic?: string } }>): Needle[] {
  const all = new Map<string, string>()
  const add = (what: string, v: string | undefined) => {
    const t = (v ?? '').trim()
    // Very short values (a one-character given name, a 2-letter romaji) match by chance: not meaningful needles.
    if (t.length < 2 || (/^[\x20-\x7e]+$/.test(t) && t.length < 6)) return
    if (!all.has(t)) all.set(t, what)
  }
  const ids = tree.identifiers
  for (const v of ids.patientIds) add('an SS-MIX2 patient ID', v)
  for (const v of ids.names) add('an SS-MIX2 patient name', v)
  for (const v of ids.birthDates) add('an SS-MIX2 birth date', v)
  for (const v of ids.addresses) add('an SS-MIX2 address', v)
  for (const v of ids.postalCodes) add('an SS-MIX2 postal code', v)
  for (const v of ids.phones) add('an SS-MIX2 phone number', v)
  for (const v of ids.staffNames) add('an SS-MIX2 staff name', v)
  for (const v of ids.staffIds) add('an SS-MIX2 staff ID', v)
  for (const { g } of exports) {
    for (const p of g.patients) {
      add('an export patient ID', p.patientId)
      add('an export kanji name', p.kanji)
      add('an export kana name', p.kana)
      add('an export romaji name', p.romaji)
      add('an export birth date', p.birthDate)
      add('an export birth date', p.birthDate.replaceAll('-', ''))
      add('an export birth date', p.birthDate.replaceAll('-', '/'))
      add('an export address', p.address)
      add('an export postal code', p.postalCode)
      add('an export phone number', p.phone)
    }
    for (const s of g.staff) { add('an export staff name', s.name); add('an export staff ID', s.id) }
  }
  for (const i of instances) {
    add('a DICOM patient ID', i.patientId)
    for (const part of [i.patientName.Alphabetic, i.patientName.Ideographic, i.patientName.Phonetic]) add('a DICOM patient name', part)
  }
  return [...all].map(([text, what]) => {
    const encodings: Buffer[] = [Buffer.from(text, 'utf8')]
    if (!/^[\x20-\x7e]+$/.test(text)) {
      for (const enc of ['shift_jis', 'euc-jp']) encodings.push(iconv.encode(text, enc))
      // DICOM's ISO 2022 IR 87 writes kanji with the same escape sequences as ISO-2022-JP.
      try { encodings.push(Buffer.from(encodeIso2022Jp(text))) } catch { /* a character ISO-2022-JP lacks (half-width kana): not written that way */ }
    }
    return { what, text, encodings }
  })
}
