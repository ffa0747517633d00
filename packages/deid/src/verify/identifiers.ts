/**
 * @module Collects the identifiers of a SOURCE object (names, IDs, date of birth, addresses, phone numbers,
 * institutions) for the verification scan, reading the dataset directly: it must not share code with the rules.
 */
import { elementPersonNames, elementStrings, keywordOf, type DicomDataset, type ParsedDicom, type PersonName, type Tag } from '@kura/dicom'
import { normalizeText } from './normalize.ts'

export type IdentifierKind = 'name' | 'id' | 'date' | 'address' | 'phone' | 'institution'

export interface Identifier {
  kind: IdentifierKind
  /** The value as found in the source. Never log it. */
  value: string
  /** Where it came from, safe to log: "PatientName (ideographic group)", "OtherPatientIDsSequence > PatientID". */
  source: string
}

/** Non-PN attributes collected, by tag. Every PN element, at any depth, is collected as a name regardless. */
const ATTRIBUTES = new Map<Tag, IdentifierKind>([
  [0x00100020, 'id'], // PatientID
  [0x00100021, 'institution'], // IssuerOfPatientID
  [0x00101000, 'id'], // OtherPatientIDs
  [0x00080050, 'id'], // AccessionNumber
  [0x00101090, 'id'], // MedicalRecordLocator
  [0x00200010, 'id'], // StudyID
  [0x00401001, 'id'], // RequestedProcedureID
  [0x00400009, 'id'], // ScheduledProcedureStepID
  [0x00400253, 'id'], // PerformedProcedureStepID
  [0x00380010, 'id'], // AdmissionID
  [0x00380060, 'id'], // ServiceEpisodeID
  [0x00402016, 'id'], // PlacerOrderNumberImagingServiceRequest
  [0x00402017, 'id'], // FillerOrderNumberImagingServiceRequest
  [0x00101050, 'id'], // InsurancePlanIdentification
  [0x00100030, 'date'], // PatientBirthDate
  [0x00101040, 'address'], // PatientAddress
  [0x00080092, 'address'], // ReferringPhysicianAddress
  [0x00080081, 'address'], // InstitutionAddress
  [0x00102154, 'phone'], // PatientTelephoneNumbers
  [0x00102155, 'phone'], // PatientTelecomInformation
  [0x00080094, 'phone'], // ReferringPhysicianTelephoneNumbers
  [0x00080080, 'institution'], // InstitutionName
  [0x00081040, 'institution'], // InstitutionalDepartmentName
  [0x00081010, 'institution'], // StationName
])

const GROUPS: Array<[keyof PersonName, string]> = [
  ['Alphabetic', 'alphabetic'],
  ['Ideographic', 'ideographic'],
  ['Phonetic', 'phonetic'],
]

/**
 * Shortest values worth matching, counted after normalizeText. Shorter ones would match unrelated text
 * everywhere and quarantine clean objects: names need 2 characters (a two-kanji surname such as 山田 is
 * distinctive), but names written only in Latin letters need 3 ("Li", "Ng" occur inside ordinary words);
 * IDs, phones, addresses and institutions need 4. A single-kanji given name is thus not matched alone, but
 * still is as part of the whole name, which is collected too.
 */
export const MIN_NAME_LENGTH = 2
export const MIN_LATIN_NAME_LENGTH = 3
export const MIN_OTHER_LENGTH = 4

/** `n` is normalizeText(value). */
function longEnough(kind: IdentifierKind, value: string, n: string): boolean {
  if (kind === 'date') return /^\d{8}$/.test(value.trim())
  if (kind === 'name') return n.length >= (/^[\x00-\x7f]*$/.test(n) ? MIN_LATIN_NAME_LENGTH : MIN_NAME_LENGTH)
  return n.length >= MIN_OTHER_LENGTH
}

const SPECIFIC_CHARACTER_SET = 0x00080005

/** The raw bytes as a string, one char per byte: a cache key, never shown. */
function bytesKey(b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[])
  return s
}

/**
 * Everything collectIdentifiers reads from a dataset: the character sets and, where they sit in the sequence
 * tree, the tags, VRs and bytes of the elements it collects from. Equal keys give equal identifiers.
 */
