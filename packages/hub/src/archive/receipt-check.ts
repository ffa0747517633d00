/**
 * @module The receipt check of a de-identified collection: defence in depth behind the gateway.
 *
 * The gateway de-identifies and verifies before anything leaves the hospital; the hub checks
 * again on receipt, without the source (it never has it): the object must say it was
 * de-identified (PatientIdentityRemoved YES, DeidentificationMethod set), must carry no value in
 * an attribute the PS3.15 profile removes under every option, and must pass the verification
 * scan's PHI patterns (phone numbers, postal codes) and unreadable-value checks. Any finding
 * quarantines the object: kept with the reasons, never indexed or served.
 */
import { getString, keywordOf, readDicom, Tags, tagHex, type ParsedDicom } from '@kura/dicom'
import type { ByteSource } from '@kura/core'
import { ruleTable, verifyDeidentified, type Finding } from '@kura/deid'

const DEIDENTIFICATION_METHOD = 0x00120063
const DEIDENTIFICATION_METHOD_CODES = 0x00120064

/** Tags that every option of the profile removes (basic X with no option column on the row). */
let alwaysRemoved: number[] | undefined
function alwaysRemovedTags(): number[] {
  alwaysRemoved ??= [...ruleTable().exact].filter(([, r]) => r.basic === 'X' && Object.keys(r.options).length === 0).map(([tag]) => tag)
  return alwaysRemoved
}

/** Reads the header again with every short binary value loaded, so nothing goes unchecked. */
export async function readForCheck(src: ByteSource): Promise<ParsedDicom> {
  return readDicom(src, { bulkDataThreshold: 1 << 20, untilTag: Tags.PixelData })
}

export function receiptFindings(parsed: ParsedDicom): Finding[] {
  const findings = verifyDeidentified(parsed, [], { patterns: true, requireIdentityRemoved: true }).findings
  const ds = parsed.dataset
  if (!getString(ds, DEIDENTIFICATION_METHOD)?.trim() && !ds.elements.get(DEIDENTIFICATION_METHOD_CODES)?.items?.length) {
    findings.push({ path: tagHex(DEIDENTIFICATION_METHOD), keyword: 'DeidentificationMethod', kind: 'method-missing', reason: 'DeidentificationMethod and its code sequence are both missing: the object does not say what de-identified it' })
  }
  for (const tag of alwaysRemovedTags()) {
    const el = ds.elements.get(tag)
    if (!el || (el.length === 0 && !el.items?.length)) continue
    findings.push({ path: tagHex(tag), keyword: keywordOf(tag), kind: 'must-be-removed', reason: `${keywordOf(tag) ?? tagHex(tag)} has a value, but the confidentiality profile removes it under every option` })
  }
  return findings
}
