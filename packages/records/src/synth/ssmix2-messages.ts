/**
 * @module HL7 v2.5 message text for the SS-MIX2 generator, segment by segment, in the shapes the mapping reads
 * (ssmix2/mapping.ts documents each field): ADT^A08 (ADT-00), ADT^A04 (ADT-12), RDE^O11 (OMP-01), OMG^O19
 * orders (OMG-01 radiology, OMG-02 endoscopy), OMI^Z23 performed notices with IPC (OMG-11, OMG-12), OML^O33
 * and OUL^R22 (OML-01/OML-11, pathology). Text is built unencoded; the caller encodes to ISO-2022-JP.
 */
import { escapeHl7 } from '../hl7/escape.ts'
import { toHalfWidth as halfWidth, toRomaji, type SynthPerson, type SynthStaff } from './ssmix2-people.ts'

export type NameStyle = 'standard' | 'kana-first' | 'no-codes' | 'kanji-only' | 'with-alphabetic' | 'half-width-kana'
export type CharsetStyle = 'standard' | 'iso2022-nospace' | 'no-msh18' | 'msh18-only'

export interface MessageContext {
  person: SynthPerson
  /** YYYYMMDDHHMMSS */
  ts: string
  controlId: string
  nameStyle: NameStyle
  charsetStyle: CharsetStyle
  department: { code: string; name: string }
}

const e = (s: string) => escapeHl7(s)

export function msh(c: MessageContext, type: string): string {
  // SS-MIX2: MSH-18 "~ISO IR87" (first repetition empty: ASCII), MSH-20 "ISO 2022-1994"; MSH-21 the SS-MIX2 profile.
  const m18 = c.charsetStyle === 'no-msh18' ? '' : '~ISO IR87'
  const m20 = c.charsetStyle === 'iso2022-nospace' ? 'ISO2022-1994' : c.charsetStyle === 'msh18-only' || c.charsetStyle === 'no-msh18' ? '' : 'ISO 2022-1994'
  return `MSH|^~\\&|HIS|KURAHOSP|SSMIX2|KURAHOSP|${c.ts}||${type}|${c.controlId}|P|2.5||||||${m18}||${m20}|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO`
}

export function pid(c: MessageContext): string {
  const p = c.person
  const kanji = `${e(p.family.kanji)}^${e(p.given.kanji)}`
  const kana = `${e(p.family.kana)}^${e(p.given.kana)}`
  let names: string
  switch (c.nameStyle) {
    case 'kana-first': names = `${kana}^^^^^L^P~${kanji}^^^^^L^I`; break
    case 'no-codes': names = `${kanji}~${kana}`; break
    case 'kanji-only': names = `${kanji}^^^^^L^I`; break
    case 'with-alphabetic': names = `${kanji}^^^^^L^I~${kana}^^^^^L^P~${romaji(p)}^^^^^L^A`; break
    case 'half-width-kana': names = `${kanji}^^^^^L^I~${e(halfWidth(p.family.kana))}^${e(halfWidth(p.given.kana))}^^^^^L^P`; break
    default: names = `${kanji}^^^^^L^I~${kana}^^^^^L^P`
  }
  return `PID|0001||${p.patientId}^^^^PI||${names}||${p.birthDate}|${p.sex}|||^^^^${p.postalCode}^JPN^H^${e(p.address)}||^PRN^PH^^^^^^^^^${p.phone}`
}

function romaji(p: SynthPerson): string {
  return `${toRomaji(p.family.kana)}^${toRomaji(p.given.kana)}`
}

export function pv1(c: MessageContext, inpatient = false): string {
  return `PV1|0001|${inpatient ? 'I' : 'O'}|${c.department.code}^^^^^^^^${e(c.department.name)}`
}

export function adt00(c: MessageContext): string {
  return [msh(c, 'ADT^A08^ADT_A01'), `EVN||${c.ts}`, pid(c), pv1(c)].join('\r') + '\r'
}

export function adt12(c: MessageContext): string {
  return [msh(c, 'ADT^A04^ADT_A01'), `EVN||${c.ts}`, pid(c), pv1(c)].join('\r') + '\r'
}

