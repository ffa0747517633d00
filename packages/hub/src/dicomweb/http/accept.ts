/**
 * @module Content negotiation for DICOMweb responses (PS3.18 8.7: Accept header, `accept` query parameter, transfer syntaxes).
 *
 * The caller lists what it can send for the target resource (offers, the default first); the
 * client's media ranges are matched against them as RFC 7231 5.3.2 says (the most specific range
 * decides an offer's weight; q=0 excludes), and for DICOM media types the Transfer Syntax is
 * chosen as PS3.18 8.7.8.2 says (the range's transfer-syntax parameter, else the default of
 * the media type). A null result means 406 Not Acceptable.
 */

/** Explicit VR Little Endian: the default Transfer Syntax of DICOMweb payloads (PS3.18 8.7.3.4). */
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1'

/**
 * Default Transfer Syntax of each DICOM media type (PS3.18 Table 8.7.3-2 for application/dicom,
 * Table 8.7.3-4 for uncompressed bulk data, Table 8.7.3-5 for compressed bulk data).
 */
export const DEFAULT_TRANSFER_SYNTAX: Readonly<Record<string, string>> = {
  'application/dicom': EXPLICIT_VR_LITTLE_ENDIAN,
  'application/octet-stream': EXPLICIT_VR_LITTLE_ENDIAN,
  'image/jpeg': '1.2.840.10008.1.2.4.70',
  'image/dicom-rle': '1.2.840.10008.1.2.5',
  'image/jls': '1.2.840.10008.1.2.4.80',
  'image/jp2': '1.2.840.10008.1.2.4.90',
  'image/jpx': '1.2.840.10008.1.2.4.92',
  'video/mpeg': '1.2.840.10008.1.2.4.100',
  'video/mp4': '1.2.840.10008.1.2.4.102',
  'video/h265': '1.2.840.10008.1.2.4.107',
}

/** One media range of an Accept value. */
export interface MediaRange {
  /** Lowercased; '*' for a wildcard. */
  type: string
  subtype: string
  /** Parameters other than q, names lowercased, values unquoted (e.g. type, transfer-syntax, charset). */
  params: Record<string, string>
  /** Weight 0..1 (RFC 7231 5.3.1); 1 when absent. */
  q: number
  /** Position in the list, for stable tie-breaking. */
  index: number
}

/** Something the server can send for the target resource. */
export interface Offer {
  /** e.g. 'multipart/related', 'application/dicom+json', 'application/json', 'image/jpeg', 'image/png', 'application/octet-stream'. */
  mediaType: string
  /** For multipart/related: the media type of the parts, e.g. 'application/dicom' or 'application/octet-stream'. */
  type?: string
  /**
   * Transfer Syntaxes the server can produce for this resource, preferred (normally the stored
   * one) first. Giving it turns on Transfer Syntax selection for the offer; application/dicom
   * payloads always have it. The media type's default (Explicit VR Little Endian for DICOM) is
   * always selectable, with `needsTranscode` set when it is not in this list.
   */
  transferSyntaxes?: string[]
}

export interface Chosen {
  mediaType: string
  /** The part media type for multipart/related. */
  type?: string
  /**
   * Selected Transfer Syntax (PS3.18 8.7.8.2), for DICOM payloads and offers with transferSyntaxes.
   * '*' only when the client accepts any and the offer did not list what it has (send the stored one).
   */
  transferSyntax?: string
  /** The selected Transfer Syntax is not one of `offer.transferSyntaxes`: transcode it, or reply 406. */
  needsTranscode: boolean
  q: number
  offer: Offer
  offerIndex: number
  /** Whether the `accept` query parameter or the Accept header decided. */
  from: 'query' | 'header'
  /** Content-Type of the response, without boundary: `multipart/related; type="application/dicom"`, `application/dicom+json`, ... */
  contentType: string
  /** For multipart: Content-Type of each part, e.g. `application/dicom; transfer-syntax=1.2.840.10008.1.2.1`. */
  partContentType?: string
}

/** Splits on commas that are outside quoted strings. */
function splitList(value: string): string[] {
  const out: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]
    if (quoted) {
      if (c === '\\') i++
      else if (c === '"') quoted = false
    } else if (c === '"') quoted = true
    else if (c === ',') {
      out.push(value.slice(start, i))
      start = i + 1
    }
  }
  out.push(value.slice(start))
  return out.map((s) => s.trim()).filter((s) => s.length > 0)
}

