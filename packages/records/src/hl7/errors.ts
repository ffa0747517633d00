/**
 * @module Error codes of the HL7 v2 parser and the SS-MIX2 reader, in one place so tests, the gateway and the
 * hold queue match on stable codes. Messages say where (segment, field, file) and what to do, never a value:
 * an HL7 message is patient data.
 */
import { KuraError } from '@kura/core'

/** Where in a message a problem is: 1-based segment number, its name, and the field (HL7 numbering). */
export interface Hl7Position {
  segmentIndex?: number
  segment?: string
  field?: number
}

export function where(p: Hl7Position): string {
  const parts: string[] = []
  if (p.segment) parts.push(p.field !== undefined ? `${p.segment}-${p.field}` : p.segment)
  if (p.segmentIndex !== undefined) parts.push(`segment #${p.segmentIndex}`)
  return parts.length ? ` (at ${parts.join(', ')})` : ''
}

const err = (code: string, message: string, pos: Hl7Position = {}) =>
  new KuraError(code, message + where(pos), { status: 422, details: { ...pos } })

export const Hl7Errors = {
  empty: () => err('HL7_EMPTY', 'The message is empty (no bytes, or only blanks). Check the file was completely written.'),
  noMsh: () => err('HL7_NO_MSH', 'The message does not start with an MSH segment, so it is not HL7 v2. Check the file is an HL7 message and not a PDF, CDA or other attachment.', { segmentIndex: 1 }),
  badEncodingCharacters: () =>
    err('HL7_BAD_ENCODING_CHARACTERS', 'MSH-1/MSH-2 do not declare a field separator and four encoding characters (normally "|^~\\&"). The message cannot be split reliably.', { segmentIndex: 1, segment: 'MSH', field: 2 }),
  shiftJis: () =>
    err('HL7_CHARSET_SHIFT_JIS', 'The message is Shift_JIS, not ISO-2022-JP as SS-MIX2 requires. The sending system writes the wrong character set: ask its vendor to fix the export (re-encode to ISO-2022-JP), then re-read the file.'),
  utf8: () =>
    err('HL7_CHARSET_UTF8', 'The message is UTF-8, not ISO-2022-JP as SS-MIX2 requires. Ask the sending system\'s vendor to write ISO-2022-JP, or re-encode the file, then re-read it.'),
  unknown8bit: () =>
    err('HL7_CHARSET_UNKNOWN', 'The message has 8-bit bytes outside any ISO-2022-JP code set and is not Shift_JIS or UTF-8. The file may be corrupt; check its source.'),
  badIso2022: (offset: number, what: string) =>
    new KuraError('HL7_BAD_ISO2022', `The message's ISO-2022-JP text is broken at byte ${offset}: ${what}. The file may be truncated or corrupt; check its source.`, { status: 422, details: { offset } }),
} as const
