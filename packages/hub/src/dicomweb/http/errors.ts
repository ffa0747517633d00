/**
 * @module Error codes of the DICOMweb HTTP building blocks (multipart, Accept negotiation, rendering).
 *
 * Each function returns a fresh KuraError so the stack points at the caller; messages are shown
 * to the client, so they say what was wrong and what to send instead, never internal details.
 */
import { KuraError } from '@kura/core'

export const DicomwebHttpErrors = {
  /** Content-Type of a STOW-RS request is not a usable multipart/related (PS3.18 10.5.1.2). */
  badContentType: (why: string) =>
    new KuraError(
      'DICOMWEB_BAD_CONTENT_TYPE',
      `The request Content-Type is not usable: ${why}. Send 'multipart/related; type="application/dicom"; boundary=<boundary>'.`,
      { status: 415 },
    ),
  /** The body never contained the announced boundary: wrong boundary or not multipart at all. */
  badBoundary: (boundary: string) =>
    new KuraError(
      'DICOMWEB_MULTIPART_BAD_BOUNDARY',
      `The request body does not contain the boundary '${boundary}' given in the Content-Type header. Check that the boundary parameter matches the delimiter lines of the body.`,
      { status: 400 },
    ),
  /** The body ended (or the client went away) before the closing delimiter. */
  truncated: (detail?: string) =>
    new KuraError(
      'DICOMWEB_MULTIPART_TRUNCATED',
      `The multipart body ended before its closing boundary${detail ? ` (${detail})` : ''}. Send the complete body, ending with '--<boundary>--'.`,
      { status: 400 },
    ),
  /** Structurally broken multipart body (oversized header block, garbage after a delimiter). */
  malformed: (why: string) =>
    new KuraError('DICOMWEB_MULTIPART_MALFORMED', `The multipart body is malformed: ${why}.`, { status: 400 }),
  /** A caller-supplied boundary for the writer that RFC 2046 5.1.1 does not allow. */
  invalidBoundary: (boundary: string) =>
    new KuraError(
      'DICOMWEB_MULTIPART_INVALID_BOUNDARY',
      `'${boundary}' is not a valid multipart boundary: use 1 to 70 letters, digits or '()+_,-./:=? ' not ending in a space.`,
      { status: 500 },
    ),
  /** A header name or value for an outgoing part that would break the framing (CR/LF). */
  invalidPartHeader: (name: string) =>
    new KuraError('DICOMWEB_MULTIPART_INVALID_HEADER', `The part header '${name}' contains characters not allowed in a header.`, { status: 500 }),
  /** The window= query parameter (PS3.18 8.3.5.1.4) does not parse. */
  badWindow: (value: string) =>
    new KuraError(
      'DICOMWEB_BAD_WINDOW',
      `The window parameter '${value}' is not valid. Use window=<center>,<width>,<function> with numbers for center and width (width > 0) and function linear, linear-exact or sigmoid.`,
      { status: 400 },
    ),
  /** The viewport= query parameter (PS3.18 8.3.5.1.3) does not parse. */
  badViewport: (value: string) =>
    new KuraError(
      'DICOMWEB_BAD_VIEWPORT',
      `The viewport parameter '${value}' is not valid. Use viewport=<width>,<height> with positive integers, optionally followed by ,<sx>,<sy>,<sw>,<sh> for a source region inside the image.`,
      { status: 400 },
    ),
  /** The quality= query parameter (PS3.18 8.3.5.1.2) does not parse. */
  badQuality: (value: string) =>
    new KuraError('DICOMWEB_BAD_QUALITY', `The quality parameter '${value}' is not valid. Use an integer from 1 to 100.`, { status: 400 }),
  /** The pixel data cannot be rendered by this server (compressed syntax without a decoder, unknown layout). */
  renderUnsupported: (what: string) =>
    new KuraError(
      'DICOMWEB_RENDER_UNSUPPORTED',
      `This image cannot be rendered: ${what}. Retrieve the frame as bulk data (without /rendered) and decode it on the client.`,
      { status: 406 },
    ),
  /** Pixel data that does not match its own attributes (too short, corrupt RLE, ...). */
  renderBadPixelData: (why: string) =>
    new KuraError('DICOMWEB_RENDER_BAD_PIXEL_DATA', `The stored pixel data cannot be decoded: ${why}.`, { status: 500 }),
} as const
