/**
 * Property: a random dataset carrying the subject's own identifiers in random text attributes never leaves
 * de-identification with one of them readable. For every run either the object is refused (a KuraError from the
 * engine) or quarantined (the verification scan finds something), or else the verification finds nothing AND an
 * independent exact-substring search of every decoded output value finds none of the injected identifiers.
 *
 * Deterministic: a fixed fast-check seed; the seed and the failing case's description are printed on failure.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { BufferSource, isKuraError } from '@kura/core'
import { Tags, decodeText, readDicomBuffer, writeDicom, type DicomDataset, type PersonName, type Vr, type WriteElement, type WriteValue } from '@kura/dicom'
import { Prng, normalizeOptions, planPatient } from '@kura/dicom/synth'
import { OPTIONS, type Option } from '../profile/options.ts'
import { parsePolicy } from '../policy/schema.ts'
import { collectIdentifiers, sourcesRetainedBy } from '../verify/identifiers.ts'
import { verifyDeidentified } from '../verify/scan.ts'
import { deidentify } from './deidentify.ts'
import { readFileSync } from 'node:fs'

const SEED = 20261127
const NUM_RUNS = 200
const SECRET = new Uint8Array(32).fill(11)

type Charset = 'ascii' | 'latin1' | 'ir87' | 'ir13' | 'ir192'
const CHARSETS: Record<Charset, string[] | undefined> = {
  ascii: undefined,
  latin1: ['ISO_IR 100'],
  ir87: ['', 'ISO 2022 IR 87'],
  ir13: ['ISO 2022 IR 13', 'ISO 2022 IR 87'],
  ir192: ['ISO_IR 192'],
}
/** Which scripts each character set can carry: JIS X 0208 has kanji, kana and full-width Latin; IR 13 half-width kana. */
const CAN = {
  kanji: (c: Charset) => c === 'ir87' || c === 'ir13' || c === 'ir192',
  halfKana: (c: Charset) => c === 'ir13' || c === 'ir192',
}

// Table E.1-1 rows with one concrete tag and one writable VR; the subject's own attributes and the engine's inserts are set apart.
const WRITABLE = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT'])
const RESERVED = new Set([Tags.PatientName, Tags.PatientID, 0x00100030, Tags.SOPInstanceUID, Tags.SOPClassUID, Tags.StudyInstanceUID, 0x00080005, 0x00120062, 0x00120063, 0x00120064, 0x00280303])
interface Attr { tag: number; vr: Vr }
const TABLE_ATTRS: Attr[] = []
const TABLE = JSON.parse(readFileSync(new URL('../profile/e1-1.data.json', import.meta.url), 'utf8')) as { rows: Array<{ tag: string; valueRepresentation?: string }> }
for (const row of TABLE.rows) {
  const m = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/.exec(row.tag)
  if (!m || !row.valueRepresentation || !WRITABLE.has(row.valueRepresentation)) continue
  const tag = parseInt(m[1]! + m[2]!, 16) >>> 0
  if (tag >>> 16 === 0x0002 || (tag & 0xffff) === 0 || RESERVED.has(tag)) continue
  TABLE_ATTRS.push({ tag, vr: row.valueRepresentation as Vr })
}
// Attributes the table does not list (kept, PS3.15 E.2): an identifier put here must be caught by verification.
const KEPT_ATTRS: Attr[] = [
  { tag: 0x00080060, vr: 'CS' }, { tag: 0x00180015, vr: 'CS' }, { tag: 0x00080070, vr: 'LO' }, { tag: 0x00081090, vr: 'LO' },
  { tag: 0x00200011, vr: 'IS' }, { tag: 0x00081115, vr: 'SQ' }, { tag: 0x0040a160, vr: 'UT' }, { tag: 0x00181020, vr: 'LO' },
]
const TEXT_INJECT = new Set<Vr>(['LO', 'LT', 'SH', 'ST', 'UT', 'UC'])
const MAX_LEN: Partial<Record<Vr, number>> = { SH: 16, LO: 64, ST: 1024, LT: 10240, UC: 1024, UT: 10240 }

