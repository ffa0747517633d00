/** @module Error codes of vendor-export adapters: a bad mapping file, an unreadable export. */
import { KuraError } from '@kura/core'

export const AdapterErrors = {
  invalid: (where: string, problems: string[]) =>
    new KuraError('RECORDS_ADAPTER_INVALID', `The adapter ${where} is not valid: ${problems.join('; ')}. Fix the mapping file (see packages/records/src/adapters/shipped/ for examples).`, { status: 400, details: { problems } }),
  encoding: (encoding: string) =>
    new KuraError('RECORDS_ADAPTER_ENCODING', `Encoding "${encoding}" is not supported; use utf-8, shift_jis, cp932, euc-jp or iso-2022-jp.`, { status: 400 }),
  unreadable: (what: string, cause: unknown) =>
    new KuraError('RECORDS_EXPORT_UNREADABLE', `The export ${what} could not be read; check the path and its permissions.`, { status: 400, cause }),
  notAnExport: (why: string) =>
    new KuraError('RECORDS_EXPORT_UNRECOGNISED', `The sample is not a CSV, TSV or XML export: ${why}. Give a few hundred rows of the vendor's export as it is written.`, { status: 400 }),
} as const