function sourceKey(ds: DicomDataset): string {
  let k = ds.charset.join('\\') + '\u0001'
  for (const el of ds.elements.values()) {
    if (el.items) {
      k += `[${el.tag}`
      for (const item of el.items) k += `{${sourceKey(item)}}`
      k += ']'
    } else if (el.bytes && el.bytes.length > 0 && (el.vr === 'PN' || ATTRIBUTES.has(el.tag) || el.tag === SPECIFIC_CHARACTER_SET)) {
      k += `${el.tag}${el.vr}${el.bytes.length}:${bytesKey(el.bytes)}`
    }
  }
  return k
}

// The objects of one subject's study or series carry the same names, IDs and institutions: collected once per
// distinct set of those values (the gateway and hub see many objects per subject). Bounded, cleared when full.
const COLLECTED = new Map<string, readonly Identifier[]>()
const COLLECTED_MAX = 256

/** Every identifier of the source, deduplicated by kind, source and normalised value. */
export function collectIdentifiers(source: ParsedDicom): Identifier[] {
  const key = sourceKey(source.dataset)
  let ids = COLLECTED.get(key)
  if (ids === undefined) {
    // Frozen: shared by every caller with the same key (each gets its own array).
    ids = collect(source).map((id) => Object.freeze(id))
    if (COLLECTED.size >= COLLECTED_MAX) COLLECTED.clear()
    COLLECTED.set(key, ids)
  }
  return ids.slice()
}

function collect(source: ParsedDicom): Identifier[] {
  const out: Identifier[] = []
  const seen = new Set<string>()
  const add = (kind: IdentifierKind, value: string, from: string) => {
    const v = value.replace(/[\0 ]+$/, '').replace(/^ +/, '')
    const n = normalizeText(v)
    if (!longEnough(kind, v, n)) return
    const key = `${kind}\u0000${from}\u0000${n}`
    if (seen.has(key)) return
    seen.add(key)
    out.push({ kind, value: v, source: from })
  }
  const walk = (ds: DicomDataset, parent: string | undefined) => {
    for (const el of ds.elements.values()) {
      // Only sequences and the elements collected from need a label (most elements are neither).
      const kind = el.items || el.vr === 'PN' ? undefined : ATTRIBUTES.get(el.tag)
      if (!el.items && kind === undefined && el.vr !== 'PN') continue
      const kw = keywordOf(el.tag) ?? 'private element'
      const label = parent ? `${parent} > ${kw}` : kw
      if (el.items) {
        for (const item of el.items) walk(item, label)
        continue
      }
      if (!el.bytes || el.bytes.length === 0) continue
      if (el.vr === 'PN') {
        for (const pn of elementPersonNames(el, ds)) {
          for (const [group, word] of GROUPS) {
            const v = pn[group]
            if (!v) continue
            const from = `${label} (${word} group)`
            add('name', v, from) // the whole name
            for (const c of v.split('^')) add('name', c, from) // family, given, middle, prefix, suffix
          }
        }
        continue
      }
      if (!kind) continue
      for (const v of elementStrings(el, ds)) add(kind, v, label)
    }
  }
  walk(source.dataset, undefined)
  return out
}

/**
 * Identifier sources that a policy option keeps in the output on purpose (PS3.15 E.3.8 Retain Device Identity,
 * E.3.11 Retain Institution Identity): finding them there is what the operator asked for, not a leak. Only these
 * attributes' own values are exempted; a patient's name or ID found in them is still reported.
 */
const RETAINED_BY_OPTION: Readonly<Record<string, readonly string[]>> = {
  retainInstitutionIdentity: ['InstitutionName', 'InstitutionAddress', 'InstitutionalDepartmentName'],
  retainDeviceIdentity: ['StationName'],
}

/** The attribute keywords whose identifiers the verification should not search for under these options. */
export function sourcesRetainedBy(options: Iterable<string>): ReadonlySet<string> {
  const out = new Set<string>()
  for (const o of options) for (const k of RETAINED_BY_OPTION[o] ?? []) out.add(k)
  return out
}
