/**
 * @module HL7 v2 escape sequences (HL7 v2.5 chapter 2, 2.7 "Use of escape sequences in text fields"): `\F\ \S\
 * \T\ \R\ \E\` for the delimiters, `\Xhh…\` for hex data, `\.br\` as a line break in formatted text (FT).
 * Highlighting (`\H\ \N\`), character-set switches (`\Cxxyy\ \Mxxyyzz\`: our text is already decoded) and local
 * `\Z…\` sequences are dropped. A lone escape character with no closing one is kept as written: real files do that.
 */

/** The five delimiters MSH-1 and MSH-2 declare. */
export interface Hl7Delimiters {
  field: string
  component: string
  repetition: string
  escape: string
  subcomponent: string
}

export const DEFAULT_DELIMITERS: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' }

export function unescapeHl7(value: string, d: Hl7Delimiters): string {
  const e = d.escape
  if (!e || value.indexOf(e) < 0) return value
  let out = ''
  let i = 0
  for (;;) {
    const start = value.indexOf(e, i)
    if (start < 0) break
    const end = value.indexOf(e, start + 1)
    if (end < 0) break
    out += value.slice(i, start)
    const seq = value.slice(start + 1, end)
    out += expand(seq, d)
    i = end + 1
  }
  return out + value.slice(i)
}

function expand(seq: string, d: Hl7Delimiters): string {
  switch (seq) {
    case 'F': return d.field
    case 'S': return d.component
    case 'T': return d.subcomponent
    case 'R': return d.repetition
    case 'E': return d.escape
    case 'H': case 'N': return ''
    case '.br': return '\n'
    case '': return ''
  }
  const k = seq[0]
  if (k === 'X' && /^X(?:[0-9A-Fa-f]{2})+$/.test(seq)) {
    let s = ''
    for (let j = 1; j < seq.length; j += 2) s += String.fromCharCode(parseInt(seq.slice(j, j + 2), 16))
    return s
  }
  if (k === 'C' || k === 'M' || k === 'Z' || k === '.') return ''
  // Not an escape we know: keep it as written rather than lose text.
  return d.escape + seq + d.escape
}

/** Escapes text so that it is one value (no delimiter inside); line breaks become `\.br\`. */
export function escapeHl7(value: string, d: Hl7Delimiters = DEFAULT_DELIMITERS): string {
  let out = ''
  for (const ch of value) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`
    else if (ch === d.field) out += `${d.escape}F${d.escape}`
    else if (ch === d.component) out += `${d.escape}S${d.escape}`
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`
    else if (ch === '\n') out += `${d.escape}.br${d.escape}`
    else if (ch === '\r') continue
    else out += ch
  }
  return out
}
