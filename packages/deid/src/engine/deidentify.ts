/**
 * @module The de-identification engine: applies PS3.15 Table E.1-1 actions (Annex E, E.1.1) through a streaming rewrite.
 *
 * Decisions (documented deviations and open points):
 * - Action per element, at every depth: the policy override for the tag if any, else actionFor() (PS3.15 E.2, E.3).
 *   Compound codes resolve by the attribute's type in the object's IOD (profile/iod-types.ts: top-level attributes
 *   of CT, MR, US, SC and VL Endoscopic objects) and otherwise to their first, strictest component (X for X/Z, X/D,
 *   X/Z/D, X/Z/U*; Z for Z/D) as resolveCode documents, e.g. nested attributes and IODs not in that table.
 * - Patient ID (0010,0020) and Patient's Name (0010,0010), unless overridden, get the keyed pseudonyms
 *   (pseudonymizer.patientId / personName) instead of plain Z, so one subject links across objects (PS3.15 E.1.1
 *   allows consistent replacement); other PN attributes follow the table. An object without a Patient ID is its
 *   study's subject: its pseudonymous ID is keyed on the Study Instance UID, never one shared "no ID" pseudonym.
 * - D: a valid dummy per VR (PN/LO/SH/CS `ANON`, DA 19000101, TM 000000, DT 19000101000000, AS 000Y, numbers 0,
 *   UI mapped like U, binary VRs zero bytes of the same length). D on a sequence keeps its items and de-identifies
 *   them recursively (each nested element gets its own action).
 * - U: every value of a UI attribute is mapped with pseudonymizer.uid, at every depth, so references
 *   (e.g. Referenced SOP Instance UID) map to the same new UID as the object they point at. U on a non-UI VR is D.
 * - C: DA/DT are shifted by the subject's dateShiftDays under Retain Longitudinal Temporal Information With Modified
 *   Dates (PS3.15 E.3.6); an invalid date becomes the DA/DT dummy with a note; without that option a C date is D.
 *   TM is kept (whole-day shifts do not move the time of day). C on a sequence keeps it and recurses.
 *   C on text (Clean Descriptors E.3.5, Clean Structured Content E.3.4, and the other options whose column says C):
 *   the value is kept, with the subject's own names, IDs and birth date cut out (scrub.ts); a value that was not
 *   loaded, or a C on a binary or PN value, is removed. Text that the table keeps (K) inside a sequence kept by C
 *   or D (e.g. Text Value in a Content Sequence) is scrubbed the same way. The verification scan runs afterwards
 *   as always and quarantines whatever the scrubber missed.
 * - Private Creator elements (gggg,0010-00FF) are kept only when some element of their block is kept (PS3.5 7.8.1).
 * - Inserted at the root (PS3.15 E.1.1, PS3.3 C.12.1): Patient Identity Removed YES, De-identification Method,
 *   De-identification Method Code Sequence (CID 7050), Longitudinal Temporal Information Modified.
 *   Pixel masking (Burned In Annotation, Clean Pixel Data) is pixels/apply.ts, called just before the rewrite.
 */
import type { ByteSource } from '@kura/core'
import {
  decodeText, elementStrings, getString, isPrivateCreator, isPrivateTag, rewriteDicom,
  type DicomDataset, type DicomElement, type Edit, type ParsedDicom, type Tag, type Vr, type WriteElement, type WriteValue,
} from '@kura/dicom'
import { actionFor, actionTable, type Action, type AttributeType, type SafePrivate } from '../profile/action.ts'
import { methodCodes, type Option } from '../profile/options.ts'
import { IOD_TYPES } from '../profile/iod-types.ts'
import { pseudonymizer, type Pseudonymizer } from '../keys/pseudonym.ts'
import { shiftTemporal } from '../keys/dates.ts'
import { methodDescription, safePrivateOf } from '../policy/policy.ts'
import type { Policy } from '../policy/schema.ts'
import { EngineErrors } from './errors.ts'
import { scrubberFor } from './scrub.ts'
import { planPixels, withPixelPlan } from '../pixels/apply.ts'

export interface DeidContext {
  policy: Policy
  /** The site secret (at least 32 bytes), see loadSecret. */
  secret: Uint8Array
  /** Collection name: pseudonyms differ between collections. */
  collection: string
}

