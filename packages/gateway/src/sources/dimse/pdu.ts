/**
 * @module Upper-layer PDUs (PS3.8 9.3): parsing A-ASSOCIATE-RQ and encoding the PDUs an acceptor
 * sends (A-ASSOCIATE-AC/RJ, P-DATA-TF, A-RELEASE-RP, A-ABORT).
 */
import { DimseErrors } from './errors.ts'

export const PduType = {
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PDataTf: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const

/** The only application context name defined by DICOM (PS3.7 A.2.1). */
export const DICOM_APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1'

export interface ProposedContext {
  id: number
  abstractSyntax: string
  transferSyntaxes: string[]
}

export interface AssociateRq {
  protocolVersion: number
  calledAE: string
  callingAE: string
  applicationContext: string
  contexts: ProposedContext[]
  /** 0 means "no limit" (PS3.8 D.1.1). */
  maxPduLength: number
  implementationClassUid?: string
  implementationVersionName?: string
}

/** Presentation context results (PS3.8 9.3.3.2). */
export const ContextResult = {
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const

export interface ContextAnswer {
  id: number
  result: number
  /** Present for every answer; its value is not tested by the peer unless accepted (PS3.8 9.3.3.2). */
  transferSyntax: string
}

/** A-ASSOCIATE-RJ result/source/reason (PS3.8 Table 9-21). */
export const Reject = {
  calledAeNotRecognized: { result: 1, source: 1, reason: 7 },
  callingAeNotRecognized: { result: 1, source: 1, reason: 3 },
  applicationContextNotSupported: { result: 1, source: 1, reason: 2 },
  noReasonGiven: { result: 1, source: 1, reason: 1 },
  protocolVersionNotSupported: { result: 1, source: 2, reason: 2 },
  localLimitExceeded: { result: 2, source: 3, reason: 2 },
  temporaryCongestion: { result: 2, source: 3, reason: 1 },
} as const
export type RejectReason = (typeof Reject)[keyof typeof Reject]

/** A-ABORT source and reason (PS3.8 9.3.8): source 0 = service user, 2 = service provider. */
export const AbortReason = {
  notSpecified: 0,
  unrecognizedPdu: 1,
  unexpectedPdu: 2,
  unrecognizedPduParameter: 4,
  unexpectedPduParameter: 5,
  invalidPduParameterValue: 6,
} as const

function trimText(b: Buffer): string {
  return b.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '')
}

/** Parses the body of an A-ASSOCIATE-RQ (everything after the 6-byte PDU header). */
export function parseAssociateRq(body: Buffer): AssociateRq {
  if (body.length < 68) throw DimseErrors.badPdu(`A-ASSOCIATE-RQ is ${body.length} bytes, shorter than its 68-byte fixed part`)
  const rq: AssociateRq = {
    protocolVersion: body.readUInt16BE(0),
    calledAE: trimText(body.subarray(4, 20)),
    callingAE: trimText(body.subarray(20, 36)),
    applicationContext: '',
    contexts: [],
    maxPduLength: 0,
  }
  let pos = 68
  while (pos < body.length) {
    if (pos + 4 > body.length) throw DimseErrors.badPdu('an item header runs past the end of the A-ASSOCIATE-RQ')
    const type = body[pos]!
    const len = body.readUInt16BE(pos + 2)
    const item = body.subarray(pos + 4, pos + 4 + len)
    if (item.length !== len) throw DimseErrors.badPdu(`item 0x${type.toString(16)} runs past the end of the A-ASSOCIATE-RQ`)
    pos += 4 + len
    if (type === 0x10) rq.applicationContext = trimText(item)
    else if (type === 0x20) rq.contexts.push(parseProposedContext(item))
    else if (type === 0x50) parseUserInformation(item, rq)
    // Other item types are reserved; PS3.8 9.3.2 asks the acceptor to ignore unknown items.
  }
  return rq
}

function parseProposedContext(item: Buffer): ProposedContext {
  if (item.length < 4) throw DimseErrors.badPdu('a presentation context item is shorter than 4 bytes')
  const ctx: ProposedContext = { id: item[0]!, abstractSyntax: '', transferSyntaxes: [] }
  let pos = 4
  while (pos + 4 <= item.length) {
    const type = item[pos]!
    const len = item.readUInt16BE(pos + 2)
    const sub = item.subarray(pos + 4, pos + 4 + len)
    if (sub.length !== len) throw DimseErrors.badPdu(`presentation context ${ctx.id} has a sub-item that runs past its end`)
    pos += 4 + len
    if (type === 0x30) ctx.abstractSyntax = trimText(sub)
    else if (type === 0x40) ctx.transferSyntaxes.push(trimText(sub))
  }
  return ctx
}

function parseUserInformation(item: Buffer, rq: AssociateRq): void {
  let pos = 0
  while (pos + 4 <= item.length) {
    const type = item[pos]!
    const len = item.readUInt16BE(pos + 2)
    const sub = item.subarray(pos + 4, pos + 4 + len)
    if (sub.length !== len) throw DimseErrors.badPdu('a user information sub-item runs past its end')
    pos += 4 + len
    if (type === 0x51 && len === 4) rq.maxPduLength = sub.readUInt32BE(0)
    else if (type === 0x52) rq.implementationClassUid = trimText(sub)
    else if (type === 0x55) rq.implementationVersionName = trimText(sub)
    // 0x53 asynchronous operations window: not answered, so the peer falls back to one
    // operation at a time (PS3.7 D.3.3.3). 0x54 role selection, 0x56 extended negotiation and
    // 0x58 user identity are not needed for a storage/verification SCP and are not answered.
  }
}

function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6)
  h[0] = type
  h.writeUInt32BE(body.length, 2)
  return Buffer.concat([h, body])
}

