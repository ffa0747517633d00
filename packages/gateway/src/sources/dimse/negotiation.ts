/**
 * @module Presentation context negotiation (PS3.8 9.3.3.2, PS3.4 B.3.1): which abstract syntaxes
 * this storage/verification SCP takes and in which transfer syntax.
 */
import { TransferSyntax } from '@kura/dicom'
import { ContextResult, type ContextAnswer, type ProposedContext } from './pdu.ts'

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1'
/** Every Storage SOP Class of PS3.4 Annex B under this root (images, SR, RT, waveforms, ...). */
export const STORAGE_SOP_CLASS_ROOT = '1.2.840.10008.5.1.4.1.1.'

/**
 * Transfer syntaxes whose data sets we store exactly as they arrive: the uncompressed ones, deflate,
 * and the JPEG, JPEG-LS, JPEG 2000, HTJ2K and RLE families (PS3.5 A.4; PS3.6 Table A-1).
 */
export const STORABLE_TRANSFER_SYNTAXES: readonly string[] = [
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.EncapsulatedUncompressedExplicitVRLittleEndian,
  TransferSyntax.DeflatedExplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
  TransferSyntax.JPEGBaseline8Bit,
  TransferSyntax.JPEGExtended12Bit,
  TransferSyntax.JPEGLossless,
  TransferSyntax.JPEGLosslessSV1,
  TransferSyntax.JPEGLSLossless,
  TransferSyntax.JPEGLSNearLossless,
  TransferSyntax.JPEG2000Lossless,
  TransferSyntax.JPEG2000,
  '1.2.840.10008.1.2.4.92', // JPEG 2000 Part 2 Multi-component Lossless
  '1.2.840.10008.1.2.4.93', // JPEG 2000 Part 2 Multi-component
  TransferSyntax.HTJ2KLossless,
  '1.2.840.10008.1.2.4.202', // HTJ2K Lossless RPCL
  TransferSyntax.HTJ2K,
  TransferSyntax.RLELossless,
]

/** Commands and Verification are always Implicit VR LE capable (PS3.5 10.1); Explicit LE too. */
const VERIFICATION_TRANSFER_SYNTAXES: readonly string[] = [TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian]

export type ContextKind = 'verification' | 'storage'

export interface AcceptedContext {
  id: number
  abstractSyntax: string
  transferSyntax: string
  kind: ContextKind
}

export interface NegotiationPolicy {
  /** Storage SOP Class UIDs accepted beyond the PS3.4 Annex B root. */
  extraSopClasses?: readonly string[]
  /** Transfer syntaxes accepted beyond STORABLE_TRANSFER_SYNTAXES. */
  extraTransferSyntaxes?: readonly string[]
}

export function kindOf(abstractSyntax: string, policy: NegotiationPolicy): ContextKind | null {
  if (abstractSyntax === VERIFICATION_SOP_CLASS) return 'verification'
  if (abstractSyntax.startsWith(STORAGE_SOP_CLASS_ROOT) || policy.extraSopClasses?.includes(abstractSyntax)) return 'storage'
  return null
}

/** Answers each proposed context: the first proposed transfer syntax we support wins (the peer's preference). */
export function negotiate(proposed: readonly ProposedContext[], policy: NegotiationPolicy): { answers: ContextAnswer[]; accepted: Map<number, AcceptedContext> } {
  const answers: ContextAnswer[] = []
  const accepted = new Map<number, AcceptedContext>()
  for (const p of proposed) {
    const kind = kindOf(p.abstractSyntax, policy)
    if (kind === null) {
      answers.push({ id: p.id, result: ContextResult.AbstractSyntaxNotSupported, transferSyntax: TransferSyntax.ImplicitVRLittleEndian })
      continue
    }
    const ours = kind === 'verification' ? VERIFICATION_TRANSFER_SYNTAXES : STORABLE_TRANSFER_SYNTAXES
    const ts = p.transferSyntaxes.find((t) => ours.includes(t) || (kind === 'storage' && policy.extraTransferSyntaxes?.includes(t)))
    if (ts === undefined) {
      answers.push({ id: p.id, result: ContextResult.TransferSyntaxesNotSupported, transferSyntax: TransferSyntax.ImplicitVRLittleEndian })
      continue
    }
    answers.push({ id: p.id, result: ContextResult.Acceptance, transferSyntax: ts })
    accepted.set(p.id, { id: p.id, abstractSyntax: p.abstractSyntax, transferSyntax: ts, kind })
  }
  return { answers, accepted }
}
