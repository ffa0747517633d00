/**
 * @module Identifying text in a slide's TIFF tags, blanked in place.
 *
 * Values are overwritten with spaces of the same length, never rewritten elsewhere: a slide's
 * IFDs, tile offset arrays and tile data are then exactly where they were, so nothing but the
 * blanked bytes changes, the copy streams by ranges, and a bug cannot shift or corrupt a tile.
 */

/** TIFF ASCII tags blanked in every directory: TIFF 6.0 DateTime, Artist, HostComputer, DocumentName, PageName; NDPI Reference (the slide-label text, in every NDPI IFD). */
export const SCRUBBED_TAGS: ReadonlyMap<number, string> = new Map([
  [306, 'DateTime'],
  [315, 'Artist'],
  [316, 'HostComputer'],
  [269, 'DocumentName'],
  [285, 'PageName'],
  [65427, 'hamamatsu.Reference'],
])

/** XMP (700, BYTE): free-form XML that can carry author, dates and document names; blanked whole. */
export const XMP_TAG = 700

/**
 * Aperio ImageDescription keys that identify the slide, its patient or the scan session. From
 * Aperio files (CMU-1 in OpenSlide's test data, the list): Filename, Date, Time, Time Zone,
 * User (an operator GUID), ScanScope ID (the scanner), ImageID (the scanner database's key),
 * Barcode, Title, Slide, Patient; plus any key naming an id, a name, a person or a case.
 */
const APERIO_EXACT = new Set(['filename', 'date', 'time', 'time zone', 'user', 'scanscope id', 'imageid', 'barcode', 'title', 'slide', 'patient', 'dsr id', 'rack', 'slot', 'comments', 'comment'])
const APERIO_PATTERN = /(\bid\b|[a-z]ID$|name|patient|barcode|user|operator|accession|specimen|case|label|date)/i

export function isIdentifyingAperioKey(key: string): boolean {
  return APERIO_EXACT.has(key.trim().toLowerCase()) || APERIO_PATTERN.test(key.trim())
}

/**
 * Blanks the values of identifying `key = value` fields of an Aperio description (`header|k = v|...`).
 * Returns the same-length text and the keys it blanked (those with a non-blank value).
 */
export function scrubAperioDescription(desc: string): { text: string; keys: string[] } {
  const keys: string[] = []
  const parts = desc.split('|')
  for (let i = 1; i < parts.length; i++) {
    const eq = parts[i].indexOf(' = ')
    if (eq < 0) continue
    const key = parts[i].slice(0, eq).trim()
    const value = parts[i].slice(eq + 3)
    if (!isIdentifyingAperioKey(key) || value.trim() === '') continue
    parts[i] = parts[i].slice(0, eq + 3) + ' '.repeat(value.length)
    keys.push(key)
  }
  return { text: parts.join('|'), keys }
}

/** Same-length blank for an ASCII value: spaces, keeping NULs (each string's terminator) as they are. */
export function blankAscii(b: Uint8Array): Uint8Array {
  return b.map((c) => (c === 0 ? 0 : 0x20))
}
