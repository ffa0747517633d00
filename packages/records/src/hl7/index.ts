/** @module HL7 v2.5 as Japanese hospitals write it: decode (ISO-2022-JP) before split, lazy fields, data types. */
export { parseHl7, Hl7Message, Hl7Segment, Hl7Field, isJapaneseCharsetTerm, type Hl7MessageType } from './message.ts'
export { decodeHl7Bytes, encodeIso2022Jp, decodeForDisplay, type DecodedText, type DetectedCharset } from './charset.ts'
export { unescapeHl7, escapeHl7, DEFAULT_DELIMITERS, type Hl7Delimiters } from './escape.ts'
export { readXpn, readNames, readXad, readXtn, readCwe, hl7DateTime, nameScript, type PersonNameParts, type Address, type CodedValue, type NameScript } from './datatypes.ts'
export { Hl7Errors, type Hl7Position } from './errors.ts'
