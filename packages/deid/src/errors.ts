/** @module Errors raised by @kura/deid: stable DEID_* codes with messages that say what to do. */
import { KuraError } from '@kura/core'

export const DeidErrors = {
  unknownOption: (name: string, known: readonly string[]) =>
    new KuraError('DEID_UNKNOWN_OPTION', `"${name}" is not a de-identification option. Use one of: ${known.join(', ')}.`, {
      status: 400,
      details: { name },
    }),
  badAttributeType: (type: string) =>
    new KuraError('DEID_BAD_ATTRIBUTE_TYPE', `"${type}" is not a DICOM attribute type. Pass one of 1, 1C, 2, 2C, 3 or leave it out.`, {
      status: 400,
      details: { type },
    }),
  badTable: (why: string) =>
    new KuraError(
      'DEID_BAD_TABLE',
      `The bundled PS3.15 Table E.1-1 copy is unusable (${why}). Regenerate it with node packages/deid/scripts/import-table.mjs.`,
      { status: 500 },
    ),
  badTag: (tag: number) =>
    new KuraError('DEID_BAD_TAG', `${String(tag)} is not a DICOM tag. Pass (group << 16 | element) >>> 0, a whole number from 0 to 0xFFFFFFFF.`, {
      status: 400,
      details: { tag },
    }),
} as const
