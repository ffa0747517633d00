/**
 * @module Label mapping: a foreign file's class names (QuPath classifications, ASAP groups, Cytomine terms) to
 * vocabulary codes, and back. Kura labels are codes, never free text, so an import must say which code each
 * class means; a class without one is counted and reported (the import then refuses or holds those objects back),
 * never silently dropped or stored as text.
 */
import type { CodeRef } from '../model.ts'
import { InterchangeErrors } from './errors.ts'

/** Source class name → code. The key "" stands for objects that carry no class at all. */
export type LabelMapping = Readonly<Record<string, CodeRef>>

export interface UnmappedClass {
  className: string
  count: number
}

/** `refuse`: import nothing while any class is unmapped. `hold`: import the mapped objects, hold back the rest. */
export type UnmappedPolicy = 'refuse' | 'hold'

export interface ImportOptions {
  labels: LabelMapping
  onUnmapped?: UnmappedPolicy
}

/** Counts the class names it could not resolve, in first-seen order (so reports are stable). */
export class LabelResolver {
  private readonly missing = new Map<string, number>()
  constructor(private readonly mapping: LabelMapping) {}

  resolve(className: string): CodeRef | null {
    const code = Object.hasOwn(this.mapping, className) ? this.mapping[className]! : null
    if (!code) this.missing.set(className, (this.missing.get(className) ?? 0) + 1)
    return code
  }

  unmapped(): UnmappedClass[] {
    return [...this.missing].map(([className, count]) => ({ className, count }))
  }
}

export const sameCode = (a: CodeRef, b: CodeRef) => a.system === b.system && a.code === b.code

/** Validates a mapping that came from a request or a file. */
export function parseLabelMapping(value: unknown): LabelMapping {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw InterchangeErrors.badMapping('it is not a JSON object')
  const out: Record<string, CodeRef> = {}
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    const c = v as Partial<CodeRef> | null
    if (!c || typeof c !== 'object' || typeof c.system !== 'string' || !c.system || typeof c.code !== 'string' || !c.code)
      throw InterchangeErrors.badMapping(`the entry for "${name.slice(0, 40)}" lacks a system and a code`)
    if (c.version !== undefined && typeof c.version !== 'string') throw InterchangeErrors.badMapping(`the version for "${name.slice(0, 40)}" is not a string`)
    out[name] = c.version === undefined ? { system: c.system, code: c.code } : { system: c.system, code: c.code, version: c.version }
  }
  return out
}

/** The class name a code had in the mapping (first one wins), for exports back to the same tool. */
export function classNameOf(mapping: LabelMapping, code: CodeRef): string | null {
  for (const [name, c] of Object.entries(mapping)) if (sameCode(c, code)) return name
  return null
}

/**
 * Applies the policy after a file has been read: with unmapped classes, `refuse` throws (nothing imported)
 * and `hold` keeps the mapped drafts and reports how many objects were held back.
 */
export function applyPolicy<T>(drafts: (T | null)[], resolver: LabelResolver, policy: UnmappedPolicy = 'refuse'): { annotations: T[]; unmapped: UnmappedClass[]; held: number } {
  const unmapped = resolver.unmapped()
  if (unmapped.length && policy === 'refuse') throw InterchangeErrors.unmapped(unmapped)
  const annotations = drafts.filter((d): d is T => d !== null)
  return { annotations, unmapped, held: drafts.length - annotations.length }
}
