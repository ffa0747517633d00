/**
 * @module Errors raised by @kura/wsi: stable WSI_* codes with messages that say what to do.
 */
import { KuraError } from '@kura/core'

export const WsiErrors = {
  notTiff: (why: string) =>
    new KuraError('WSI_NOT_TIFF', `The file is not a TIFF (${why}). Send a TIFF, BigTIFF or SVS slide.`, { status: 400 }),
  malformed: (why: string, details?: Record<string, unknown>) =>
    new KuraError('WSI_MALFORMED', `The slide file is malformed: ${why}. Re-export it from the scanner software.`, { status: 400, details }),
  truncated: (offset: number, needed: number, size: number) =>
    new KuraError(
      'WSI_TRUNCATED',
      `The slide file ends early: ${needed} bytes were needed at offset ${offset} but it has ${size} bytes. Send the complete file.`,
      { status: 400, details: { offset, needed, size } },
    ),
  unknownFormat: (reasons: string) =>
    new KuraError('WSI_UNKNOWN_FORMAT', `The file is not a slide format Kura reads (${reasons}). Send Aperio SVS or a tiled pyramidal TIFF/BigTIFF.`, {
      status: 415,
    }),
  formatNotSupportedYet: (format: string) =>
    new KuraError(
      'WSI_FORMAT_NOT_SUPPORTED_YET',
      `${format} slides are recognised but not supported yet. Convert the slide to a tiled pyramidal TIFF (vips tiffsave --tile --pyramid) or wait for ${format} support.`,
      { status: 415, details: { format } },
    ),
  unsupportedCompression: (what: string, code: number) =>
    new KuraError(
      'WSI_UNSUPPORTED_COMPRESSION',
      `Unsupported TIFF compression: ${code} (${what}). Convert the slide to JPEG, deflate, LZW or uncompressed tiles (vips tiffsave --tile --pyramid --compression jpeg).`,
      { status: 415, details: { compression: code } },
    ),
  unsupportedLayout: (why: string) =>
    new KuraError('WSI_UNSUPPORTED_LAYOUT', `The slide's pixel layout is not supported: ${why}. Convert the slide to 8-bit RGB tiles.`, { status: 415 }),
  outOfRange: (what: string) => new KuraError('WSI_OUT_OF_RANGE', `${what}. Ask for a level, tile or region inside the slide.`, { status: 400 }),
  missingTile: (level: number, col: number, row: number) =>
    new KuraError('WSI_TILE_MISSING', `Tile ${col},${row} of level ${level} is not stored in the slide (zero length); the scanner skipped it.`, {
      status: 404,
    }),
  noAssociated: (name: string) => new KuraError('WSI_NO_ASSOCIATED_IMAGE', `The slide has no associated image named "${name}".`, { status: 404 }),
} as const
