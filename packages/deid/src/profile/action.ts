/** @module Resolves the PS3.15 Table E.1-1 action for one attribute under the Basic Profile and selected options. */
import { isPrivateTag } from '@kura/dicom'
import { DeidErrors } from '../errors.ts'
import type { Option } from './options.ts'
import { OPTION_COLUMNS, ruleFor, type TableCode } from './table.ts'

/**
 * Single action codes (PS3.15 Table E.1-1 legend): D replace with a dummy value, Z zero-length or dummy,
 * X remove, K keep, C clean (replace with values of similar meaning), U replace UIDs consistently.
 */
export type Action = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U'

/** Attribute type in the IOD (PS3.5 7.4); conditional types resolve like their unconditional ones. */
export type AttributeType = '1' | '1C' | '2' | '2C' | '3'

/** Decides whether a private attribute is safe to keep under the Retain Safe Private Option (PS3.15 E.3.10). */
export type SafePrivate = (tag: number, creator: string | undefined) => boolean

export interface ActionContext {
  /** The attribute's type in the object's IOD, when the caller knows it; resolves compound codes. */
  readonly attributeType?: AttributeType
  /**
   * Allow-list for private attributes under retainSafePrivate. Without it nothing private is safe.
   * The caller also decides the Private Creator elements (gggg,0010-00FF): keep one when it keeps any element of its block.
   */
  readonly safePrivate?: SafePrivate
  /** The Private Creator value reserving this private element's block, passed through to safePrivate. */
  readonly privateCreator?: string
}

// Preference per attribute type for compound codes (PS3.15 Table E.1-1 legend):
// type 3 may be absent -> X; type 2 must be present, may be empty -> Z; type 1 must hold a value -> D (or U for UIDs).
// Each list falls back to the next component that the compound allows, so e.g. X/D on a type 2 gives D.
const PREFERENCE: Readonly<Record<'1' | '2' | '3', readonly Action[]>> = {
  '3': ['X', 'Z', 'D', 'U'],
  '2': ['Z', 'D', 'U', 'X'],
  '1': ['D', 'U', 'Z', 'X'],
}

function typeClass(t: AttributeType): '1' | '2' | '3' {
  switch (t) {
    case '1':
    case '1C':
      return '1'
    case '2':
    case '2C':
      return '2'
    case '3':
      return '3'
    default:
      throw DeidErrors.badAttributeType(String(t))
  }
}

/**
 * Resolves a Table E.1-1 code to one action. Compound codes (Z/D, X/Z, X/D, X/Z/D, X/Z/U*) resolve by the
 * attribute's IOD type when known. Without a type we take the first component, the strictest in the sense of
 * least information leaked: X for any X/..., Z for Z/D. That can remove a Type 1 attribute or empty a Type 1
 * (e.g. Patient ID), so callers that know the IOD must pass attributeType; the engine validates the result.
 * "U*" means U applies to the UIDs inside the sequence's items (PS3.15 Table E.1-1 note on X/Z/U*).
 */
export function resolveCode(code: TableCode, attributeType?: AttributeType): Action {
  if (code.length === 1) return code as Action
  const parts = code.replace('*', '').split('/') as Action[]
  if (attributeType === undefined) return parts[0]!
  for (const a of PREFERENCE[typeClass(attributeType)]) if (parts.includes(a)) return a
  return parts[0]!
}

// Strictness among option-column actions (all of them are K or C in 2024b): C leaks less than K, and anything
// else (a future X/Z/D/U entry) is stricter still. Used when several selected options have entries on one row.
const RANK: Readonly<Record<Action, number>> = { K: 0, C: 1, U: 2, D: 3, Z: 4, X: 5 }

/**
 * The action for one attribute (PS3.15 E.2, E.3).
 * - Not in Table E.1-1 and not private: K (standard attributes not listed carry no identifying information, E.2).
 * - Otherwise the Basic Profile code, unless a selected option's column has an entry for the row, which overrides it.
 * - Precedence when several selected options have entries: the strictest wins (C over K). So selecting both
 *   retain-dates options behaves like Modified Dates (C), and Retain Device Identity with Modified Dates gives C
 *   for calibration dates; retaining more than either option alone promises would leak dates the user asked to modify.
 * - Private attributes (odd groups, the "Private Attributes" row): X; under retainSafePrivate the table's C is realized
 *   per attribute (E.3.10): K when safePrivate allows the tag and creator, X otherwise.
 */
export function actionFor(tag: number, options: ReadonlySet<Option>, ctx: ActionContext = {}): Action {
  const rule = ruleFor(tag)
  if (!rule) return isPrivateTag(tag) ? privateAction(tag, options, ctx) : 'K'
  let best: Action | undefined
  for (const option of Object.values(OPTION_COLUMNS)) {
    const entry = rule.options[option]
    if (entry === undefined || !options.has(option)) continue
    const a = option === 'retainSafePrivate' ? privateAction(tag, options, ctx) : resolveCode(entry, ctx.attributeType)
    if (best === undefined || RANK[a] > RANK[best]) best = a
  }
  return best ?? resolveCode(rule.basic, ctx.attributeType)
}

function privateAction(tag: number, options: ReadonlySet<Option>, ctx: ActionContext): Action {
  if (!options.has('retainSafePrivate') || !ctx.safePrivate) return 'X'
  return ctx.safePrivate(tag, ctx.privateCreator) ? 'K' : 'X'
}

const TABLES = new Map<string, Map<number, Action>>()
const TABLE_MAX = 1 << 16

/**
 * A memo for actionFor(tag, options) on public tags with no attribute type and no safePrivate (so never under
 * retainSafePrivate, whose result depends on the caller's allow-list), shared by every caller with the same options.
 */
export function actionTable(options: ReadonlySet<Option>): (tag: number) => Action {
  const key = [...options].sort().join(',')
  let t = TABLES.get(key)
  if (!t) TABLES.set(key, (t = new Map()))
  const table = t
  return (tag) => {
    let a = table.get(tag)
    if (a === undefined) {
      a = actionFor(tag, options)
      if (table.size >= TABLE_MAX) table.clear()
      table.set(tag, a)
    }
    return a
  }
}
