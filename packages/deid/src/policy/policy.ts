/** @module Loading de-identification policies, the built-in Basic policy, and the De-identification Method text that names them in every output. */
import { readFileSync } from 'node:fs'
import type { SafePrivate } from '../profile/action.ts'
import { PolicyErrors } from './errors.ts'
import { parsePolicy, type Policy } from './schema.ts'
import { parsePolicyYaml } from './yaml.ts'

/** The Basic Application Level Confidentiality Profile with no options and no deviations (PS3.15 E.1). */
export const BASIC_POLICY: Policy = parsePolicy({ id: 'kura-basic', version: '1', profile: 'basic' }, 'kura-basic')

/**
 * Reads a policy file and validates it: `.yaml`/`.yml` as YAML (problems carry line numbers), anything else as JSON.
 * Both forms take the same fields and give the same Policy.
 */
export function loadPolicy(path: string): Policy {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw PolicyErrors.unreadable(path, e)
  }
  if (/\.ya?ml$/i.test(path)) return parsePolicyYaml(text, path)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw PolicyErrors.notJson(path, e)
  }
  return parsePolicy(json, path)
}

/** LO holds at most 64 characters (PS3.5 Table 6.2-1). */
const LO_MAX = 64

/**
 * The De-identification Method (0012,0063) text, `KURA <id> <version>`: PS3.15 E.1.1 asks for a description of
 * the method, and each output must say which policy and version produced it. The version is never cut; a long
 * id is shortened and marked with "~" so the value stays within LO's 64 characters.
 */
export function methodDescription(policy: Pick<Policy, 'id' | 'version'>): string {
  const full = `KURA ${policy.id} ${policy.version}`
  if (full.length <= LO_MAX) return full
  const room = LO_MAX - 'KURA '.length - 1 - policy.version.length - 1
  return `KURA ${policy.id.slice(0, Math.max(room, 0))}~ ${policy.version}`.slice(0, LO_MAX)
}

/**
 * The policy's safe-private allow-list as the predicate actionFor expects (PS3.15 E.3.10): a private data element
 * is safe when its block's creator and its group and element offset (ee of ggggxxee) are listed.
 * Creator comparison ignores leading/trailing spaces (LO padding, PS3.5 6.2) but not inner ones.
 */
export function safePrivateOf(policy: Pick<Policy, 'safePrivate'>): SafePrivate {
  const allowed = new Set<string>()
  for (const r of policy.safePrivate) for (const e of r.elements) allowed.add(`${r.creator}\u0000${e.group}\u0000${e.element}`)
  return (tag, creator) => {
    if (creator === undefined) return false
    const group = tag >>> 16
    const elem = tag & 0xffff
    // Elements 0x0010-0x00FF are the Private Creator slots themselves; data elements start at 0x1000 (PS3.5 7.8.1).
    if (elem < 0x1000) return false
    return allowed.has(`${creator.trim()}\u0000${group}\u0000${elem & 0xff}`)
  }
}
