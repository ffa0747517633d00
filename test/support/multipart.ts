/** @module A deliberately naive multipart/related splitter for checking responses (independent of the hub's streaming parser). */
export interface SimplePart {
  headers: Record<string, string>
  body: Buffer
}

export function splitMultipart(body: Buffer, contentType: string): SimplePart[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType)
  if (!m) throw new Error(`no boundary in ${contentType}`)
  const delim = Buffer.from(`--${m[1]}`)
  const parts: SimplePart[] = []
  let pos = body.indexOf(delim)
  while (pos >= 0) {
    const start = pos + delim.length
    if (body.subarray(start, start + 2).toString() === '--') break
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), start)
    if (next < 0) throw new Error('unterminated part')
    const part = body.subarray(start + 2, next)
    const sep = part.indexOf('\r\n\r\n')
    const head = sep >= 0 ? part.subarray(0, sep).toString() : ''
    const headers: Record<string, string> = {}
    for (const line of head.split('\r\n').filter(Boolean)) {
      const i = line.indexOf(':')
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
    }
    parts.push({ headers, body: part.subarray(sep >= 0 ? sep + 4 : 0) })
    pos = next + 2
  }
  return parts
}