const FILLER_EN = ['chest', 'contrast', 'axial', 'routine', 'follow up', 'no change', 'see report', 'phase 2']
const FILLER_JA = ['胸部', '造影', '所見なし', '経過観察', '検査', '腹部単純', '前回比較']

interface Subject {
  id: string
  birthDate: string
  name: PersonName
}

interface Case {
  seed: number
  charset: Charset
  options: Option[]
  safePrivateShare: number
  injections: number
}

/** The ways a person or a record writes the subject's identifiers, limited to what the character set can carry. */
function identifierForms(s: Subject, cs: Charset, rng: Prng): string[] {
  const forms: string[] = [s.id, `ID:${s.id}`, s.birthDate]
  const y = s.birthDate.slice(0, 4)
  const mo = +s.birthDate.slice(4, 6)
  const d = +s.birthDate.slice(6, 8)
  forms.push(`${y}/${String(mo).padStart(2, '0')}/${String(d).padStart(2, '0')}`, `${y}-${mo}-${d}`)
  const [fam, giv] = (s.name.Alphabetic ?? '').split('^') as [string, string]
  forms.push(`${fam} ${giv}`, `${fam.toUpperCase()}^${giv.toUpperCase()}`, `${giv} ${fam}`, `${fam}-${giv}`.toLowerCase())
  if (/o$/.test(giv)) forms.push(`${fam} ${giv}u`)
  if (fam.length >= 3) forms.push(`${fam}-san`)
  if (CAN.kanji(cs)) {
    forms.push(`${y}年${mo}月${d}日`, `${y}年${String(mo).padStart(2, '0')}月${String(d).padStart(2, '0')}日`)
    const [kf, kg] = (s.name.Ideographic ?? '').split('^') as [string, string]
    if (kf && kg) forms.push(`${kf}${kg}`, `${kf} ${kg}`, `${kf}\u3000${kg}`, ...(kf.length >= 2 ? [`${kf}様`] : []))
    const ph = s.name.Phonetic ?? ''
    const [pf, pg] = ph.normalize('NFKC').split('^') as [string, string]
    if (pf && pg) {
      const kata = (t: string) => [...t].map((c) => (c >= '\u3041' && c <= '\u3096' ? String.fromCodePoint(c.codePointAt(0)! + 0x60) : c)).join('')
      forms.push(`${pf} ${pg}`, `${kata(pf)} ${kata(pg)}`)
      if (CAN.halfKana(cs) && ph !== ph.normalize('NFKC')) forms.push(ph.replace('^', ' '))
    }
    forms.push(`${fam.toUpperCase()}`.replace(/[A-Z]/g, (c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)))
  }
  // Shuffle so that each run injects a different mix.
  for (let i = forms.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    ;[forms[i], forms[j]] = [forms[j]!, forms[i]!]
  }
  return forms
}

const pad2 = (n: number) => String(n).padStart(2, '0')
function randomDate(rng: Prng): string {
  return `${rng.int(1950, 2025)}${pad2(rng.int(1, 12))}${pad2(rng.int(1, 28))}`
}

class Builder {
  readonly injected = new Set<string>()
  pendingInjections: number
  serial = 0
  constructor(readonly rng: Prng, readonly cs: Charset, readonly forms: string[], injections: number) {
    this.pendingInjections = injections
  }

  filler(vr: Vr): string {
    const ja = CAN.kanji(this.cs) && vr !== 'CS' && this.rng.chance(0.4)
    // A serial number makes every filler value unique, so a quarantine is about an identifier, not a shared word.
    const w = `${this.rng.pick(ja ? FILLER_JA : FILLER_EN)} ${++this.serial}`
    return vr === 'CS' ? w.toUpperCase().replace(/[^A-Z0-9 ]/g, '').slice(0, 16) : w
  }

