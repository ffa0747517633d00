/**
 * @module The identifiers of a SOURCE clinical record (the subject's names in every script the source gave, plus
 * romaji spelled from the kana; patient ID, record ID, birth date, address, postal code, phone; staff names and
 * IDs), in the verification scan's `Identifier` form, so a de-identified record is checked with exactly the
 * matching the DICOM scan uses.
 */
import type { ClinicalRecord } from '@kura/records'
import { MIN_LATIN_NAME_LENGTH, MIN_NAME_LENGTH, MIN_OTHER_LENGTH, type Identifier, type IdentifierKind } from '../verify/identifiers.ts'
import { normalizeText } from '../verify/normalize.ts'
import { romajiOf } from './romaji.ts'

const NAME_PARTS = /[\s\u3000^,、・･]+/

function longEnough(kind: IdentifierKind, value: string): boolean {
  if (kind === 'date') return /^\d{8}$/.test(value)
  const n = normalizeText(value)
  if (kind === 'name') return n.length >= (/^[\x00-\x7f]*$/.test(n) ? MIN_LATIN_NAME_LENGTH : MIN_NAME_LENGTH)
  return n.length >= MIN_OTHER_LENGTH
}

/** Every identifier of the record, deduplicated by kind and normalised value. Secret-grade: never log values. */
export function collectRecordIdentifiers(record: ClinicalRecord): Identifier[] {
  const out: Identifier[] = []
  const seen = new Set<string>()
  const add = (kind: IdentifierKind, value: string | undefined, source: string) => {
    const v = value?.trim()
    if (!v || !longEnough(kind, v)) return
    const key = `${kind}\0${kind === 'date' ? v : normalizeText(v)}`
    if (seen.has(key)) return
    seen.add(key)
    out.push({ kind, value: v, source })
  }
  const addName = (value: string | undefined, source: string) => {
    if (!value) return
    add('name', value, source)
    for (const part of value.split(NAME_PARTS)) add('name', part, source)
  }
  const s = record.subject
  add('id', s.patientId, 'subject.patientId')
  addName(s.name?.kanji, 'subject.name.kanji')
  addName(s.name?.kana, 'subject.name.kana')
  addName(s.name?.alphabetic, 'subject.name.alphabetic')
  // Text may spell the name in Latin letters even when the source had only kanji and kana.
  if (s.name?.kana) for (const r of romajiOf(s.name.kana)) add('name', r, 'subject.name.kana (romaji)')
  if (s.birthDate && /^\d{4}-\d{2}-\d{2}$/.test(s.birthDate)) add('date', s.birthDate.replaceAll('-', ''), 'subject.birthDate')
  add('address', s.address, 'subject.address')
  // An address is often quoted without its prefecture ("新宿区西新宿2-8-1"): search for that too.
  const withoutPrefecture = s.address?.replace(/^\s*(?:東京都|北海道|(?:大阪|京都)府|.{2,3}県)/, '')
  if (withoutPrefecture !== s.address) add('address', withoutPrefecture, 'subject.address')
  add('address', s.postalCode, 'subject.postalCode')
  add('phone', s.phone, 'subject.phone')
  add('id', record.recordId, 'recordId')
  const staff = 'staff' in record ? record.staff : []
  staff.forEach((st, i) => {
    addName(st.name, `staff[${i}].name`)
    add('id', st.id, `staff[${i}].id`)
  })
  return out
}
