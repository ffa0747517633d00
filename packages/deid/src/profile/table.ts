/** @module PS3.15 Table E.1-1 loaded once into a rule table: exact tags in a Map, repeating-group and private patterns as matchers. */
import { readFileSync } from 'node:fs'
import { isPrivateTag } from '@kura/dicom'
import { DeidErrors } from '../errors.ts'
import type { Option } from './options.ts'

/** An action code as written in Table E.1-1, compound codes included (PS3.15 Table E.1-1 legend). */
export type TableCode = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'Z/D' | 'X/Z' | 'X/D' | 'X/Z/D' | 'X/Z/U*'

export interface Rule {
  /** The tag as printed in the table, e.g. "(0008,0050)" or "(50XX,XXXX)". */
  readonly tagText: string
  readonly name: string
  readonly keyword?: string
  readonly vr?: string
  /** Whether the attribute is in a standard composite IOD ("Y" in the table). */
  readonly inStdCompIod: boolean
  readonly retired: boolean
  /** Basic Profile action (PS3.15 E.2). */
  readonly basic: TableCode
  /** Per-option actions, only for options whose column has an entry on this row (PS3.15 E.3). */
  readonly options: Readonly<Partial<Record<Option, TableCode>>>
}

/** Table column name (innolitics extraction) to option; options without a column are pixel-level (E.3.1, E.3.2). */
export const OPTION_COLUMNS: Readonly<Record<string, Option>> = {
  rtnSafePrivOpt: 'retainSafePrivate',
  rtnUIDsOpt: 'retainUids',
  rtnDevIdOpt: 'retainDeviceIdentity',
  rtnInstIdOpt: 'retainInstitutionIdentity',
  rtnPatCharsOpt: 'retainPatientCharacteristics',
  rtnLongFullDatesOpt: 'retainLongitudinalFullDates',
  rtnLongModifDatesOpt: 'retainLongitudinalModifiedDates',
  cleanDescOpt: 'cleanDescriptors',
  cleanStructContOpt: 'cleanStructuredContent',
  cleanGraphOpt: 'cleanGraphics',
}

const CODES: ReadonlySet<string> = new Set(['D', 'Z', 'X', 'K', 'C', 'U', 'Z/D', 'X/Z', 'X/D', 'X/Z/D', 'X/Z/U*'])
const KNOWN_KEYS: ReadonlySet<string> = new Set(['name', 'tag', 'id', 'keyword', 'valueRepresentation', 'stdCompIOD', 'basicProfile', 'retired', ...Object.keys(OPTION_COLUMNS)])

interface Matcher {
  readonly rule: Rule
  readonly test: (tag: number) => boolean
}

export interface RuleTable {
  readonly edition: string
  readonly rows: number
  readonly exact: ReadonlyMap<number, Rule>
  readonly patterns: readonly Matcher[]
}

type RawRow = Record<string, string | undefined>

const EXACT = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/i
// Repeating groups (PS3.5 7.6): xx stands for an even group offset 00-1E; any x digit is a wildcard.
const REPEATING = /^\(([0-9A-FX]{4}),([0-9A-FX]{4})\)$/i
const ODD_GROUP = /^\(GGGG,EEEE\) WHERE GGGG IS ODD$/i

function code(v: string | undefined, where: string): TableCode {
  if (v === undefined || !CODES.has(v)) throw DeidErrors.badTable(`${where}: unknown action code ${JSON.stringify(v)}`)
  return v as TableCode
}

/** Builds a matcher for a pattern like 50XX,XXXX: fixed hex digits must match; the group must be even (PS3.5 7.6). */
function wildcardMatcher(group: string, element: string): (tag: number) => boolean {
  const digits = (group + element).toUpperCase()
  let mask = 0
  let value = 0
  for (let i = 0; i < 8; i++) {
    const shift = (7 - i) * 4
    const d = digits[i]!
    if (d !== 'X') {
      mask |= 0xf << shift
      value |= parseInt(d, 16) << shift
    }
  }
  mask >>>= 0
  value >>>= 0
  return (tag) => ((tag & mask) >>> 0) === value && ((tag >>> 16) & 1) === 0
}

export function buildTable(raw: { edition?: string; rows: readonly RawRow[] }): RuleTable {
  const exact = new Map<number, Rule>()
  const patterns: Matcher[] = []
  for (const r of raw.rows) {
    const tagText = r.tag ?? ''
    const where = `row ${tagText || JSON.stringify(r)}`
    const options: Partial<Record<Option, TableCode>> = {}
    for (const key of Object.keys(r)) {
      if (!KNOWN_KEYS.has(key)) throw DeidErrors.badTable(`${where}: unknown column "${key}"`)
      const opt = OPTION_COLUMNS[key]
      if (opt && r[key] !== undefined) options[opt] = code(r[key], `${where} ${key}`)
    }
    const rule: Rule = {
      tagText,
      name: r.name ?? '',
      keyword: r.keyword,
      vr: r.valueRepresentation,
      inStdCompIod: r.stdCompIOD === 'Y',
      retired: r.retired === 'Y',
      basic: code(r.basicProfile, `${where} basicProfile`),
      options,
    }
    let m: RegExpExecArray | null
    if ((m = EXACT.exec(tagText))) {
      const tag = parseInt(m[1]! + m[2]!, 16) >>> 0
      if (exact.has(tag)) throw DeidErrors.badTable(`${where}: duplicate tag`)
      exact.set(tag, rule)
    } else if (ODD_GROUP.test(tagText)) {
      // "Private Attributes" row (PS3.15 E.3.10): odd groups other than the illegal 0001-0007 and FFFF.
      patterns.push({ rule, test: isPrivateTag })
    } else if ((m = REPEATING.exec(tagText))) {
      patterns.push({ rule, test: wildcardMatcher(m[1]!, m[2]!) })
    } else {
      throw DeidErrors.badTable(`${where}: tag pattern not understood`)
    }
  }
  return { edition: raw.edition ?? 'unknown', rows: raw.rows.length, exact, patterns }
}

let table: RuleTable | undefined

/** The bundled table, loaded on first use (src/profile/e1-1.data.json, generated by scripts/import-table.mjs). */
export function ruleTable(): RuleTable {
  if (!table) {
    let raw: { edition?: string; rows: RawRow[] }
    try {
      raw = JSON.parse(readFileSync(new URL('./e1-1.data.json', import.meta.url), 'utf8'))
    } catch (e) {
      throw DeidErrors.badTable(e instanceof Error ? e.message : String(e))
    }
    if (!Array.isArray(raw?.rows)) throw DeidErrors.badTable('no rows array')
    table = buildTable(raw)
  }
  return table
}

/** The Table E.1-1 rule for a tag: an exact row first, then the first matching pattern row; undefined if not listed. */
export function ruleFor(tag: number): Rule | undefined {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff) throw DeidErrors.badTag(tag)
  const t = ruleTable()
  const hit = t.exact.get(tag)
  if (hit) return hit
  for (const p of t.patterns) if (p.test(tag)) return p.rule
  return undefined
}
