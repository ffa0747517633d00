/**
 * @module Streaming XML rows: cuts each repeating row element (`<Exam>…</Exam>`) out of the decoded text as it
 * arrives and parses only that fragment (fast-xml-parser), so an export of any size is read in constant memory.
 * Values stay strings (IDs keep their leading zeros); attributes are read as `@name`.
 */
import { XMLParser } from 'fast-xml-parser'

export interface XmlRow {
  /** 1-based line number where the element starts. */
  line: number
  /** The parsed element: child elements by name (arrays when repeated), attributes as `@name`, text as `#text`. */
  element: Record<string, unknown>
  /** The element's source text, for held records. */
  raw: string
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
})

const count = (s: string, from: number, to: number): number => {
  let n = 0
  for (let i = s.indexOf('\n', from); i >= 0 && i < to; i = s.indexOf('\n', i + 1)) n++
  return n
}

/** Every `<name …>…</name>` (or `<name …/>`) element of the text, in order; a fragment that does not parse is yielded with `error`. */
export async function* xmlRows(text: AsyncIterable<string>, name: string): AsyncGenerator<XmlRow | { line: number; raw: string; error: string }> {
  const open = new RegExp(`<${name}(?=[\\s/>])`, 'g')
  const close = `</${name}>`
  let buf = ''
  let line = 1 // line number at buf[0]
  for await (const chunk of text) {
    buf += chunk
    for (;;) {
      open.lastIndex = 0
      const m = open.exec(buf)
      if (!m) {
        // Keep a tail that could hold the start of an opening tag.
        const keep = Math.max(0, buf.length - name.length - 2)
        line += count(buf, 0, keep)
        buf = buf.slice(keep)
        break
      }
      const gt = buf.indexOf('>', m.index)
      if (gt < 0) break
      let end: number
      if (buf[gt - 1] === '/') end = gt + 1
      else {
        const c = buf.indexOf(close, gt)
        if (c < 0) break
        end = c + close.length
      }
      line += count(buf, 0, m.index)
      const raw = buf.slice(m.index, end)
      const startLine = line
      line += count(raw, 0, raw.length)
      buf = buf.slice(end)
      yield parseRow(raw, name, startLine)
    }
  }
}

function parseRow(raw: string, name: string, line: number): XmlRow | { line: number; raw: string; error: string } {
  try {
    const doc = parser.parse(raw, true) as Record<string, unknown>
    const el = doc[name]
    const element = typeof el === 'object' && el !== null && !Array.isArray(el) ? (el as Record<string, unknown>) : {}
    return { line, element, raw }
  } catch (e) {
    return { line, raw, error: `the <${name}> element at line ${line} is not well-formed XML (${(e as Error).message.split('\n')[0]})` }
  }
}

/** The text at a child path (`Patient/Name`, `@code`, `Findings/Finding`) of an element; the first when repeated. */
export function xmlValue(el: unknown, path: string): string | undefined {
  let cur: unknown = el
  for (const step of path.split('/')) {
    if (Array.isArray(cur)) cur = cur[0]
    if (typeof cur !== 'object' || cur === null) return undefined
    cur = (cur as Record<string, unknown>)[step]
  }
  if (Array.isArray(cur)) cur = cur[0]
  if (typeof cur === 'string') return cur
  if (typeof cur === 'number' || typeof cur === 'boolean') return String(cur)
  if (typeof cur === 'object' && cur !== null) {
    const t = (cur as Record<string, unknown>)['#text']
    return t === undefined ? '' : String(t)
  }
  return undefined
}

/** Every element at a child path (a repeated child gives several). */
export function xmlElements(el: unknown, path: string): unknown[] {
  let cur: unknown[] = [el]
  for (const step of path.split('/')) {
    const next: unknown[] = []
    for (const c of cur) {
      if (typeof c !== 'object' || c === null) continue
      const v = (c as Record<string, unknown>)[step]
      if (Array.isArray(v)) next.push(...v)
      else if (v !== undefined) next.push(v)
    }
    cur = next
  }
  return cur
}
