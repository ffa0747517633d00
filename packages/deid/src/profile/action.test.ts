import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { isKuraError } from '@kura/core'
import { actionFor, resolveCode, type Action, type AttributeType } from './action.ts'
import { OPTIONS, type Option } from './options.ts'
import type { TableCode } from './table.ts'
import { concreteTag, SHARED } from './testkit.ts'

// Rows from the shared table (the standard's copy); the bundled copy when /work/shared is absent.
const ROWS: Record<string, string>[] = existsSync(SHARED)
  ? JSON.parse(readFileSync(SHARED, 'utf8'))
  : JSON.parse(readFileSync(new URL('./e1-1.data.json', import.meta.url), 'utf8')).rows

// Written independently of table.ts: option -> the table's column, or none for pixel-level options.
const COLUMN: Record<Option, string | undefined> = {
  retainSafePrivate: 'rtnSafePrivOpt',
  retainUids: 'rtnUIDsOpt',
  retainDeviceIdentity: 'rtnDevIdOpt',
  retainInstitutionIdentity: 'rtnInstIdOpt',
  retainPatientCharacteristics: 'rtnPatCharsOpt',
  retainLongitudinalFullDates: 'rtnLongFullDatesOpt',
  retainLongitudinalModifiedDates: 'rtnLongModifDatesOpt',
  cleanDescriptors: 'cleanDescOpt',
  cleanStructuredContent: 'cleanStructContOpt',
  cleanGraphics: 'cleanGraphOpt',
  cleanPixelData: undefined,
  cleanRecognizableVisualFeatures: undefined,
}

// The compound resolution table from the issue, plus the fallbacks for types a compound does not name.
const BY_TYPE: Record<string, Record<'1' | '2' | '3', Action>> = {
  'Z/D': { '1': 'D', '2': 'Z', '3': 'Z' },
  'X/Z': { '1': 'Z', '2': 'Z', '3': 'X' },
  'X/D': { '1': 'D', '2': 'D', '3': 'X' },
  'X/Z/D': { '1': 'D', '2': 'Z', '3': 'X' },
  'X/Z/U*': { '1': 'U', '2': 'Z', '3': 'X' },
}
const NO_TYPE: Record<string, Action> = { 'Z/D': 'Z', 'X/Z': 'X', 'X/D': 'X', 'X/Z/D': 'X', 'X/Z/U*': 'X' }

function single(code: string, type?: '1' | '2' | '3'): Action {
  if (!code.includes('/')) return code as Action
  return type ? BY_TYPE[code]![type] : NO_TYPE[code]!
}

const isPrivateRow = (row: Record<string, string>) => row.tag!.startsWith('(GGGG')

/** Expected action with these options selected: selected columns with entries win, C over K; else the basic code. */
function expected(row: Record<string, string>, selected: Option[], type?: '1' | '2' | '3', safe = false): Action {
  const entries: string[] = []
  for (const o of selected) {
    const col = COLUMN[o]
    const v = col ? row[col] : undefined
    if (v === undefined) continue
    // Private Attributes row, Retain Safe Private: C means "keep the safe ones" (PS3.15 E.3.10).
    entries.push(o === 'retainSafePrivate' && isPrivateRow(row) ? (safe ? 'K' : 'X') : v)
  }
  if (entries.length === 0) return single(row.basicProfile!, type)
  if (entries.includes('X')) return 'X'
  if (entries.includes('C')) return 'C'
  return single(entries[0]!, type)
}

test('the shared table has 621 rows', () => {
  assert.equal(ROWS.length, 621)
})

test('row by row: basic profile and every option alone, no type given', () => {
  let checks = 0
  for (const row of ROWS) {
    const tag = concreteTag(row.tag!)
    assert.equal(actionFor(tag, new Set()), expected(row, []), `${row.tag} ${row.name} basic`)
    checks++
    for (const o of OPTIONS) {
      assert.equal(actionFor(tag, new Set([o])), expected(row, [o]), `${row.tag} ${row.name} ${o}`)
      checks++
    }
  }
  assert.equal(checks, 621 * 13)
})

test('row by row: every option alone, for each attribute type', () => {
  const types: AttributeType[] = ['1', '1C', '2', '2C', '3']
  for (const row of ROWS) {
    const tag = concreteTag(row.tag!)
    for (const t of types) {
      const cls = t[0] as '1' | '2' | '3'
      assert.equal(actionFor(tag, new Set(), { attributeType: t }), expected(row, [], cls), `${row.tag} basic type ${t}`)
      for (const o of OPTIONS) {
        assert.equal(actionFor(tag, new Set([o]), { attributeType: t }), expected(row, [o], cls), `${row.tag} ${o} type ${t}`)
      }
    }
  }
})

test('row by row: every pair of options (precedence: the stricter entry wins)', () => {
  for (const row of ROWS) {
    const tag = concreteTag(row.tag!)
    for (let i = 0; i < OPTIONS.length; i++) {
      for (let j = i + 1; j < OPTIONS.length; j++) {
        const pair = [OPTIONS[i]!, OPTIONS[j]!]
        assert.equal(actionFor(tag, new Set(pair)), expected(row, pair), `${row.tag} ${pair.join('+')}`)
      }
    }
  }
})