function item(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4)
  h[0] = type
  h.writeUInt16BE(body.length, 2)
  return Buffer.concat([h, body])
}

function aeField(ae: string): Buffer {
  return Buffer.from(ae.padEnd(16, ' ').slice(0, 16), 'latin1')
}

export interface AssociateAcInput {
  calledAE: string
  callingAE: string
  contexts: readonly ContextAnswer[]
  maxPduLength: number
  implementationClassUid: string
  implementationVersionName: string
}

/** A-ASSOCIATE-AC (PS3.8 9.3.3): the AE titles are echoed from the request as the standard asks. */
export function encodeAssociateAc(a: AssociateAcInput): Buffer {
  const fixed = Buffer.alloc(68)
  fixed.writeUInt16BE(0x0001, 0)
  aeField(a.calledAE).copy(fixed, 4)
  aeField(a.callingAE).copy(fixed, 20)
  const items: Buffer[] = [item(0x10, Buffer.from(DICOM_APPLICATION_CONTEXT, 'latin1'))]
  for (const c of a.contexts) {
    const head = Buffer.from([c.id, 0, c.result, 0])
    items.push(item(0x21, Buffer.concat([head, item(0x40, Buffer.from(c.transferSyntax, 'latin1'))])))
  }
  const max = Buffer.alloc(4)
  max.writeUInt32BE(a.maxPduLength, 0)
  items.push(item(0x50, Buffer.concat([
    item(0x51, max),
    item(0x52, Buffer.from(a.implementationClassUid, 'latin1')),
    item(0x55, Buffer.from(a.implementationVersionName.slice(0, 16), 'latin1')),
  ])))
  return pdu(PduType.AssociateAc, Buffer.concat([fixed, ...items]))
}

export function encodeAssociateRj(r: RejectReason): Buffer {
  return pdu(PduType.AssociateRj, Buffer.from([0, r.result, r.source, r.reason]))
}

export function encodeReleaseRp(): Buffer {
  return pdu(PduType.ReleaseRp, Buffer.alloc(4))
}

/** Source 2 = service provider (we abort because of the peer's protocol error), 0 = service user. */
export function encodeAbort(source: 0 | 2, reason: number): Buffer {
  return pdu(PduType.Abort, Buffer.from([0, 0, source, source === 2 ? reason : 0]))
}

/**
 * P-DATA-TF PDUs carrying one message part (a command or a data set), split into PDVs so that no
 * PDU exceeds the peer's maximum length (PS3.8 9.3.5, D.1; 0 = unlimited).
 */
export function encodePData(contextId: number, isCommand: boolean, data: Buffer, peerMaxPdu: number): Buffer[] {
  // A PDU of one PDV carries maxPdu - 6 bytes of PDV item: 4 length + 2 header + value.
  const maxValue = peerMaxPdu === 0 ? Math.max(data.length, 1) : Math.max(peerMaxPdu - 6, 1)
  const out: Buffer[] = []
  let pos = 0
  do {
    const n = Math.min(maxValue, data.length - pos)
    const last = pos + n >= data.length
    const pdv = Buffer.alloc(6)
    pdv.writeUInt32BE(n + 2, 0)
    pdv[4] = contextId
    pdv[5] = (isCommand ? 0x01 : 0) | (last ? 0x02 : 0)
    out.push(pdu(PduType.PDataTf, Buffer.concat([pdv, data.subarray(pos, pos + n)])))
    pos += n
  } while (pos < data.length)
  return out
}
