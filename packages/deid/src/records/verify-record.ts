/**
 * @module The verification scan for a de-identified clinical record: every string at any depth is searched for
 * the SOURCE record's identifiers (with the DICOM scan's own needles and matching, via identifierMatcher) and for
 * telephone, postal-code and street-address patterns; and the record must carry no identity fields. Any finding means the caller
 * quarantines the record (nothing is thrown away).
 */
import type { Identifier } from '../verify/identifiers.ts'
import { identifierMatcher, phiPatternsIn, type Finding } from '../verify/scan.ts'

// A street address: a prefecture, or a city/ward, then place names and a block number (written independently of
// the scrubber's pattern, on purpose).
const ADDRESS = /(?:都|道|府|県|市|区|郡|町|村)[^\s、。,，（）()*\d]{1,20}?\d+(?:丁目|番地?|号|[-ー‐]\d+)/

/** Values that are keyed pseudonyms or UIDs made here: HMAC output, never source text (and base32 could spell a short name). */
const GENERATED = /^(?:subject\.id|recordId|staff\[\d+\]\.id|images\[\d+\]\.(?:study|series|sop)InstanceUid)$/
const SUBJECT_KEYS = new Set(['id', 'sex', 'birthYear'])

// One subject's records come in runs; the needles (date variants, folded names) are built once per run.
const MATCHERS = new Map<string, (text: string) => Identifier[]>()

function matcherOf(identifiers: readonly Identifier[]): (text: string) => Identifier[] {
  const key = identifiers.map((i) => `${i.kind}\u0001${i.source}\u0001${i.value}`).join('\u0002')
  let m = MATCHERS.get(key)
  if (!m) {
    if (MATCHERS.size >= 256) MATCHERS.delete(MATCHERS.keys().next().value!)
    MATCHERS.set(key, (m = identifierMatcher(identifiers)))
  }
  return m
}

/** Findings in `deid` (empty when clean). `identifiers` come from collectRecordIdentifiers(source record). */
export function verifyRecord(deid: unknown, identifiers: readonly Identifier[]): Finding[] {
  const findings: Finding[] = []
  const match = matcherOf(identifiers)
  const visit = (v: unknown, path: string) => {
    if (typeof v === 'string') {
      if (GENERATED.test(path)) return
      const reported = new Set<string>()
      for (const id of match(v)) {
        const key = `${id.kind}\0${id.source}`
        if (reported.has(key)) continue
        reported.add(key)
        findings.push({ path, kind: id.kind, reason: `${id.source} of the source record found in ${path}` })
      }
      if (ADDRESS.test(v.normalize('NFKC'))) findings.push({ path, kind: 'pattern:address', reason: `a street address pattern found in ${path}` })
      for (const kind of phiPatternsIn(v)) findings.push({ path, kind, reason: `a ${kind === 'pattern:phone' ? 'telephone number' : 'postal code'} pattern found in ${path}` })
      return
    }
    if (Array.isArray(v)) return v.forEach((x, i) => visit(x, `${path}[${i}]`))
    if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) visit(x, path ? `${path}.${k}` : k)
  }
  visit(deid, '')

  const rec = (typeof deid === 'object' && deid !== null ? deid : {}) as Record<string, unknown>
  const subject = rec.subject as Record<string, unknown> | undefined
  const extra = subject && typeof subject === 'object' ? Object.keys(subject).filter((k) => !SUBJECT_KEYS.has(k)) : ['(missing)']
  if (extra.length > 0) findings.push({ path: 'subject', kind: 'identity-not-removed', reason: `subject carries ${extra.join(', ')}; only id, sex and birthYear may leave` })
  const source = rec.source as Record<string, unknown> | undefined
  if (source && 'ref' in source) findings.push({ path: 'source.ref', kind: 'identity-not-removed', reason: 'source.ref (the file and row) must be dropped' })
  const d = rec.deidentification as Record<string, unknown> | undefined
  if (!d || typeof d.policy !== 'string' || typeof d.version !== 'string') {
    findings.push({ path: 'deidentification', kind: 'identity-not-removed', reason: 'the record does not say which policy de-identified it' })
  }
  return findings
}