/** Splits on semicolons outside quoted strings. */
function splitParams(value: string): string[] {
  const out: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]
    if (quoted) {
      if (c === '\\') i++
      else if (c === '"') quoted = false
    } else if (c === '"') quoted = true
    else if (c === ';') {
      out.push(value.slice(start, i))
      start = i + 1
    }
  }
  out.push(value.slice(start))
  return out.map((s) => s.trim())
}

function unquote(v: string): string {
  if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') return v.slice(1, -1).replace(/\\(.)/g, '$1')
  return v
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Parses an Accept value. Invalid ranges are dropped, as PS3.18 8.7.7 asks ("values that are not
 * valid or not supported shall be ignored"). A bare `*` (sent by some HTTP libraries) is read as `*\/*`.
 * Parameters after q (accept-extensions) are kept with the media type parameters: DICOM clients
 * put transfer-syntax on either side of q.
 */
export function parseAccept(value: string): MediaRange[] {
  const out: MediaRange[] = []
  for (const item of splitList(value)) {
    const [mt, ...rest] = splitParams(item)
    let full = mt!.toLowerCase()
    if (full === '*') full = '*/*'
    const slash = full.indexOf('/')
    if (slash <= 0) continue
    const type = full.slice(0, slash).trim()
    const subtype = full.slice(slash + 1).trim()
    if (!TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*')) continue
    const params = new Map<string, string>()
    let q = 1
    let ok = true
    for (const p of rest) {
      if (p === '') continue
      const eq = p.indexOf('=')
      if (eq <= 0) continue
      const name = p.slice(0, eq).trim().toLowerCase()
      const v = unquote(p.slice(eq + 1).trim())
      if (name === 'q') {
        const n = Number(v)
        if (v === '' || !Number.isFinite(n) || n < 0 || n > 1) ok = false
        else q = n
      } else if (!params.has(name)) params.set(name, v.trim())
    }
    if (!ok) continue
    out.push({ type, subtype, params: Object.fromEntries(params), q, index: out.length })
  }
  return out
}

function norm(mediaType: string): string {
  return mediaType.split(';')[0]!.trim().toLowerCase()
}

function payloadType(o: Offer): string | undefined {
  return norm(o.mediaType) === 'multipart/related' ? (o.type === undefined ? undefined : norm(o.type)) : norm(o.mediaType)
}

/** Whether the range covers the offer, Transfer Syntax aside. */
function matches(r: MediaRange, o: Offer): boolean {
  const [ot, os] = norm(o.mediaType).split('/')
  if (r.type !== '*' && r.type !== ot) return false
  if (r.subtype !== '*' && r.subtype !== os) return false
  // multipart/related;type=X only covers the offer whose parts are X (PS3.18 8.7.3.5.1).
  if (ot === 'multipart' && r.params.type !== undefined && o.type !== undefined && norm(r.params.type) !== norm(o.type)) return false
  return true
}

/**
 * Specificity used to let a narrower range override a wider one (RFC 7231 5.3.2). A missing
 * transfer-syntax parameter names the default syntax (PS3.18 8.7.8.2), so it is as narrow as an
 * explicit one; only transfer-syntax=* is a wildcard.
 */
function specificity(r: MediaRange): number {
  return (r.type !== '*' ? 1 : 0) + (r.subtype !== '*' ? 1 : 0) + (r.params.type !== undefined ? 1 : 0) + (r.params['transfer-syntax'] !== '*' ? 1 : 0)
}

interface Candidate {
  offerIndex: number
  ts: string | undefined
  tsRank: number
  needsTranscode: boolean
  q: number
  spec: number
  rangeIndex: number
}

function usesTransferSyntax(o: Offer): boolean {
  return o.transferSyntaxes !== undefined || payloadType(o) === 'application/dicom'
}

function defaultTs(o: Offer): string | undefined {
  const p = payloadType(o)
  return (p && DEFAULT_TRANSFER_SYNTAX[p]) || o.transferSyntaxes?.[0]
}

/** Whether range r accepts transfer syntax `ts` for offer o: absent parameter means the default only. */
function acceptsTs(r: MediaRange, o: Offer, ts: string): boolean {
  const want = r.params['transfer-syntax']
  if (want === undefined) return ts === defaultTs(o)
  return want === '*' || want === ts
}

function candidates(ranges: MediaRange[], offers: Offer[]): Candidate[] {
  const out: Candidate[] = []
  offers.forEach((o, offerIndex) => {
    const matching = ranges.filter((r) => matches(r, o))
    if (matching.length === 0) return
    if (!usesTransferSyntax(o)) {
      const best = decide(matching)
      if (best.q > 0) out.push({ offerIndex, ts: undefined, tsRank: 0, needsTranscode: false, q: best.q, spec: specificity(best), rangeIndex: best.index })
      return
    }
    // The Transfer Syntaxes this offer can be sent in: what the server listed, plus the
    // media type's default, which every origin server must be able to produce (PS3.18 8.7.3.4 note 2).
    const have = o.transferSyntaxes ?? []
    const def = defaultTs(o)
    const variants: string[] = [...have]
    if (o.transferSyntaxes === undefined) {
      // Nothing listed: any explicitly requested syntax, or '*' (whatever is stored), is taken
      // at face value, ahead of the default so that '*' does not turn into a transcode.
      for (const r of matching) {
        const want = r.params['transfer-syntax']
        if (want !== undefined && !variants.includes(want)) variants.push(want)
      }
    }
    if (def !== undefined && !variants.includes(def)) variants.push(def)
    variants.forEach((ts, tsRank) => {
      const accepting = matching.filter((r) => acceptsTs(r, o, ts))
      if (accepting.length === 0) return
      const best = decide(accepting)
      if (best.q <= 0) return
      const needsTranscode = o.transferSyntaxes !== undefined && !o.transferSyntaxes.includes(ts) && ts !== '*'
      out.push({ offerIndex, ts, tsRank, needsTranscode, q: best.q, spec: specificity(best), rangeIndex: best.index })
    })
  })
  return out
}

/** The range that decides an offer's weight: the most specific; among equals, the highest q. */
function decide(rs: MediaRange[]): MediaRange {
  let best = rs[0]!
  for (const r of rs) {
    const s = specificity(r) - specificity(best)
    if (s > 0 || (s === 0 && r.q > best.q)) best = r
  }
  return best
}

function pick(cands: Candidate[]): Candidate | undefined {
  // Client weight first; then avoid transcoding; then the narrower request; then the server's
  // preference (offer order, offers[0] being the default), the client's order, the stored syntax.
  return cands.sort(
    (a, b) =>
      b.q - a.q ||
      Number(a.needsTranscode) - Number(b.needsTranscode) ||
      b.spec - a.spec ||
      a.offerIndex - b.offerIndex ||
      a.rangeIndex - b.rangeIndex ||
      a.tsRank - b.tsRank,
  )[0]
}

function withTs(mediaType: string, ts: string | undefined): string {
  return ts === undefined || ts === '*' ? mediaType : `${mediaType}; transfer-syntax=${ts}`
}

function toChosen(c: Candidate, offers: Offer[], from: 'query' | 'header'): Chosen {
  const offer = offers[c.offerIndex]!
  const mediaType = norm(offer.mediaType)
  const chosen: Chosen = { mediaType, transferSyntax: c.ts, needsTranscode: c.needsTranscode, q: c.q, offer, offerIndex: c.offerIndex, from, contentType: mediaType }
  if (mediaType === 'multipart/related') {
    if (offer.type !== undefined) {
      chosen.type = norm(offer.type)
      chosen.contentType = `multipart/related; type="${chosen.type}"`
      chosen.partContentType = withTs(chosen.type, c.ts)
    }
  } else if (c.ts !== undefined) chosen.contentType = withTs(mediaType, c.ts)
  if (chosen.transferSyntax === undefined) delete chosen.transferSyntax
  return chosen
}

/**
 * Picks what to send. `accept` is the Accept header (absent or empty is treated as `*\/*`, as
 * RFC 7231 5.3.2 does; PS3.18 8.7.7 would allow 406 there, which is the caller's call).
 * `acceptQuery` is the `accept` query parameter (PS3.18 8.3.3.1): its media types are tried
 * first, but only those the Accept header also covers, and wildcards in it are ignored; if none
 * of them can be served, the Accept header decides. Returns null when nothing acceptable can be
 * sent (reply 406).
 */
export function negotiate(accept: string | undefined, offers: Offer[], acceptQuery?: string | string[]): Chosen | null {
  const header = accept && accept.trim() ? parseAccept(accept) : parseAccept('*/*')
  const q = Array.isArray(acceptQuery) ? acceptQuery.join(',') : acceptQuery
  if (q && q.trim()) {
    const fromQuery = parseAccept(q).filter(
      (r) => r.type !== '*' && r.subtype !== '*' && header.some((h) => h.q > 0 && (h.type === '*' || h.type === r.type) && (h.subtype === '*' || h.subtype === r.subtype)),
    )
    const c = pick(candidates(fromQuery, offers))
    if (c) return toChosen(c, offers, 'query')
  }
  const c = pick(candidates(header, offers))
  return c ? toChosen(c, offers, 'header') : null
}
