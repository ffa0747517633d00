/** @module Slide serving error codes (SLIDE_*, IIIF_*); the reader's own WSI_* errors pass through. */
import { KuraError } from '@kura/core'

export const SlideErrors = {
  identifyingImages: (collection: string, names: string[]) =>
    new KuraError(
      'SLIDE_IDENTIFYING_IMAGES',
      `Collection "${collection.slice(0, 64)}" holds only de-identified data, and this slide carries a ${names.join(' and a ')} image, which usually shows the patient's name and ID. It was not stored: send it through a gateway slide source, which removes the label and removes the macro (or keeps it with the label area blacked out when the policy says slides.macro: keep-with-label-blacked-out), or remove them before upload.`,
      { status: 422 },
    ),
  identifyingInstances: (collection: string, flavors: string[]) =>
    new KuraError(
      'SLIDE_IDENTIFYING_IMAGES',
      `Collection "${collection.slice(0, 64)}" holds only de-identified data, and this DICOM WSI has ${flavors.join(' and ')} instances (Image Type ${flavors.join('/')}), which usually show the patient's name and ID. It was not stored: leave those instances out (or de-identify the slide on the gateway) and send it again.`,
      { status: 422 },
    ),
  notDeidentified: (collection: string, where: string, kinds: string[]) =>
    new KuraError(
      'SLIDE_NOT_DEIDENTIFIED',
      `Collection "${collection.slice(0, 64)}" holds only de-identified data, and the DICOM header of instance ${where.slice(0, 80)} does not pass the receipt check (${[...new Set(kinds)].join(', ')}). The slide was not stored: de-identify it on the gateway first.`,
      { status: 422 },
    ),
  notAnInstance: (where: string, why: string) =>
    new KuraError('SLIDE_NOT_DICOM', `${where.slice(0, 80)} is not a DICOM instance the slide reader can use (${why.slice(0, 200)}). Nothing was stored.`, { status: 422 }),
  badTar: (why: string) =>
    new KuraError('SLIDE_BAD_TAR', `The body is not a usable tar archive of DICOM WSI instances: ${why}. Nothing was stored. Send a ustar archive (tar --format=ustar) of the instance files.`, { status: 400 }),
  noInstances: () => new KuraError('SLIDE_EMPTY', 'The tar archive holds no files; put the DICOM WSI instances of one slide in it.', { status: 400 }),
  notFound: (what = 'The slide') => new KuraError('SLIDE_NOT_FOUND', `${what} is not in the archive (or not visible to you).`, { status: 404 }),
  collectionRequired: () => new KuraError('SLIDE_COLLECTION_REQUIRED', 'Name the collection to store the slide in: POST /slides?collection=NAME.', { status: 400 }),
  collectionNotFound: (name: string) =>
    new KuraError('SLIDE_COLLECTION_NOT_FOUND', `Collection "${name.slice(0, 64)}" does not exist; an administrator creates it (POST /api/collections).`, { status: 404 }),
  mediaType: (got: string) =>
    new KuraError('SLIDE_UNSUPPORTED_MEDIA_TYPE', `Send the slide file itself as the body with content-type application/octet-stream (or a DICOM WSI's instances as a ustar archive with application/x-tar), not ${got.slice(0, 100)}.`, { status: 415 }),
  emptyBody: () => new KuraError('SLIDE_EMPTY', 'The request body was empty; send the slide file as the body.', { status: 400 }),
  receiveFailed: (why: string) =>
    new KuraError('SLIDE_RECEIVE_FAILED', `The slide's bytes did not arrive completely (${why.slice(0, 200)}); nothing was stored. Send it again.`, { status: 400 }),
  notASlide: (code: string, message: string) => new KuraError(code, `${message} Nothing was stored.`, { status: code === 'WSI_UNKNOWN_FORMAT' || code.startsWith('WSI_UNSUPPORTED') || code === 'WSI_FORMAT_NOT_SUPPORTED_YET' ? 415 : 422 }),
  badTile: (path: string) => new KuraError('SLIDE_BAD_TILE', `"${path.slice(0, 100)}" is not a Deep Zoom tile: ask for <slide>_files/<level>/<col>_<row>.jpeg.`, { status: 400 }),
  tileOutOfRange: (what: string) => new KuraError('SLIDE_TILE_OUT_OF_RANGE', `${what} is outside the slide; the .dzi lists its size and tile size.`, { status: 404 }),
  tooLarge: (pixels: number, limit: number) =>
    new KuraError(
      'SLIDE_REGION_TOO_LARGE',
      `The request needs ${pixels} source pixels at the slide's nearest stored level, over the limit of ${limit}: the slide lacks a smaller pyramid level. Ask for a smaller region or a lower resolution.`,
      { status: 422 },
    ),
  iiif: (message: string) => new KuraError('IIIF_BAD_REQUEST', message, { status: 400 }),
} as const
