/** @module Annotation interchange error codes (INTERCHANGE_*): what was wrong with a file or an export request, and what to do. */
import { KuraError } from '@kura/core'
import type { UnmappedClass } from './labels.ts'

export const InterchangeErrors = {
  badFile: (format: string, why: string) =>
    new KuraError('INTERCHANGE_BAD_FILE', `This is not a ${format} annotation file we can read: ${why.slice(0, 300)}. Nothing was imported.`, { status: 400 }),
  unsupportedGeometry: (format: string, what: string) =>
    new KuraError('INTERCHANGE_UNSUPPORTED_GEOMETRY', `The ${format} file holds a ${what.slice(0, 60)}, which Kura does not store (points, lines, polygons and multipolygons only). Nothing was imported.`, { status: 422 }),
  unmapped: (unmapped: UnmappedClass[]) =>
    new KuraError(
      'INTERCHANGE_UNMAPPED_CLASSES',
      `${unmapped.length} class name(s) in the file have no vocabulary code: ${unmapped.map((u) => `"${u.className.slice(0, 40) || '(unclassified)'}" ×${u.count}`).slice(0, 20).join(', ')}. Map each to a code (the labels option; "" is the key for unclassified objects), or import with onUnmapped=hold to take the rest. Nothing was imported.`,
      { status: 422, details: { unmapped } },
    ),
  badMapping: (why: string) =>
    new KuraError('INTERCHANGE_BAD_LABEL_MAPPING', `The label mapping is not usable: ${why.slice(0, 200)}. Give a JSON object {"<class name>": {"system": "...", "code": "..."}}.`, { status: 400 }),
  needsImageSize: (format: string, what: string) =>
    new KuraError('INTERCHANGE_IMAGE_SIZE_REQUIRED', `${format} coordinates need the image's ${what} to convert to pixels; give it (the hub takes it from the slide).`, { status: 400 }),
  badRequest: (why: string) => new KuraError('INTERCHANGE_BAD_REQUEST', `${why.slice(0, 300)}`, { status: 400 }),
  badExport: (why: string) => new KuraError('INTERCHANGE_BAD_EXPORT_REQUEST', `${why.slice(0, 300)}`, { status: 400 }),
  exportNotFound: () => new KuraError('INTERCHANGE_EXPORT_NOT_FOUND', 'The export is not on this hub (or not visible to you).', { status: 404 }),
} as const
