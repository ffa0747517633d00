/**
 * @module Errors raised by @kura/dicom: stable DICOM_* codes with messages that say what to do.
 */
import { KuraError } from '@kura/core'

export const DicomErrors = {
  notDicom: (why: string) =>
    new KuraError('DICOM_NOT_DICOM', `The data is not a DICOM object (${why}). Send a DICOM Part 10 file.`, { status: 400 }),
  truncated: (offset: number, needed: number, size: number) =>
    new KuraError(
      'DICOM_TRUNCATED',
      `The DICOM object ends early: ${needed} bytes were needed at offset ${offset} but it has ${size} bytes. Send the complete file.`,
      { status: 400, details: { offset, needed, size } },
    ),
  malformed: (offset: number, why: string) =>
    new KuraError('DICOM_MALFORMED', `The DICOM object is malformed at offset ${offset}: ${why}. Check the sending device's output.`, {
      status: 400,
      details: { offset },
    }),
  badTransferSyntax: (uid: string, why: string) =>
    new KuraError('DICOM_BAD_TRANSFER_SYNTAX', `The transfer syntax "${uid}" does not match the data (${why}). Re-export the object.`, {
      status: 400,
    }),
  unsupportedTransferSyntax: (uid: string) =>
    new KuraError(
      'DICOM_UNSUPPORTED_TRANSFER_SYNTAX',
      `The transfer syntax ${uid} is not supported here. Send Explicit VR Little Endian (1.2.840.10008.1.2.1) or Implicit VR Little Endian (1.2.840.10008.1.2).`,
      { status: 415 },
    ),
  unencodableText: (charsets: readonly string[], char: string) =>
    new KuraError(
      'DICOM_UNENCODABLE_TEXT',
      `The character "${char}" cannot be written in Specific Character Set "${charsets.join('\\') || 'ISO_IR 6'}". Use ISO_IR 192 (UTF-8).`,
      { status: 400 },
    ),
  badValue: (what: string) => new KuraError('DICOM_BAD_VALUE', `${what}. Fix the value and try again.`, { status: 400 }),
} as const
