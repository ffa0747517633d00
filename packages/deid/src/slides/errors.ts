/** @module Errors raised by slide de-identification: stable DEID_SLIDE_* codes with messages that say what to do. */
import { KuraError } from '@kura/core'

export const SlideDeidErrors = {
  notTiff: (why: string) =>
    new KuraError(
      'DEID_SLIDE_UNSUPPORTED',
      `This slide cannot be de-identified here (${why}); only TIFF-based slides (Aperio SVS, tiled TIFF/BigTIFF, Hamamatsu NDPI) are. ` +
        'Keep it in quarantine, or convert it to a tiled TIFF without label and macro images first.',
      { status: 422 },
    ),
  malformed: (why: string) =>
    new KuraError('DEID_SLIDE_MALFORMED', `The slide's TIFF structure is damaged (${why}), so it is not de-identified or sent. Re-export it from the scanner software.`, {
      status: 422,
    }),
  unknownImage: (dir: number, why: string) =>
    new KuraError(
      'DEID_SLIDE_UNKNOWN_IMAGE',
      `Image directory ${dir} is not a pyramid level and not a known associated image (${why}); it may show the slide label, so the slide is not sent. ` +
        'Check the file with `tiffinfo` and convert it without that image.',
      { status: 422, details: { dir } },
    ),
  sharedData: (dir: number) =>
    new KuraError(
      'DEID_SLIDE_SHARED_DATA',
      `The label/macro image in directory ${dir} shares bytes with an image that is kept, so it cannot be blanked without damaging the slide; the slide is not sent. Re-export it from the scanner software.`,
      { status: 422, details: { dir } },
    ),
  sameFile: (path: string) =>
    new KuraError('DEID_SLIDE_SAME_FILE', `The output ${path} is the input; de-identification always writes a new file. Choose another output path.`, { status: 400 }),
  verificationFailed: (findings: readonly string[]) =>
    new KuraError(
      'DEID_SLIDE_VERIFICATION_FAILED',
      `The de-identified slide failed verification, so it was deleted and must not be sent: ${findings.join('; ')}. Quarantine the original and report the slide's format to the Kura team.`,
      { status: 422, details: { findings } },
    ),
} as const
