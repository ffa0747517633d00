/**
 * @module Transfer syntax UIDs (PS3.5 Section 10 and Annex A) and what each means for parsing.
 */

export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  EncapsulatedUncompressedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.98',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
  JPEGExtended12Bit: '1.2.840.10008.1.2.4.51',
  JPEGLossless: '1.2.840.10008.1.2.4.57',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEGLSLossless: '1.2.840.10008.1.2.4.80',
  JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  JPIPReferencedDeflate: '1.2.840.10008.1.2.4.95',
  HTJ2KLossless: '1.2.840.10008.1.2.4.201',
  HTJ2K: '1.2.840.10008.1.2.4.203',
  RLELossless: '1.2.840.10008.1.2.5',
} as const

export interface TransferSyntaxInfo {
  uid: string
  explicitVr: boolean
  littleEndian: boolean
  /** Dataset after the File Meta is a raw deflate stream (PS3.5 A.5). */
  deflated: boolean
  /** Pixel Data is encapsulated in fragments (PS3.5 A.4). */
  encapsulated: boolean
  /** A transfer syntax defined by the standard (others are parsed as Explicit VR Little Endian). */
  known: boolean
}

/**
 * Facts about a transfer syntax. Every standard syntax other than Implicit VR LE, Explicit VR BE and
 * the deflated ones is Explicit VR Little Endian with (possibly) encapsulated pixel data, so unknown
 * compressed syntaxes (1.2.840.10008.1.2.4.x, .5, .6.x, .7.x) parse without a table entry.
 */
export function transferSyntaxInfo(uid: string): TransferSyntaxInfo {
  const base = { uid, explicitVr: true, littleEndian: true, deflated: false, encapsulated: false, known: true }
  switch (uid) {
    case TransferSyntax.ImplicitVRLittleEndian:
      return { ...base, explicitVr: false }
    case TransferSyntax.ExplicitVRLittleEndian:
      return base
    case TransferSyntax.ExplicitVRBigEndian:
      return { ...base, littleEndian: false }
    case TransferSyntax.DeflatedExplicitVRLittleEndian:
    case TransferSyntax.JPIPReferencedDeflate:
      return { ...base, deflated: true }
  }
  if (uid.startsWith('1.2.840.10008.1.2.4.') || uid === TransferSyntax.RLELossless || uid === TransferSyntax.EncapsulatedUncompressedExplicitVRLittleEndian) {
    // JPIP referenced (.94, .95) carry a Pixel Data Provider URL instead of pixel data.
    return { ...base, encapsulated: uid !== '1.2.840.10008.1.2.4.94' }
  }
  if (uid.startsWith('1.2.840.10008.1.2.6.') || uid.startsWith('1.2.840.10008.1.2.7.')) return base
  return { ...base, known: false }
}

/** True for the syntaxes whose pixel data is stored natively (not encapsulated). */
export function isNativeTransferSyntax(uid: string): boolean {
  return uid === TransferSyntax.ImplicitVRLittleEndian || uid === TransferSyntax.ExplicitVRLittleEndian ||
    uid === TransferSyntax.ExplicitVRBigEndian || uid === TransferSyntax.DeflatedExplicitVRLittleEndian
}
