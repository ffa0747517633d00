/**
 * @module DIMSE command sets (PS3.7 9.3, E.1): always Implicit VR Little Endian, group 0000 only,
 * so a tiny codec of their own is simpler than the Part 10 reader and allocates less.
 */
import { DimseErrors } from './errors.ts'

/** Command Field values (PS3.7 E.1-1) this server handles or names in logs. */
export const CommandField = {
  CStoreRq: 0x0001,
  CStoreRsp: 0x8001,
  CEchoRq: 0x0030,
  CEchoRsp: 0x8030,
} as const

/** CommandDataSetType (0000,0800): this value says "no data set follows"; anything else means one does. */
export const NO_DATASET = 0x0101

/** DIMSE status codes sent by this server (PS3.7 C, PS3.4 B.2.3). */
export const Status = {
  Success: 0x0000,
  SOPClassNotSupported: 0x0122,
  UnrecognizedOperation: 0x0211,
  OutOfResources: 0xa700,
  CannotUnderstand: 0xc000,
} as const

/** The command elements we read or write, by keyword (PS3.7 E.1-1). */
export interface Command {
  AffectedSOPClassUID?: string
  CommandField: number
  MessageID?: number
  MessageIDBeingRespondedTo?: number
  Priority?: number
  CommandDataSetType: number
  Status?: number
  ErrorComment?: string
  AffectedSOPInstanceUID?: string
  MoveOriginatorApplicationEntityTitle?: string
  MoveOriginatorMessageID?: number
}

const UI_TAGS: Record<number, 'AffectedSOPClassUID' | 'AffectedSOPInstanceUID'> = { 0x0002: 'AffectedSOPClassUID', 0x1000: 'AffectedSOPInstanceUID' }
const US_TAGS: Record<number, 'CommandField' | 'MessageID' | 'MessageIDBeingRespondedTo' | 'Priority' | 'CommandDataSetType' | 'Status' | 'MoveOriginatorMessageID'> = {
  0x0100: 'CommandField', 0x0110: 'MessageID', 0x0120: 'MessageIDBeingRespondedTo', 0x0700: 'Priority',
  0x0800: 'CommandDataSetType', 0x0900: 'Status', 0x1031: 'MoveOriginatorMessageID',
}

function text(b: Uint8Array): string {
  // UIs are NUL-padded, AE/LO space-padded, to even length (PS3.5 6.2).
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '')
}

/** Parses an Implicit VR LE command set. Throws DIMSE_BAD_COMMAND when it is not one. */
export function decodeCommand(buf: Uint8Array): Command {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const out: Partial<Command> & Record<string, unknown> = {}
  let pos = 0
  while (pos + 8 <= buf.length) {
    const group = dv.getUint16(pos, true)
    const element = dv.getUint16(pos + 2, true)
    const len = dv.getUint32(pos + 4, true)
    pos += 8
    if (group !== 0x0000) throw DimseErrors.badCommand(`element (${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')}) is outside group 0000`)
    if (len > buf.length - pos) throw DimseErrors.badCommand(`element (0000,${element.toString(16).padStart(4, '0')}) runs past the end of the command`)
    const value = buf.subarray(pos, pos + len)
    pos += len
    const ui = UI_TAGS[element]
    if (ui) { out[ui] = text(value); continue }
    const us = US_TAGS[element]
    if (us) {
      if (len !== 2) throw DimseErrors.badCommand(`(0000,${element.toString(16).padStart(4, '0')}) must be 2 bytes, not ${len}`)
      out[us] = dv.getUint16(pos - 2, true)
      continue
    }
    if (element === 0x0902) out.ErrorComment = text(value)
    else if (element === 0x1030) out.MoveOriginatorApplicationEntityTitle = text(value)
  }
  if (pos !== buf.length) throw DimseErrors.badCommand('it ends inside an element header')
  if (out.CommandField === undefined) throw DimseErrors.badCommand('Command Field (0000,0100) is missing')
  if (out.CommandDataSetType === undefined) throw DimseErrors.badCommand('Command Data Set Type (0000,0800) is missing')
  return out as Command
}

function ui(tag: number, s: string): Buffer {
  const v = Buffer.from(s.length % 2 ? s + '\0' : s, 'latin1')
  const h = Buffer.alloc(8)
  h.writeUInt16LE(0, 0); h.writeUInt16LE(tag, 2); h.writeUInt32LE(v.length, 4)
  return Buffer.concat([h, v])
}

function us(tag: number, n: number): Buffer {
  const b = Buffer.alloc(10)
  b.writeUInt16LE(0, 0); b.writeUInt16LE(tag, 2); b.writeUInt32LE(2, 4); b.writeUInt16LE(n, 8)
  return b
}

function lo(tag: number, s: string): Buffer {
  const v = Buffer.from(s.length % 2 ? s + ' ' : s, 'latin1')
  const h = Buffer.alloc(8)
  h.writeUInt16LE(0, 0); h.writeUInt16LE(tag, 2); h.writeUInt32LE(v.length, 4)
  return Buffer.concat([h, v])
}

/** Encodes a command set with its group length (0000,0000), elements in tag order. */
export function encodeCommand(c: Command): Buffer {
  const parts: Buffer[] = []
  if (c.AffectedSOPClassUID !== undefined) parts.push(ui(0x0002, c.AffectedSOPClassUID))
  parts.push(us(0x0100, c.CommandField))
  if (c.MessageID !== undefined) parts.push(us(0x0110, c.MessageID))
  if (c.MessageIDBeingRespondedTo !== undefined) parts.push(us(0x0120, c.MessageIDBeingRespondedTo))
  if (c.Priority !== undefined) parts.push(us(0x0700, c.Priority))
  parts.push(us(0x0800, c.CommandDataSetType))
  if (c.Status !== undefined) parts.push(us(0x0900, c.Status))
  if (c.ErrorComment !== undefined) parts.push(lo(0x0902, c.ErrorComment.slice(0, 64)))
  if (c.AffectedSOPInstanceUID !== undefined) parts.push(ui(0x1000, c.AffectedSOPInstanceUID))
  const body = Buffer.concat(parts)
  const gl = Buffer.alloc(12)
  gl.writeUInt16LE(0, 0); gl.writeUInt16LE(0, 2); gl.writeUInt32LE(4, 4); gl.writeUInt32LE(body.length, 8)
  return Buffer.concat([gl, body])
}
