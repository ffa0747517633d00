/** @module YAML policy files: the same document as a JSON policy, read with the `yaml` package so problems carry line numbers. */
import { LineCounter, isScalar, parseDocument, visit, type Document } from 'yaml'
import { isKuraError, type KuraError } from '@kura/core'
import { PolicyErrors, type PolicyProblem } from './errors.ts'
import { parsePolicy, type Policy } from './schema.ts'

const HEX8 = /^[0-9A-Fa-f]{8}$/

/** "$.overrides[1].action" → ['overrides', 1, 'action'] */
function pathKeys(path: string): Array<string | number> {
  const keys: Array<string | number> = []
  for (const m of path.slice(1).matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)) keys.push(m[1] !== undefined ? m[1] : Number(m[2]))
  return keys
}

/** The line of the deepest node on the path that exists (a missing field is reported where its parent is). */
function lineOf(doc: Document, lines: LineCounter, path: string): number | undefined {
  const keys = pathKeys(path)
  for (let n = keys.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true)
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range
    if (range) return lines.linePos(range[0]).line
  }
  return undefined
}

/**
 * Parses a YAML policy. YAML reads an unquoted 00100040 as the number 100040; a `tag` written as 8 hex digits is
 * taken as written, so overrides need no quotes. Everything else must have the type the JSON schema asks for.
 */
export function parsePolicyYaml(text: string, source: string): Policy {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const pos = e.linePos?.[0]
    throw PolicyErrors.notYaml(source, `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0]}`, e)
  }
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === 'tag' && isScalar(pair.value) && typeof pair.value.value === 'number') {
        const written = pair.value.source
        if (typeof written === 'string' && HEX8.test(written)) pair.value.value = written
      }
    },
  })
  try {
    return parsePolicy(doc.toJS(), source)
  } catch (e) {
    if (!isKuraError(e) || e.code !== 'DEID_POLICY_INVALID') throw e
    const problems = ((e as KuraError).details?.problems ?? []) as PolicyProblem[]
    throw PolicyErrors.invalid(problems.map((p) => ({ ...p, line: lineOf(doc, lines, p.path) })), source)
  }
}
