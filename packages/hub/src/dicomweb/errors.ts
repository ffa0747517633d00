/** @module DICOMweb service error codes (request-level; per-instance STOW failures are in the response dataset). */
import { KuraError } from '@kura/core'

export const DicomwebErrors = {
  unsupportedMediaType: (got: string) =>
    new KuraError('DICOMWEB_UNSUPPORTED_MEDIA_TYPE', `STOW-RS takes multipart/related; type="application/dicom" bodies, not ${got.slice(0, 100)}.`, { status: 415 }),
  noParts: () => new KuraError('DICOMWEB_NO_PARTS', 'The multipart body held no parts; send one application/dicom part per instance.', { status: 400 }),
  multipartBroken: () =>
    new KuraError('DICOMWEB_MULTIPART_BROKEN', 'The multipart body ended or broke before its closing boundary; the instances before the break were stored. Resend the rest.', { status: 400 }),
  notAcceptable: (what: string, accept: string) =>
    new KuraError('DICOMWEB_NOT_ACCEPTABLE', `Cannot return ${what} as ${accept.slice(0, 200)}; see the conformance statement (docs/dicomweb-conformance.md) for the media types and transfer syntaxes offered.`, { status: 406 }),
  badQuery: (message: string) => new KuraError('DICOMWEB_BAD_QUERY', message, { status: 400 }),
  notFound: (what: string) => new KuraError('DICOMWEB_NOT_FOUND', `${what} is not in the archive (or not visible to you).`, { status: 404 }),
  badFrameList: (raw: string) =>
    new KuraError('DICOMWEB_BAD_FRAME_LIST', `Frame list "${raw.slice(0, 60)}" is not valid: give comma-separated frame numbers starting at 1.`, { status: 400 }),
  frameOutOfRange: (frame: number, count: number) =>
    new KuraError('DICOMWEB_FRAME_OUT_OF_RANGE', `Frame ${frame} does not exist; the instance has ${count} frame(s), numbered from 1.`, { status: 404 }),
  noPixelData: () => new KuraError('DICOMWEB_NO_PIXEL_DATA', 'The instance has no pixel data to return.', { status: 404 }),
} as const