test('row by row: retain safe private with an allow-all list', () => {
  const allowAll = () => true
  for (const row of ROWS) {
    const tag = concreteTag(row.tag!)
    assert.equal(actionFor(tag, new Set(['retainSafePrivate']), { safePrivate: allowAll }), expected(row, ['retainSafePrivate'], undefined, true))
  }
})

test('targeted: patient, study and institution attributes', () => {
  const none = new Set<Option>()
  assert.equal(actionFor(0x00100010, none), 'Z') // PatientName: Z
  assert.equal(actionFor(0x00100020, none), 'Z') // PatientID: Z/D, strictest without type
  assert.equal(actionFor(0x00100020, none, { attributeType: '1' }), 'D')
  assert.equal(actionFor(0x00100020, none, { attributeType: '2' }), 'Z')
  assert.equal(actionFor(0x0020000d, none), 'U') // StudyInstanceUID
  assert.equal(actionFor(0x0020000d, new Set(['retainUids'])), 'K')
  assert.equal(actionFor(0x00080020, none), 'Z') // StudyDate
  assert.equal(actionFor(0x00080020, new Set(['retainLongitudinalModifiedDates'])), 'C')
  assert.equal(actionFor(0x00080020, new Set(['retainLongitudinalFullDates'])), 'K')
  // Both dates options: the stricter (Modified Dates, C) wins.
  assert.equal(actionFor(0x00080020, new Set(['retainLongitudinalFullDates', 'retainLongitudinalModifiedDates'])), 'C')
  // InstitutionName is X/Z/D in 2024b.
  assert.equal(actionFor(0x00080080, none), 'X')
  assert.equal(actionFor(0x00080080, none, { attributeType: '3' }), 'X')
  assert.equal(actionFor(0x00080080, none, { attributeType: '2' }), 'Z')
  assert.equal(actionFor(0x00080080, none, { attributeType: '1' }), 'D')
  assert.equal(actionFor(0x00080080, new Set(['retainInstitutionIdentity'])), 'K')
  // Device identity + modified dates on a calibration date: C (stricter than K).
  assert.equal(actionFor(0x00181200, new Set(['retainDeviceIdentity'])), 'K')
  assert.equal(actionFor(0x00181200, new Set(['retainDeviceIdentity', 'retainLongitudinalModifiedDates'])), 'C')
  // ReferencedImageSequence X/Z/U*: type 1 -> U, K under retainUids.
  assert.equal(actionFor(0x00081140, none, { attributeType: '1' }), 'U')
  assert.equal(actionFor(0x00081140, new Set(['retainUids'])), 'K')
})

test('targeted: private attributes and the safe-private allow-list', () => {
  const tag = 0x00091010
  const safe = (t: number, creator: string | undefined) => t === tag && creator === 'ACME 1.0'
  assert.equal(actionFor(tag, new Set()), 'X')
  assert.equal(actionFor(tag, new Set(['retainSafePrivate'])), 'X') // no allow-list: nothing is safe
  assert.equal(actionFor(tag, new Set(['retainSafePrivate']), { safePrivate: safe, privateCreator: 'ACME 1.0' }), 'K')
  assert.equal(actionFor(tag, new Set(['retainSafePrivate']), { safePrivate: safe, privateCreator: 'OTHER' }), 'X')
  assert.equal(actionFor(0x00091011, new Set(['retainSafePrivate']), { safePrivate: safe, privateCreator: 'ACME 1.0' }), 'X')
  // The allow-list only applies when the option is selected.
  assert.equal(actionFor(tag, new Set(), { safePrivate: safe, privateCreator: 'ACME 1.0' }), 'X')
})

test('targeted: attributes not in the table are kept', () => {
  assert.equal(actionFor(0x00280010, new Set()), 'K') // Rows
  assert.equal(actionFor(0x00080060, new Set()), 'K') // Modality
  assert.equal(actionFor(0x60000010, new Set()), 'K') // OverlayRows: not listed
  assert.equal(actionFor(0x00280010, new Set(OPTIONS)), 'K')
})

test('compound resolution table', () => {
  const cases: [TableCode, AttributeType | undefined, Action][] = [
    ['Z/D', '2', 'Z'], ['Z/D', '1', 'D'], ['Z/D', '2C', 'Z'], ['Z/D', '1C', 'D'], ['Z/D', undefined, 'Z'],
    ['X/Z', '3', 'X'], ['X/Z', '2', 'Z'], ['X/Z', undefined, 'X'],
    ['X/D', '3', 'X'], ['X/D', '1', 'D'], ['X/D', undefined, 'X'],
    ['X/Z/D', '3', 'X'], ['X/Z/D', '2', 'Z'], ['X/Z/D', '1', 'D'], ['X/Z/D', undefined, 'X'],
    ['X/Z/U*', '3', 'X'], ['X/Z/U*', '2', 'Z'], ['X/Z/U*', '1', 'U'], ['X/Z/U*', undefined, 'X'],
    ['K', '1', 'K'], ['C', undefined, 'C'], ['U', '3', 'U'],
  ]
  for (const [code, type, want] of cases) assert.equal(resolveCode(code, type), want, `${code} type ${type}`)
})

test('an invalid attribute type is rejected', () => {
  assert.throws(
    () => actionFor(0x00100020, new Set(), { attributeType: '4' as AttributeType }),
    (e: unknown) => isKuraError(e) && e.code === 'DEID_BAD_ATTRIBUTE_TYPE',
  )
})
