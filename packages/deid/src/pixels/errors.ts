/** @module Errors raised by pixel masking (PS3.15 E.3.1 Clean Pixel Data): stable DEID_PIXELS_* codes with messages that say what to do. */
import { KuraError } from '@kura/core'

export interface MaskKey {
  manufacturer: string
  model: string
  rows: number | undefined
  columns: number | undefined
}

export const PixelErrors = {
  noMask: (k: MaskKey, why: string) =>
    new KuraError(
      'DEID_PIXELS_NO_MASK',
      `The image may hold burned-in identifying text (${why}) but no pixel mask in the policy matches Manufacturer "${k.manufacturer}", ` +
        `Manufacturer's Model Name "${k.model}", Rows ${k.rows ?? '?'}, Columns ${k.columns ?? '?'}, so it is not sent. ` +
        `Add an entry to the policy's "pixelMasks", e.g. {"match": {"Manufacturer": ${JSON.stringify(k.manufacturer)}, "ManufacturerModelName": ${JSON.stringify(k.model)}, ` +
        `"Rows": ${k.rows ?? 0}, "Columns": ${k.columns ?? 0}}, "rects": [[x, y, width, height]]}, after checking where this device burns in text.`,
      { status: 422, details: { ...k } },
    ),
  unsupportedSyntax: (uid: string, why: string, todo = 'Convert it to Explicit VR Little Endian (uncompressed) first') =>
    new KuraError(
      'DEID_PIXELS_UNSUPPORTED_SYNTAX',
      `Pixel data in transfer syntax ${uid} cannot be masked here (${why}), so the object is not sent. ${todo}.`,
      { status: 422, details: { transferSyntaxUID: uid } },
    ),
  /** A frame that passed the up-front checks failed to decode or re-encode while the output was written. */
  codecFailed: (uid: string, frame: number, cause: unknown) =>
    new KuraError(
      'DEID_PIXELS_CODEC_FAILED',
      `Frame ${frame} of the pixel data (transfer syntax ${uid}) could not be decoded, masked and re-encoded (${cause instanceof Error ? cause.message : String(cause)}), ` +
        'so the object is not sent; discard the partial output. Check the file with dcmdjpeg/dcmdrle, or export it uncompressed from the modality.',
      { status: 422, cause, details: { transferSyntaxUID: uid, frame } },
    ),
  unsupportedLayout: (why: string) =>
    new KuraError('DEID_PIXELS_UNSUPPORTED_LAYOUT', `This pixel data cannot be masked (${why}), so the object is not sent. Convert it to 8 or 16 bit MONOCHROME or RGB first.`, {
      status: 422,
    }),
  tooLarge: (bytes: number, max: number) =>
    new KuraError(
      'DEID_PIXELS_TOO_LARGE',
      `Pixel Data is ${bytes} bytes; masking loads it whole and accepts at most ${max} bytes, so the object is not sent. Split the frames into smaller objects first.`,
      { status: 413, details: { bytes, max } },
    ),
} as const