export interface DeidReport {
  /** The key the date shift was derived from: the original Patient ID, or the Study Instance UID when that is empty. Secret-grade: never log it. */
  subjectKey: string
  pseudonymousPatientId: string
  /** Elements per applied action, at every depth (Patient ID/Name pseudonyms count as D). */
  actions: Record<Action, number>
  /** Private elements removed, Private Creator elements included. */
  removedPrivate: number
  /** Text values kept with the subject's identifiers cut out (Clean Descriptors / Structured Content). */
  scrubbed: number
  /** The top-level Study, Series and SOP Instance UIDs that were replaced, for the site's re-identification table. Secret-grade. */
  mappedUids: Array<{ keyword: 'StudyInstanceUID' | 'SeriesInstanceUID' | 'SOPInstanceUID'; original: string; replacement: string }>
  notes: string[]
}

export interface DeidResult {
  /** The de-identified Part 10 object; the report is complete once this has been consumed. */
  output: AsyncGenerator<Uint8Array>
  report: DeidReport
}

const T = {
  PatientIdentityRemoved: 0x00120062,
  DeidentificationMethod: 0x00120063,
  DeidentificationMethodCodeSequence: 0x00120064,
  LongitudinalTemporalInformationModified: 0x00280303,
  CodeValue: 0x00080100,
  CodingSchemeDesignator: 0x00080102,
  CodeMeaning: 0x00080104,
  PatientID: 0x00100020,
  PatientName: 0x00100010,
  StudyInstanceUID: 0x0020000d,
  SOPClassUID: 0x00080016,
} as const

const INSTANCE_UIDS = new Map<Tag, DeidReport['mappedUids'][number]['keyword']>([
  [0x0020000d, 'StudyInstanceUID'],
  [0x0020000e, 'SeriesInstanceUID'],
  [0x00080018, 'SOPInstanceUID'],
])