  /** A text value that may carry one injected identifier, within the VR's length. */
  text(vr: Vr): string {
    const max = MAX_LEN[vr] ?? 64
    if (TEXT_INJECT.has(vr) && this.pendingInjections > 0 && this.rng.chance(0.35)) {
      const form = this.rng.pick(this.forms)
      const around = this.rng.int(0, 2)
      const v = around === 0 ? form : around === 1 ? `${this.filler(vr)} ${form}` : `${form} ${this.filler(vr)}`
      if ([...v].length <= max && (vr !== 'SH' || Buffer.byteLength(v) <= 16 * 2)) {
        this.pendingInjections--
        this.injected.add(form)
        return v
      }
    }
    return this.filler(vr).slice(0, max)
  }

  value(vr: Vr, depth: number): WriteValue {
    const r = this.rng
    switch (vr) {
      case 'AE': return 'STATION_' + r.int(1, 9)
      case 'AS': return `0${pad2(r.int(1, 99))}Y`
      case 'AT': return 0x00100010
      case 'CS': return this.filler('CS') || 'X'
      case 'DA': return randomDate(r)
      case 'DT': return `${randomDate(r)}${pad2(r.int(0, 23))}${pad2(r.int(0, 59))}00`
      case 'TM': return `${pad2(r.int(0, 23))}${pad2(r.int(0, 59))}${pad2(r.int(0, 59))}`
      case 'DS': return `${r.int(0, 500)}.${r.int(0, 9)}`
      case 'IS': return String(r.int(0, 999))
      case 'UI': return `1.2.826.0.1.3680043.10.1137.${r.int(1, 1e6)}.${r.int(1, 1e6)}`
      case 'UR': return 'http://example.org/r' + r.int(1, 99)
      case 'PN': {
        const staff = planPatient(normalizeOptions({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: r.int(1, 1e6) }), r.int(0, 999)).name
        return [CAN.kanji(this.cs) ? { Alphabetic: staff.Alphabetic, Ideographic: staff.Ideographic } : { Alphabetic: staff.Alphabetic }]
      }
      case 'US': case 'UL': case 'SS': case 'SL': return r.int(0, 1000)
      case 'FL': case 'FD': return r.int(0, 1000) / 4
      case 'OB': case 'OW': case 'UN': return new Uint8Array([1, 2, 3, 4])
      case 'SQ': return depth >= 3 ? [] : Array.from({ length: r.int(1, 2) }, () => this.item(depth + 1, r.int(1, 6)))
      default: return this.text(vr)
    }
  }

  element(a: Attr, depth: number): WriteElement {
    return { tag: a.tag, vr: a.vr, value: this.value(a.vr, depth) }
  }

  /** An SR-like content item: value type TEXT, a concept name, free text, and maybe nested content. */
  contentItem(depth: number): WriteElement[] {
    const out: WriteElement[] = [
      { tag: 0x0040a010, vr: 'CS', value: 'CONTAINS' },
      { tag: 0x0040a040, vr: 'CS', value: 'TEXT' },
      { tag: 0x0040a043, vr: 'SQ', value: [[{ tag: 0x00080100, vr: 'SH', value: '121071' }, { tag: 0x00080102, vr: 'SH', value: 'DCM' }, { tag: 0x00080104, vr: 'LO', value: 'Finding' }]] },
      { tag: 0x0040a160, vr: 'UT', value: this.text('UT') },
    ]
    if (depth < 3 && this.rng.chance(0.5)) out.push({ tag: 0x0040a730, vr: 'SQ', value: [this.contentItem(depth + 1)] })
    return out
  }

  item(depth: number, n: number): WriteElement[] {
    const els = new Map<number, WriteElement>()
    for (let i = 0; i < n; i++) {
      const pool = this.rng.chance(0.8) ? TABLE_ATTRS : KEPT_ATTRS
      const a = this.rng.pick(pool)
      els.set(a.tag, this.element(a, depth))
    }
    if (this.rng.chance(0.2)) els.set(0x0040a730, { tag: 0x0040a730, vr: 'SQ', value: [this.contentItem(depth + 1)] })
    return [...els.values()].sort((x, y) => x.tag - y.tag)
  }
}

interface Built {
  buf: Uint8Array
  injected: string[]
  policy: ReturnType<typeof parsePolicy>
  describe: string
}

