/**
 * @module A streaming CSV/TSV row reader over decoded text (RFC 4180: quoted fields with "" escapes and line
 * breaks inside quotes; CRLF or LF). Rows come out one at a time with their first line number, so a 10 GB
 * export is read in constant memory.
 */

export interface TextRow {
  /** 1-based line number where the row starts. */
  line: number
  values: string[]
}

/** Rows of delimited text; empty lines are skipped. */
export async function* delimitedRows(text: AsyncIterable<string>, delimiter: string): AsyncGenerator<TextRow> {
  let field = ''
  let values: string[] = []
  let inQuotes = false
  let quotePending = false // saw a quote inside quotes: either the closing quote or the first of ""
  let line = 1
  let rowLine = 1
  let rowStarted = false
  const d = delimiter.charCodeAt(0)
  for await (const chunk of text) {
    const out: TextRow[] = []
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i)
      if (quotePending) {
        quotePending = false
        if (c === 0x22) { field += '"'; continue }
        inQuotes = false
      }
      if (inQuotes) {
        if (c === 0x22) quotePending = true
        else {
          const q = chunk.indexOf('"', i)
          const j = q < 0 ? chunk.length : q
          const part = chunk.slice(i, j)
          for (let k = part.indexOf('\n'); k >= 0; k = part.indexOf('\n', k + 1)) line++
          field += part
          i = j - 1
        }
        continue
      }
      if (c === 0x22 && field === '') { inQuotes = true; rowStarted = true; continue }
      if (c === d) { values.push(field); field = ''; rowStarted = true; continue }
      if (c === 0x0d) continue
      if (c === 0x0a) {
        if (rowStarted || field !== '') { values.push(field); out.push({ line: rowLine, values }) }
        values = []
        field = ''
        rowStarted = false
        line++
        rowLine = line
        continue
      }
      // A run of plain characters is copied in one slice (most of an export).
      let j = i + 1
      while (j < chunk.length) {
        const x = chunk.charCodeAt(j)
        if (x === d || x === 0x0a || x === 0x0d || x === 0x22) break
        j++
      }
      field += chunk.slice(i, j)
      i = j - 1
      rowStarted = true
    }
    for (const r of out) yield r
  }
  if (rowStarted || field !== '') {
    values.push(field)
    yield { line: rowLine, values }
  }
}