export function omp01(c: MessageContext, orderNo: string, drug: [string, string]): string {
  return [
    msh(c, 'RDE^O11^RDE_O11'), pid(c), pv1(c),
    `ORC|NW|${orderNo}|||||||${c.ts}`,
    `RXE||${drug[0]}^${e(drug[1])}^HOT|1||TAB^錠^MR9P|||||1|TAB^錠^MR9P`,
  ].join('\r') + '\r'
}

export interface Exam {
  orderNo: string
  fillerNo: string
  code: string
  name: string
  /** YYYYMMDDHHMMSS */
  performed: string
  accession: string
  studyUid: string
  modality: string
  staff: SynthStaff
}

const ndl = (s: SynthStaff) => `${s.id}&${e(s.family)}&${e(s.given)}`

export function omg19(c: MessageContext, x: Exam, cancel = false): string {
  return [
    msh(c, 'OMG^O19^OMG_O19'), pid(c), pv1(c),
    `ORC|${cancel ? 'CA' : 'NW'}|${x.orderNo}|||||||${c.ts}`,
    `TQ1|||||||${x.performed}`,
    `OBR|1|${x.orderNo}||${x.code}^${e(x.name)}^99KURA|||${x.performed}`,
  ].join('\r') + '\r'
}

export interface Obx {
  type: string
  code: string
  name: string
  system?: string
  subId?: string
  /** Already escaped/assembled value (components joined with ^). */
  value: string
  units?: string
}

export function obxLines(list: Obx[], ts: string): string[] {
  return list.map((o, i) => `OBX|${i + 1}|${o.type}|${o.code}^${e(o.name)}^${o.system ?? '99KURA'}|${o.subId ?? ''}|${o.value}|${o.units ?? ''}|||||F|||${ts}`)
}

/** OMI^Z23: the performed notice, with IPC carrying accession, Study Instance UID and modality. */
export function omiZ23(c: MessageContext, x: Exam, obx: Obx[], section: string): string {
  return [
    msh(c, 'OMI^Z23^OMI_O23'), pid(c), pv1(c),
    `ORC|SC|${x.orderNo}|${x.fillerNo}||CM||||${x.performed}`,
    `TQ1|||||||${x.performed}`,
    `OBR|1|${x.orderNo}|${x.fillerNo}|${x.code}^${e(x.name)}^99KURA|||${x.performed}|||||||||||${x.accession}||||||${section}|||||||||${ndl(x.staff)}`,
    `IPC|${x.accession}|${x.accession}|${x.studyUid}|${x.accession}1|${x.modality}`,
    ...obxLines(obx, x.performed),
  ].join('\r') + '\r'
}

export interface Specimen {
  id: string
  type: [string, string]
  site: [string, string, string]
  count: number
  collected: string
}

export function omlO33(c: MessageContext, orderNo: string, s: Specimen): string {
  return [
    msh(c, 'OML^O33^OML_O33'), pid(c), pv1(c),
    `SPM|1|${s.id}||${s.type[0]}^${e(s.type[1])}^99KURA||||${s.site[0]}^${e(s.site[1])}^${s.site[2]}|||||${s.count}||||${s.collected}`,
    `ORC|NW|${orderNo}|||||||${c.ts}`,
    `OBR|1|${orderNo}||PATH^${e('病理組織診断')}^99KURA|||${s.collected}`,
  ].join('\r') + '\r'
}

export function oulR22(c: MessageContext, orderNo: string, fillerNo: string, s: Specimen, obx: Obx[], pathologist: SynthStaff, withSpm = true): string {
  return [
    msh(c, 'OUL^R22^OUL_R22'), pid(c), pv1(c),
    ...(withSpm ? [`SPM|1|${s.id}||${s.type[0]}^${e(s.type[1])}^99KURA||||${s.site[0]}^${e(s.site[1])}^${s.site[2]}|||||${s.count}||||${s.collected}`] : []),
    `OBR|1|${orderNo}|${fillerNo}|PATH^${e('病理組織診断')}^99KURA|||${s.collected}|||||||||||||||||SP|F|||||||${ndl(pathologist)}`,
    `ORC|SC|${orderNo}|${fillerNo}||CM`,
    ...obxLines(obx, c.ts),
  ].join('\r') + '\r'
}