function build(c: Case): Built {
  const rng = Prng.for(c.seed, 'property')
  const p = planPatient(normalizeOptions({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: c.seed }), rng.int(0, 99))
  const name: PersonName =
    c.charset === 'ascii' || c.charset === 'latin1'
      ? { Alphabetic: p.name.Alphabetic }
      : c.charset === 'ir87'
        ? { Alphabetic: p.name.Alphabetic, Ideographic: p.name.Ideographic, Phonetic: p.name.Phonetic!.normalize('NFKC') }
        : p.name
  const subject: Subject = { id: p.patientId, birthDate: p.birthDate, name }
  const forms = identifierForms(subject, c.charset, rng)
  const b = new Builder(rng, c.charset, forms, c.injections)

  const els = new Map<number, WriteElement>()
  // Enough rounds that the injections find text attributes to land in.
  for (let round = 0; round < 6 && (round === 0 || b.pendingInjections > 0); round++) {
    for (const e of b.item(0, rng.int(6, 20))) els.set(e.tag, e)
  }
  const charsets = CHARSETS[c.charset]
  if (charsets) els.set(0x00080005, { tag: 0x00080005, vr: 'CS', value: charsets })
  const sop = `1.2.826.0.1.3680043.10.1137.${c.seed >>> 0}.1`
  els.set(Tags.SOPClassUID, { tag: Tags.SOPClassUID, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' })
  els.set(Tags.SOPInstanceUID, { tag: Tags.SOPInstanceUID, vr: 'UI', value: sop })
  els.set(Tags.StudyInstanceUID, { tag: Tags.StudyInstanceUID, vr: 'UI', value: `${sop}.2` })
  els.set(Tags.PatientName, { tag: Tags.PatientName, vr: 'PN', value: [name] })
  els.set(Tags.PatientID, { tag: Tags.PatientID, vr: 'LO', value: subject.id })
  els.set(0x00100030, { tag: 0x00100030, vr: 'DA', value: subject.birthDate })

  // Private blocks: odd groups, one or two creators, text and binary elements that may carry identifiers.
  const safePrivate: Array<{ creator: string; elements: string[] }> = []
  for (let blk = 0; blk < rng.int(0, 3); blk++) {
    const group = rng.pick([0x0009, 0x0019, 0x0029, 0x00e1])
    const slot = rng.int(0x10, 0x12)
    const creator = rng.pick(['ACME 1.0', 'KURA TEST', 'GEMS_ACQU_01', 'TOSHIBA_MEC_CT3'])
    const creatorTag = ((group << 16) | slot) >>> 0
    if (els.has(creatorTag)) continue
    els.set(creatorTag, { tag: creatorTag, vr: 'LO', value: creator })
    const kept: string[] = []
    for (const [off, vr] of [[0x10, 'LO'], [0x11, 'LT'], [0x12, 'US'], [0x13, 'UN'], [0x14, 'OB']] as Array<[number, Vr]>) {
      if (!rng.chance(0.7)) continue
      const tag = ((group << 16) | (slot << 8) | off) >>> 0
      let value: WriteValue = b.value(vr, 0)
      if (vr === 'UN' || vr === 'OB') {
        // Private text stored with a binary VR: an ASCII identifier with even length, or filler bytes.
        const t = b.pendingInjections > 0 && rng.chance(0.5) ? rng.pick(forms.filter((f) => /^[\x20-\x7e]+$/.test(f))) : undefined
        if (t) {
          b.injected.add(t)
          b.pendingInjections--
        }
        const s = t ?? 'filler'
        value = new Uint8Array(Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1'))
      }
      els.set(tag, { tag, vr, value })
      if (rng.next() < c.safePrivateShare) kept.push(`${group.toString(16).padStart(4, '0')}xx${off.toString(16).padStart(2, '0')}`)
    }
    if (kept.length > 0) safePrivate.push({ creator, elements: kept })
  }

  const policy = parsePolicy({ id: 'property', version: '1', profile: 'basic', options: c.options, safePrivate: c.options.includes('retainSafePrivate') ? safePrivate : [] }, 'property')
  const dataset = [...els.values()].sort((x, y) => x.tag - y.tag)
  const buf = writeDicom({ meta: { MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', MediaStorageSOPInstanceUID: sop }, dataset })
  return { buf, injected: [...b.injected], policy, describe: `charset ${c.charset}, options [${c.options.join(', ')}], ${dataset.length} root elements, injected ${JSON.stringify([...b.injected])}` }
}

// ---- The independent check: exact substrings in decoded values, no normalisation beyond NFKC and case. ----
const TEXTUAL = new Set<Vr>(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT'])
const fold = (s: string) => s.normalize('NFKC').toLowerCase()

function outputTexts(ds: DicomDataset, out: string[]): void {
  for (const el of ds.elements.values()) {
    if (el.items) {
      for (const it of el.items) outputTexts(it, out)
      continue
    }
    if (!el.bytes || el.vr === 'UI') continue
    // Binary VRs too: private text hidden in OB/UN must not slip through because its VR says "bytes".
    out.push(fold(decodeText(el.bytes, ds.charset, TEXTUAL.has(el.vr) ? el.vr : 'LT')))
  }
}

function leaked(texts: string[], needle: string): boolean {
  const n = fold(needle)
  return texts.some((t) => t.includes(n))
}

test('property: injected subject identifiers never leave de-identification unquarantined', async () => {
  const stats = { clean: 0, quarantined: 0, refused: 0, injected: 0 }
  const arb = fc.record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    charset: fc.constantFrom<Charset>('ascii', 'latin1', 'ir87', 'ir13', 'ir192'),
    options: fc.subarray(OPTIONS.filter((o) => o !== 'cleanPixelData' && o !== 'cleanRecognizableVisualFeatures')),
    safePrivateShare: fc.constantFrom(0, 0.5, 1),
    injections: fc.integer({ min: 1, max: 4 }),
  })
  await fc.assert(
    fc.asyncProperty(arb, async (c) => {
      const built = build(c)
      stats.injected += built.injected.length
      const source = readDicomBuffer(built.buf, { bulkDataThreshold: 1 << 20 })
      let out: Uint8Array
      try {
        const { output } = await deidentify(source, new BufferSource(built.buf), { policy: built.policy, secret: SECRET, collection: 'property' })
        const parts: Uint8Array[] = []
        for await (const part of output) parts.push(part)
        out = new Uint8Array(Buffer.concat(parts))
      } catch (e) {
        if (!isKuraError(e)) throw e
        stats.refused++
        return
      }
      const written = readDicomBuffer(out, { bulkDataThreshold: 1 << 20 })
      const verdict = verifyDeidentified(written, collectIdentifiers(source), { source, retainedSources: sourcesRetainedBy(built.policy.options) })
      if (!verdict.clean) {
        stats.quarantined++
        return
      }
      stats.clean++
      const texts: string[] = []
      outputTexts(written.meta, texts)
      outputTexts(written.dataset, texts)
      const found = built.injected.filter((f) => leaked(texts, f))
      if (found.length > 0) {
        const why = `verification passed but the output still holds ${JSON.stringify(found)} (${built.describe}; fast-check seed ${SEED}, case seed ${c.seed})`
        console.log(`# LEAK: ${why}`)
        assert.fail(why)
      }
    }),
    { seed: SEED, numRuns: NUM_RUNS, endOnFailure: true },
  )
  console.log(`# property runs: ${NUM_RUNS} (seed ${SEED}): ${stats.clean} clean, ${stats.quarantined} quarantined, ${stats.refused} refused; ${stats.injected} identifiers injected`)
  // The property is only worth something when both outcomes happen.
  assert.ok(stats.clean >= NUM_RUNS / 10, `only ${stats.clean} clean outputs: the generator makes nothing the engine can clean`)
  assert.ok(stats.quarantined >= NUM_RUNS / 20, `only ${stats.quarantined} quarantined: the injections never reach a kept attribute`)
})