const NUMBER_VRS = new Set<Vr>(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV', 'AT'])
const BINARY_VRS = new Set<Vr>(['OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'UN'])
const TEXT_DUMMY = new Set<Vr>(['PN', 'LO', 'SH', 'CS', 'LT', 'ST', 'UT', 'UC', 'AE'])
/** Text VRs the scrubber cleans in place. PN (a cleaned name is no name) and CS (codes, where "*" is not allowed) are removed instead. */
const SCRUBBED_VRS = new Set<Vr>(['LO', 'SH', 'LT', 'ST', 'UT', 'UC', 'AE'])

/** A valid dummy value per VR (PS3.15 Table E.1-1 legend D; PS3.5 Table 6.2-1 for validity). UI is handled by the caller. */
export function dummyValue(vr: Vr, length = 0): WriteValue {
  if (TEXT_DUMMY.has(vr)) return 'ANON'
  switch (vr) {
    case 'DA': return '19000101'
    case 'TM': return '000000'
    case 'DT': return '19000101000000'
    case 'AS': return '000Y'
    case 'DS':
    case 'IS': return '0'
    case 'UR': return 'urn:kura:anon'
  }
  if (NUMBER_VRS.has(vr)) return 0
  if (BINARY_VRS.has(vr)) return new Uint8Array(Math.min(length + (length & 1), 1 << 20))
  return 'ANON'
}

function emptyActions(): Record<Action, number> {
  return { D: 0, Z: 0, X: 0, K: 0, C: 0, U: 0 }
}

const trimText = (s: string | undefined): string => (s ?? '').replace(/^[ \0]+|[ \0]+$/g, '')

/**
 * De-identifies one object per the policy (PS3.15 E.1.1). `src` must be the source `parsed` was read from, read
 * whole. Returns the output stream and a report that fills in as the stream is consumed.
 */
export async function deidentify(parsed: ParsedDicom, src: ByteSource, ctx: DeidContext): Promise<DeidResult> {
  const { policy } = ctx
  const d = new ObjectDeid(parsed, ctx)
  const insert = insertsFor(policy)
  // Clean Pixel Data (PS3.15 E.3.1): masks burned-in regions or refuses the object; see pixels/apply.ts.
  const pixels = await planPixels(parsed, src, policy)
  const output = rewriteDicom(parsed, src, withPixelPlan({ edit(el, path, ds) { return d.edit(el, path, ds) }, insert }, pixels))
  return { output, report: d.report }
}

/**
 * The rules applied to one object: its state (subject, pseudonyms, report) and the per-element decisions as methods,
 * not closures made per object (under tsx each named closure costs a defineProperty for its name, per object).
 */
class ObjectDeid {
  readonly report: DeidReport
  private readonly options: ReadonlySet<Option>
  private readonly overrides: ReadonlyMap<Tag, Action>
  private readonly safePrivate: SafePrivate
  private readonly pseudo: Pseudonymizer
  private readonly root: DicomDataset
  private readonly notes: string[]
  private readonly iodTypes: ReadonlyMap<Tag, AttributeType> | undefined
  private readonly days: number
  private readonly pseudonymousPatientId: string
  private readonly modifiedDates: boolean
  /** Public tags resolve the same for every object under these options (memoized), unless safePrivate takes part. */
  private readonly publicAction: ((tag: Tag) => Action) | undefined
  /** Top-level attributes whose IOD type is known resolve compound codes by that type (memoized per options set). */
  private readonly typedAction: Map<number, Action>
  private readonly scrubber: ReturnType<typeof scrubberFor>

  constructor(parsed: ParsedDicom, ctx: DeidContext) {
    const { policy } = ctx
    const options = (this.options = policy.options)
    const perPolicy = policyMemo(policy)
    this.overrides = perPolicy.overrides
    this.safePrivate = perPolicy.safePrivate
    const pseudo = (this.pseudo = pseudonymizer(ctx.secret, ctx.collection))
    const root = (this.root = parsed.dataset)
    const notes: string[] = (this.notes = [])
    const sopClass = trimText(getString(root, T.SOPClassUID))
    this.iodTypes = IOD_TYPES.get(sopClass)
    if (!this.iodTypes) notes.push(`no attribute types known for SOP class ${sopClass || '(none)'}: compound Table E.1-1 codes resolve to their strictest component`)

    const patientId = trimText(getString(root, T.PatientID))
    let subjectKey = patientId
    if (!subjectKey) {
      subjectKey = trimText(getString(root, T.StudyInstanceUID))
      if (!subjectKey) throw EngineErrors.noSubject()
      notes.push('Patient ID is empty: the date shift is keyed on the Study Instance UID')
    }
    this.days = pseudo.dateShiftDays(subjectKey)
    // Without a Patient ID the subject is the study: a constant pseudonym for "no ID" would merge every such patient
    // into one subject. The NUL prefix keeps this domain apart from real IDs.
    const pseudonymousPatientId = (this.pseudonymousPatientId = pseudo.patientId(patientId || `\0study/${subjectKey}`))
    this.modifiedDates = options.has('retainLongitudinalModifiedDates')
    this.report = { subjectKey, pseudonymousPatientId, actions: emptyActions(), removedPrivate: 0, scrubbed: 0, mappedUids: [], notes }
    this.publicAction = options.has('retainSafePrivate') ? undefined : memoFor(options).publicAction
    this.typedAction = memoFor(options).typed
    // Clean Descriptors / Structured Content (PS3.15 E.3.4, E.3.5): keep the text, cut out the subject's identifiers.
    this.scrubber = scrubberFor(parsed)
  }

  private creatorOf(tag: Tag, ds: DicomDataset): string | undefined {
    const g = tag >>> 16
    const block = (tag & 0xffff) >>> 8
    const el = ds.elements.get(((g << 16) | block) >>> 0)
    return el ? elementStrings(el, ds)[0]?.trim() : undefined
  }

  private actionOf(tag: Tag, ds: DicomDataset): Action {
    const o = this.overrides.get(tag)
    if (o !== undefined) return o
    const attributeType = ds === this.root ? this.iodTypes?.get(tag) : undefined
    if (attributeType !== undefined) {
      // Keyed by tag and type: the same tag has another type in another IOD.
      const key = tag * 8 + TYPE_INDEX[attributeType]
      const typedAction = this.typedAction
      let a = typedAction.get(key)
      if (a === undefined) {
        if (typedAction.size >= 1 << 14) typedAction.clear()
        typedAction.set(key, (a = actionFor(tag, this.options, { attributeType })))
      }
      return a
    }
    if (this.publicAction && !isPrivateTag(tag)) return this.publicAction(tag)
    const privateCreator = isPrivateTag(tag) ? this.creatorOf(tag, ds) : undefined
    return actionFor(tag, this.options, { safePrivate: this.safePrivate, privateCreator })
  }

  /** A Private Creator stays when some element of its block stays (PS3.5 7.8.1). */
  private creatorKept(el: DicomElement, ds: DicomDataset): boolean {
    const g = el.tag >>> 16
    const block = el.tag & 0xff
    for (const other of ds.elements.values()) {
      if (other.tag >>> 16 !== g || (other.tag & 0xffff) >>> 8 !== block || (other.tag & 0xffff) < 0x1000) continue
      const a = this.actionOf(other.tag, ds)
      if (a !== 'X') return true
    }
    return false
  }

  private mapUids(el: DicomElement, ds: DicomDataset): Edit {
    const originals = elementStrings(el, ds).map(trimText)
    const value = originals.map((u) => (u ? this.pseudo.uid(u) : '')).join('\\')
    const keyword = ds === this.root ? INSTANCE_UIDS.get(el.tag) : undefined
    if (keyword && originals[0]) this.report.mappedUids.push({ keyword, original: originals[0], replacement: this.pseudo.uid(originals[0]) })
    return { op: 'replace', value }
  }

  private dummy(el: DicomElement, ds: DicomDataset): Edit {
    if (el.vr === 'SQ') return { op: 'keep' }
    if (el.vr === 'UI') return this.mapUids(el, ds)
    return { op: 'replace', value: dummyValue(el.vr, el.length) }
  }

  private zero(el: DicomElement): Edit {
    return el.vr === 'SQ' ? { op: 'replace', value: [] } : { op: 'replace', value: null }
  }

  private clean(el: DicomElement, ds: DicomDataset, path: readonly number[]): Edit {
    if (el.vr === 'DA' || el.vr === 'DT') {
      if (!this.modifiedDates) return this.dummy(el, ds)
      const values = elementStrings(el, ds).map(trimText)
      try {
        return { op: 'replace', value: values.map((v) => (v ? shiftTemporal(el.vr, v, this.days) : '')).join('\\') }
      } catch {
        this.notes.push(`invalid ${el.vr} at ${pathText(path)} replaced with a dummy date`)
        return this.dummy(el, ds)
      }
    }
    if (el.vr === 'TM') return { op: 'keep' }
    if (el.vr === 'SQ') return { op: 'keep' }
    return this.scrubbed(el, ds) ?? { op: 'remove' }
  }

  /** Clean Descriptors / Structured Content (PS3.15 E.3.4, E.3.5): keep the text, cut out the subject's identifiers. */
  private scrubbed(el: DicomElement, ds: DicomDataset): Edit | undefined {
    if (!SCRUBBED_VRS.has(el.vr)) return undefined
    // The reader always loads text VRs (only binary VRs are left in the source); should one be missing, remove it.
    if (el.length > 0 && !el.bytes) return undefined
    const text = el.bytes ? decodeText(el.bytes, ds.charset, el.vr) : ''
    const out = this.scrubber.scrub(text)
    if (out === undefined) return { op: 'keep' }
    this.report.scrubbed++
    return { op: 'replace', value: out.replace(/[ \0]+$/, '') }
  }

  /** A sequence kept by C or D keeps its items; free text the table keeps inside them is scrubbed (see above). */
  private insideCleanedSequence(path: readonly number[]): boolean {
    for (let k = 0; k < path.length - 1; k += 2) {
      const tag = path[k]! >>> 0
      if (isPrivateTag(tag)) continue
      const a = this.overrides.get(tag) ?? (this.publicAction ? this.publicAction(tag) : actionFor(tag, this.options))
      if (a === 'C' || a === 'D') return true
    }
    return false
  }

  private count(a: Action, tag: Tag, e: Edit): Edit {
    this.report.actions[a]++
    if (e.op === 'remove' && isPrivateTag(tag)) this.report.removedPrivate++
    return e
  }

  edit(el: DicomElement, path: readonly number[], ds: DicomDataset): Edit {
    const tag = el.tag >>> 0
    const overrides = this.overrides
    if (isPrivateCreator(tag) && !overrides.has(tag)) {
      return this.creatorKept(el, ds) ? this.count('K', tag, { op: 'keep' }) : this.count('X', tag, { op: 'remove' })
    }
    const action = this.actionOf(tag, ds)
    if (!overrides.has(tag) && (tag === T.PatientID || tag === T.PatientName)) {
      const value = trimText(elementStrings(el, ds).join('\\'))
      if (tag === T.PatientName) return this.count('D', tag, { op: 'replace', value: this.pseudo.personName(value) })
      return this.count('D', tag, { op: 'replace', value: ds === this.root ? this.pseudonymousPatientId : value ? this.pseudo.patientId(value) : '' })
    }
    switch (action) {
      case 'X': return this.count(action, tag, { op: 'remove' })
      case 'Z': return this.count(action, tag, this.zero(el))
      case 'K': return this.count(action, tag, (path.length > 1 && this.insideCleanedSequence(path) ? this.scrubbed(el, ds) : undefined) ?? { op: 'keep' })
      case 'D': return this.count(action, tag, this.dummy(el, ds))
      case 'U': return this.count(action, tag, el.vr === 'UI' ? this.mapUids(el, ds) : this.dummy(el, ds))
      case 'C': return this.count(action, tag, this.clean(el, ds, path))
    }
  }
}

/** Per policy (the same object for every object it cleans): its overrides by tag and its safe-private test. */
const POLICY_MEMOS = new WeakMap<Policy, { overrides: ReadonlyMap<Tag, Action>; safePrivate: SafePrivate }>()

function policyMemo(policy: Policy): { overrides: ReadonlyMap<Tag, Action>; safePrivate: SafePrivate } {
  let m = POLICY_MEMOS.get(policy)
  if (!m) POLICY_MEMOS.set(policy, (m = { overrides: new Map<Tag, Action>(policy.overrides.map((o) => [o.tag >>> 0, o.action])), safePrivate: safePrivateOf(policy) }))
  return m
}

const TYPE_INDEX: Readonly<Record<AttributeType, number>> = { '1': 0, '1C': 1, '2': 2, '2C': 3, '3': 4 }

/**
 * Per options set (a policy's, so the same object for every object it cleans): the public-tag action table and the
 * actions of typed top-level attributes, which depend only on tag, type and options.
 */
const MEMOS = new WeakMap<ReadonlySet<Option>, { publicAction: (tag: Tag) => Action; typed: Map<number, Action> }>()

function memoFor(options: ReadonlySet<Option>): { publicAction: (tag: Tag) => Action; typed: Map<number, Action> } {
  let m = MEMOS.get(options)
  if (!m) MEMOS.set(options, (m = { publicAction: actionTable(options), typed: new Map() }))
  return m
}

/** The root elements inserted for `policy` (the same for every object): built once per policy, never modified. */
const INSERTS = new WeakMap<Policy, Array<{ tag: Tag; vr: Vr; value: WriteValue }>>()

function insertsFor(policy: Policy): Array<{ tag: Tag; vr: Vr; value: WriteValue }> {
  let insert = INSERTS.get(policy)
  if (insert) return insert
  const options = policy.options
  const codeItems: WriteElement[][] = methodCodes(options).map((c) => [
    { tag: T.CodeValue, vr: 'SH', value: c.codeValue },
    { tag: T.CodingSchemeDesignator, vr: 'SH', value: c.codingSchemeDesignator },
    { tag: T.CodeMeaning, vr: 'LO', value: c.codeMeaning },
  ])
  const longitudinal = options.has('retainLongitudinalModifiedDates') ? 'MODIFIED' : options.has('retainLongitudinalFullDates') ? 'UNMODIFIED' : 'REMOVED'
  insert = [
    { tag: T.PatientIdentityRemoved, vr: 'CS', value: 'YES' },
    { tag: T.DeidentificationMethod, vr: 'LO', value: methodDescription(policy) },
    { tag: T.DeidentificationMethodCodeSequence, vr: 'SQ', value: codeItems },
    { tag: T.LongitudinalTemporalInformationModified, vr: 'CS', value: longitudinal },
  ]
  INSERTS.set(policy, insert)
  return insert
}

function pathText(path: readonly number[]): string {
  return path.map((p, i) => (i % 2 === 0 ? p.toString(16).padStart(8, '0') : `[${p}]`)).join('/')
}
